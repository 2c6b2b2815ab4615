//! The fused CRINGE kernel: everything the CRINGE loss needs per token in one pass over the
//! vocabulary (log-sum-exp, top-(k+1), target removal, candidate sampling, the two-way
//! cross-entropy) and one kernel for its gradient.
//!
//! [`cringe_rows`] takes and returns ordinary `Tensor`s; on an autodiff device the gradient
//! flows back into the logits through the backward kernel. Only cubecl devices (wgpu, Vulkan,
//! Metal) run it: check [`supports`] first.

pub mod kernel;
mod launch;
pub mod ops;

pub use kernel::col;

use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{DType, Device, Int, Tensor};
use ops::CringeKernelOps;

/// Largest k + 1 the kernel keeps per unit (its top lists live in registers).
pub const MAX_TOP: usize = 32;

/// Most token rows per launch (one cube per row, and 65535 cubes along x is the portable limit).
pub const MAX_ROWS: usize = 65_535;

/// Whether the kernel can run `[rows, vocab]` logits with k candidates on `device`.
pub fn supports(device: &Device, rows: usize, vocab: usize, k: usize) -> bool {
    let cube = matches!(device.clone().inner().as_dispatch(), DispatchDevice::Cube(_));
    cube && k >= 1
        && k < vocab
        && k < MAX_TOP
        && (1..=MAX_ROWS).contains(&rows)
        && vocab < (1 << 24)
}

/// Runs the fused CRINGE forward on `logits` `[N,V]` (any float dtype; computed in f32) with
/// `targets` `[N]`, `signs` `[N]` (+1 where the candidate must win, −1 where the target
/// must) and `draws` `[N]` (uniform numbers in [0, 1)); `k` candidates. Returns `[N, col::COUNT]`
/// (f32); only the CE and CT columns carry gradient, into `logits`.
///
/// Panics unless [`supports`] says yes.
pub fn cringe_rows(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    signs: Tensor<1>,
    draws: Tensor<1>,
    k: usize,
    detach_candidate: bool,
) -> Tensor<2> {
    let [n, v] = logits.dims();
    assert!(
        supports(&logits.device(), n, v, k),
        "fused CRINGE kernel: unsupported {n}x{v}, k = {k} on {:?}",
        logits.device()
    );
    let f32_of = |t: Tensor<1>| if t.dtype() == DType::F32 { t } else { t.cast(DType::F32) };
    let logits = if logits.dtype() == DType::F32 { logits } else { logits.cast(DType::F32) };
    let out = <Dispatch as CringeKernelOps>::cringe_rows(
        logits.into_dispatch(),
        f32_of(targets.float()).into_dispatch(),
        f32_of(signs).into_dispatch(),
        f32_of(draws).into_dispatch(),
        k + 1,
        detach_candidate,
    );
    Tensor::from_dispatch(out)
}
