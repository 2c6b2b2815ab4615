//! The CRINGE loss through the fused GPU kernel of `cringe-shaders` (feature `gpu-kernels`).
//!
//! On a cubecl device (wgpu, Vulkan, Metal) [`super::Objective::loss`] hands CRINGE and
//! pairwise CRINGE to [`cringe`] here: one kernel computes every token's cross-entropy,
//! top-(k+1), sampled candidate and contrastive term (and one its gradient), in place of the
//! log-softmax, top-k, gathers and softplus of the tensor-op version in [`super::cringe`]. The
//! masks, the pairwise gate and the reduction are shared with that version, so both give the
//! same loss, statistics and gradients (checked in the workspace's `tests/shader_parity.rs`).
//!
//! [`crate::kernels::set_enabled`] (or `CRINGE_FUSED_KERNELS=0`) turns it off.

use super::cringe::{CandidateDraw, CringeOptions, ct_signs, reduce_cringe};
use super::tokens::{LossOutput, TokenTerms};
use burn::tensor::{Int, Tensor};
use cringe_shaders::cringe::{col, cringe_rows, supports};

/// The CRINGE loss of `logits` `[N,V]` with the fused kernel, or `None` where it does not apply
/// (kernel off, a CPU device, a fixed candidate draw, k out of the kernel's range). `gate`
/// turns the per-token cross-entropy into the pairwise gate (pairwise CRINGE).
pub fn cringe(
    logits: &Tensor<2>,
    targets: &Tensor<1, Int>,
    labels: &Tensor<1, Int>,
    opts: &CringeOptions,
    (pad_id, end_id): (usize, usize),
    draw: &CandidateDraw,
    gate: impl FnOnce(&TokenTerms) -> Option<Tensor<1>>,
) -> Option<LossOutput> {
    let [n, v] = logits.dims();
    let CandidateDraw::Uniform(u) = draw else { return None };
    if !crate::kernels::enabled() || !supports(&logits.device(), n, v, opts.num_pos_predictions) {
        return None;
    }
    // The masks and signs depend only on targets and labels; the kernel fills in CE and pred.
    let device = logits.device();
    let mut terms = TokenTerms::from_parts(Tensor::zeros([n], &device), Tensor::zeros([n], &device), targets.clone(), labels.clone(), pad_id);
    let k = opts.num_pos_predictions;
    let rows = cringe_rows(logits.clone(), targets.clone(), ct_signs(&terms), u.clone(), k, opts.detach_positives_during_ct);
    let column = |c: usize| rows.clone().slice([0..n, c..c + 1]).reshape([n]);
    terms.ce = column(col::CE);
    terms.pred = column(col::ARGMAX).int();
    let ct = column(col::CT);
    let gate = gate(&terms);
    Some(reduce_cringe(&terms, opts, end_id, ct, gate))
}
