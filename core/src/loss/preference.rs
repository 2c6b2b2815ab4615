//! The preference-learning losses people compare CRINGE against, as Hugging Face TRL defines
//! them: KTO for unpaired good/bad labels (what a classifier or an annotator gives), DPO on
//! pairs (with TRL's robust label smoothing), and the reference-free ORPO. Each takes
//! sequence log-likelihoods of responses — sums of their tokens' log-probabilities (DPO, KTO)
//! or their means (ORPO), from [`sequence_logps`] — so they sit on the same token masks as the
//! other losses here; the reference model's log-likelihoods come in detached. Metrics carry
//! TRL's names (`rewards/chosen`, `rewards/margins`, `kl`, …). Checked against an independent
//! PyTorch implementation of TRL's formulas (`core/tests/reference/preference_reference.py`).

use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// `ln 2`: where [`log1mexp`] switches formula.
const LN_2: f64 = std::f64::consts::LN_2;

/// DPO's settings (TRL's `beta`, `label_smoothing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpoOptions {
    /// β: the strength of the implicit KL penalty (`--dpo-beta`).
    pub beta: f64,
    /// ε in [0, 0.5): the assumed share of flipped preference labels (robust DPO;
    /// `--dpo-label-smoothing`); 0 is plain DPO.
    pub label_smoothing: f64,
}

impl Default for DpoOptions {
    fn default() -> Self {
        Self { beta: 0.1, label_smoothing: 0.0 }
    }
}

/// KTO's settings (TRL's `beta`, `desirable_weight`, `undesirable_weight`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KtoOptions {
    /// β (`--kto-beta`).
    pub beta: f64,
    /// λ_D, the weight of desirable examples' losses (`--desirable-weight`).
    pub desirable_weight: f64,
    /// λ_U, the weight of undesirable examples' losses (`--undesirable-weight`).
    pub undesirable_weight: f64,
}

impl Default for KtoOptions {
    fn default() -> Self {
        Self { beta: 0.1, desirable_weight: 1.0, undesirable_weight: 1.0 }
    }
}

/// A preference loss and its TRL-named metrics.
pub struct PreferenceOutput {
    /// The loss (shape `[1]`), with gradients to the policy's log-likelihoods.
    pub loss: Tensor<1>,
    /// What the step reports.
    pub metrics: PreferenceMetrics,
}

/// Per-step metrics, named as TRL logs them; a value a loss has no notion of is `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PreferenceMetrics {
    /// Mean implicit reward of chosen (desirable) responses.
    #[serde(rename = "rewards/chosen")]
    pub rewards_chosen: Option<f64>,
    /// Mean implicit reward of rejected (undesirable) responses.
    #[serde(rename = "rewards/rejected")]
    pub rewards_rejected: Option<f64>,
    /// Mean of chosen minus rejected reward.
    #[serde(rename = "rewards/margins")]
    pub margins: Option<f64>,
    /// Share of pairs whose chosen reward is the larger.
    #[serde(rename = "rewards/accuracies")]
    pub accuracies: Option<f64>,
    /// KTO's KL estimate (clamped at 0).
    pub kl: Option<f64>,
    /// Mean policy log-likelihood of chosen responses.
    #[serde(rename = "logps/chosen")]
    pub logps_chosen: Option<f64>,
    /// Mean policy log-likelihood of rejected responses.
    #[serde(rename = "logps/rejected")]
    pub logps_rejected: Option<f64>,
    /// ORPO's mean log σ(log odds ratio).
    pub log_odds_ratio: Option<f64>,
    /// ORPO's chosen NLL.
    pub nll_loss: Option<f64>,
}

/// Each row's response log-likelihood `[B]`: the sum of `token_logps` `[B·T]` where `mask`
/// `[B·T]` is 1.
pub fn sequence_logps(token_logps: Tensor<1>, mask: Tensor<1>, rows: usize) -> Tensor<1> {
    let [n] = token_logps.dims();
    (token_logps * mask).reshape([rows, n / rows.max(1)]).sum_dim(1).reshape([rows])
}

/// Each row's mean token log-probability `[B]` (ORPO's length-averaged form).
pub fn mean_sequence_logps(token_logps: Tensor<1>, mask: Tensor<1>, rows: usize) -> Tensor<1> {
    let [n] = mask.dims();
    let counts = mask.clone().reshape([rows, n / rows.max(1)]).sum_dim(1).reshape([rows]);
    sequence_logps(token_logps, mask, rows) / counts.clamp_min(1.0)
}

/// log(1 − eᶻ) for z < 0, without cancellation: log1p(−eᶻ) below −ln 2, log(−expm1 z) above
/// (expm1 z = 2t / (1 − t), t = tanh(z/2)). Each branch sees its side's inputs only, so the
/// unused one cannot put NaN into the gradient.
pub fn log1mexp(z: Tensor<1>) -> Tensor<1> {
    let below = z.clone().lower_elem(-LN_2);
    let far = z.clone().clamp_max(-LN_2).exp().neg().log1p();
    let t = z.clamp_min(-LN_2).div_scalar(2.0).tanh();
    let near = (t.clone().mul_scalar(-2.0)).log() - t.neg().log1p();
    near.mask_where(below, far)
}

fn mean(t: &Tensor<1>) -> Option<f64> {
    let [n] = t.dims();
    (n > 0).then(|| t.clone().mean().into_scalar::<f32>() as f64)
}

/// DPO on `P` pairs: −log σ(β·Δ), Δ = (log π(y_c) − log π_ref(y_c)) − (log π(y_r) −
/// log π_ref(y_r)), averaged over pairs; with label smoothing ε, TRL's robust form
/// ((1−ε)·(−log σ(βΔ)) − ε·(−log σ(−βΔ))) / (1 − 2ε).
pub fn dpo_loss(
    chosen: Tensor<1>,
    rejected: Tensor<1>,
    ref_chosen: Tensor<1>,
    ref_rejected: Tensor<1>,
    opts: &DpoOptions,
) -> PreferenceOutput {
    let chosen_ratio = chosen.clone() - ref_chosen.detach();
    let rejected_ratio = rejected.clone() - ref_rejected.detach();
    let delta = (chosen_ratio.clone() - rejected_ratio.clone()).mul_scalar(opts.beta);
    let eps = opts.label_smoothing;
    let clean = log_sigmoid(delta.clone()).neg().mul_scalar(1.0 - eps);
    let losses = if eps > 0.0 {
        let flipped = log_sigmoid(delta.neg()).neg().mul_scalar(eps);
        (clean - flipped).div_scalar(1.0 - 2.0 * eps)
    } else {
        clean
    };
    let rc = chosen_ratio.detach().mul_scalar(opts.beta);
    let rr = rejected_ratio.detach().mul_scalar(opts.beta);
    let metrics = PreferenceMetrics {
        rewards_chosen: mean(&rc),
        rewards_rejected: mean(&rr),
        margins: mean(&(rc.clone() - rr.clone())),
        accuracies: mean(&rc.greater(rr).float()),
        logps_chosen: mean(&chosen.detach()),
        logps_rejected: mean(&rejected.detach()),
        ..Default::default()
    };
    PreferenceOutput { loss: losses.mean().reshape([1]), metrics }
}

/// KTO on `B` labelled responses (`desirable[i]`): desirable 1 − σ(β(r − z)), undesirable
/// 1 − σ(β(z − r)), r = log π(y) − log π_ref(y), weighted by λ_D / λ_U and averaged over the
/// batch; z = max(0, mean(log π(y') − log π_ref(y'))) over the mismatched pairs (each prompt
/// with another example's completion, `kl_logps` / `ref_kl_logps`), detached.
pub fn kto_loss(
    logps: Tensor<1>,
    ref_logps: Tensor<1>,
    desirable: &[bool],
    kl_logps: Tensor<1>,
    ref_kl_logps: Tensor<1>,
    opts: &KtoOptions,
) -> PreferenceOutput {
    let device = logps.device();
    let b = desirable.len();
    let kl = (kl_logps.detach() - ref_kl_logps.detach()).mean().clamp_min(0.0);
    let kl_value = kl.clone().into_scalar::<f32>() as f64;
    let ratio = logps.clone() - ref_logps.detach();
    let z = kl.reshape([1]).expand([b]);
    let sign: Vec<f32> = desirable.iter().map(|&d| if d { 1.0 } else { -1.0 }).collect();
    let weight: Vec<f32> = desirable
        .iter()
        .map(|&d| if d { opts.desirable_weight } else { opts.undesirable_weight } as f32)
        .collect();
    let sign = Tensor::<1>::from_data(TensorData::new(sign, [b]), &device);
    let weight = Tensor::<1>::from_data(TensorData::new(weight, [b]), &device);
    // desirable: σ(β(r − z)); undesirable: σ(β(z − r)) = σ(−β(r − z))
    let losses = sigmoid((ratio.clone() - z).mul_scalar(opts.beta) * sign).neg().add_scalar(1.0);
    let rewards = ratio.detach().mul_scalar(opts.beta);
    let pick = |want: bool| -> Vec<i64> {
        desirable.iter().enumerate().filter(|(_, d)| **d == want).map(|(i, _)| i as i64).collect()
    };
    let select = |t: &Tensor<1>, idx: Vec<i64>| {
        let n = idx.len();
        (n > 0).then(|| t.clone().select(0, Tensor::from_data(TensorData::new(idx, [n]), &device)))
    };
    let (good, bad) = (pick(true), pick(false));
    let reward_of = |idx: &Vec<i64>| select(&rewards, idx.clone()).and_then(|t| mean(&t));
    let logps_of =
        |idx: &Vec<i64>| select(&logps.clone().detach(), idx.clone()).and_then(|t| mean(&t));
    let (rc, rr) = (reward_of(&good), reward_of(&bad));
    let metrics = PreferenceMetrics {
        rewards_chosen: rc,
        rewards_rejected: rr,
        margins: rc.zip(rr).map(|(c, r)| c - r),
        kl: Some(kl_value),
        logps_chosen: logps_of(&good),
        logps_rejected: logps_of(&bad),
        ..Default::default()
    };
    PreferenceOutput { loss: (losses * weight).mean().reshape([1]), metrics }
}

/// TRL's warning when the desirable/undesirable counts are unbalanced and neither weight is in
/// the range the KTO paper (eq. 8) recommends; `None` when the weights are fine.
pub fn kto_weight_advice(
    desirable: usize,
    undesirable: usize,
    opts: &KtoOptions,
) -> Option<String> {
    let (d, u) = (desirable.max(1) as f64, undesirable.max(1) as f64);
    if d == u {
        return None;
    }
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let des =
        (round(u * opts.undesirable_weight / d), round(u * opts.undesirable_weight / d * 1.33));
    let und = (round(d * opts.desirable_weight / u / 1.33), round(d * opts.desirable_weight / u));
    let inside = |w: f64, (lo, hi): (f64, f64)| lo <= w && w <= hi;
    if inside(opts.desirable_weight, des) || inside(opts.undesirable_weight, und) {
        return None;
    }
    Some(format!(
        "{desirable} desirable and {undesirable} undesirable examples, and the KTO weights are outside the range the KTO paper recommends: set EITHER --desirable-weight in [{}, {}] OR --undesirable-weight in [{}, {}] (not both)",
        des.0, des.1, und.0, und.1
    ))
}

/// ORPO on `P` pairs of length-averaged log-likelihoods: `chosen_nll` − β·mean(log σ(log
/// odds)), log odds = (c − r) − (log(1 − eᶜ) − log(1 − eʳ)); no reference model.
pub fn orpo_loss(
    chosen_mean: Tensor<1>,
    rejected_mean: Tensor<1>,
    chosen_nll: Tensor<1>,
    beta: f64,
) -> PreferenceOutput {
    let log_odds = (chosen_mean.clone() - rejected_mean.clone())
        - (log1mexp(chosen_mean.clone()) - log1mexp(rejected_mean.clone()));
    let ratio = log_sigmoid(log_odds);
    let loss = chosen_nll.clone().reshape([1]) - ratio.clone().mean().reshape([1]).mul_scalar(beta);
    let rc = chosen_mean.detach().mul_scalar(beta);
    let rr = rejected_mean.detach().mul_scalar(beta);
    let metrics = PreferenceMetrics {
        rewards_chosen: mean(&rc),
        rewards_rejected: mean(&rr),
        margins: mean(&(rc.clone() - rr.clone())),
        accuracies: mean(&rc.greater(rr).float()),
        log_odds_ratio: mean(&ratio.detach()),
        nll_loss: mean(&chosen_nll.detach().reshape([1])),
        ..Default::default()
    };
    PreferenceOutput { loss, metrics }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn t(v: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Device::flex())
    }

    #[test]
    fn log1mexp_is_accurate_on_both_sides_of_minus_ln_2() {
        let z = [-5.0f64, -0.7, -0.69, -1e-3, -1e-6];
        let got = log1mexp(t(&z.map(|x| x as f32))).try_to_vec_as::<f32>().unwrap();
        for (g, x) in got.iter().zip(z) {
            let want = (-(x.exp_m1())).ln();
            assert!(((*g as f64) - want).abs() < 1e-5 * want.abs().max(1.0), "{x}: {g} vs {want}");
        }
    }

    #[test]
    fn kto_advice_follows_trls_ranges() {
        let even = KtoOptions::default();
        assert!(kto_weight_advice(50, 50, &even).is_none());
        // 100 desirable, 50 undesirable: λ_D in [0.5, 0.66] or λ_U in [1.5, 2.0]
        let e = kto_weight_advice(100, 50, &even).unwrap();
        assert!(e.contains("[0.5, 0.67]") && e.contains("[1.5, 2]"), "{e}");
        let fixed = KtoOptions { undesirable_weight: 1.8, ..even };
        assert!(kto_weight_advice(100, 50, &fixed).is_none());
    }
}
