//! The causal LM: Llama-family decoder-only models (Llama 2/3.x, SmolLM2, Qwen2, Qwen3) as
//! Hugging Face's `transformers` defines them, beside the BB1 encoder–decoder.
//!
//! Files follow the architecture: the configuration, rotary positions, RMSNorm, attention,
//! the SwiGLU MLP, one block, the model, and the incremental-decoding cache. Parameter paths
//! equal the checkpoints' tensor names (`model.layers.3.self_attn.q_proj.weight`), so loading
//! needs no name table, only the transposition of linear weights.

pub mod attention;
pub mod block;
pub mod cache;
pub mod config;
pub mod mlp;
pub mod model;
pub mod norm;
pub mod rope;

pub use cache::CausalCache;
pub use config::{CausalConfig, Family, RopeScaling};
pub use model::CausalLm;
