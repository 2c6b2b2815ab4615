//! The training objective: which loss (`--loss cringe|mle|unlikelihood|pairwise-cringe`) with
//! which options, applied to a padded batch.

use super::cringe::{CandidateDraw, CringeOptions, cringe_on_terms};
use super::pairwise::{PairwiseOptions, pairwise_gate};
use super::tokens::{LossOutput, TokenTerms};
use super::unlikelihood::{mle_loss, unlikelihood_loss};
use crate::error::{CoreError, Result};
use crate::model::Packing;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

/// The losses a generator can be trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// CRINGE (Adolphs et al. 2022): CE on positives, the contrastive term on negatives.
    #[default]
    Cringe,
    /// Maximum likelihood on positives only; negatives dropped.
    Mle,
    /// Unlikelihood training (Welleck et al. 2019) on negatives.
    Unlikelihood,
    /// Pairwise CRINGE (Xu et al. 2023): the contrastive term on a rejected response, gated by
    /// how much more likely its pair's chosen response already is.
    PairwiseCringe,
}

impl LossKind {
    /// Every loss, in the order tables list them.
    pub const ALL: [LossKind; 4] =
        [LossKind::Mle, LossKind::Unlikelihood, LossKind::Cringe, LossKind::PairwiseCringe];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Cringe => "cringe",
            LossKind::Mle => "mle",
            LossKind::Unlikelihood => "unlikelihood",
            LossKind::PairwiseCringe => "pairwise-cringe",
        }
    }

    /// Parses a name as [`LossKind::name`] spells it.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            CoreError::Config(format!("unknown loss {s:?}; expected one of {names:?}"))
        })
    }

    /// Whether the loss trains on negative examples at all (MLE drops them).
    pub fn uses_negatives(self) -> bool {
        self != LossKind::Mle
    }

    /// Whether the loss samples CRINGE's positive candidates.
    pub fn samples_candidates(self) -> bool {
        matches!(self, LossKind::Cringe | LossKind::PairwiseCringe)
    }
}

/// A loss and its options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Objective {
    /// Which loss.
    pub kind: LossKind,
    /// CRINGE's options; α (`ct_loss_weight`) is also unlikelihood's weight, and
    /// `train_ce_on_positive_examples` applies to every loss.
    pub cringe: CringeOptions,
    /// The pairwise gate (pairwise CRINGE only).
    pub pairwise: PairwiseOptions,
}

impl Objective {
    /// The loss of `logits` `[B,T,V]` against `targets` and `labels` `[B,T]`; `pairs` lists
    /// (chosen row, rejected row) of the batch's preference pairs; `draw` makes CRINGE's
    /// candidate draw for `B·T` tokens (called only by the losses that sample).
    pub fn loss(
        &self,
        logits: Tensor<3>,
        targets: Tensor<2, Int>,
        labels: Tensor<2, Int>,
        pairs: &[(usize, usize)],
        ids: (usize, usize),
        draw: impl FnOnce(usize) -> CandidateDraw,
    ) -> LossOutput {
        let [b, t, v] = logits.dims();
        self.loss_rows(
            logits.reshape([b * t, v]),
            &Packing::dense(b, t),
            targets,
            labels,
            pairs,
            ids,
            draw,
        )
    }

    /// [`Objective::loss`] on packed rows: `logits` `[N,V]` are the positions of the `[B,T]`
    /// batch that `rows` keeps ([`Generator::forward_rows`](crate::model::Generator::forward_rows));
    /// `draw` is called for those N tokens. Pads left out change nothing: they are masked out
    /// of every sum, so the loss and statistics equal the padded ones.
    #[allow(clippy::too_many_arguments)]
    pub fn loss_rows(
        &self,
        logits: Tensor<2>,
        rows: &Packing,
        targets: Tensor<2, Int>,
        labels: Tensor<2, Int>,
        pairs: &[(usize, usize)],
        (pad_id, end_id): (usize, usize),
        draw: impl FnOnce(usize) -> CandidateDraw,
    ) -> LossOutput {
        let n = rows.count();
        let (targets, labels) = (rows.pack_ids(targets), rows.pack_ids(labels));
        let gate = |terms: &TokenTerms| {
            (self.kind == LossKind::PairwiseCringe).then(|| {
                let (ce, nonpad) = (
                    rows.unpack_values(terms.ce.clone()),
                    rows.unpack_values(terms.nonpad.clone()),
                );
                rows.pack_values(pairwise_gate(&ce, &nonpad, rows.batch(), pairs, &self.pairwise))
            })
        };
        let draw = self.kind.samples_candidates().then(|| draw(n));
        if let Some(draw) = &draw
            && let Some(out) = super::fused::cringe(
                &logits,
                &targets,
                &labels,
                &self.cringe,
                (pad_id, end_id),
                draw,
                gate,
            )
        {
            return out;
        }
        let fused_mle = if self.kind == LossKind::Mle {
            super::fused::mle_terms(&logits, &targets, &labels, pad_id)
        } else {
            None
        };
        let terms =
            fused_mle.unwrap_or_else(|| TokenTerms::new(logits.clone(), targets, labels, pad_id));
        match self.kind {
            LossKind::Mle => mle_loss(&terms, &self.cringe),
            LossKind::Unlikelihood => unlikelihood_loss(&terms, &self.cringe),
            LossKind::Cringe | LossKind::PairwiseCringe => {
                let draw = draw.expect("CRINGE samples candidates");
                let o = cringe_on_terms(logits, &terms, &self.cringe, end_id, draw, gate(&terms));
                LossOutput { loss: o.loss, stats: o.stats }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_id::{NEG, POS};
    use crate::loss::{CringeStats, cringe_loss};
    use burn::tensor::{Device, Distribution, TensorData};

    fn batch(dev: &Device) -> (Tensor<3>, Tensor<2, Int>, Tensor<2, Int>) {
        let logits = Tensor::<3>::random([2, 3, 7], Distribution::Normal(0.0, 1.0), dev);
        let targets =
            Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 4, 5, 0], [2, 3]), dev);
        let labels = Tensor::<2, Int>::from_data(
            TensorData::new(vec![POS, POS, POS, NEG, NEG, NEG], [2, 3]),
            dev,
        );
        (logits, targets, labels)
    }

    fn fixed(n: usize, dev: &Device) -> CandidateDraw {
        CandidateDraw::Fixed(Tensor::<1, Int>::zeros([n], dev))
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for k in LossKind::ALL {
            assert_eq!(LossKind::parse(k.name()).unwrap(), k);
        }
        let e = LossKind::parse("dpo").unwrap_err().to_string();
        assert!(e.contains("pairwise-cringe") && e.contains("dpo"), "{e}");
    }

    #[test]
    fn cringe_objective_equals_the_cringe_loss_and_pairwise_without_pairs_equals_cringe() {
        let dev = Device::flex();
        let (logits, targets, labels) = batch(&dev);
        let opts = CringeOptions { num_pos_predictions: 3, ..Default::default() };
        let direct = cringe_loss(
            logits.clone().reshape([6, 7]),
            targets.clone().reshape([6]),
            labels.clone().reshape([6]),
            &opts,
            0,
            2,
            fixed(6, &dev),
        );
        let value = |kind| -> f32 {
            let o = Objective { kind, cringe: opts.clone(), ..Default::default() };
            o.loss(logits.clone(), targets.clone(), labels.clone(), &[], (0, 2), |n| fixed(n, &dev))
                .loss
                .into_scalar()
        };
        let d: f32 = direct.loss.into_scalar();
        assert!((value(LossKind::Cringe) - d).abs() < 1e-6);
        assert!((value(LossKind::PairwiseCringe) - d).abs() < 1e-6);
    }

    /// Hand-checked: row 0 (chosen, target 1) has logits [0, ln 2, 0], so CE = ln 2; row 1
    /// (rejected, target 0) has logits [0.5, 1, 0]: the candidate is token 1 (k = 1) and
    /// CT = softplus(0.5 − 1) = 0.474077, with ∂CT/∂x = ±sigmoid(−0.5) = ±0.377541 on the target
    /// and the candidate. Two scored tokens.
    #[test]
    fn pairwise_value_and_gradient_with_the_gate_open_and_closed() {
        let dev = Device::flex().autodiff();
        let l2 = std::f32::consts::LN_2;
        for (margin, gate) in [(1e4, 1.0f64), (-1e4, 0.0)] {
            let logits = Tensor::<3>::from_data(
                TensorData::new(vec![0.0, l2, 0.0, 0.5, 1.0, 0.0], [2, 1, 3]),
                &dev,
            )
            .require_grad();
            let targets = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 0], [2, 1]), &dev);
            let labels = Tensor::<2, Int>::from_data(TensorData::new(vec![POS, NEG], [2, 1]), &dev);
            let o = Objective {
                kind: LossKind::PairwiseCringe,
                pairwise: PairwiseOptions { margin, temperature: 1.0 },
                ..Default::default()
            };
            // pad id 2 is never a target here, so nothing is padding
            let out =
                o.loss(logits.clone(), targets, labels, &[(0, 1)], (5, 9), |n| fixed(n, &dev));
            let loss: f32 = out.loss.clone().into_scalar();
            let want = (std::f64::consts::LN_2 + gate * (1.0 + (-0.5f64).exp()).ln()) / 2.0;
            assert!((loss as f64 - want).abs() < 1e-5, "gate {gate}: {loss} vs {want}");
            let g = logits.grad(&out.loss.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
            let s = 1.0 / (1.0 + 0.5f64.exp()); // sigmoid(−0.5)
            for (got, want) in g[3..].iter().zip([gate * s / 2.0, -gate * s / 2.0, 0.0]) {
                assert!(
                    (*got as f64 - want).abs() < 1e-5,
                    "gate {gate}: rejected-row gradient {:?}",
                    &g[3..]
                );
            }
            // the chosen row always gets cross-entropy: softmax − onehot over 2 tokens
            for (got, want) in g[..3].iter().zip([0.125, -0.25, 0.125]) {
                assert!((*got as f64 - want).abs() < 1e-5, "chosen-row gradient {:?}", &g[..3]);
            }
        }
    }

    #[test]
    fn a_closed_gate_leaves_only_cross_entropy() {
        let dev = Device::flex();
        let (logits, targets, labels) = batch(&dev);
        // a huge negative margin closes the gate whatever the likelihoods are
        let o = Objective {
            kind: LossKind::PairwiseCringe,
            pairwise: PairwiseOptions { margin: -1e4, temperature: 1.0 },
            ..Default::default()
        };
        let out = o.loss(logits, targets, labels, &[(0, 1)], (0, 2), |n| fixed(n, &dev));
        let s = CringeStats::from_tensor(out.stats);
        assert!(s.ct_sum.abs() < 1e-6 && s.ct_tokens == 2.0, "{s:?}");
        assert!((s.loss_sum - s.ce_sum).abs() < 1e-5);
    }
}
