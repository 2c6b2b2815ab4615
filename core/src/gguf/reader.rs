//! The GGUF container (llama.cpp's model file, versions 2 and 3): header, metadata and
//! tensor directory, parsed without trusting a number in them, and each tensor's bytes read
//! from disk when asked for, so a model streams one tensor at a time.
//!
//! Written here rather than taken from a crate: the format is a page of little-endian
//! fields, and the crates that read it (candle-core, llama-cpp bindings) bring a second
//! tensor library, a second `tokenizers` or a C++ build.

use crate::error::{CoreError, Result};
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"GGUF";
/// More entries than this in a header is a corrupt file, not a model.
const MAX_ENTRIES: u64 = 1 << 24;
/// Strings and arrays longer than this are corrupt.
const MAX_LEN: u64 = 1 << 28;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any unsigned integer type.
    UInt(u64),
    /// Any signed integer type.
    Int(i64),
    /// f32 or f64.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An array of values.
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::UInt(v) => Some(v),
            Value::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(v) => Some(v),
            Value::UInt(v) => Some(v as f64),
            Value::Int(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// Where one tensor lies: its ggml type, dimensions (innermost first, as ggml counts them)
/// and absolute byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// The ggml type number.
    pub ggml_type: u32,
    /// `ne[0], ne[1], …`: the first is the fastest-varying (PyTorch's last).
    pub dims: Vec<u64>,
    /// Absolute offset of the tensor's data in the file.
    pub offset: u64,
}

impl TensorInfo {
    /// The shape in PyTorch's order (outermost first).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// An open GGUF file: its metadata and tensor directory.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    /// Metadata by key.
    pub metadata: BTreeMap<String, Value>,
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorInfo>,
}

impl GgufFile {
    /// Reads the header, metadata and tensor directory of `path` (not the tensor data).
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| CoreError::io(path, e))?.len();
        let mut r = Cursor { inner: BufReader::new(file), path, pos: 0 };
        let (metadata, raw) = r.header()?;
        let alignment = match metadata.get("general.alignment") {
            None => 32,
            Some(v) => v.as_u64().filter(|a| a.is_power_of_two()).ok_or_else(|| {
                r.bad(format!("`general.alignment` is {v:?}; expected a power of two"))
            })?,
        };
        let data_start = r.pos.div_ceil(alignment) * alignment;
        let mut tensors = BTreeMap::new();
        for (name, ggml_type, dims, rel) in raw {
            let offset = data_start.checked_add(rel).filter(|o| o.is_multiple_of(alignment));
            let info = TensorInfo { ggml_type, dims, offset: offset.unwrap_or(u64::MAX) };
            let bytes = super::dequant::byte_size(ggml_type, info.elements())
                .map_err(|m| r.bad(format!("tensor `{name}`: {m}")))?;
            if offset.is_none() || info.offset.checked_add(bytes).is_none_or(|end| end > len) {
                return Err(r.bad(format!(
                    "tensor `{name}` ({bytes} bytes at offset {rel}) does not lie inside the \
                     file of {len} bytes, aligned to {alignment} (truncated file?)"
                )));
            }
            tensors.insert(name, info);
        }
        Ok(Self { path: path.to_path_buf(), metadata, tensors })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw bytes of tensor `name`.
    pub fn tensor_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| CoreError::file(&self.path, format!("has no tensor `{name}`")))?;
        let n = super::dequant::byte_size(info.ggml_type, info.elements())
            .map_err(|m| CoreError::file(&self.path, m))?;
        let mut f = std::fs::File::open(&self.path).map_err(|e| CoreError::io(&self.path, e))?;
        let mut bytes = vec![0u8; n as usize];
        f.seek(SeekFrom::Start(info.offset))
            .and_then(|_| f.read_exact(&mut bytes))
            .map_err(|e| CoreError::io(&self.path, e))?;
        Ok(bytes)
    }

    /// Metadata value `key`, or an error naming the key.
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.metadata
            .get(key)
            .ok_or_else(|| CoreError::file(&self.path, format!("has no metadata key `{key}`")))
    }
}

/// Tensor directory entry before offsets are made absolute: name, type, dims, offset.
type RawTensor = (String, u32, Vec<u64>, u64);

/// Little-endian reads that track the position and name the file in errors.
struct Cursor<'a, R: Read> {
    inner: R,
    path: &'a Path,
    pos: u64,
}

impl<R: Read> Cursor<'_, R> {
    fn bad(&self, message: String) -> CoreError {
        CoreError::file(self.path, format!("not a valid GGUF file: {message}"))
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.inner
            .read_exact(&mut b)
            .map_err(|e| self.bad(format!("ends early at byte {} ({e})", self.pos)))?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32> {
        self.bytes::<4>().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.bytes::<8>().map(u64::from_le_bytes)
    }

    fn count(&mut self, what: &str, max: u64) -> Result<u64> {
        let n = self.u64()?;
        if n > max {
            return Err(self.bad(format!("{what} {n} at byte {} is implausible", self.pos - 8)));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String> {
        let n = self.count("string length", MAX_LEN)?;
        let mut b = vec![0u8; n as usize];
        self.inner.read_exact(&mut b).map_err(|e| self.bad(format!("string ends early ({e})")))?;
        self.pos += n;
        String::from_utf8(b)
            .map_err(|_| self.bad(format!("string before byte {} is not UTF-8", self.pos)))
    }

    /// Magic, version, counts, the metadata and the raw tensor directory.
    fn header(&mut self) -> Result<(BTreeMap<String, Value>, Vec<RawTensor>)> {
        if &self.bytes::<4>()? != MAGIC {
            return Err(self.bad("it does not start with `GGUF`".into()));
        }
        let version = self.u32()?;
        if !(2..=3).contains(&version) {
            return Err(self.bad(format!("version {version}; expected 2 or 3")));
        }
        let n_tensors = self.count("tensor count", MAX_ENTRIES)?;
        let n_kv = self.count("metadata count", MAX_ENTRIES)?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = self.string()?;
            let kind = self.u32()?;
            let value = self.value(kind, 0).map_err(|e| match e {
                CoreError::File { path, message } => {
                    CoreError::File { path, message: format!("{message} (key `{key}`)") }
                }
                other => other,
            })?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::new();
        for _ in 0..n_tensors {
            let name = self.string()?;
            let n_dims = self.u32()?;
            if n_dims == 0 || n_dims > 4 {
                return Err(
                    self.bad(format!("tensor `{name}` has {n_dims} dimensions; expected 1 to 4"))
                );
            }
            let dims = (0..n_dims).map(|_| self.u64()).collect::<Result<Vec<_>>>()?;
            if dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).is_none_or(|n| n > 1 << 40) {
                return Err(
                    self.bad(format!("tensor `{name}` has implausible dimensions {dims:?}"))
                );
            }
            let ggml_type = self.u32()?;
            let offset = self.u64()?;
            tensors.push((name, ggml_type, dims, offset));
        }
        Ok((metadata, tensors))
    }

    fn value(&mut self, kind: u32, depth: usize) -> Result<Value> {
        Ok(match kind {
            0 => Value::UInt(self.bytes::<1>()?[0] as u64),
            1 => Value::Int(self.bytes::<1>()?[0] as i8 as i64),
            2 => Value::UInt(u16::from_le_bytes(self.bytes()?) as u64),
            3 => Value::Int(i16::from_le_bytes(self.bytes()?) as i64),
            4 => Value::UInt(self.u32()? as u64),
            5 => Value::Int(i32::from_le_bytes(self.bytes()?) as i64),
            6 => Value::Float(f32::from_le_bytes(self.bytes()?) as f64),
            7 => Value::Bool(self.bytes::<1>()?[0] != 0),
            8 => Value::Str(self.string()?),
            9 if depth < 2 => {
                let inner = self.u32()?;
                let n = self.count("array length", MAX_LEN)?;
                Value::Array((0..n).map(|_| self.value(inner, depth + 1)).collect::<Result<_>>()?)
            }
            10 => Value::UInt(self.u64()?),
            11 => Value::Int(i64::from_le_bytes(self.bytes()?)),
            12 => Value::Float(f64::from_le_bytes(self.bytes()?)),
            other => return Err(self.bad(format!("metadata value type {other} is unknown"))),
        })
    }
}
