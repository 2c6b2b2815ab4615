//! The fused CRINGE kernels, written in CubeCL (compiled to WGSL, SPIR-V or MSL at run time).
//!
//! Forward: one cube per token row of the logits `[N,V]`. Every unit streams its share of the
//! row once, keeping an online log-sum-exp and its own sorted top-(k+1); the cube then merges
//! the units' lists (k+1 rounds of a tree arg-max in shared memory) and unit 0 finishes the
//! token: drop the target from the top-(k+1) (or the last entry if the target is not there),
//! sample the positive candidate by inverse CDF of the softmax over the k left, and write
//! cross-entropy, the contrastive term, the candidate, the arg-max and the log-sum-exp.
//!
//! Backward: one unit per logit, `∂/∂x_j = g_ce·(softmax_j − [j = target]) + g_ct·∂CT/∂x_j`.

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// Columns of the forward output, one row per token.
pub mod col {
    /// Cross-entropy of the target, `lse − x_target`.
    pub const CE: usize = 0;
    /// The contrastive term `softplus(sign·(x_target − x_candidate))`.
    pub const CT: usize = 1;
    /// The sampled candidate's vocabulary id (exact in f32 below 2^24).
    pub const SAMPLED: usize = 2;
    /// The arg-max of the row (the model's greedy prediction).
    pub const ARGMAX: usize = 3;
    /// `log Σ_j exp(x_j)` of the row.
    pub const LSE: usize = 4;
    /// Number of columns.
    pub const COUNT: usize = 5;
}

/// Stands in for −∞: WGSL has no infinite literals.
const LOWEST: f32 = -3.0e38;

/// Numerically stable `ln(1 + eˣ)`.
#[cube]
fn softplus(x: f32) -> f32 {
    if x > 0.0 { x + (1.0 + (-x).exp()).ln() } else { (1.0 + x.exp()).ln() }
}

/// Column of the `c`-th candidate in the merged top-(k+1) once entry `removed` is dropped.
#[cube]
fn candidate_slot(c: usize, removed: usize) -> usize {
    if c >= removed { c + 1 } else { c }
}

/// Forward kernel; launch with one cube per row and `threads` (a power of two) units per cube.
#[cube(launch)]
pub fn cringe_rows_kernel(
    logits: &Tensor<f32>,
    targets: &Tensor<f32>,
    signs: &Tensor<f32>,
    draws: &Tensor<f32>,
    out: &mut Tensor<f32>,
    #[comptime] top: usize,
    #[comptime] threads: usize,
) {
    let row = CUBE_POS_X as usize;
    let tid = UNIT_POS_X as usize;
    let v = logits.shape(1);
    let base = row * v;

    // 1. One pass over this unit's strided share: online log-sum-exp and a sorted top list.
    let mut top_v = Array::<f32>::new(top);
    let mut top_i = Array::<u32>::new(top);
    for i in 0..top {
        top_v[i] = LOWEST;
        top_i[i] = 0u32;
    }
    let mut m = f32::new(LOWEST);
    let mut s = 0.0f32;
    let mut j = tid;
    while j < v {
        let x = logits[base + j];
        if x > m {
            s = s * (m - x).exp() + 1.0;
            m = x;
        } else {
            s += (x - m).exp();
        }
        if x > top_v[top - 1] {
            let mut p = (top - 1).runtime();
            loop {
                if p == 0 {
                    break;
                }
                if top_v[p - 1] >= x {
                    break;
                }
                top_v[p] = top_v[p - 1];
                top_i[p] = top_i[p - 1];
                p -= 1;
            }
            top_v[p] = x;
            top_i[p] = j as u32;
        }
        j += threads;
    }

    // 2. Tree reduction of (max, sum).
    let mut red_m = Shared::<[f32]>::new_slice(threads);
    let mut red_s = Shared::<[f32]>::new_slice(threads);
    red_m[tid] = m;
    red_s[tid] = s;
    sync_cube();
    let mut stride = (threads / 2).runtime();
    while stride > 0 {
        if tid < stride {
            let m1 = red_m[tid];
            let m2 = red_m[tid + stride];
            let mut mx = m1;
            if m2 > m1 {
                mx = m2;
            }
            red_s[tid] = red_s[tid] * (m1 - mx).exp() + red_s[tid + stride] * (m2 - mx).exp();
            red_m[tid] = mx;
        }
        sync_cube();
        stride /= 2;
    }

    // 3. Merge the units' lists: `top` rounds, each a tree arg-max over the units' heads.
    let mut cand_v = Shared::<[f32]>::new_slice(threads);
    let mut cand_i = Shared::<[u32]>::new_slice(threads);
    let mut cand_o = Shared::<[u32]>::new_slice(threads);
    let mut best_v = Shared::<[f32]>::new_slice(top);
    let mut best_i = Shared::<[u32]>::new_slice(top);
    let mut head = 0usize;
    for r in 0..top {
        let mut hv = f32::new(LOWEST);
        let mut hi = 0u32;
        if head < top {
            hv = top_v[head];
            hi = top_i[head];
        }
        cand_v[tid] = hv;
        cand_i[tid] = hi;
        cand_o[tid] = tid as u32;
        sync_cube();
        let mut stride = (threads / 2).runtime();
        while stride > 0 {
            if tid < stride {
                let b = tid + stride;
                let bv = cand_v[b];
                let av = cand_v[tid];
                if bv > av || (bv == av && cand_i[b] < cand_i[tid]) {
                    cand_v[tid] = bv;
                    cand_i[tid] = cand_i[b];
                    cand_o[tid] = cand_o[b];
                }
            }
            sync_cube();
            stride /= 2;
        }
        if tid == cand_o[0] as usize {
            head += 1;
        }
        if tid == 0 {
            best_v[r] = cand_v[0];
            best_i[r] = cand_i[0];
        }
        sync_cube();
    }

    // 4. Unit 0 finishes the token.
    if tid == 0 {
        let k = top - 1;
        let target = u32::cast_from(targets[row]);
        let mut removed = k.runtime();
        for i in 0..top {
            if best_i[i] == target {
                removed = i;
            }
        }
        let first = best_v[candidate_slot(0, removed)];
        let mut z = 0.0f32;
        for c in 0..k {
            z += (best_v[candidate_slot(c, removed)] - first).exp();
        }
        let u = draws[row];
        let mut cdf = 0.0f32;
        let mut rank = 0usize;
        for c in 0..k {
            cdf += (best_v[candidate_slot(c, removed)] - first).exp() / z;
            if cdf < u {
                rank += 1;
            }
        }
        if rank > k - 1 {
            rank = k - 1;
        }
        let slot = candidate_slot(rank, removed);
        let x_target = logits[base + target as usize];
        let lse = red_m[0] + red_s[0].ln();
        let o = row * col::COUNT;
        out[o + col::CE] = lse - x_target;
        out[o + col::CT] = softplus(signs[row] * (x_target - best_v[slot]));
        out[o + col::SAMPLED] = f32::cast_from(best_i[slot]);
        out[o + col::ARGMAX] = f32::cast_from(best_i[0]);
        out[o + col::LSE] = lse;
    }
}

/// Backward kernel: one unit per logit. `grads` `[N, col::COUNT]` is the upstream gradient of the
/// forward output (only its CE and CT columns are used).
#[cube(launch)]
pub fn cringe_rows_backward_kernel(
    logits: &Tensor<f32>,
    targets: &Tensor<f32>,
    signs: &Tensor<f32>,
    forward: &Tensor<f32>,
    grads: &Tensor<f32>,
    out: &mut Tensor<f32>,
    #[comptime] detach_candidate: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos >= out.len() {
        terminate!();
    }
    let v = logits.shape(1);
    let row = pos / v;
    let j = pos % v;
    let o = row * col::COUNT;
    let g_ce = grads[o + col::CE];
    let g_ct = grads[o + col::CT];
    let target = u32::cast_from(targets[row]) as usize;
    let mut g = g_ce * (logits[pos] - forward[o + col::LSE]).exp();
    if j == target {
        g -= g_ce;
    }
    let sampled = u32::cast_from(forward[o + col::SAMPLED]) as usize;
    if j == target || j == sampled {
        let sign = signs[row];
        let z = sign * (logits[row * v + target] - logits[row * v + sampled]);
        // ∂ softplus(z) / ∂z = sigmoid(z); ∂z/∂x_target = sign, ∂z/∂x_candidate = −sign.
        let d = g_ct * sign / (1.0 + (-z).exp());
        if j == target {
            g += d;
        }
        if !detach_candidate && j == sampled {
            g -= d;
        }
    }
    out[pos] = g;
}
