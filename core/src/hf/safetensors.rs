//! The safetensors format: a checkpoint's tensors by name across one file or a sharded set,
//! read one tensor at a time from headers checked against the file (every number in them
//! comes from the file).

use crate::error::{CoreError, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Single-file weights name.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Index of sharded weights.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Where one tensor lies: its file, element type, shape and byte range there.
struct Entry {
    file: usize,
    dtype: String,
    shape: Vec<usize>,
    range: (u64, u64),
}

/// The tensors of a checkpoint, by name, across one or more safetensors files. Only the
/// headers are held in memory; each tensor is read from disk when asked for, so loading a
/// model needs little more memory than the model itself.
pub struct WeightFiles {
    files: Vec<PathBuf>,
    index: HashMap<String, Entry>,
}

impl WeightFiles {
    /// Opens `dir/model.safetensors`, or the shards listed in `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let single = dir.join(WEIGHTS_FILE);
        let index_path = dir.join(INDEX_FILE);
        let files: Vec<PathBuf> = if single.is_file() {
            vec![single]
        } else if index_path.is_file() {
            let text =
                std::fs::read_to_string(&index_path).map_err(|e| CoreError::io(&index_path, e))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| CoreError::file(&index_path, e.to_string()))?;
            let map = v["weight_map"]
                .as_object()
                .ok_or_else(|| CoreError::file(&index_path, "has no `weight_map` object"))?;
            let names: BTreeSet<&str> = map.values().filter_map(|f| f.as_str()).collect();
            names.into_iter().map(|f| dir.join(f)).collect()
        } else {
            let hint = if dir.join("pytorch_model.bin").is_file() {
                " (this checkpoint has only pytorch_model.bin: convert it with transformers, e.g. \
                 `AutoModelForSeq2SeqLM.from_pretrained(DIR).save_pretrained(DIR)`)"
            } else {
                ""
            };
            return Err(CoreError::file(
                dir,
                format!("has no {WEIGHTS_FILE} or {INDEX_FILE}{hint}"),
            ));
        };
        let mut index = HashMap::new();
        for (i, path) in files.iter().enumerate() {
            for (name, (dtype, shape, range)) in read_header(path)? {
                index.insert(name, Entry { file: i, dtype, shape, range });
            }
        }
        Ok(Self { files, index })
    }

    /// Bytes of tensor data the files hold in all (from their headers).
    pub fn data_bytes(&self) -> u64 {
        self.index.values().map(|e| e.range.1.saturating_sub(e.range.0)).sum()
    }

    /// Names of all tensors.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The first file (the only one unless sharded), for error messages.
    pub fn first_file(&self) -> Option<&Path> {
        self.files.first().map(PathBuf::as_path)
    }

    /// The file holding `name` (for error messages).
    pub fn file_of(&self, name: &str) -> Option<&Path> {
        self.index.get(name).map(|e| self.files[e.file].as_path())
    }

    /// A tensor as f32 values with its shape (f32, f16, bf16 and f64 are read).
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        use std::io::{Read, Seek, SeekFrom};
        let entry =
            self.index.get(name).ok_or_else(|| CoreError::Invalid(format!("no tensor {name}")))?;
        let path = &self.files[entry.file];
        let (a, b) = entry.range;
        let mut bytes = vec![0u8; (b - a) as usize];
        let mut f = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
        f.seek(SeekFrom::Start(a))
            .and_then(|_| f.read_exact(&mut bytes))
            .map_err(|e| CoreError::io(path, e))?;
        let values: Vec<f32> = match entry.dtype.as_str() {
            "F32" => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            "F16" => bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            "BF16" => bytes
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            "F64" => bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                return Err(CoreError::file(
                    path,
                    format!("tensor `{name}` has dtype {other}; expected F32, F16, BF16 or F64"),
                ));
            }
        };
        Ok((values, entry.shape.clone()))
    }
}

/// Bytes per element of the element types [`WeightFiles::read_f32`] reads (others: 1, so
/// their sizes are still checked loosely and the read fails with the dtype's name).
fn dtype_size(dtype: &str) -> u64 {
    match dtype {
        "F64" => 8,
        "F32" => 4,
        "F16" | "BF16" => 2,
        _ => 1,
    }
}

/// Name → (dtype, shape, absolute byte range) of every tensor in a safetensors file.
pub type Header = Vec<(String, (String, Vec<usize>, (u64, u64)))>;

/// Reads and checks a safetensors header: 8-byte little-endian length, then JSON.
fn read_header(path: &Path) -> Result<Header> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let file_len = f.metadata().map_err(|e| CoreError::io(path, e))?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|e| not_safetensors(path, format!("no header ({e})")))?;
    let n = header_len(len, file_len, path)?;
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|e| CoreError::io(path, e))?;
    header_entries(&header, file_len, path)
}

/// The header of a whole safetensors file held in memory (tests and fuzzing; loading reads
/// only the header from disk).
pub fn parse_header(file: &[u8], path: &Path) -> Result<Header> {
    let len: [u8; 8] = file
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| not_safetensors(path, "no header".into()))?;
    let n = header_len(len, file.len() as u64, path)?;
    header_entries(&file[8..8 + n as usize], file.len() as u64, path)
}

fn not_safetensors(path: &Path, m: String) -> CoreError {
    CoreError::file(path, format!("not a valid safetensors file: {m}"))
}

/// The header length the first eight bytes give, checked against the file's length.
fn header_len(len: [u8; 8], file_len: u64, path: &Path) -> Result<u64> {
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 || n > file_len.saturating_sub(8) {
        return Err(not_safetensors(
            path,
            format!("header length {n} does not fit a file of {file_len} bytes"),
        ));
    }
    Ok(n)
}

/// The tensors the header JSON describes, each checked to lie inside a file of `file_len`
/// bytes with as many bytes as its shape and dtype need (all arithmetic checked: the numbers
/// come from the file).
fn header_entries(header: &[u8], file_len: u64, path: &Path) -> Result<Header> {
    let bad = |m: String| not_safetensors(path, m);
    let n = header.len() as u64;
    let v: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| bad(format!("header is not JSON ({e})")))?;
    let mut out = Vec::new();
    for (name, info) in v.into_iter().filter(|(k, _)| k != "__metadata__") {
        let dtype = info["dtype"]
            .as_str()
            .ok_or_else(|| bad(format!("tensor `{name}` has no dtype")))?
            .to_string();
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .and_then(|a| {
                a.iter().map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok())).collect()
            })
            .ok_or_else(|| bad(format!("tensor `{name}` has no shape")))?;
        let offsets: Vec<u64> = info["data_offsets"]
            .as_array()
            .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect())
            .filter(|o: &Vec<u64>| o.len() == 2 && o[0] <= o[1])
            .ok_or_else(|| bad(format!("tensor `{name}` has no valid data_offsets")))?;
        let mismatch = || {
            bad(format!(
                "tensor `{name}`: its bytes do not match its shape {shape:?} and dtype {dtype} (truncated file?)"
            ))
        };
        let (a, b) = (
            (8 + n).checked_add(offsets[0]).ok_or_else(mismatch)?,
            (8 + n).checked_add(offsets[1]).ok_or_else(mismatch)?,
        );
        let bytes = shape.iter().try_fold(dtype_size(&dtype), |acc, &d| acc.checked_mul(d as u64));
        if b > file_len || (dtype_size(&dtype) > 1 && bytes != Some(b - a)) {
            return Err(mismatch());
        }
        out.push((name, (dtype, shape, (a, b))));
    }
    Ok(out)
}
