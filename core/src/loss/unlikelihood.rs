//! The baselines the paper compares CRINGE with, on the same token masks and reduction:
//!
//! - **MLE**: cross-entropy on positive and unlabeled tokens; negative examples get no loss.
//! - **Unlikelihood** (Welleck et al. 2019; ParlAI `dialogue_unlikelihood`, sequence-level on
//!   negative responses): cross-entropy as in MLE plus α·−log(1 − p(token)) on every token of a
//!   negative response, with 1 − p clamped at 1e-5 as ParlAI does.

use super::cringe::CringeOptions;
use super::tokens::{LossOutput, TokenTerms};

/// Smallest value 1 − p(token) is clamped to before the log (ParlAI's 1e-5).
pub const UNLIKELIHOOD_MIN: f64 = 1e-5;

/// Maximum likelihood on positive (if `opts.train_ce_on_positive_examples`) and unlabeled
/// tokens; negative tokens are ignored.
pub fn mle_loss(terms: &TokenTerms, opts: &CringeOptions) -> LossOutput {
    let ce_mask = terms.ce_mask(opts.train_ce_on_positive_examples);
    let zeros = terms.nonpad.zeros_like();
    terms.reduce(ce_mask, zeros.clone(), zeros, 0.0)
}

/// Unlikelihood training: MLE plus `opts.ct_loss_weight`·−log(1 − p(target)) on the tokens of
/// negative examples (reported in the statistics' CT slots).
pub fn unlikelihood_loss(terms: &TokenTerms, opts: &CringeOptions) -> LossOutput {
    let ce_mask = terms.ce_mask(opts.train_ce_on_positive_examples);
    let neg_mask = terms.is_neg.clone() * terms.nonpad.clone();
    let p = terms.ce.clone().neg().exp();
    let ul = p.neg().add_scalar(1.0).clamp_min(UNLIKELIHOOD_MIN).log().neg();
    terms.reduce(ce_mask, ul, neg_mask, opts.ct_loss_weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::label_id::{NEG, POS};
    use burn::tensor::{Device, Int, Tensor, TensorData};

    /// Three tokens over a 3-word vocabulary: softmax of [0, ln 2, 0] is [¼, ½, ¼].
    /// Token 0: positive, target 1 (p = ½). Token 1: negative, target 0 (p = ¼). Token 2: padding.
    fn terms(dev: &Device) -> (Tensor<2>, TokenTerms) {
        let l2 = std::f32::consts::LN_2;
        let logits = Tensor::<2>::from_data(TensorData::new([0.0, l2, 0.0].repeat(3), [3, 3]), dev)
            .require_grad();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0, 2], [3]), dev);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![POS, NEG, POS], [3]), dev);
        (logits.clone(), TokenTerms::new(logits, targets, labels, 2))
    }

    fn close(a: f32, b: f64) {
        assert!((a as f64 - b).abs() < 1e-5, "{a} != {b}");
    }

    #[test]
    fn mle_is_cross_entropy_on_the_positive_token_only() {
        let dev = Device::flex().autodiff();
        let (logits, t) = terms(&dev);
        let out = mle_loss(&t, &CringeOptions::default());
        close(out.loss.clone().into_scalar(), std::f64::consts::LN_2);
        let g = logits.grad(&out.loss.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
        // d CE / d logits = softmax − onehot on row 0; rows 1 (negative) and 2 (padding) get nothing
        for (a, b) in g.iter().zip([0.25, -0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]) {
            close(*a, b);
        }
    }

    #[test]
    fn unlikelihood_value_and_gradient_sign() {
        let dev = Device::flex().autodiff();
        let (logits, t) = terms(&dev);
        let opts = CringeOptions { ct_loss_weight: 2.0, ..Default::default() };
        let out = unlikelihood_loss(&t, &opts);
        // (ln 2 + 2·−ln(1 − ¼)) / 2 scored tokens
        close(
            out.loss.clone().into_scalar(),
            (std::f64::consts::LN_2 + 2.0 * -(0.75f64).ln()) / 2.0,
        );
        let g = logits.grad(&out.loss.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
        // negative token (row 1, target 0): d/dz −log(1 − p0) = p0 (1 − onehot) ... pushes z0 down
        // and the others up: ∂/∂z0 = α·p0/(2 tokens) > 0, ∂/∂z1, ∂/∂z2 < 0.
        // Exactly: ∂(−log(1−p0))/∂zj = p0·(δ0j − pj)/(1 − p0) → [¼·¾/¾, −¼·½/¾, −¼·¼/¾] = [¼, −1/6, −1/12]
        let expect = [0.25, -1.0 / 6.0, -1.0 / 12.0].map(|x| x * 2.0 / 2.0);
        for (a, b) in g[3..6].iter().zip(expect) {
            close(*a, b);
        }
        assert!(g[6..].iter().all(|x| *x == 0.0), "padding gets no gradient");
    }

    #[test]
    fn unlikelihood_clamps_a_certain_negative_token() {
        let dev = Device::flex();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![100.0f32, 0.0, 0.0], [1, 3]), &dev);
        let t = TokenTerms::new(
            logits,
            Tensor::from_data(TensorData::new(vec![0i64], [1]), &dev),
            Tensor::from_data(TensorData::new(vec![NEG], [1]), &dev),
            2,
        );
        let loss: f32 = unlikelihood_loss(&t, &CringeOptions::default()).loss.into_scalar();
        close(loss, -(UNLIKELIHOOD_MIN).ln());
    }
}
