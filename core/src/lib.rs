//! `cringe-core`: everything shared by the native trainer and the web UI.
//!
//! - [`tokenizer`]: byte-level BPE with ParlAI's special tokens;
//! - [`chat`]: a conversation rendered with a model's chat template;
//! - [`model`]: the BB1-style encoder–decoder generator, presets, KV cache, model directories,
//!   and the Llama-family causal LMs (`model::causal`);
//! - [`loss`]: the CRINGE loss and its metrics;
//! - [`data`]: examples with pos/neg/none labels, readers, and batching to tensors;
//! - [`hf`]: loading and exporting Hugging Face checkpoints (Blenderbot / BlenderbotSmall, and
//!   the causal `llama`, `qwen2`, `qwen3`);
//! - [`gguf`]: llama.cpp's GGUF files as causal LMs (dequantized to f32);
//! - [`pretrained`]: a causal LM with its tokenizer and chat template, from either source;
//! - [`judge`]: the safety classifier of either family (encoder, or a head on a causal LM);
//! - [`kernels`]: the switch for the fused kernels (the CRINGE loss on the CPU and GPUs, and
//!   flash attention on GPUs with feature `gpu-kernels`).
//!
//! Tensors follow Burn 0.22: the device (picked at run time) decides the backend.

pub mod chat;
pub mod data;
pub mod decode;
pub mod error;
pub mod fsutil;
pub mod gguf;
pub mod hf;
pub mod judge;
pub mod kernels;
pub mod loss;
pub mod mask;
pub mod metrics;
pub mod model;
pub mod model_cache;
pub mod pretrained;
pub mod tokenizer;

pub use error::{CoreError, Result};
