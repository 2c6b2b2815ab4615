//! Generator configuration: the fields of ParlAI's `transformer/generator` flags, with presets.

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest accepted `embedding_size` (and `n_heads`); `ffn_size` may be 4× this. Bounds on
/// every size a config file can set, so a corrupt or hostile file is an error, not a huge
/// allocation.
pub const MAX_WIDTH: usize = 1 << 16;
/// Largest accepted layer count.
pub const MAX_LAYERS: usize = 1024;
/// Largest accepted `n_positions`.
pub const MAX_POSITIONS: usize = 1 << 20;
/// Largest accepted `vocab_size`.
pub const MAX_VOCAB: usize = 1 << 24;
/// Largest accepted parameter count (400 GB of f32 weights).
pub const MAX_PARAMS: u64 = 100_000_000_000;

/// Where layer norms sit in each block (ParlAI `--variant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Post-norm, as in "Attention Is All You Need".
    Aiayn,
    /// Post-norm plus a layer norm on the embeddings (XLM).
    Xlm,
    /// Pre-norm blocks plus a final layer norm (BlenderBot 1 3B/9B).
    Prelayernorm,
}

/// Feed-forward nonlinearity (ParlAI `--activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// Exact (erf) GELU.
    Gelu,
}

/// Shape and regularisation of the BB1-style encoder–decoder.
///
/// Field names follow ParlAI's flags (`--embedding-size` → `embedding_size`, …). Input and
/// output embeddings are always shared, as in ParlAI's generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Size of the vocabulary (set from the tokenizer).
    pub vocab_size: usize,
    /// Model width `d`.
    pub embedding_size: usize,
    /// Hidden size of each feed-forward block.
    pub ffn_size: usize,
    /// Number of encoder layers.
    pub n_encoder_layers: usize,
    /// Number of decoder layers.
    pub n_decoder_layers: usize,
    /// Attention heads; must divide `embedding_size`.
    pub n_heads: usize,
    /// Longest sequence the position embeddings cover (context and response each).
    pub n_positions: usize,
    /// Layer-norm placement.
    pub variant: Variant,
    /// Learned position embeddings instead of fixed sinusoids.
    pub learn_positional_embeddings: bool,
    /// Multiply token embeddings by sqrt(embedding_size).
    pub embeddings_scale: bool,
    /// Dropout on embeddings and block outputs.
    pub dropout: f64,
    /// Dropout on attention weights.
    pub attention_dropout: f64,
    /// Dropout after the feed-forward nonlinearity.
    pub relu_dropout: f64,
    /// Feed-forward nonlinearity.
    pub activation: Activation,
    /// Padding id (no attention, zero embedding at init).
    pub pad_id: usize,
    /// Start id: first decoder input; its logit is never produced.
    pub start_id: usize,
    /// End id.
    pub end_id: usize,
    /// A fixed (not trained) per-token bias added to the output logits: Hugging Face
    /// Blenderbot's `final_logits_bias`. Absent (false) in models trained from scratch here.
    #[serde(default)]
    pub final_logits_bias: bool,
    /// Whether `embeddings_scale` applies to the decoder's token embeddings too (ParlAI: yes;
    /// Hugging Face BlenderbotSmall feeds them unscaled to its decoder embedding norm).
    #[serde(default = "default_true")]
    pub decoder_embeddings_scale: bool,
}

fn default_true() -> bool {
    true
}

/// Names of the presets, for `--preset` and error messages.
pub const PRESET_NAMES: &[&str] = &["tiny", "small", "bb1_90m", "bb1_3b"];

impl GeneratorConfig {
    /// BlenderBot 1 3B, exactly the seed command's shape: 2 encoder / 24 decoder layers,
    /// d=2560, ffn 10240, 32 heads, 128 positions, pre-layer-norm, learned positions.
    pub fn bb1_3b(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            embedding_size: 2560,
            ffn_size: 10240,
            n_encoder_layers: 2,
            n_decoder_layers: 24,
            n_heads: 32,
            n_positions: 128,
            variant: Variant::Prelayernorm,
            learn_positional_embeddings: true,
            embeddings_scale: true,
            dropout: 0.1,
            attention_dropout: 0.1,
            relu_dropout: 0.0,
            activation: Activation::Gelu,
            pad_id: 0,
            start_id: 1,
            end_id: 2,
            final_logits_bias: false,
            decoder_embeddings_scale: true,
        }
    }

    /// BlenderBot 1 90M (ParlAI `zoo:blender/blender_90M`): 8/8 layers, d=512, ffn 2048,
    /// 16 heads, 512 positions, XLM variant, learned positions.
    pub fn bb1_90m(vocab_size: usize) -> Self {
        Self {
            embedding_size: 512,
            ffn_size: 2048,
            n_encoder_layers: 8,
            n_decoder_layers: 8,
            n_heads: 16,
            n_positions: 512,
            variant: Variant::Xlm,
            dropout: 0.1,
            attention_dropout: 0.0,
            relu_dropout: 0.0,
            ..Self::bb1_3b(vocab_size)
        }
    }

    /// The demo model: small enough to train on two CPU cores in minutes.
    pub fn small(vocab_size: usize) -> Self {
        Self {
            embedding_size: 256,
            ffn_size: 1024,
            n_encoder_layers: 2,
            n_decoder_layers: 4,
            n_heads: 4,
            n_positions: 128,
            dropout: 0.1,
            attention_dropout: 0.0,
            relu_dropout: 0.0,
            ..Self::bb1_3b(vocab_size)
        }
    }

    /// A test-sized model.
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            embedding_size: 32,
            ffn_size: 64,
            n_encoder_layers: 1,
            n_decoder_layers: 2,
            n_heads: 4,
            n_positions: 64,
            dropout: 0.0,
            attention_dropout: 0.0,
            relu_dropout: 0.0,
            ..Self::bb1_3b(vocab_size)
        }
    }

    /// A preset by name (see [`PRESET_NAMES`]).
    pub fn preset(name: &str, vocab_size: usize) -> Result<Self> {
        match name {
            "tiny" => Ok(Self::tiny(vocab_size)),
            "small" => Ok(Self::small(vocab_size)),
            "bb1_90m" => Ok(Self::bb1_90m(vocab_size)),
            "bb1_3b" => Ok(Self::bb1_3b(vocab_size)),
            other => Err(CoreError::Config(format!(
                "unknown preset {other:?}; expected one of {PRESET_NAMES:?}"
            ))),
        }
    }

    /// Checks that the shape is buildable.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(CoreError::Config(m));
        for (name, value, max) in [
            ("embedding_size", self.embedding_size, MAX_WIDTH),
            ("ffn_size", self.ffn_size, 4 * MAX_WIDTH),
            ("n_heads", self.n_heads, MAX_WIDTH),
            ("n_encoder_layers", self.n_encoder_layers, MAX_LAYERS),
            ("n_decoder_layers", self.n_decoder_layers, MAX_LAYERS),
            ("n_positions", self.n_positions, MAX_POSITIONS),
            ("vocab_size", self.vocab_size, MAX_VOCAB),
        ] {
            if value == 0 || value > max {
                return bad(format!("{name} must be between 1 and {max}, got {value}"));
            }
        }
        let params = self.num_params_u64();
        if params > MAX_PARAMS {
            return bad(format!(
                "the model would have {params} parameters ({:.1} GB of f32 weights); the limit is {MAX_PARAMS}",
                params as f64 * 4.0 / 1e9
            ));
        }
        if !self.embedding_size.is_multiple_of(self.n_heads) {
            return bad(format!(
                "embedding_size {} must be a positive multiple of n_heads {}",
                self.embedding_size, self.n_heads
            ));
        }
        for (name, id) in
            [("pad_id", self.pad_id), ("start_id", self.start_id), ("end_id", self.end_id)]
        {
            if id >= self.vocab_size {
                return bad(format!(
                    "{name} {id} is outside the vocabulary of {}",
                    self.vocab_size
                ));
            }
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("attention_dropout", self.attention_dropout),
            ("relu_dropout", self.relu_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// Parses a TOML document (all fields required; unknown fields are errors).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text).map_err(|e| CoreError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Loads a TOML file.
    pub fn load_toml(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
        Self::from_toml_str(&text).map_err(|e| CoreError::file(path, e.to_string()))
    }

    /// Number of trainable parameters the model will have.
    pub fn num_params(&self) -> usize {
        self.num_params_u64() as usize
    }

    /// [`GeneratorConfig::num_params`] in 64 bits, so that checking an unvalidated config
    /// cannot overflow (on wasm32 `usize` has 32).
    pub fn num_params_u64(&self) -> u64 {
        let (enc, dec) = self.stack_params();
        self.vocab_size as u64 * self.embedding_size as u64 + enc + dec
    }

    /// Parameters of the embeddings and the encoder alone (what a classifier of this shape has,
    /// but for its head).
    pub fn encoder_num_params(&self) -> usize {
        (self.vocab_size as u64 * self.embedding_size as u64 + self.stack_params().0) as usize
    }

    /// Parameters of the encoder and of the decoder stacks (positions and final norms included).
    fn stack_params(&self) -> (u64, u64) {
        let (d, f) = (self.embedding_size as u64, self.ffn_size as u64);
        let ln = 2 * d;
        let attn = 4 * (d * d + d);
        let ffn = d * f + f + f * d + d;
        let pos = if self.learn_positional_embeddings { self.n_positions as u64 * d } else { 0 };
        let extra_norm = match self.variant {
            Variant::Aiayn => 0,
            Variant::Xlm | Variant::Prelayernorm => ln,
        };
        let enc = self.n_encoder_layers as u64 * (attn + ffn + 2 * ln) + pos + extra_norm;
        let dec = self.n_decoder_layers as u64 * (2 * attn + ffn + 3 * ln) + pos + extra_norm;
        (enc, dec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_3b_matches_the_seed_command() {
        for name in PRESET_NAMES {
            GeneratorConfig::preset(name, 8008).unwrap().validate().unwrap();
        }
        let c = GeneratorConfig::bb1_3b(8008);
        assert_eq!(
            (
                c.embedding_size,
                c.ffn_size,
                c.n_encoder_layers,
                c.n_decoder_layers,
                c.n_heads,
                c.n_positions
            ),
            (2560, 10240, 2, 24, 32, 128)
        );
        assert_eq!(c.variant, Variant::Prelayernorm);
        assert!(c.learn_positional_embeddings);
        // BlenderBot 3B has about 2.7B parameters.
        let n = c.num_params() as f64;
        assert!((2.6e9..2.8e9).contains(&n), "{n}");
    }

    #[test]
    fn toml_round_trip_and_errors() {
        let c = GeneratorConfig::small(1000);
        let text = toml::to_string(&c).unwrap();
        assert_eq!(GeneratorConfig::from_toml_str(&text).unwrap(), c);
        let err = GeneratorConfig::from_toml_str(&text.replace("n_heads = 4", "n_heads = 3"))
            .unwrap_err();
        assert!(err.to_string().contains("multiple of n_heads"), "{err}");
        let err = GeneratorConfig::from_toml_str(&format!("{text}\nbogus = 1")).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        assert!(GeneratorConfig::preset("huge", 10).unwrap_err().to_string().contains("tiny"));
    }
}
