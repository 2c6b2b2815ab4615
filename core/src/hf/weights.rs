//! Weights: a model's parameters ⇄ the tensors of a safetensors checkpoint, under a naming
//! that maps each parameter's module path to its Hugging Face name and layout. The BB1
//! generator's naming is [`hf_name`]; the causal LM's paths are the names themselves
//! (`super::causal`).

use super::names::{Layout, SHARED_ALIASES, hf_name};
pub use super::safetensors::{INDEX_FILE, WEIGHTS_FILE, WeightFiles, parse_header};
use crate::error::{CoreError, Result};
use crate::model::Generator;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use std::collections::BTreeSet;
use std::path::Path;

/// A parameter's module path (dot-separated) → its checkpoint name and layout.
pub type Naming<'a> = &'a dyn Fn(&str) -> Option<(String, Layout)>;

/// Where tensors are read from by their Hugging Face names: safetensors files, or a GGUF
/// file that translates names and layouts (`crate::gguf`).
pub trait TensorSource {
    /// Whether a tensor exists.
    fn contains(&self, name: &str) -> bool;
    /// A tensor as f32 values with its shape (PyTorch's order).
    fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)>;
    /// The file that holds `name`, or the main file when there is none (for messages).
    fn file_for(&self, name: &str) -> std::path::PathBuf;
}

impl TensorSource for WeightFiles {
    fn contains(&self, name: &str) -> bool {
        WeightFiles::contains(self, name)
    }

    fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        WeightFiles::read_f32(self, name)
    }

    fn file_for(&self, name: &str) -> std::path::PathBuf {
        self.file_of(name).or(self.first_file()).map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Loads every parameter of `model` from `files` under `naming`, checking each shape (a
/// tensor named in `zero_if_missing` may be absent: it is zeros, as in `transformers`).
/// Returns the model and the names of the tensors it read.
pub fn load_params<M: Module>(
    model: M,
    files: &dyn TensorSource,
    naming: Naming,
    zero_if_missing: &[&str],
) -> Result<(M, BTreeSet<String>)> {
    let mut loader = Loader {
        files,
        naming,
        zero_if_missing,
        path: Vec::new(),
        used: BTreeSet::new(),
        error: None,
    };
    let model = model.map(&mut loader);
    match loader.error {
        Some(e) => Err(e),
        None => Ok((model, loader.used)),
    }
}

/// Loads every parameter of the generator from `files`, checking names and shapes; tensors
/// of the checkpoint that the model has no place for are an error (they mean another
/// architecture).
pub fn load_into(model: Generator, files: &WeightFiles) -> Result<Generator> {
    let shared = SHARED_ALIASES
        .iter()
        .find(|n| files.contains(n))
        .ok_or_else(|| missing(files, SHARED_ALIASES[0]))?
        .to_string();
    let naming = |path: &str| {
        hf_name(path).map(|(name, layout)| {
            match layout == Layout::Same && name == SHARED_ALIASES[0] {
                true => (shared.clone(), layout),
                false => (name, layout),
            }
        })
    };
    let (model, mut used) = load_params(model, files, &naming, &["final_logits_bias"])?;
    // Tied copies of the shared embeddings must really be copies.
    let (table, _) = files.read_f32(&shared)?;
    for alias in SHARED_ALIASES.iter().filter(|&&a| a != shared && files.contains(a)) {
        let (copy, _) = files.read_f32(alias)?;
        if copy != table {
            return Err(file_error(
                files,
                alias,
                format!(
                    "`{alias}` differs from `{shared}`: untied output embeddings are not supported"
                ),
            ));
        }
        used.insert(alias.to_string());
    }
    refuse_unused(files, files.names(), &used, variant_name(&model))?;
    Ok(model)
}

/// An error naming the first of `names` (every tensor of the checkpoint) not in `used`, if
/// any: it has no place in a model of `model_type`.
pub fn refuse_unused<'a>(
    files: &dyn TensorSource,
    names: impl Iterator<Item = &'a str>,
    used: &BTreeSet<String>,
    model_type: &str,
) -> Result<()> {
    match names.filter(|n| !used.contains(*n)).min() {
        Some(extra) => Err(file_error(
            files,
            extra,
            format!(
                "tensor `{extra}` has no place in a {model_type} model: is this checkpoint another architecture?"
            ),
        )),
        None => Ok(()),
    }
}

fn variant_name(model: &Generator) -> &'static str {
    super::config::Architecture::for_variant(model.config().variant)
        .map(|a| a.model_type())
        .unwrap_or("aiayn")
}

/// "has no tensor `name`", on the checkpoint's (first) file.
pub fn missing(files: &dyn TensorSource, name: &str) -> CoreError {
    CoreError::file(files.file_for(name), format!("has no tensor `{name}`"))
}

/// An error on the file that holds tensor `name`.
pub fn file_error(files: &dyn TensorSource, name: &str, message: String) -> CoreError {
    CoreError::file(files.file_for(name), message)
}

struct Loader<'a> {
    files: &'a dyn TensorSource,
    naming: Naming<'a>,
    zero_if_missing: &'a [&'a str],
    path: Vec<String>,
    used: BTreeSet<String>,
    error: Option<CoreError>,
}

impl Loader<'_> {
    fn fetch(&mut self, ours: &str, want: &[usize]) -> Result<Vec<f32>> {
        let (name, layout) = (self.naming)(ours).ok_or_else(|| {
            CoreError::Invalid(format!("no Hugging Face name for parameter `{ours}`"))
        })?;
        if !self.files.contains(&name) {
            if self.zero_if_missing.contains(&name.as_str()) {
                return Ok(vec![0.0; want.iter().product()]);
            }
            return Err(missing(self.files, &name));
        }
        let (values, shape) = self.files.read_f32(&name)?;
        let expected = hf_shape(layout, want);
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
                let tensor =
                    Tensor::<D>::from_data(TensorData::new(values, shape), &param.lazy_device());
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
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// A tensor written after the model's parameters: name, shape, f32 values.
pub type ExtraTensor = (String, Vec<usize>, Vec<f32>);

/// Writes `model`'s parameters under `naming`, in `transformers`' layouts (f32), then
/// `extra`, as one safetensors file to `out`, one tensor at a time.
pub fn write_params<M: Module>(
    model: &M,
    naming: Naming,
    extra: &[ExtraTensor],
    out: &mut dyn std::io::Write,
) -> Result<()> {
    // Pass 1: names and shapes, to lay out the header.
    let mut shapes = ShapeCollector { naming, path: Vec::new(), shapes: Vec::new(), error: None };
    model.visit(&mut shapes);
    if let Some(e) = shapes.error {
        return Err(e);
    }
    shapes.shapes.extend(extra.iter().map(|(n, s, _)| (n.clone(), s.clone())));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({ "format": "pt" }));
    let mut offset = 0usize;
    for (name, shape) in &shapes.shapes {
        let len = 4 * shape.iter().product::<usize>();
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len] }),
        );
        offset += len;
    }
    let mut text = serde_json::to_string(&header).expect("json serialises");
    while !text.len().is_multiple_of(8) {
        text.push(' '); // safetensors pads the header to 8 bytes
    }
    let io = |e: std::io::Error| CoreError::Invalid(format!("writing model.safetensors: {e}"));
    out.write_all(&(text.len() as u64).to_le_bytes()).map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    // Pass 2: the data, in the same order.
    let mut writer = TensorWriter { naming, path: Vec::new(), out, error: None };
    model.visit(&mut writer);
    if let Some(e) = writer.error {
        return Err(e);
    }
    for (_, _, values) in extra {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        writer.out.write_all(&bytes).map_err(io)?;
    }
    Ok(())
}

/// Writes the generator's parameters under their Hugging Face names as a
/// `model.safetensors` that `transformers` loads. A model without a logits bias gets a zero
/// one.
pub fn write_safetensors(model: &Generator, out: &mut dyn std::io::Write) -> Result<()> {
    let v = model.config().vocab_size;
    let extra = match model.config().final_logits_bias {
        true => Vec::new(),
        false => vec![("final_logits_bias".to_string(), vec![1, v], vec![0.0; v])],
    };
    write_params(model, &hf_name, &extra, out)
}

/// The checkpoint name and layout of our parameter at `path`.
fn hf_layout(naming: Naming, path: &[String]) -> Result<(String, Layout)> {
    let ours = path.join(".");
    naming(&ours)
        .ok_or_else(|| CoreError::Invalid(format!("no Hugging Face name for parameter `{ours}`")))
}

/// Our shape in `transformers`' layout.
fn hf_shape(layout: Layout, shape: &[usize]) -> Vec<usize> {
    match layout {
        Layout::Same => shape.to_vec(),
        Layout::Transposed => vec![shape[1], shape[0]],
        Layout::LeadingOne => [&[1], shape].concat(),
    }
}

/// A parameter's values in `transformers`' layout, as little-endian f32 bytes.
fn hf_bytes<const D: usize>(layout: Layout, param: &Param<Tensor<D>>) -> Vec<u8> {
    let tensor = param.val();
    let shape = tensor.dims().to_vec();
    let values =
        tensor.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data after convert");
    let values = match layout {
        Layout::Transposed => transpose(&values, shape[0], shape[1]),
        _ => values,
    };
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

struct ShapeCollector<'a> {
    naming: Naming<'a>,
    path: Vec<String>,
    shapes: Vec<(String, Vec<usize>)>,
    error: Option<CoreError>,
}

impl ModuleVisitor for ShapeCollector<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match hf_layout(self.naming, &self.path) {
            Ok((name, layout)) => {
                self.shapes.push((name, hf_shape(layout, &param.lazy_shape().dims::<D>())))
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }
}

struct TensorWriter<'a> {
    naming: Naming<'a>,
    path: Vec<String>,
    out: &'a mut dyn std::io::Write,
    error: Option<CoreError>,
}

impl ModuleVisitor for TensorWriter<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        let result = hf_layout(self.naming, &self.path).and_then(|(_, layout)| {
            let bytes = hf_bytes(layout, param);
            self.out
                .write_all(&bytes)
                .map_err(|e| CoreError::Invalid(format!("writing model.safetensors: {e}")))
        });
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}
