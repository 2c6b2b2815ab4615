//! The CRINGE loss through fused per-row kernels: the GPU kernel of `cringe-shaders` (feature
//! `gpu-kernels`) on cubecl devices (wgpu, Vulkan, Metal), [`crate::kernels::cringe_rows`] on the CPU.
//!
//! [`super::Objective::loss`] hands CRINGE and pairwise CRINGE to [`cringe`] here: one pass
//! computes every token's cross-entropy, top-(k+1), sampled candidate and contrastive term
//! (and one its gradient), in place of the log-softmax, top-k, gathers and softplus of the
//! tensor-op version in [`super::cringe`]; MLE reads the same rows' cross-entropy
//! ([`mle_terms`]). The masks, the pairwise gate and the reduction are shared with the
//! tensor-op versions, so both give the same loss, statistics and gradients (checked by
//! `core/tests/cpu_fused_parity.rs` on the CPU and the workspace's `tests/shader_parity.rs` on
//! GPUs).
//!
//! [`crate::kernels::set_enabled`] (or `CRINGE_FUSED_KERNELS=0`) turns both off.

use super::cringe::{CandidateDraw, CringeOptions, ct_signs, reduce_cringe};
use super::tokens::{LossOutput, TokenTerms};
use crate::kernels::cringe_rows::{self as cpu_rows, col};
use burn::tensor::{Int, Tensor};

// Both kernels write the same columns.
#[cfg(feature = "gpu-kernels")]
const _: () = {
    use cringe_shaders::cringe::col as gpu;
    assert!(gpu::CE == col::CE && gpu::CT == col::CT && gpu::SAMPLED == col::SAMPLED);
    assert!(gpu::ARGMAX == col::ARGMAX && gpu::LSE == col::LSE && gpu::COUNT == col::COUNT);
};

/// The CRINGE loss of `logits` `[N,V]` with a fused kernel, or `None` where none applies
/// (kernels off, a fixed candidate draw, k or the shape out of the kernels' range). `gate`
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
    let CandidateDraw::Uniform(u) = draw else { return None };
    let k = opts.num_pos_predictions;
    let kernel = Kernel::for_rows(logits, k)?;
    // The masks and signs depend only on targets and labels; the kernel fills in CE and pred.
    let mut terms = placeholder_terms(logits, targets, labels, pad_id);
    let rows = kernel.rows(
        logits,
        targets,
        ct_signs(&terms),
        u.clone(),
        k,
        opts.detach_positives_during_ct,
    );
    fill_terms(&mut terms, &rows);
    let ct = column(&rows, col::CT);
    let gate = gate(&terms);
    Some(reduce_cringe(&terms, opts, end_id, ct, gate))
}

/// The per-token cross-entropy and arg-max (what the MLE loss reads) from the fused rows, or
/// `None` where no kernel applies. The rows' contrastive term gets no gradient (its sign is 0).
pub fn mle_terms(
    logits: &Tensor<2>,
    targets: &Tensor<1, Int>,
    labels: &Tensor<1, Int>,
    pad_id: usize,
) -> Option<TokenTerms> {
    let kernel = Kernel::for_rows(logits, 1)?;
    let [n, _] = logits.dims();
    let zeros = Tensor::<1>::zeros([n], &logits.device());
    let mut terms = placeholder_terms(logits, targets, labels, pad_id);
    let rows = kernel.rows(logits, targets, zeros.clone(), zeros, 1, true);
    fill_terms(&mut terms, &rows);
    Some(terms)
}

/// Which fused kernel runs on the logits' device.
enum Kernel {
    Cpu,
    #[cfg(feature = "gpu-kernels")]
    Gpu,
}

impl Kernel {
    /// The kernel for `[N,V]` logits with k candidates, or `None` (kernels off, shape or k out
    /// of range, a device without one).
    fn for_rows(logits: &Tensor<2>, k: usize) -> Option<Self> {
        let ([n, v], device) = (logits.dims(), logits.device());
        if !crate::kernels::enabled() {
            return None;
        }
        #[cfg(feature = "gpu-kernels")]
        if cringe_shaders::cringe::supports(&device, n, v, k) {
            return Some(Kernel::Gpu);
        }
        cpu_rows::supports(&device, n, v, k).then_some(Kernel::Cpu)
    }

    fn rows(
        &self,
        logits: &Tensor<2>,
        targets: &Tensor<1, Int>,
        signs: Tensor<1>,
        u: Tensor<1>,
        k: usize,
        detach: bool,
    ) -> Tensor<2> {
        match self {
            Kernel::Cpu => {
                cpu_rows::cringe_rows(logits.clone(), targets.clone(), signs, u, k, detach)
            }
            #[cfg(feature = "gpu-kernels")]
            Kernel::Gpu => cringe_shaders::cringe::cringe_rows(
                logits.clone(),
                targets.clone(),
                signs,
                u,
                k,
                detach,
            ),
        }
    }
}

/// Token terms with the masks filled in and zeros for CE and pred (which the rows provide).
fn placeholder_terms(
    logits: &Tensor<2>,
    targets: &Tensor<1, Int>,
    labels: &Tensor<1, Int>,
    pad_id: usize,
) -> TokenTerms {
    let ([n, _], device) = (logits.dims(), logits.device());
    TokenTerms::from_parts(
        Tensor::zeros([n], &device),
        Tensor::zeros([n], &device),
        targets.clone(),
        labels.clone(),
        pad_id,
    )
}

/// Column `c` of the rows, `[N]`.
fn column(rows: &Tensor<2>, c: usize) -> Tensor<1> {
    let [n, _] = rows.dims();
    rows.clone().slice([0..n, c..c + 1]).reshape([n])
}

/// CE and pred of `terms` from the rows.
fn fill_terms(terms: &mut TokenTerms, rows: &Tensor<2>) {
    terms.ce = column(rows, col::CE);
    terms.pred = column(rows, col::ARGMAX).int();
}
