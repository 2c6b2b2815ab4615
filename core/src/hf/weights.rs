//! Weights: reading `model.safetensors` (or a sharded set) into the generator, and writing the
//! generator's parameters as a `model.safetensors` that `transformers` loads.

use super::names::{Layout, SHARED_ALIASES, hf_name};
use crate::error::{CoreError, Result};
use crate::model::Generator;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, Metadata, TensorView};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Single-file weights name.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Index of sharded weights.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// One safetensors file held in memory with its parsed header.
struct Shard {
    path: PathBuf,
    bytes: Vec<u8>,
    data_start: usize,
    meta: Metadata,
}

/// The tensors of a checkpoint, by name, across one or more safetensors files.
pub struct WeightFiles {
    shards: Vec<Shard>,
    index: HashMap<String, usize>,
}

impl WeightFiles {
    /// Opens `dir/model.safetensors`, or the shards listed in `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let single = dir.join(WEIGHTS_FILE);
        let index_path = dir.join(INDEX_FILE);
        let files: Vec<PathBuf> = if single.is_file() {
            vec![single]
        } else if index_path.is_file() {
            let text = std::fs::read_to_string(&index_path).map_err(|e| CoreError::io(&index_path, e))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| CoreError::file(&index_path, e.to_string()))?;
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
            return Err(CoreError::file(dir, format!("has no {WEIGHTS_FILE} or {INDEX_FILE}{hint}")));
        };
        let mut shards = Vec::new();
        let mut index = HashMap::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|e| CoreError::io(&path, e))?;
            let (n, meta) = safetensors::SafeTensors::read_metadata(&bytes)
                .map_err(|e| CoreError::file(&path, format!("not a valid safetensors file: {e}")))?;
            for name in meta.tensors().keys() {
                index.insert(name.clone(), shards.len());
            }
            shards.push(Shard { path, bytes, data_start: 8 + n, meta });
        }
        Ok(Self { shards, index })
    }

    /// Names of all tensors.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The file holding `name` (for error messages).
    pub fn file_of(&self, name: &str) -> Option<&Path> {
        self.index.get(name).map(|&i| self.shards[i].path.as_path())
    }

    /// A tensor as f32 values with its shape (f32, f16, bf16 and f64 are read).
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let shard = &self.shards[*self.index.get(name).ok_or_else(|| CoreError::Invalid(format!("no tensor {name}")))?];
        let info = shard.meta.info(name).expect("indexed tensor has info");
        let (a, b) = info.data_offsets;
        let bytes = &shard.bytes[shard.data_start + a..shard.data_start + b];
        let values: Vec<f32> = match info.dtype {
            Dtype::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            Dtype::F16 => bytes.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
            Dtype::F64 => bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                return Err(CoreError::file(
                    &shard.path,
                    format!("tensor `{name}` has dtype {other:?}; expected F32, F16, BF16 or F64"),
                ));
            }
        };
        Ok((values, info.shape.clone()))
    }
}

/// Loads every parameter of `model` from `files`, checking names and shapes; tensors of the
/// checkpoint that the model has no place for are an error (they mean another architecture).
pub fn load_into(model: Generator, files: &WeightFiles) -> Result<Generator> {
    let shared = SHARED_ALIASES
        .iter()
        .find(|n| files.contains(n))
        .ok_or_else(|| missing(files, SHARED_ALIASES[0]))?
        .to_string();
    let mut loader = Loader { files, shared: shared.clone(), path: Vec::new(), used: BTreeSet::new(), error: None };
    let model = model.map(&mut loader);
    if let Some(e) = loader.error {
        return Err(e);
    }
    // Tied copies of the shared embeddings must really be copies.
    let (table, _) = files.read_f32(&shared)?;
    for alias in SHARED_ALIASES.iter().filter(|&&a| a != shared && files.contains(a)) {
        let (copy, _) = files.read_f32(alias)?;
        if copy != table {
            return Err(file_error(
                files,
                alias,
                format!("`{alias}` differs from `{shared}`: untied output embeddings are not supported"),
            ));
        }
        loader.used.insert(alias.to_string());
    }
    if let Some(extra) = files.names().filter(|n| !loader.used.contains(*n)).min() {
        return Err(file_error(
            files,
            extra,
            format!(
                "tensor `{extra}` has no place in a {} model: is this checkpoint another architecture?",
                variant_name(&model)
            ),
        ));
    }
    Ok(model)
}

fn variant_name(model: &Generator) -> &'static str {
    super::config::Architecture::for_variant(model.config().variant).map(|a| a.model_type()).unwrap_or("aiayn")
}

fn missing(files: &WeightFiles, name: &str) -> CoreError {
    let file = files.shards.first().map(|s| s.path.clone()).unwrap_or_default();
    CoreError::file(file, format!("has no tensor `{name}`"))
}

fn file_error(files: &WeightFiles, name: &str, message: String) -> CoreError {
    CoreError::file(files.file_of(name).map(Path::to_path_buf).unwrap_or_default(), message)
}

struct Loader<'a> {
    files: &'a WeightFiles,
    shared: String,
    path: Vec<String>,
    used: BTreeSet<String>,
    error: Option<CoreError>,
}

impl Loader<'_> {
    fn fetch(&mut self, ours: &str, want: &[usize]) -> Result<Vec<f32>> {
        let (mut name, layout) =
            hf_name(ours).ok_or_else(|| CoreError::Invalid(format!("no Hugging Face name for parameter `{ours}`")))?;
        if layout == Layout::Same && name == SHARED_ALIASES[0] {
            name = self.shared.clone();
        }
        if !self.files.contains(&name) {
            if name == "final_logits_bias" {
                // transformers treats a missing bias as zeros.
                return Ok(vec![0.0; want.iter().product()]);
            }
            return Err(missing(self.files, &name));
        }
        let (values, shape) = self.files.read_f32(&name)?;
        let expected: Vec<usize> = match layout {
            Layout::Same => want.to_vec(),
            Layout::Transposed => vec![want[1], want[0]],
            Layout::LeadingOne => [&[1], want].concat(),
        };
        if shape != expected {
            return Err(file_error(
                self.files,
                &name,
                format!("tensor `{name}` has shape {shape:?} but config.json implies {expected:?}"),
            ));
        }
        self.used.insert(name);
        Ok(match layout {
            Layout::Transposed => transpose(&values, shape[0], shape[1]),
            _ => values,
        })
    }
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let shape = param.lazy_shape().dims::<D>().to_vec();
        match self.fetch(&self.path.join("."), &shape) {
            Ok(values) => {
                let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &param.lazy_device());
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// `[rows, cols]` row-major → `[cols, rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// The generator's parameters under their Hugging Face names, in `transformers`' layouts, as
/// the bytes of a `model.safetensors` file. A model without a logits bias gets a zero one.
pub fn to_safetensors(model: &Generator) -> Result<Vec<u8>> {
    let mut collector = Collector { path: Vec::new(), tensors: BTreeMap::new(), error: None };
    model.visit(&mut collector);
    if let Some(e) = collector.error {
        return Err(e);
    }
    let mut tensors = collector.tensors;
    tensors
        .entry("final_logits_bias".into())
        .or_insert_with(|| (vec![1, model.config().vocab_size], vec![0.0; model.config().vocab_size]));
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, (shape, values))| (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| Ok((name.as_str(), TensorView::new(Dtype::F32, shape.clone(), data).map_err(st_error)?)))
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(st_error)
}

fn st_error(e: safetensors::SafeTensorError) -> CoreError {
    CoreError::Invalid(format!("safetensors: {e}"))
}

type Named = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

struct Collector {
    path: Vec<String>,
    tensors: Named,
    error: Option<CoreError>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let ours = self.path.join(".");
        let Some((name, layout)) = hf_name(&ours) else {
            self.error.get_or_insert(CoreError::Invalid(format!("no Hugging Face name for parameter `{ours}`")));
            return;
        };
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let values = match tensor.into_data().convert::<f32>().try_into_vec::<f32>() {
            Ok(v) => v,
            Err(e) => {
                self.error.get_or_insert(CoreError::Invalid(format!("cannot read `{ours}`: {e:?}")));
                return;
            }
        };
        let (shape, values) = match layout {
            Layout::Same => (shape, values),
            Layout::Transposed => (vec![shape[1], shape[0]], transpose(&values, shape[0], shape[1])),
            Layout::LeadingOne => ([&[1], shape.as_slice()].concat(), values),
        };
        self.tensors.insert(name, (shape, values));
    }
}
