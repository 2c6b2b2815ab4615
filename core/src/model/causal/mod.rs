//! The causal LM: Llama-family decoder-only models (Llama 2/3.x, SmolLM2, Qwen2, Qwen3) as
//! Hugging Face's `transformers` defines them, beside the BB1 encoder–decoder.
//!
//! Files follow the architecture: the configuration, rotary positions, RMSNorm, attention,
//! the SwiGLU MLP, one block, the model, the incremental-decoding cache, and a sequence
//! classifier on the model's backbone. Parameter paths
//! equal the checkpoints' tensor names (`model.layers.3.self_attn.q_proj.weight`), so loading
//! needs no name table, only the transposition of linear weights.

pub mod attention;
pub mod block;
pub mod cache;
pub mod classifier;
pub mod config;
pub mod mlp;
pub mod model;
pub mod norm;
pub mod rope;

pub use cache::CausalCache;
pub use classifier::CausalClassifier;
pub use config::{CausalConfig, Family, RopeScaling};
pub use model::CausalLm;
