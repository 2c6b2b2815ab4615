//! The CRINGE loss (Adolphs et al. 2022), faithful to ParlAI `projects/cringe` with its known
//! bugs fixed on purpose.
//!
//! For every response token the model gets cross-entropy (CE) if the token belongs to a
//! positive or unlabeled example, and the contrastive term (CT) if it belongs to a negative
//! one. The CT term compares the negative token's logit with a "positive" candidate sampled
//! from the model's own top-k predictions (the target itself excluded) and asks the candidate
//! to win a two-way softmax: `softplus(x_neg - x_sampled)`.
//!
//! Differences from ParlAI, all deliberate:
//! - `train_ct_on_positive_examples` really trains: a positive target must beat the sampled
//!   candidate, `softplus(x_sampled - x_target)`. (ParlAI's version is a silent no-op because
//!   its CT labels clash with the ignore index.)
//! - `ct_exclude_eos` optionally keeps the end token out of the CT term (ParlAI always
//!   includes it; so do we by default).

use super::tokens::TokenTerms;
use super::topk::top_k;
use burn::tensor::activation::{softmax, softplus};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The CRINGE options, named after ParlAI's flags, with ParlAI's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CringeOptions {
    /// α: weight of the contrastive term (`--ct-loss-weight`).
    pub ct_loss_weight: f64,
    /// k: number of top predictions the positive candidate is sampled from
    /// (`--ct-num-pos-predictions`; the paper used 5).
    pub num_pos_predictions: usize,
    /// Stop the gradient through the sampled candidate's logit.
    pub detach_positives_during_ct: bool,
    /// Also apply the contrastive term to positive examples (the target must win).
    pub train_ct_on_positive_examples: bool,
    /// Apply cross-entropy to positive examples (unlabeled examples always get it).
    pub train_ce_on_positive_examples: bool,
    /// Keep end tokens out of the contrastive term.
    pub ct_exclude_eos: bool,
}

impl Default for CringeOptions {
    fn default() -> Self {
        Self {
            ct_loss_weight: 1.0,
            num_pos_predictions: 1,
            detach_positives_during_ct: false,
            train_ct_on_positive_examples: false,
            train_ce_on_positive_examples: true,
            ct_exclude_eos: false,
        }
    }
}

/// How the positive candidate is chosen among the k remaining top predictions.
#[derive(Debug, Clone)]
pub enum CandidateDraw {
    /// One uniform number in [0, 1) per token: inverse-CDF sampling from the softmax over the
    /// k candidates' logits. Draw them from a seeded RNG to make the loss reproducible.
    Uniform(Tensor<1>),
    /// The candidate's rank (0..k, best first) for each token: a fixed sample, for tests and
    /// parity checks against a reference implementation.
    Fixed(Tensor<1, Int>),
}

/// What [`cringe_loss`] returns.
#[derive(Debug, Clone)]
pub struct CringeOutput {
    /// The scalar loss to differentiate (shape `[1]`).
    pub loss: Tensor<1>,
    /// Sums and counts for the metrics, still on the device (see [`CringeStats`]).
    pub stats: Tensor<1>,
    /// The vocabulary id of the sampled positive candidate of each token.
    pub sampled: Tensor<1, Int>,
}

/// Computes the CRINGE loss.
///
/// - `logits` `[N,V]`: one row per target token (batch × target length, flattened);
/// - `targets` `[N]`: the target token ids (`pad_id` marks padding, which gets no loss at all);
/// - `labels` `[N]`: the example's label broadcast over its tokens ([`label_id`](crate::data::label_id));
/// - `end_id`: the end token, for `ct_exclude_eos`;
/// - `draw`: how to pick the positive candidate (k = 1 makes it deterministic).
///
/// Loss = Σ (CE·ce_mask + α·CT·ct_mask) / #(non-pad tokens with either mask set).
pub fn cringe_loss(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    labels: Tensor<1, Int>,
    opts: &CringeOptions,
    pad_id: usize,
    end_id: usize,
    draw: CandidateDraw,
) -> CringeOutput {
    let terms = TokenTerms::new(logits.clone(), targets, labels, pad_id);
    cringe_on_terms(logits, &terms, opts, end_id, draw, None)
}

/// The CRINGE loss on precomputed [`TokenTerms`], each token's CT term optionally multiplied
/// by `ct_gate` `[N]` (the pairwise CRINGE loss gates a rejected response's tokens this way).
pub fn cringe_on_terms(
    logits: Tensor<2>,
    terms: &TokenTerms,
    opts: &CringeOptions,
    end_id: usize,
    draw: CandidateDraw,
    ct_gate: Option<Tensor<1>>,
) -> CringeOutput {
    let [n, v] = logits.dims();
    let k = opts.num_pos_predictions;
    assert!(k >= 1 && k < v, "num_pos_predictions must be in 1..{v}, got {k}");
    let device = logits.device();
    let targets = &terms.targets;

    // ---- positive candidate: top k+1 minus the target (or minus the last) ----
    let target_col = targets.clone().unsqueeze_dim::<2>(1);
    let (top_vals, top_ids) = top_k(logits.clone().detach(), k + 1);
    // Column to remove: the target's if it is among the k+1 (score 2), else the last (score 1).
    let hit =
        top_ids.clone().equal(target_col.clone().repeat_dim(1, k + 1)).float().mul_scalar(2.0);
    let mut last = vec![0f32; k + 1];
    last[k] = 1.0;
    let last =
        Tensor::<1>::from_data(TensorData::new(last, [k + 1]), &device).unsqueeze_dim::<2>(0);
    let removed = (hit + last).argmax(1); // [N,1]
    let cols =
        Tensor::<1, Int>::arange(0..k as i64, &device).unsqueeze_dim::<2>(0).repeat_dim(0, n);
    let src = cols.clone() + cols.greater_equal(removed.repeat_dim(1, k)).int();
    let cand_ids = top_ids.gather(1, src.clone()); // [N,k], best first
    let cand_vals = top_vals.gather(1, src);
    let rank = match draw {
        CandidateDraw::Fixed(rank) => rank.unsqueeze_dim::<2>(1),
        CandidateDraw::Uniform(u) => {
            let cdf = softmax(cand_vals, 1).cumsum(1);
            let below = cdf.lower(u.unsqueeze_dim::<2>(1).repeat_dim(1, k)).int().sum_dim(1);
            below.clamp_max(k as i64 - 1)
        }
    };
    let sampled = cand_ids.gather(1, rank); // [N,1]
    let mut x_sampled = logits.clone().gather(1, sampled.clone()).reshape([n]);
    if opts.detach_positives_during_ct {
        x_sampled = x_sampled.detach();
    }
    let x_target = logits.gather(1, target_col).reshape([n]);
    let ct = softplus((x_target - x_sampled) * ct_signs(terms), 1.0);
    let out = reduce_cringe(terms, opts, end_id, ct, ct_gate);
    CringeOutput { loss: out.loss, stats: out.stats, sampled: sampled.reshape([n]) }
}

/// The sign inside the contrastive term `softplus(sign·(x_target − x_candidate))`, per token:
/// +1 on negative tokens (the candidate must win), −1 on positive ones (the target must).
pub fn ct_signs(terms: &TokenTerms) -> Tensor<1> {
    terms.is_pos.clone().mul_scalar(-2.0) + 1.0
}

/// Masks and reduces the per-token contrastive terms `ct` `[N]` (optionally gated) together
/// with the cross-entropy of `terms` into the CRINGE loss.
pub fn reduce_cringe(
    terms: &TokenTerms,
    opts: &CringeOptions,
    end_id: usize,
    ct: Tensor<1>,
    ct_gate: Option<Tensor<1>>,
) -> super::LossOutput {
    let ce_mask = terms.ce_mask(opts.train_ce_on_positive_examples);
    let mut ct_mask = terms.is_neg.clone();
    if opts.train_ct_on_positive_examples {
        ct_mask = ct_mask + terms.is_pos.clone();
    }
    let mut ct_mask = ct_mask * terms.nonpad.clone();
    if opts.ct_exclude_eos {
        ct_mask = ct_mask * terms.targets.clone().not_equal_elem(end_id as i64).float();
    }
    let ct = match ct_gate {
        Some(gate) => ct * gate,
        None => ct,
    };
    terms.reduce(ce_mask, ct, ct_mask, opts.ct_loss_weight)
}

/// Builds the uniform draws for [`CandidateDraw::Uniform`] from a seeded RNG.
pub fn uniform_draws<R: rand::Rng>(
    rng: &mut R,
    n: usize,
    device: &burn::tensor::Device,
) -> Tensor<1> {
    let u: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
    Tensor::from_data(TensorData::new(u, [n]), device)
}
