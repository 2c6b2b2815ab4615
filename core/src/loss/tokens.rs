//! What every training loss here shares: the per-token masks (padding, pos/neg/none labels),
//! the per-token cross-entropy, and the reduction into one scalar plus the statistics vector
//! that [`super::CringeStats`] reads.
//!
//! Each loss gives every scored token cross-entropy (positive or unlabeled examples) and/or a
//! "negative term" (CRINGE's contrastive term, unlikelihood's −log(1 − p), …), and is reduced
//! as Σ (CE·ce_mask + α·NEG·neg_mask) / #(non-pad tokens with either mask set), so losses of
//! different methods are on the same per-token scale.

use super::stats::CringeStats;
use crate::data::label_id;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// A loss value and its statistics vector (see [`CringeStats`]).
#[derive(Debug, Clone)]
pub struct LossOutput {
    /// The scalar loss to differentiate (`[1]`).
    pub loss: Tensor<1>,
    /// Sums and counts, still on the device.
    pub stats: Tensor<1>,
}

/// Per-token masks (`[N]` floats of 0/1) and cross-entropy of a flattened batch.
#[derive(Debug, Clone)]
pub struct TokenTerms {
    /// The model's greedy prediction (arg-max of the logits) for each token `[N]`.
    pub pred: Tensor<1, Int>,
    /// The target ids `[N]`.
    pub targets: Tensor<1, Int>,
    /// Cross-entropy of each target token `[N]`.
    pub ce: Tensor<1>,
    /// 1 for non-pad target tokens.
    pub nonpad: Tensor<1>,
    /// 1 for tokens of unlabeled examples.
    pub is_none: Tensor<1>,
    /// 1 for tokens of negative examples.
    pub is_neg: Tensor<1>,
    /// 1 for tokens of positive examples.
    pub is_pos: Tensor<1>,
}

impl TokenTerms {
    /// Computes log-probabilities, cross-entropy and label masks for `logits` `[N,V]`,
    /// `targets` `[N]` (`pad_id` = padding) and `labels` `[N]` ([`label_id`](crate::data::label_id) values).
    pub fn new(
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
        labels: Tensor<1, Int>,
        pad_id: usize,
    ) -> Self {
        let [n, _] = logits.dims();
        let logp = log_softmax(logits, 1);
        let ce = logp.clone().gather(1, targets.clone().unsqueeze_dim::<2>(1)).neg().reshape([n]);
        let pred = logp.detach().argmax(1).reshape([n]);
        Self::from_parts(ce, pred, targets, labels, pad_id)
    }

    /// The same from per-token cross-entropy `ce` and predictions `pred` computed elsewhere
    /// (the fused GPU kernel).
    pub fn from_parts(
        ce: Tensor<1>,
        pred: Tensor<1, Int>,
        targets: Tensor<1, Int>,
        labels: Tensor<1, Int>,
        pad_id: usize,
    ) -> Self {
        let nonpad = targets.clone().not_equal_elem(pad_id as i64).float();
        let is = |value: i64| labels.clone().equal_elem(value).float();
        Self {
            pred,
            targets,
            ce,
            nonpad,
            is_none: is(label_id::NONE),
            is_neg: is(label_id::NEG),
            is_pos: is(label_id::POS),
        }
    }

    /// The cross-entropy mask: unlabeled tokens always, positive ones when `on_positives`.
    pub fn ce_mask(&self, on_positives: bool) -> Tensor<1> {
        let mut m = self.is_none.clone();
        if on_positives {
            m = m + self.is_pos.clone();
        }
        m * self.nonpad.clone()
    }

    /// Reduces to the loss and its statistics: `neg` is the negative term per token, applied
    /// where `neg_mask` is 1 with weight `alpha`.
    pub fn reduce(
        &self,
        ce_mask: Tensor<1>,
        neg: Tensor<1>,
        neg_mask: Tensor<1>,
        alpha: f64,
    ) -> LossOutput {
        let scored = ce_mask.clone().max_pair(neg_mask.clone());
        let ce_term = self.ce.clone() * ce_mask.clone();
        let neg_term = neg * neg_mask.clone();
        let total = ce_term.clone().sum() + neg_term.clone().sum().mul_scalar(alpha);
        let loss = total.clone() / scored.clone().sum().clamp_min(1.0);

        let correct = self.pred.clone().equal(self.targets.clone()).float();
        let pos_like = (self.is_pos.clone() + self.is_none.clone()) * self.nonpad.clone();
        let neg_tok = self.is_neg.clone() * self.nonpad.clone();
        let ce_d = self.ce.clone().detach();
        let sum = |t: Tensor<1>| t.sum();
        let stats = Tensor::cat(
            vec![
                total.detach(),
                sum(ce_term.detach()),
                sum(neg_term.detach()),
                sum(ce_mask),
                sum(neg_mask.clone()),
                sum(scored.clone()),
                sum(correct.clone() * scored),
                sum(pos_like.clone()),
                sum(correct.clone() * pos_like.clone()),
                sum(ce_d.clone() * pos_like),
                sum(neg_tok.clone()),
                sum(correct * neg_tok),
                sum(ce_d * neg_mask),
            ],
            0,
        );
        debug_assert_eq!(stats.dims()[0], CringeStats::LEN);
        LossOutput { loss, stats }
    }
}
