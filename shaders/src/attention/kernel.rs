//! Flash attention in CubeCL: `softmax(q·kᵀ + bias)·v` without materialising the
//! `[B,H,Tq,Tk]` score matrix, in training (forward and backward) and in decoding.
//!
//! One unit per query row (forward, dQ) or key row (dK/dV); a cube of `block` units streams the
//! other side through shared memory in tiles of `block` rows. The forward keeps FlashAttention's
//! online softmax (running max `m` and sum `l`) and saves both per row next to the output, so
//! the backward recomputes the probabilities exactly — also for a row whose keys are all masked
//! with −1e20, where `m + ln l` would round back to `m` in f32.
//!
//! Tensors are contiguous f32: `q` `[B,H,Tq,D]`, `k`/`v` `[B,H,Tk,D]`. The forward output is
//! "packed": `[B,H,Tq,D+2]`, the attention output then `m` and `l` of each row. `bias` is an
//! additive mask broadcast over heads, indexed `b·bias_batch_stride + i·bias_query_stride + j`
//! (stride 0 broadcasts).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// Stands in for −∞: WGSL has no infinite literals.
const LOWEST: f32 = -3.0e38;

/// Loads rows `first..first + block` of the `[rows, dim]` matrix at `base` of `src` into a
/// shared tile (zeros past `rows`); every unit of the cube takes part.
#[cube]
fn load_tile(
    src: &Tensor<f32>,
    tile: &mut Shared<[f32]>,
    base: usize,
    first: usize,
    rows: usize,
    row_stride: usize,
    #[comptime] dim: usize,
    #[comptime] block: usize,
) {
    let mut idx = UNIT_POS_X as usize;
    while idx < block * dim {
        let r = first + idx / dim;
        let mut x = 0.0f32;
        if r < rows {
            x = src[base + r * row_stride + idx % dim];
        }
        tile[idx] = x;
        idx += block;
    }
}

/// Forward: one cube per `block` query rows of one (batch, head).
#[cube(launch)]
pub fn flash_forward_kernel(
    q: &Tensor<f32>,
    k: &Tensor<f32>,
    v: &Tensor<f32>,
    bias: &Tensor<f32>,
    packed: &mut Tensor<f32>,
    heads: u32,
    bias_batch_stride: u32,
    bias_query_stride: u32,
    #[comptime] dim: usize,
    #[comptime] block: usize,
    #[comptime] has_bias: bool,
) {
    let bh = CUBE_POS_Y as usize;
    let i = CUBE_POS_X as usize * block + UNIT_POS_X as usize;
    let tq = q.shape(2);
    let tk = k.shape(2);
    let live = i < tq;
    let q_base = (bh * tq + i) * dim;
    let kv_base = bh * tk * dim;
    let bias_row =
        (bh / heads as usize) * bias_batch_stride as usize + i * bias_query_stride as usize;

    let mut qr = Array::<f32>::new(dim);
    let mut acc = Array::<f32>::new(dim);
    for d in 0..dim {
        let mut x = 0.0f32;
        if live {
            x = q[q_base + d];
        }
        qr[d] = x;
        acc[d] = 0.0;
    }
    let mut kt = Shared::<[f32]>::new_slice(block * dim);
    let mut vt = Shared::<[f32]>::new_slice(block * dim);
    let mut sc = Array::<f32>::new(block);
    let mut m = f32::new(LOWEST);
    let mut l = 0.0f32;
    let mut j0 = 0usize;
    while j0 < tk {
        load_tile(k, &mut kt, kv_base, j0, tk, dim, dim, block);
        load_tile(v, &mut vt, kv_base, j0, tk, dim, dim, block);
        sync_cube();
        if live {
            let mut tile_max = f32::new(LOWEST);
            for jj in 0..block {
                let mut s = f32::new(LOWEST);
                if j0 + jj < tk {
                    let mut dot = 0.0f32;
                    for d in 0..dim {
                        dot += qr[d] * kt[jj * dim + d];
                    }
                    if has_bias {
                        dot += bias[bias_row + j0 + jj];
                    }
                    s = dot;
                }
                sc[jj] = s;
                if s > tile_max {
                    tile_max = s;
                }
            }
            let mut m_new = m;
            if tile_max > m {
                m_new = tile_max;
            }
            let corr = (m - m_new).exp();
            l *= corr;
            for d in 0..dim {
                acc[d] *= corr;
            }
            for jj in 0..block {
                if j0 + jj < tk {
                    let p = (sc[jj] - m_new).exp();
                    l += p;
                    for d in 0..dim {
                        acc[d] += p * vt[jj * dim + d];
                    }
                }
            }
            m = m_new;
        }
        sync_cube();
        j0 += block;
    }
    if live {
        let o = (bh * tq + i) * (dim + 2);
        for d in 0..dim {
            packed[o + d] = acc[d] / l;
        }
        packed[o + dim] = m;
        packed[o + dim + 1] = l;
    }
}

/// Backward, part 1: one unit per query row computes `δ_i = dO_i·O_i` (saved for part 2) and
/// `dQ_i = Σ_j P_ij (dO_i·V_j − δ_i) K_j`. `grad` is the upstream gradient of `packed`.
#[cube(launch)]
pub fn flash_backward_dq_kernel(
    q: &Tensor<f32>,
    k: &Tensor<f32>,
    v: &Tensor<f32>,
    bias: &Tensor<f32>,
    packed: &Tensor<f32>,
    grad: &Tensor<f32>,
    dq: &mut Tensor<f32>,
    delta: &mut Tensor<f32>,
    heads: u32,
    bias_batch_stride: u32,
    bias_query_stride: u32,
    #[comptime] dim: usize,
    #[comptime] block: usize,
    #[comptime] has_bias: bool,
) {
    let bh = CUBE_POS_Y as usize;
    let i = CUBE_POS_X as usize * block + UNIT_POS_X as usize;
    let tq = q.shape(2);
    let tk = k.shape(2);
    let live = i < tq;
    let q_base = (bh * tq + i) * dim;
    let p_base = (bh * tq + i) * (dim + 2);
    let kv_base = bh * tk * dim;
    let bias_row =
        (bh / heads as usize) * bias_batch_stride as usize + i * bias_query_stride as usize;

    let mut qr = Array::<f32>::new(dim);
    let mut dor = Array::<f32>::new(dim);
    let mut dqr = Array::<f32>::new(dim);
    let mut delta_i = 0.0f32;
    let mut m = 0.0f32;
    let mut l = 1.0f32;
    for d in 0..dim {
        let mut x = 0.0f32;
        let mut g = 0.0f32;
        if live {
            x = q[q_base + d];
            g = grad[p_base + d];
            delta_i += g * packed[p_base + d];
        }
        qr[d] = x;
        dor[d] = g;
        dqr[d] = 0.0;
    }
    if live {
        m = packed[p_base + dim];
        l = packed[p_base + dim + 1];
        delta[bh * tq + i] = delta_i;
    }
    let mut kt = Shared::<[f32]>::new_slice(block * dim);
    let mut vt = Shared::<[f32]>::new_slice(block * dim);
    let mut j0 = 0usize;
    while j0 < tk {
        load_tile(k, &mut kt, kv_base, j0, tk, dim, dim, block);
        load_tile(v, &mut vt, kv_base, j0, tk, dim, dim, block);
        sync_cube();
        if live {
            for jj in 0..block {
                if j0 + jj < tk {
                    let mut s = 0.0f32;
                    let mut dp = 0.0f32;
                    for d in 0..dim {
                        s += qr[d] * kt[jj * dim + d];
                        dp += dor[d] * vt[jj * dim + d];
                    }
                    if has_bias {
                        s += bias[bias_row + j0 + jj];
                    }
                    let ds = (s - m).exp() / l * (dp - delta_i);
                    for d in 0..dim {
                        dqr[d] += ds * kt[jj * dim + d];
                    }
                }
            }
        }
        sync_cube();
        j0 += block;
    }
    if live {
        for d in 0..dim {
            dq[q_base + d] = dqr[d];
        }
    }
}

/// Backward, part 2: one unit per key row computes `dV_j = Σ_i P_ij dO_i` and
/// `dK_j = Σ_i P_ij (dO_i·V_j − δ_i) Q_i`, streaming query rows, their upstream gradients and
/// their softmax statistics through shared memory.
#[cube(launch)]
pub fn flash_backward_dkv_kernel(
    q: &Tensor<f32>,
    k: &Tensor<f32>,
    v: &Tensor<f32>,
    bias: &Tensor<f32>,
    packed: &Tensor<f32>,
    grad: &Tensor<f32>,
    delta: &Tensor<f32>,
    dk: &mut Tensor<f32>,
    dv: &mut Tensor<f32>,
    heads: u32,
    bias_batch_stride: u32,
    bias_query_stride: u32,
    #[comptime] dim: usize,
    #[comptime] block: usize,
    #[comptime] has_bias: bool,
) {
    let bh = CUBE_POS_Y as usize;
    let tid = UNIT_POS_X as usize;
    let j = CUBE_POS_X as usize * block + tid;
    let tq = q.shape(2);
    let tk = k.shape(2);
    let live = j < tk;
    let k_base = (bh * tk + j) * dim;
    let bias_base = (bh / heads as usize) * bias_batch_stride as usize + j;

    let mut kr = Array::<f32>::new(dim);
    let mut vr = Array::<f32>::new(dim);
    let mut dkr = Array::<f32>::new(dim);
    let mut dvr = Array::<f32>::new(dim);
    for d in 0..dim {
        let mut x = 0.0f32;
        let mut y = 0.0f32;
        if live {
            x = k[k_base + d];
            y = v[k_base + d];
        }
        kr[d] = x;
        vr[d] = y;
        dkr[d] = 0.0;
        dvr[d] = 0.0;
    }
    let mut qt = Shared::<[f32]>::new_slice(block * dim);
    let mut gt = Shared::<[f32]>::new_slice(block * dim);
    let mut mt = Shared::<[f32]>::new_slice(block);
    let mut lt = Shared::<[f32]>::new_slice(block);
    let mut dt = Shared::<[f32]>::new_slice(block);
    let mut i0 = 0usize;
    while i0 < tq {
        load_tile(q, &mut qt, bh * tq * dim, i0, tq, dim, dim, block);
        load_tile(grad, &mut gt, bh * tq * (dim + 2), i0, tq, dim + 2, dim, block);
        let r = i0 + tid;
        let mut mr = 0.0f32;
        let mut lr = 1.0f32;
        let mut dr = 0.0f32;
        if r < tq {
            mr = packed[(bh * tq + r) * (dim + 2) + dim];
            lr = packed[(bh * tq + r) * (dim + 2) + dim + 1];
            dr = delta[bh * tq + r];
        }
        mt[tid] = mr;
        lt[tid] = lr;
        dt[tid] = dr;
        sync_cube();
        if live {
            for ii in 0..block {
                let i = i0 + ii;
                if i < tq {
                    let mut s = 0.0f32;
                    let mut dp = 0.0f32;
                    for d in 0..dim {
                        s += qt[ii * dim + d] * kr[d];
                        dp += gt[ii * dim + d] * vr[d];
                    }
                    if has_bias {
                        s += bias[bias_base + i * bias_query_stride as usize];
                    }
                    let p = (s - mt[ii]).exp() / lt[ii];
                    let ds = p * (dp - dt[ii]);
                    for d in 0..dim {
                        dvr[d] += p * gt[ii * dim + d];
                        dkr[d] += ds * qt[ii * dim + d];
                    }
                }
            }
        }
        sync_cube();
        i0 += block;
    }
    if live {
        for d in 0..dim {
            dk[k_base + d] = dkr[d];
            dv[k_base + d] = dvr[d];
        }
    }
}
