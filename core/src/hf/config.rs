//! Hugging Face Blenderbot `config.json` ⇄ [`GeneratorConfig`].
//!
//! `blenderbot` (400M-distill, 1B, 3B) is our `prelayernorm` variant; `blenderbot-small`
//! (90M) is `xlm`. Both use learned positions and tied input/output embeddings.

use crate::error::{CoreError, Result};
use crate::model::{Activation, GeneratorConfig, Variant};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

/// The two Hugging Face architectures this module reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `model_type: "blenderbot"`: pre-layer-norm blocks and final layer norms.
    Blenderbot,
    /// `model_type: "blenderbot-small"`: post-layer-norm blocks and embedding layer norms.
    BlenderbotSmall,
}

impl Architecture {
    /// The `model_type` string of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Blenderbot => "blenderbot",
            Self::BlenderbotSmall => "blenderbot-small",
        }
    }

    /// The `architectures` entry of `config.json`.
    fn class_name(self) -> &'static str {
        match self {
            Self::Blenderbot => "BlenderbotForConditionalGeneration",
            Self::BlenderbotSmall => "BlenderbotSmallForConditionalGeneration",
        }
    }

    /// Our variant with the same layer-norm placement.
    pub fn variant(self) -> Variant {
        match self {
            Self::Blenderbot => Variant::Prelayernorm,
            Self::BlenderbotSmall => Variant::Xlm,
        }
    }

    /// The architecture a model of `variant` exports to, if any.
    pub fn for_variant(variant: Variant) -> Result<Self> {
        match variant {
            Variant::Prelayernorm => Ok(Self::Blenderbot),
            Variant::Xlm => Ok(Self::BlenderbotSmall),
            Variant::Aiayn => Err(CoreError::Config(
                "a model of variant `aiayn` has no Hugging Face Blenderbot equivalent; export needs \
                 `prelayernorm` (blenderbot) or `xlm` (blenderbot-small)"
                    .into(),
            )),
        }
    }
}

/// The fields of a Blenderbot `config.json` that shape the model (others are ignored).
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    d_model: Option<usize>,
    encoder_layers: Option<usize>,
    decoder_layers: Option<usize>,
    encoder_attention_heads: Option<usize>,
    decoder_attention_heads: Option<usize>,
    encoder_ffn_dim: Option<usize>,
    decoder_ffn_dim: Option<usize>,
    max_position_embeddings: Option<usize>,
    activation_function: Option<String>,
    scale_embedding: Option<bool>,
    dropout: Option<f64>,
    attention_dropout: Option<f64>,
    activation_dropout: Option<f64>,
    pad_token_id: Option<usize>,
    bos_token_id: Option<usize>,
    eos_token_id: Option<Value>,
    decoder_start_token_id: Option<usize>,
    tie_word_embeddings: Option<bool>,
}

/// Reads `config.json` of a Hugging Face checkpoint into our config and its architecture.
pub fn read_config(path: &Path) -> Result<(GeneratorConfig, Architecture)> {
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
    parse_config(&text).map_err(|m| CoreError::file(path, m))
}

/// Parses a `config.json`'s text (what [`read_config`] reads).
pub fn parse_config(text: &str) -> std::result::Result<(GeneratorConfig, Architecture), String> {
    let raw: RawConfig =
        serde_json::from_str(text).map_err(|e| format!("not a valid config.json: {e}"))?;
    let arch = match raw.model_type.as_deref() {
        Some("blenderbot") => Architecture::Blenderbot,
        Some("blenderbot-small") | Some("blenderbot_small") => Architecture::BlenderbotSmall,
        Some(other) => {
            return Err(format!(
                "model_type {other:?} is not a Blenderbot checkpoint; expected \"blenderbot\" or \"blenderbot-small\""
            ));
        }
        None => {
            return Err("has no model_type; expected \"blenderbot\" or \"blenderbot-small\"".into());
        }
    };
    let need =
        |v: Option<usize>, field: &str| v.ok_or_else(|| format!("field `{field}` is missing"));
    let same = |a: Option<usize>,
                b: Option<usize>,
                fa: &str,
                fb: &str|
     -> std::result::Result<usize, String> {
        let (a, b) = (need(a, fa)?, need(b, fb)?);
        if a != b {
            return Err(format!("`{fa}` = {a} but `{fb}` = {b}; the generator needs them equal"));
        }
        Ok(a)
    };
    let activation = match raw.activation_function.as_deref().unwrap_or("gelu") {
        "gelu" => Activation::Gelu,
        "relu" => Activation::Relu,
        other => {
            return Err(format!(
                "`activation_function` {other:?} is not supported; expected \"gelu\" or \"relu\""
            ));
        }
    };
    if raw.tie_word_embeddings == Some(false) {
        return Err(
            "`tie_word_embeddings` is false; the generator shares its input and output embeddings"
                .into(),
        );
    }
    let end_id = match raw.eos_token_id {
        Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
        Some(Value::Array(ids)) => ids.first().and_then(Value::as_u64).map(|n| n as usize),
        _ => None,
    };
    let start_id = raw.decoder_start_token_id.or(raw.bos_token_id);
    let cfg = GeneratorConfig {
        vocab_size: need(raw.vocab_size, "vocab_size")?,
        embedding_size: need(raw.d_model, "d_model")?,
        ffn_size: same(
            raw.encoder_ffn_dim,
            raw.decoder_ffn_dim,
            "encoder_ffn_dim",
            "decoder_ffn_dim",
        )?,
        n_encoder_layers: need(raw.encoder_layers, "encoder_layers")?,
        n_decoder_layers: need(raw.decoder_layers, "decoder_layers")?,
        n_heads: same(
            raw.encoder_attention_heads,
            raw.decoder_attention_heads,
            "encoder_attention_heads",
            "decoder_attention_heads",
        )?,
        n_positions: need(raw.max_position_embeddings, "max_position_embeddings")?,
        variant: arch.variant(),
        learn_positional_embeddings: true,
        embeddings_scale: raw.scale_embedding.unwrap_or(false),
        dropout: raw.dropout.unwrap_or(0.1),
        attention_dropout: raw.attention_dropout.unwrap_or(0.0),
        relu_dropout: raw.activation_dropout.unwrap_or(0.0),
        activation,
        pad_id: need(raw.pad_token_id, "pad_token_id")?,
        start_id: need(start_id, "decoder_start_token_id")?,
        end_id: need(end_id, "eos_token_id")?,
        final_logits_bias: true,
        // transformers' BlenderbotSmall decoder skips the scale (its embedding norm follows).
        decoder_embeddings_scale: arch == Architecture::Blenderbot,
    };
    cfg.validate().map_err(|e| e.to_string())?;
    Ok((cfg, arch))
}

/// What `transformers` cannot reproduce exactly about a model of `cfg`, if anything: its
/// BlenderbotSmall never scales the decoder's token embeddings. Before that architecture's
/// decoder embedding norm, the scale only changes how much the norm's epsilon counts (a
/// relative effect of about `1e-5 / variance of the embeddings`), so such a model is exported
/// with this warning; for `blenderbot` (no such norm) [`write_config`] refuses instead.
pub fn export_caveat(cfg: &GeneratorConfig) -> Option<String> {
    let decoder_scaled = cfg.embeddings_scale && cfg.decoder_embeddings_scale;
    (cfg.variant == Variant::Xlm && decoder_scaled).then(|| {
        "transformers' BlenderbotSmall does not scale the decoder's token embeddings before its \
         embedding layer norm; there the exported model's outputs differ from ours by the norm's \
         epsilon effect (set decoder_embeddings_scale = false in the model config to train a model \
         that exports exactly)"
            .to_string()
    })
}

/// The `config.json` that `transformers` reads for a model of `cfg` (see [`Architecture::for_variant`]).
pub fn write_config(cfg: &GeneratorConfig) -> Result<String> {
    let arch = Architecture::for_variant(cfg.variant)?;
    if arch == Architecture::Blenderbot && cfg.embeddings_scale && !cfg.decoder_embeddings_scale {
        return Err(CoreError::Config(
            "transformers' Blenderbot scales the decoder's embeddings whenever the encoder's are; \
             a model with decoder_embeddings_scale = false cannot be exported"
                .into(),
        ));
    }
    let activation = match cfg.activation {
        Activation::Gelu => "gelu",
        Activation::Relu => "relu",
    };
    let value = json!({
        "model_type": arch.model_type(),
        "architectures": [arch.class_name()],
        "vocab_size": cfg.vocab_size,
        "d_model": cfg.embedding_size,
        "encoder_layers": cfg.n_encoder_layers,
        "decoder_layers": cfg.n_decoder_layers,
        "encoder_attention_heads": cfg.n_heads,
        "decoder_attention_heads": cfg.n_heads,
        "encoder_ffn_dim": cfg.ffn_size,
        "decoder_ffn_dim": cfg.ffn_size,
        "max_position_embeddings": cfg.n_positions,
        "activation_function": activation,
        "scale_embedding": cfg.embeddings_scale,
        "dropout": cfg.dropout,
        "attention_dropout": cfg.attention_dropout,
        "activation_dropout": cfg.relu_dropout,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        "init_std": 0.02,
        "pad_token_id": cfg.pad_id,
        "bos_token_id": cfg.start_id,
        "eos_token_id": cfg.end_id,
        "decoder_start_token_id": cfg.start_id,
        "forced_eos_token_id": null,
        "encoder_no_repeat_ngram_size": 0,
        "is_encoder_decoder": true,
        "tie_word_embeddings": true,
        "use_cache": true,
        "dtype": "float32",
    });
    Ok(serde_json::to_string_pretty(&value).expect("json serialises") + "\n")
}

/// `generation_config.json`: the model's special ids, and the start token suppressed as the
/// generator here never produces it.
pub fn write_generation_config(cfg: &GeneratorConfig) -> String {
    let value = json!({
        "bos_token_id": cfg.start_id,
        "decoder_start_token_id": cfg.start_id,
        "eos_token_id": cfg.end_id,
        "pad_token_id": cfg.pad_id,
        "suppress_tokens": [cfg.start_id],
        "encoder_no_repeat_ngram_size": 0,
    });
    serde_json::to_string_pretty(&value).expect("json serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_config() -> GeneratorConfig {
        GeneratorConfig {
            variant: Variant::Xlm,
            final_logits_bias: true,
            decoder_embeddings_scale: false,
            ..GeneratorConfig::tiny(50)
        }
    }

    #[test]
    fn written_config_reads_back_identically() {
        for variant in [Variant::Prelayernorm, Variant::Xlm] {
            let decoder_embeddings_scale = variant == Variant::Prelayernorm;
            let cfg = GeneratorConfig { variant, decoder_embeddings_scale, ..small_config() };
            let (back, arch) = parse_config(&write_config(&cfg).unwrap()).unwrap();
            assert_eq!(back, cfg);
            assert_eq!(arch.variant(), variant);
        }
    }

    #[test]
    fn other_architectures_and_bad_fields_are_named() {
        let err = parse_config(r#"{"model_type": "gpt2", "vocab_size": 10}"#).unwrap_err();
        assert!(err.contains("\"gpt2\" is not a Blenderbot checkpoint"), "{err}");
        let mut v: Value = serde_json::from_str(&write_config(&small_config()).unwrap()).unwrap();
        v["decoder_ffn_dim"] = json!(128);
        let err = parse_config(&v.to_string()).unwrap_err();
        assert!(err.contains("`decoder_ffn_dim` = 128"), "{err}");
        v["decoder_ffn_dim"] = json!(64);
        v.as_object_mut().unwrap().remove("d_model");
        assert!(parse_config(&v.to_string()).unwrap_err().contains("`d_model` is missing"));
        let aiayn = GeneratorConfig { variant: Variant::Aiayn, ..small_config() };
        assert!(write_config(&aiayn).unwrap_err().to_string().contains("aiayn"));
    }
}
