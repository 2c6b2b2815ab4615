//! The causal LM's configuration: what shapes a Llama-family decoder (Llama 2/3.x, SmolLM2,
//! Qwen2, Qwen3), named as Hugging Face's `config.json` names it, so a model directory's
//! config and a checkpoint's translate field for field.
//!
//! The three families differ only in switches: Qwen2 adds biases to the q/k/v projections,
//! Qwen3 an RMSNorm on every query and key head; Llama may scale its rotary frequencies
//! (`rope_scaling` of type `llama3`). Everything else (RMSNorm, rotary positions, SwiGLU,
//! grouped-query attention, tied or untied output embeddings) is shared.

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};

/// Which Hugging Face architecture a model is (its `model_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `llama`: Llama 2/3.x, SmolLM, SmolLM2, TinyLlama.
    Llama,
    /// `qwen2`: Qwen2 and Qwen2.5 (biases on q/k/v).
    Qwen2,
    /// `qwen3`: Qwen3 dense models (RMSNorm on queries and keys).
    Qwen3,
}

impl Family {
    /// The `model_type` string of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
        }
    }

    /// The `architectures` entry `transformers` writes for the causal-LM head.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Qwen2 => "Qwen2ForCausalLM",
            Self::Qwen3 => "Qwen3ForCausalLM",
        }
    }

    /// The family of a `model_type`, if it is one of ours.
    pub fn from_model_type(name: &str) -> Option<Self> {
        [Self::Llama, Self::Qwen2, Self::Qwen3].into_iter().find(|f| f.model_type() == name)
    }
}

/// How rotary frequencies are rescaled for contexts longer than pre-training's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RopeScaling {
    /// Every frequency divided by `factor` (position interpolation).
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.1's scheme: long wavelengths divided by `factor`, short ones kept, the band
    /// between interpolated.
    Llama3 {
        /// The divisor of the long wavelengths.
        factor: f64,
        /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context length of pre-training.
        original_max_position_embeddings: usize,
    },
}

/// Shape and switches of a causal LM (the fields of `config.json` that matter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CausalConfig {
    /// The architecture.
    pub family: Family,
    /// Token embeddings (and output logits).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU feed-forward layer.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention: each serves `heads / kv_heads` query heads).
    pub num_key_value_heads: usize,
    /// Width of one head (`hidden_size / num_attention_heads` unless the config says).
    pub head_dim: usize,
    /// The RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Base of the rotary frequencies.
    pub rope_theta: f64,
    /// Rescaled rotary frequencies, if any.
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// The longest sequence the model was trained for (checked, not enforced by the math).
    pub max_position_embeddings: usize,
    /// Whether the output projection is the token embedding table.
    pub tie_word_embeddings: bool,
    /// Biases on the q/k/v projections (Qwen2; Llama's `attention_bias`).
    #[serde(default)]
    pub qkv_bias: bool,
    /// A bias on the attention output projection (Llama's and Qwen3's `attention_bias`).
    #[serde(default)]
    pub o_bias: bool,
    /// Biases on the feed-forward projections (Llama's `mlp_bias`).
    #[serde(default)]
    pub mlp_bias: bool,
    /// RMSNorm over each query and key head before the rotation (Qwen3).
    #[serde(default)]
    pub qk_norm: bool,
    /// Dropout on the attention weights in training (0 in every released model).
    #[serde(default)]
    pub attention_dropout: f64,
    /// Standard deviation of freshly initialised weights (`initializer_range`).
    #[serde(default = "default_init_std")]
    pub initializer_range: f64,
    /// The beginning-of-sequence token, if the model has one.
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// Tokens that end a generation (`config.json` and `generation_config.json` together).
    #[serde(default)]
    pub eos_token_ids: Vec<u32>,
    /// The padding token, if the model names one.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
}

fn default_init_std() -> f64 {
    0.02
}

impl CausalConfig {
    /// A tiny Llama for tests (grouped-query attention, untied embeddings).
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            family: Family::Llama,
            vocab_size,
            hidden_size: 32,
            intermediate_size: 48,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            head_dim: 8,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            rope_scaling: None,
            max_position_embeddings: 256,
            tie_word_embeddings: false,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
            qk_norm: false,
            attention_dropout: 0.0,
            initializer_range: 0.02,
            bos_token_id: None,
            eos_token_ids: Vec::new(),
            pad_token_id: None,
        }
    }

    /// The SmolLM2-135M shape (30 blocks, width 576, 9 query / 3 key-value heads, tied
    /// embeddings), for benchmarks and estimates; real weights come from a checkpoint.
    pub fn smollm2_135m() -> Self {
        Self {
            hidden_size: 576,
            intermediate_size: 1536,
            num_hidden_layers: 30,
            num_attention_heads: 9,
            num_key_value_heads: 3,
            head_dim: 64,
            rope_theta: 100_000.0,
            max_position_embeddings: 8192,
            tie_word_embeddings: true,
            initializer_range: 0.041_666_666_666_666_664,
            bos_token_id: Some(1),
            eos_token_ids: vec![2],
            pad_token_id: Some(2),
            ..Self::tiny(49_152)
        }
    }

    /// Query heads per key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// Checks that the shape is consistent.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(CoreError::Config(m));
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return bad(format!("`{name}` must be positive"));
        }
        if !self.num_attention_heads.is_multiple_of(self.num_key_value_heads) {
            return bad(format!(
                "`num_attention_heads` = {} is not a multiple of `num_key_value_heads` = {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "`head_dim` = {} must be even for rotary positions",
                self.head_dim
            ));
        }
        if !(self.rms_norm_eps > 0.0 && self.rope_theta > 1.0) {
            return bad(format!(
                "`rms_norm_eps` = {} must be > 0 and `rope_theta` = {} > 1",
                self.rms_norm_eps, self.rope_theta
            ));
        }
        if !(0.0..1.0).contains(&self.attention_dropout) {
            return bad(format!(
                "`attention_dropout` = {} must be in [0, 1)",
                self.attention_dropout
            ));
        }
        if let Some(id) = self
            .eos_token_ids
            .iter()
            .chain(&self.bos_token_id)
            .chain(&self.pad_token_id)
            .find(|&&id| id as usize >= self.vocab_size)
        {
            return bad(format!(
                "special token id {id} is outside the vocabulary of {}",
                self.vocab_size
            ));
        }
        Ok(())
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        let (d, f, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let (q, kv) =
            (self.num_attention_heads * self.head_dim, self.num_key_value_heads * self.head_dim);
        let attention = d * q
            + 2 * d * kv
            + q * d
            + if self.qkv_bias { q + 2 * kv } else { 0 }
            + if self.o_bias { d } else { 0 }
            + if self.qk_norm { 2 * self.head_dim } else { 0 };
        let mlp = 3 * d * f + if self.mlp_bias { 2 * f + d } else { 0 };
        let block = attention + mlp + 2 * d;
        let head = if self.tie_word_embeddings { 0 } else { v * d };
        v * d + self.num_hidden_layers * block + d + head
    }
}
