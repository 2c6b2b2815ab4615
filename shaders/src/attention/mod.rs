//! Flash attention for training and decoding: `softmax(q·kᵀ + bias)·v` in one kernel per pass,
//! without the `[B,H,Tq,Tk]` score and probability matrices (Burn's own fused attention falls
//! back to them under autodiff). Causal and padding masks arrive as the model's additive bias,
//! so the same kernel serves encoder self-attention, causal decoder self-attention and
//! encoder–decoder (cross) attention.
//!
//! [`flash_attention`] takes and returns ordinary `Tensor`s; on an autodiff device the gradients
//! of q, k and v come from the backward kernels. Check [`supports`] first.

pub mod kernel;
mod launch;
pub mod ops;

use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{DType, Device, Tensor};
use ops::FlashAttentionOps;

/// Largest head dimension (the kernels keep rows of this length in registers).
pub const MAX_HEAD_DIM: usize = 256;

/// Whether the kernel can attend with head dimension `head_dim` on `device`.
pub fn supports(device: &Device, head_dim: usize) -> bool {
    matches!(device.clone().inner().as_dispatch(), DispatchDevice::Cube(_))
        && (1..=MAX_HEAD_DIM).contains(&head_dim)
}

fn f32_of<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    if t.dtype() == DType::F32 { t } else { t.cast(DType::F32) }
}

/// `softmax(q·kᵀ + bias)·v` for `q` `[B,H,Tq,D]` and `k`, `v` `[B,H,Tk,D]` (any float dtype;
/// computed in f32, returned in f32). `bias` is an additive mask `[B|1, 1, Tq|1, Tk]`
/// (broadcast over heads, and over the batch or the queries where that dimension is 1).
/// q is used as given: scale it by 1/√D first.
///
/// Panics unless [`supports`] says yes, or on a bias of another shape.
pub fn flash_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    bias: Option<Tensor<4>>,
) -> Tensor<4> {
    let [b, h, tq, d] = q.dims();
    let [_, _, tk, _] = k.dims();
    assert!(
        supports(&q.device(), d),
        "flash attention: unsupported head dimension {d} on {:?}",
        q.device()
    );
    let (bias, has_bias, batch_stride, query_stride) = match bias {
        Some(bias) => {
            let [bb, bh, bq, bk] = bias.dims();
            assert!(
                (bb == b || bb == 1) && bh == 1 && (bq == tq || bq == 1) && bk == tk,
                "flash attention: mask {:?} for q {:?} and k {:?}",
                bias.dims(),
                q.dims(),
                k.dims()
            );
            let batch_stride = if bb == 1 { 0 } else { bq * tk };
            let query_stride = if bq == 1 { 0 } else { tk };
            (f32_of(bias), true, batch_stride, query_stride)
        }
        None => (Tensor::zeros([1, 1, 1, 1], &q.device()), false, 0, 0),
    };
    let packed = <Dispatch as FlashAttentionOps>::flash_attention(
        f32_of(q).into_dispatch(),
        f32_of(k).into_dispatch(),
        f32_of(v).into_dispatch(),
        bias.into_dispatch(),
        has_bias,
        batch_stride,
        query_stride,
    );
    Tensor::<4>::from_dispatch(packed).slice([0..b, 0..h, 0..tq, 0..d])
}
