//! The pairwise CRINGE loss (Xu et al. 2023, "Some things are more CRINGE than others"): for a
//! context with a preferred (chosen) and a rejected response, the CRINGE contrastive term on
//! the rejected response is multiplied by a gate
//!
//! `g = sigmoid((b − M) / τ)`, with `M = log p(chosen | x) − log p(rejected | x)`
//!
//! (sequence log-likelihoods: sums over the response tokens). The gate is near 1 while the
//! model does not yet prefer the chosen response by the margin `b`, and falls to 0 once it
//! does, so pairs that are already ordered stop pushing. The chosen response gets ordinary
//! cross-entropy. The gate is a weight, not a path for gradients (it is detached). Negative
//! examples outside any pair keep the ungated CRINGE term.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The gate's margin and temperature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairwiseOptions {
    /// b: how many nats the chosen response should be more likely than the rejected one before
    /// the gate closes (`--pairwise-margin`).
    pub margin: f64,
    /// τ: softness of the gate in nats (`--pairwise-temperature`).
    pub temperature: f64,
}

impl Default for PairwiseOptions {
    fn default() -> Self {
        Self { margin: 0.0, temperature: 1.0 }
    }
}

/// The per-token gate `[B·T]` for a `[B,T]` batch: 1 everywhere except on the rows of rejected
/// responses, which get their pair's `g`. `ce` `[B·T]` is each token's cross-entropy and
/// `nonpad` its padding mask; `pairs` lists (chosen row, rejected row).
pub fn pairwise_gate(
    ce: &Tensor<1>,
    nonpad: &Tensor<1>,
    rows: usize,
    pairs: &[(usize, usize)],
    opts: &PairwiseOptions,
) -> Tensor<1> {
    let [n] = ce.dims();
    let t = n / rows.max(1);
    let device = ce.device();
    if pairs.is_empty() {
        return Tensor::ones([n], &device);
    }
    let p = pairs.len();
    // log-likelihood of each row's response: −Σ CE over its non-pad tokens
    let ll = (ce.clone().detach() * nonpad.clone()).reshape([rows, t]).sum_dim(1).neg(); // [B,1]
    // M = ll[chosen] − ll[rejected] as one [P,B]×[B,1] product
    let mut diff = vec![0f32; p * rows];
    let mut onto_rejected = vec![0f32; p * rows];
    for (i, &(c, r)) in pairs.iter().enumerate() {
        assert!(
            c < rows && r < rows && c != r,
            "pair ({c}, {r}) does not name two rows of a {rows}-row batch"
        );
        diff[i * rows + c] = 1.0;
        diff[i * rows + r] = -1.0;
        onto_rejected[i * rows + r] = 1.0;
    }
    let diff = Tensor::<2>::from_data(TensorData::new(diff, [p, rows]), &device);
    let onto = Tensor::<2>::from_data(TensorData::new(onto_rejected, [p, rows]), &device);
    let margin = diff.matmul(ll); // [P,1]
    let g = sigmoid(margin.neg().add_scalar(opts.margin).div_scalar(opts.temperature)); // [P,1]
    // rows: 1 + Σ_pairs onehot(rejected)·(g − 1)
    let row_gate = g.sub_scalar(1.0).transpose().matmul(onto).add_scalar(1.0); // [1,B]
    row_gate.reshape([rows, 1]).repeat_dim(1, t).reshape([n]).detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn t1(v: Vec<f32>, dev: &Device) -> Tensor<1> {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), dev)
    }

    #[test]
    fn gate_is_the_sigmoid_of_the_margin_on_rejected_rows_only() {
        let dev = Device::flex();
        // 3 rows × 2 tokens; row 0 chosen (CE 0.5 + 0.5 → ll −1), row 1 rejected (CE 1 + 2, the
        // second token padding → ll −1), row 2 unpaired.
        let ce = t1(vec![0.5, 0.5, 1.0, 2.0, 3.0, 3.0], &dev);
        let nonpad = t1(vec![1.0, 1.0, 1.0, 0.0, 1.0, 1.0], &dev);
        let opts = PairwiseOptions { margin: 2.0, temperature: 0.5 };
        let g = pairwise_gate(&ce, &nonpad, 3, &[(0, 1)], &opts).try_to_vec_as::<f32>().unwrap();
        // M = −1 − (−1) = 0 → g = σ((2 − 0)/0.5) = σ(4)
        let s4 = 1.0 / (1.0 + (-4.0f32).exp());
        assert_eq!(g.len(), 6);
        assert!(
            (g[0] - 1.0).abs() < 1e-6 && (g[1] - 1.0).abs() < 1e-6,
            "chosen row ungated: {g:?}"
        );
        assert!((g[2] - s4).abs() < 1e-6 && (g[3] - s4).abs() < 1e-6, "rejected row gated: {g:?}");
        assert!(
            (g[4] - 1.0).abs() < 1e-6 && (g[5] - 1.0).abs() < 1e-6,
            "unpaired row ungated: {g:?}"
        );
    }

    #[test]
    fn an_ordered_pair_closes_the_gate_and_a_reversed_one_opens_it() {
        let dev = Device::flex();
        let nonpad = t1(vec![1.0; 4], &dev);
        let opts = PairwiseOptions::default();
        // chosen ll −2, rejected ll −20: M = 18 ≫ b → g ≈ 0
        let ordered =
            pairwise_gate(&t1(vec![1.0, 1.0, 10.0, 10.0], &dev), &nonpad, 2, &[(0, 1)], &opts)
                .try_to_vec_as::<f32>()
                .unwrap();
        assert!(ordered[2] < 1e-6, "{ordered:?}");
        // swapped: M = −18 → g ≈ 1
        let reversed =
            pairwise_gate(&t1(vec![10.0, 10.0, 1.0, 1.0], &dev), &nonpad, 2, &[(0, 1)], &opts)
                .try_to_vec_as::<f32>()
                .unwrap();
        assert!(reversed[2] > 1.0 - 1e-6, "{reversed:?}");
    }
}
