//! GGUF files (llama.cpp's format) as causal LMs: the model's shape from the metadata, every
//! tensor dequantized to f32 ([`dequant`]) under its Hugging Face name ([`names`]), one at a
//! time, so loading needs little more memory than the f32 model.
//!
//! Command-line tools take a `.gguf` path, or one marked `gguf:PATH`, where a model is
//! expected.

pub mod dequant;
pub mod names;
pub mod reader;
pub mod tokenizer;

pub use reader::GgufFile;

use crate::error::{CoreError, Result};
use crate::hf::weights::TensorSource;
use crate::model::causal::{CausalConfig, CausalLm, Family};
use burn::tensor::Device;
use std::path::{Path, PathBuf};

/// Prefix that marks a GGUF file where a model is expected (a path ending in `.gguf` needs
/// none).
pub const GGUF_PREFIX: &str = "gguf:";

/// The GGUF file `spec` names, if it names one (`gguf:PATH`, or a path ending in `.gguf`;
/// `cache:NAME` in the model cache).
pub fn gguf_path(spec: &Path) -> Option<PathBuf> {
    let spec = crate::model_cache::expand(spec);
    let s = spec.to_str()?;
    match s.strip_prefix(GGUF_PREFIX) {
        Some(p) => Some(PathBuf::from(p)),
        None => s.ends_with(".gguf").then(|| spec.to_path_buf()),
    }
}

/// The tensors of a GGUF file under their Hugging Face names, in `transformers`' layouts.
pub struct GgufSource {
    file: GgufFile,
    /// (query heads, key/value heads) when q/k rows are in llama.cpp's rotary order.
    permuted: Option<(usize, usize)>,
}

impl GgufSource {
    /// The file (its metadata: tokenizer, chat template).
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    /// Every tensor's Hugging Face name; a tensor without one is an error naming it.
    pub fn hf_names(&self) -> Result<Vec<String>> {
        self.file
            .tensors
            .keys()
            .map(|g| {
                names::hf_name(g).ok_or_else(|| {
                    CoreError::file(
                        self.file.path(),
                        format!("tensor `{g}` has no place in a causal LM we read"),
                    )
                })
            })
            .collect()
    }
}

impl TensorSource for GgufSource {
    fn contains(&self, name: &str) -> bool {
        names::gguf_name(name).is_some_and(|g| self.file.tensors.contains_key(&g))
    }

    fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let g = names::gguf_name(name).ok_or_else(|| {
            CoreError::file(self.file.path(), format!("has no tensor for `{name}`"))
        })?;
        let info = &self.file.tensors[&g];
        let bytes = self.file.tensor_bytes(&g)?;
        let mut values = dequant::dequantize(info.ggml_type, &bytes)
            .map_err(|m| CoreError::file(self.file.path(), format!("tensor `{g}`: {m}")))?;
        let shape = info.shape();
        if let Some((heads, kv)) = self.permuted
            && let Some(n) = names::permuted_heads(name, heads, kv)
        {
            let cols = if shape.len() == 2 { shape[1] } else { 1 };
            values = names::unpermute_rows(&values, n, cols);
        }
        Ok((values, shape))
    }

    fn file_for(&self, _name: &str) -> PathBuf {
        self.file.path().to_path_buf()
    }
}

/// Reads the model's configuration from the metadata of `file`.
pub fn read_config(file: &GgufFile) -> Result<CausalConfig> {
    let bad = |m: String| CoreError::file(file.path(), m);
    let arch = file.get("general.architecture")?.as_str().unwrap_or_default().to_string();
    let family = Family::from_model_type(&arch).ok_or_else(|| {
        bad(format!(
            "`general.architecture` is {arch:?}; expected \"llama\", \"qwen2\" or \"qwen3\""
        ))
    })?;
    let key = |k: &str| format!("{arch}.{k}");
    let uint = |k: &str| -> Result<Option<usize>> {
        match file.metadata.get(&key(k)) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| bad(format!("`{}` is {v:?}; expected an integer", key(k)))),
        }
    };
    let need = |k: &str| uint(k)?.ok_or_else(|| bad(format!("has no metadata key `{}`", key(k))));
    let float = |k: &str| file.metadata.get(&key(k)).and_then(|v| v.as_f64());
    if file.tensors.contains_key("rope_freqs.weight") {
        return Err(bad(
            "has per-frequency rotary factors (`rope_freqs.weight`, Llama 3.1's scaling); \
             load the Hugging Face checkpoint instead, whose `rope_scaling` is read"
                .into(),
        ));
    }
    if let Some(kind) = file.metadata.get(&key("rope.scaling.type")).and_then(|v| v.as_str())
        && kind != "none"
    {
        return Err(bad(format!(
            "`{}` is {kind:?}; only unscaled rotary positions are read",
            key("rope.scaling.type")
        )));
    }
    let heads = need("attention.head_count")?;
    let hidden = need("embedding_length")?;
    let embed = file
        .tensors
        .get("token_embd.weight")
        .ok_or_else(|| bad("has no tensor `token_embd.weight`".into()))?;
    let vocab = match uint("vocab_size")? {
        Some(v) => v,
        None => embed.shape()[0],
    };
    let token = |k: &str| file.metadata.get(k).and_then(|v| v.as_u64()).map(|v| v as u32);
    let has = |t: &str| file.tensors.contains_key(t);
    let cfg = CausalConfig {
        family,
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: need("feed_forward_length")?,
        num_hidden_layers: need("block_count")?,
        num_attention_heads: heads,
        num_key_value_heads: uint("attention.head_count_kv")?.unwrap_or(heads),
        head_dim: uint("attention.key_length")?
            .or(uint("rope.dimension_count")?)
            .unwrap_or(hidden / heads.max(1)),
        rms_norm_eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
        rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
        rope_scaling: None,
        max_position_embeddings: uint("context_length")?.unwrap_or(2048),
        tie_word_embeddings: !has("output.weight"),
        qkv_bias: has("blk.0.attn_q.bias"),
        o_bias: has("blk.0.attn_output.bias"),
        mlp_bias: has("blk.0.ffn_up.bias"),
        qk_norm: has("blk.0.attn_q_norm.weight"),
        attention_dropout: 0.0,
        initializer_range: 0.02,
        bos_token_id: token("tokenizer.ggml.bos_token_id"),
        eos_token_ids: token("tokenizer.ggml.eos_token_id").into_iter().collect(),
        pad_token_id: token("tokenizer.ggml.padding_token_id"),
    };
    cfg.validate().map_err(|e| bad(e.to_string()))?;
    Ok(cfg)
}

/// Opens the GGUF file at `path` as a tensor source and reads its configuration.
pub fn open(path: &Path) -> Result<(GgufSource, CausalConfig)> {
    let file = GgufFile::open(path)?;
    let cfg = read_config(&file)?;
    let permuted =
        (cfg.family == Family::Llama).then_some((cfg.num_attention_heads, cfg.num_key_value_heads));
    Ok((GgufSource { file, permuted }, cfg))
}

/// Loads the model of the GGUF file at `path` onto `device` (weights dequantized to f32).
pub fn load_model(path: &Path, device: &Device) -> Result<CausalLm> {
    let (source, cfg) = open(path)?;
    load_weights(&source, &cfg, device)
}

/// Loads the weights of an opened file ([`open`]) into a model of `cfg` on `device`.
pub fn load_weights(source: &GgufSource, cfg: &CausalConfig, device: &Device) -> Result<CausalLm> {
    crate::hf::causal::load_weights(cfg, source, &source.hf_names()?, device)
}
