//! The fused CRINGE rows on the CPU: the GPU kernel's algorithm (`cringe-shaders`) as plain
//! Rust, one token row per task on all cores.
//!
//! The tensor-op CRINGE loss makes about a dozen passes over the `[N, V]` logits (log-softmax,
//! its max, exp, sum and log, the gather of the target, the blockwise top-k, and as many in
//! the backward pass), each on one core in Burn's CPU backend. Here one pass per row computes
//! the log-sum-exp, the top-(k+1), the arg-max, drops the target (or the last entry), draws the
//! candidate by inverse CDF with the same uniform number as the tensor-op version, and writes
//! CE and CT; the backward pass writes `∂loss/∂logits` in one more, and skips the softmax of a
//! row whose cross-entropy has no gradient (negative tokens). Output columns are
//! [`col`], the same as the GPU kernel's.

use crate::kernels::cpu::{for_rows, is_cpu, values};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Device, Int, Shape, Tensor, TensorData};

/// The output columns of [`cringe_rows`] (the GPU kernel's layout).
pub mod col {
    /// Cross-entropy of the target, `lse − x_target`.
    pub const CE: usize = 0;
    /// The contrastive term `softplus(sign·(x_target − x_candidate))`.
    pub const CT: usize = 1;
    /// The sampled candidate's vocabulary id.
    pub const SAMPLED: usize = 2;
    /// The arg-max of the row.
    pub const ARGMAX: usize = 3;
    /// `log Σ_j exp(x_j)` of the row.
    pub const LSE: usize = 4;
    /// Number of columns.
    pub const COUNT: usize = 5;
}

/// Largest k the row keeps a sorted top-(k+1) list for.
pub const MAX_K: usize = 63;

/// The fused CRINGE rows a CPU backend can run (all tensors f32).
#[backend_extension(Flex, Autodiff)]
pub trait CpuCringeOps: Backend {
    /// Per row of `logits` `[N,V]`: CE, CT, candidate, arg-max, LSE (`[N, col::COUNT]`);
    /// `targets`, `signs` (+1 where the candidate must win) and `draws` are `[N]`;
    /// `detach_candidate` is kept for the backward pass.
    fn cpu_cringe_rows(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        draws: FloatTensor<Self>,
        k: usize,
        detach_candidate: bool,
    ) -> FloatTensor<Self>;

    /// `∂loss/∂logits` from the forward output and its upstream gradient `grads` `[N, COUNT]`.
    fn cpu_cringe_rows_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        forward: FloatTensor<Self>,
        grads: FloatTensor<Self>,
        detach_candidate: bool,
    ) -> FloatTensor<Self>;
}

/// Whether [`cringe_rows`] runs `[rows, vocab]` logits with k candidates on `device`.
pub fn supports(device: &Device, rows: usize, vocab: usize, k: usize) -> bool {
    is_cpu(device) && (1..=MAX_K).contains(&k) && k < vocab && rows >= 1 && vocab < (1 << 24)
}

/// The fused rows of `logits` `[N,V]` (see the module docs); only the CE and CT columns
/// carry gradient, into `logits`. Panics unless [`supports`] says yes.
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
        "fused CPU CRINGE: unsupported {n}x{v}, k = {k} on {:?}",
        logits.device()
    );
    let f32_of = |t: Tensor<1>| if t.dtype() == DType::F32 { t } else { t.cast(DType::F32) };
    let logits = if logits.dtype() == DType::F32 { logits } else { logits.cast(DType::F32) };
    let out = <Dispatch as CpuCringeOps>::cpu_cringe_rows(
        logits.into_dispatch(),
        f32_of(targets.float()).into_dispatch(),
        f32_of(signs).into_dispatch(),
        f32_of(draws).into_dispatch(),
        k,
        detach_candidate,
    );
    Tensor::from_dispatch(out)
}

fn tensor(data: Vec<f32>, shape: [usize; 2]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, Shape::new(shape)))
}

/// `ln(1 + e^z)` without overflow.
fn softplus(z: f32) -> f32 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// One row of the forward pass: `[CE, CT, candidate, arg-max, LSE]`.
pub fn forward_row(x: &[f32], target: usize, sign: f32, u: f32, k: usize) -> [f32; col::COUNT] {
    // sorted (descending value, then ascending index) top-(k+1)
    let mut top: Vec<(f32, usize)> = Vec::with_capacity(k + 2);
    let mut max = f32::NEG_INFINITY;
    for (j, &xj) in x.iter().enumerate() {
        max = max.max(xj);
        if top.len() <= k || xj > top[k].0 {
            let at = top.partition_point(|&(v, _)| v >= xj);
            top.insert(at, (xj, j));
            top.truncate(k + 1);
        }
    }
    // f32 exponentials (as the tensor-op log-softmax), summed in f64
    let sum: f64 = x.iter().map(|&xj| (xj - max).exp() as f64).sum();
    let lse = max + sum.ln() as f32;
    let argmax = top[0].1;
    match top.iter().position(|&(_, j)| j == target) {
        Some(p) => {
            top.remove(p);
        }
        None => {
            top.pop();
        }
    }
    let m = top[0].0;
    let z: f32 = top.iter().map(|&(v, _)| (v - m).exp()).sum();
    let (mut cdf, mut rank) = (0.0f32, 0usize);
    for &(v, _) in &top {
        cdf += (v - m).exp() / z;
        if cdf < u {
            rank += 1;
        }
    }
    let (xc, cand) = top[rank.min(k - 1)];
    let xt = x[target];
    [lse - xt, softplus(sign * (xt - xc)), cand as f32, argmax as f32, lse]
}

/// One row of the backward pass into `dx`: `g_ce·(softmax − onehot(target)) + g_ct·∂CT/∂x`,
/// with `g_ce` and `g_ct` read from the row's output gradients `grad` (laid out as `fwd`).
pub fn backward_row(
    x: &[f32],
    dx: &mut [f32],
    target: usize,
    sign: f32,
    fwd: &[f32],
    grad: &[f32],
    detach: bool,
) {
    let (g_ce, g_ct) = (grad[col::CE], grad[col::CT]);
    if g_ce != 0.0 {
        let lse = fwd[col::LSE];
        for (d, &xj) in dx.iter_mut().zip(x) {
            *d = g_ce * (xj - lse).exp();
        }
        dx[target] -= g_ce;
    } else {
        dx.fill(0.0);
    }
    if g_ct != 0.0 {
        let cand = fwd[col::SAMPLED] as usize;
        let d = g_ct * sign * sigmoid(sign * (x[target] - x[cand]));
        dx[target] += d;
        if !detach {
            dx[cand] -= d;
        }
    }
}

impl CpuCringeOps for Flex {
    fn cpu_cringe_rows(
        logits: FlexTensor,
        targets: FlexTensor,
        signs: FlexTensor,
        draws: FlexTensor,
        k: usize,
        _detach: bool,
    ) -> FlexTensor {
        let (n, v) = (logits.layout().shape()[0], logits.layout().shape()[1]);
        let (x, t, s, u) = (values(&logits), values(&targets), values(&signs), values(&draws));
        let mut out = vec![0f32; n * col::COUNT];
        for_rows(&mut out, col::COUNT, |i, o| {
            o.copy_from_slice(&forward_row(&x[i * v..(i + 1) * v], t[i] as usize, s[i], u[i], k));
        });
        tensor(out, [n, col::COUNT])
    }

    fn cpu_cringe_rows_backward(
        logits: FlexTensor,
        targets: FlexTensor,
        signs: FlexTensor,
        forward: FlexTensor,
        grads: FlexTensor,
        detach_candidate: bool,
    ) -> FlexTensor {
        let (n, v) = (logits.layout().shape()[0], logits.layout().shape()[1]);
        let (x, t, s, f, g) =
            (values(&logits), values(&targets), values(&signs), values(&forward), values(&grads));
        let mut dx = vec![0f32; n * v];
        for_rows(&mut dx, v, |i, d| {
            let (fwd, gr) = (
                &f[i * col::COUNT..(i + 1) * col::COUNT],
                &g[i * col::COUNT..(i + 1) * col::COUNT],
            );
            backward_row(&x[i * v..(i + 1) * v], d, t[i] as usize, s[i], fwd, gr, detach_candidate);
        });
        tensor(dx, [n, v])
    }
}

/// What the backward step keeps from the forward pass.
type Saved<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, bool);

#[derive(Debug)]
struct RowsBackward;

impl<B: Backend + CpuCringeOps> Backward<B, 1> for RowsBackward {
    type State = Saved<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [logits_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (logits, targets, signs, forward, detach) = ops.state;
        if let Some(node) = logits_node {
            grads.register::<B>(
                node.id,
                B::cpu_cringe_rows_backward(logits, targets, signs, forward, grad, detach),
            );
        }
    }
}

impl<B: Backend + CpuCringeOps, C: CheckpointStrategy> CpuCringeOps for Autodiff<B, C> {
    fn cpu_cringe_rows(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        draws: FloatTensor<Self>,
        k: usize,
        detach: bool,
    ) -> FloatTensor<Self> {
        let (targets, signs, draws) =
            (targets.into_primitive(), signs.into_primitive(), draws.into_primitive());
        match RowsBackward.prepare::<C>([logits.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let x = logits.primitive().clone();
                let out =
                    B::cpu_cringe_rows(x.clone(), targets.clone(), signs.clone(), draws, k, detach);
                prep.finish((x, targets, signs, out.clone(), detach), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::cpu_cringe_rows(
                logits.into_primitive(),
                targets,
                signs,
                draws,
                k,
                detach,
            )),
        }
    }

    fn cpu_cringe_rows_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        signs: FloatTensor<Self>,
        forward: FloatTensor<Self>,
        grads: FloatTensor<Self>,
        detach_candidate: bool,
    ) -> FloatTensor<Self> {
        // Only the backward pass calls this, on the inner backend (no second derivative).
        let out = B::cpu_cringe_rows_backward(
            logits.into_primitive(),
            targets.into_primitive(),
            signs.into_primitive(),
            forward.into_primitive(),
            grads.into_primitive(),
            detach_candidate,
        );
        <Self as AutodiffBackend>::from_inner(out)
    }
}
