//! `cringe-shaders`: hand-written GPU kernels for cringe-rs, run on Burn's cubecl backend
//! (wgpu, Vulkan, Metal devices) through a backend extension.
//!
//! - [`cringe`]: the fused CRINGE loss (forward and backward) that `cringe-core` uses on GPU
//!   devices in place of its tensor-op version;
//! - [`attention`]: flash attention (forward and backward; causal, padding and cross
//!   attention through the model's additive masks) for the model's attention layers.
//!
//! Each kernel is tested against an independent reference written out in plain Rust
//! (`tests/`), and the core's tensor-op version against the kernel in the workspace's
//! `tests/shader_parity.rs`.

pub mod attention;
pub mod cringe;
