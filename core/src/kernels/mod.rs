//! The hand-written kernels used in place of tensor-op versions, and what they share. Here, so
//! that `model/` holds the architecture and `loss/` the loss math, each calling in:
//!
//! - on the CPU: dropout masks from a counter-based hash ([`dropout`]), GELU and its
//!   derivative vectorised on all cores ([`gelu`], formulas in `gelu_math`), the Llama
//!   family's SwiGLU in one pass each way ([`swiglu`]), the CRINGE loss as fused per-row
//!   passes ([`cringe_rows`]), the causal LM's attention softmax ([`softmax`]), and the
//!   few-row products of decoding on all cores ([`rows_matmul`]); [`cpu`] has their helpers;
//! - on cubecl devices (wgpu, Vulkan, Metal; feature `gpu-kernels`): the fused CRINGE loss and
//!   flash attention ([`flash_attention`]) of `cringe-shaders`, unless attention dropout is
//!   active. `crate::loss::fused` picks the CRINGE kernel for the device.
//!
//! They give what the tensor-op versions give (the `cpu_fused_parity` test, the workspace's
//! `tests/shader_parity.rs`). `CRINGE_FUSED_KERNELS=0` in the environment, or
//! [`set_enabled`]`(false)`, turns them off — for comparisons, or to rule them out when
//! something looks wrong.

pub mod cpu;
pub mod cringe_rows;
pub mod dropout;
pub mod gelu;
mod gelu_math;
pub mod rows_matmul;
pub mod softmax;
pub mod swiglu;

use std::sync::atomic::{AtomicU8, Ordering};

const UNSET: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNSET);

/// Whether the kernels are used where they can run: on unless [`set_enabled`]`(false)` or
/// `CRINGE_FUSED_KERNELS` is `0`, `false` or `off`.
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let off = std::env::var("CRINGE_FUSED_KERNELS")
                .is_ok_and(|v| matches!(v.trim(), "0" | "false" | "off"));
            STATE.store(if off { OFF } else { ON }, Ordering::Relaxed);
            !off
        }
    }
}

/// Turns the kernels on or off for the whole process (overrides the environment).
pub fn set_enabled(on: bool) {
    STATE.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

/// Flash attention of already-scaled `q` `[B,H,Tq,D]` over `k`, `v` `[B,H,Tk,D]` with the
/// additive mask `bias` `[B|1,1,Tq|1,Tk]`, or `None` where the kernel does not apply (kernels
/// off, a CPU device, an unsupported head size, or attention dropout `dropout` > 0 in training,
/// which the kernel does not draw).
#[cfg(feature = "gpu-kernels")]
pub fn flash_attention(
    q: &burn::tensor::Tensor<4>,
    k: &burn::tensor::Tensor<4>,
    v: &burn::tensor::Tensor<4>,
    bias: &Option<burn::tensor::Tensor<4>>,
    dropout: f64,
) -> Option<burn::tensor::Tensor<4>> {
    if !flash_attention_applies(q, dropout) {
        return None;
    }
    Some(cringe_shaders::attention::flash_attention(q.clone(), k.clone(), v.clone(), bias.clone()))
}

/// Whether [`flash_attention`] would run for queries `q` with attention dropout `dropout`.
#[cfg(feature = "gpu-kernels")]
pub fn flash_attention_applies(q: &burn::tensor::Tensor<4>, dropout: f64) -> bool {
    let device: burn::tensor::Device = q.device();
    let [_, _, _, d] = q.dims();
    enabled()
        && !(dropout > 0.0 && device.is_autodiff())
        && cringe_shaders::attention::supports(&device, d)
}
