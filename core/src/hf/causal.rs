//! Hugging Face causal-LM checkpoints (`model_type` `llama`, `qwen2`, `qwen3`): their
//! `config.json` (with `generation_config.json`'s end tokens) ⇄ [`CausalConfig`], and their
//! weights ⇄ [`CausalLm`].
//!
//! The model's parameter paths are the checkpoint's tensor names, so the naming is the
//! identity; PyTorch's linear weights are `[out, in]` where Burn's are `[in, out]`. Missing
//! fields take `transformers`' defaults for the family, as `from_pretrained` does.

use super::names::Layout;
use super::weights::{
    TensorSource, WeightFiles, file_error, load_params, refuse_unused, write_params,
};
use crate::error::{CoreError, Result};
use crate::model::causal::{CausalConfig, CausalLm, Family, RopeScaling};
use burn::tensor::Device;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

/// The fields of a causal LM's `config.json` that shape the model (others are ignored).
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    max_position_embeddings: Option<usize>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    hidden_act: Option<String>,
    attention_dropout: Option<f64>,
    initializer_range: Option<f64>,
    bos_token_id: Option<Value>,
    eos_token_id: Option<Value>,
    pad_token_id: Option<Value>,
    use_sliding_window: Option<bool>,
}

/// Whether `text` (a `config.json`) describes a language model of one of the causal
/// families (not a sequence classifier on one: [`super::causal_classifier`]).
pub fn is_causal_config(text: &str) -> bool {
    serde_json::from_str::<Value>(text).ok().is_some_and(|v| {
        v["model_type"].as_str().and_then(Family::from_model_type).is_some()
            && !super::causal_classifier::is_classifier(&v)
    })
}

/// Reads `dir/config.json` (and `dir/generation_config.json` if present).
pub fn read_config(dir: &Path) -> Result<CausalConfig> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
    let mut cfg = parse_config(&text).map_err(|m| CoreError::file(&path, m))?;
    let gen_path = dir.join("generation_config.json");
    if gen_path.is_file() {
        let text = std::fs::read_to_string(&gen_path).map_err(|e| CoreError::io(&gen_path, e))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| CoreError::file(&gen_path, format!("not valid JSON: {e}")))?;
        for id in token_ids(v.get("eos_token_id"), "eos_token_id")
            .map_err(|m| CoreError::file(&gen_path, m))?
        {
            if !cfg.eos_token_ids.contains(&id) {
                cfg.eos_token_ids.push(id);
            }
        }
    }
    cfg.validate().map_err(|e| CoreError::file(&path, e.to_string()))?;
    Ok(cfg)
}

/// Parses a `config.json`'s text.
pub fn parse_config(text: &str) -> std::result::Result<CausalConfig, String> {
    let raw: RawConfig =
        serde_json::from_str(text).map_err(|e| format!("not a valid config.json: {e}"))?;
    let family = match raw.model_type.as_deref() {
        Some(t) => Family::from_model_type(t).ok_or_else(|| {
            format!("model_type {t:?} is not a causal LM we read; expected \"llama\", \"qwen2\" or \"qwen3\"")
        })?,
        None => return Err("has no model_type; expected \"llama\", \"qwen2\" or \"qwen3\"".into()),
    };
    let need =
        |v: Option<usize>, field: &str| v.ok_or_else(|| format!("field `{field}` is missing"));
    if let Some(act) = raw.hidden_act.as_deref().filter(|&a| a != "silu") {
        return Err(format!("`hidden_act` {act:?} is not supported; expected \"silu\""));
    }
    if raw.use_sliding_window == Some(true) {
        return Err(
            "`use_sliding_window` is true; sliding-window attention is not supported".into()
        );
    }
    let heads = need(raw.num_attention_heads, "num_attention_heads")?;
    let hidden = need(raw.hidden_size, "hidden_size")?;
    let (rope_theta, rope_scaling) = rope(&raw)?;
    let attention_bias = raw.attention_bias.unwrap_or(false);
    let max_pos_default = if family == Family::Llama { 2048 } else { 32_768 };
    let head_dim_default = if family == Family::Qwen3 { 128 } else { hidden / heads.max(1) };
    let eos = token_ids(raw.eos_token_id.as_ref(), "eos_token_id")?;
    let one = |v: &Option<Value>, field: &str| -> std::result::Result<Option<u32>, String> {
        Ok(token_ids(v.as_ref(), field)?.first().copied())
    };
    Ok(CausalConfig {
        family,
        vocab_size: need(raw.vocab_size, "vocab_size")?,
        hidden_size: hidden,
        intermediate_size: need(raw.intermediate_size, "intermediate_size")?,
        num_hidden_layers: need(raw.num_hidden_layers, "num_hidden_layers")?,
        num_attention_heads: heads,
        num_key_value_heads: raw.num_key_value_heads.unwrap_or(heads),
        head_dim: raw.head_dim.unwrap_or(head_dim_default),
        rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
        rope_theta,
        rope_scaling,
        max_position_embeddings: raw.max_position_embeddings.unwrap_or(max_pos_default),
        tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
        qkv_bias: family == Family::Qwen2 || attention_bias,
        o_bias: family != Family::Qwen2 && attention_bias,
        mlp_bias: family == Family::Llama && raw.mlp_bias.unwrap_or(false),
        qk_norm: family == Family::Qwen3,
        attention_dropout: raw.attention_dropout.unwrap_or(0.0),
        initializer_range: raw.initializer_range.unwrap_or(0.02),
        bos_token_id: one(&raw.bos_token_id, "bos_token_id")?,
        eos_token_ids: eos,
        pad_token_id: one(&raw.pad_token_id, "pad_token_id")?,
    })
}

/// Token ids of a field that may be a number, a list of numbers or null.
fn token_ids(v: Option<&Value>, field: &str) -> std::result::Result<Vec<u32>, String> {
    let id = |x: &Value| {
        x.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("`{field}` holds {x}; expected a token id"))
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(xs)) => xs.iter().map(id).collect(),
        Some(x) => Ok(vec![id(x)?]),
    }
}

/// `rope_theta` and the frequency scaling, from `rope_theta` + `rope_scaling` or from
/// `rope_parameters` (the newer spelling of both).
fn rope(raw: &RawConfig) -> std::result::Result<(f64, Option<RopeScaling>), String> {
    let params =
        raw.rope_parameters.as_ref().or(raw.rope_scaling.as_ref()).filter(|v| !v.is_null());
    let theta = raw
        .rope_theta
        .or_else(|| params.and_then(|p| p["rope_theta"].as_f64()))
        .unwrap_or(10_000.0);
    let Some(p) = params else { return Ok((theta, None)) };
    let field = if raw.rope_parameters.is_some() { "rope_parameters" } else { "rope_scaling" };
    let kind = p["rope_type"].as_str().or_else(|| p["type"].as_str()).unwrap_or("default");
    let num = |name: &str| {
        p[name].as_f64().ok_or_else(|| format!("`{field}.{name}` is missing or not a number"))
    };
    let scaling = match kind {
        "default" => None,
        "linear" => Some(RopeScaling::Linear { factor: num("factor")? }),
        "llama3" => Some(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_max_position_embeddings: num("original_max_position_embeddings")? as usize,
        }),
        other => {
            return Err(format!(
                "`{field}.rope_type` {other:?} is not supported; expected \"default\", \"linear\" or \"llama3\""
            ));
        }
    };
    Ok((theta, scaling))
}

/// The `config.json` `transformers` reads back into the same model: the rotary settings both
/// as `rope_parameters` (transformers 5) and as `rope_theta` + `rope_scaling` (earlier).
pub fn config_json(cfg: &CausalConfig) -> Value {
    let mut rope_parameters = match &cfg.rope_scaling {
        Some(scaling) => json!(scaling),
        None => json!({ "rope_type": "default" }),
    };
    rope_parameters["rope_theta"] = json!(cfg.rope_theta);
    let mut v = json!({
        "architectures": [cfg.family.class_name()],
        "model_type": cfg.family.model_type(),
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": cfg.rope_scaling,
        "rope_parameters": rope_parameters,
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "attention_dropout": cfg.attention_dropout,
        "initializer_range": cfg.initializer_range,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": match cfg.eos_token_ids.as_slice() {
            [one] => json!(one),
            ids => json!(ids),
        },
        "pad_token_id": cfg.pad_token_id,
        "torch_dtype": "float32",
        "use_cache": true,
    });
    let extra = match cfg.family {
        Family::Llama => json!({ "attention_bias": cfg.qkv_bias, "mlp_bias": cfg.mlp_bias }),
        Family::Qwen2 => json!({ "use_sliding_window": false }),
        Family::Qwen3 => json!({ "attention_bias": cfg.qkv_bias, "use_sliding_window": false }),
    };
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// The checkpoint name and layout of the causal LM's parameter at `path`: the path itself;
/// linear weights transposed.
pub fn causal_name(path: &str) -> Option<(String, Layout)> {
    let linear = path.ends_with("_proj.weight") || path == "lm_head.weight";
    Some((path.to_string(), if linear { Layout::Transposed } else { Layout::Same }))
}

/// Loads the weights of `files` (whose tensors are `names`) into a model of `cfg` on
/// `device`, checking every name and shape. Tied checkpoints may carry `lm_head.weight` as
/// a copy of the embeddings; old ones carry rotary `inv_freq` buffers, which are recomputed
/// from the config.
pub fn load_weights(
    cfg: &CausalConfig,
    files: &dyn TensorSource,
    names: &[String],
    device: &Device,
) -> Result<CausalLm> {
    let (model, mut used) = load_params(CausalLm::new(cfg, device), files, &causal_name, &[])?;
    const EMBED: &str = "model.embed_tokens.weight";
    if cfg.tie_word_embeddings && files.contains("lm_head.weight") {
        if files.read_f32("lm_head.weight")?.0 != files.read_f32(EMBED)?.0 {
            return Err(file_error(
                files,
                "lm_head.weight",
                "`lm_head.weight` differs from `model.embed_tokens.weight` but config.json says \
                 `tie_word_embeddings`: true"
                    .into(),
            ));
        }
        used.insert("lm_head.weight".into());
    }
    used.extend(names.iter().filter(|n| n.ends_with("rotary_emb.inv_freq")).cloned());
    refuse_unused(files, names.iter().map(String::as_str), &used, cfg.family.model_type())?;
    Ok(model)
}

/// Loads the model of the checkpoint directory `dir` (config and weights).
pub fn load_model(dir: &Path, device: &Device) -> Result<CausalLm> {
    let cfg = read_config(dir)?;
    let files = WeightFiles::open(dir)?;
    if files.data_bytes() < cfg.num_params() as u64 {
        return Err(CoreError::file(
            dir.join("config.json"),
            format!(
                "describes {} parameters, but the weight files hold only {} bytes",
                cfg.num_params(),
                files.data_bytes()
            ),
        ));
    }
    let names: Vec<String> = files.names().map(String::from).collect();
    load_weights(&cfg, &files, &names, device)
}

/// Writes the model's parameters as a `model.safetensors` (f32) that `transformers` loads.
pub fn write_safetensors(model: &CausalLm, out: &mut dyn std::io::Write) -> Result<()> {
    write_params(model, &causal_name, &[], out)
}
