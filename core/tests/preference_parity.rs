//! Parity of the preference losses (KTO, DPO, ORPO) with an independent PyTorch implementation
//! of TRL's formulas (`core/tests/reference/preference_reference.py` →
//! `core/tests/fixtures/preference_reference.json`): the loss, its gradient with respect to the
//! policy logits, and TRL's metrics, to 1e-5, on fixed inputs with padding.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::loss::preference::{
    DpoOptions, KtoOptions, PreferenceMetrics, dpo_loss, kto_loss, mean_sequence_logps, orpo_loss,
    sequence_logps,
};
use serde_json::Value;

struct Fixture {
    v: Value,
    b: usize,
    t: usize,
    vocab: usize,
}

impl Fixture {
    fn floats(&self, key: &str) -> Vec<f32> {
        self.v[key].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    }

    fn tensor(&self, key: &str, device: &Device) -> Tensor<1> {
        let v = self.floats(key);
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), device)
    }
}

fn rows(idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}

fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{what}: {got} vs {want}");
}

fn check_metrics(case: &str, got: &PreferenceMetrics, want: &Value) {
    let got = serde_json::to_value(got).unwrap();
    for (name, w) in want.as_object().unwrap() {
        let g = got[name].as_f64().unwrap_or_else(|| panic!("{case}: no metric {name}: {got}"));
        close(&format!("{case} {name}"), g, w.as_f64().unwrap());
    }
}

#[test]
fn kto_dpo_and_orpo_match_the_pytorch_reference_of_trls_formulas() {
    let v: Value =
        serde_json::from_str(include_str!("fixtures/preference_reference.json")).unwrap();
    let shape: Vec<usize> =
        v["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    let fx = Fixture { v, b: shape[0], t: shape[1], vocab: shape[2] };
    let (b, t, vocab) = (fx.b, fx.t, fx.vocab);
    let device = Device::flex().autodiff();
    let pairs: Vec<(usize, usize)> = fx.v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as usize))
        .collect();
    let desirable: Vec<bool> =
        fx.v["desirable"].as_array().unwrap().iter().map(|d| d.as_bool().unwrap()).collect();
    let chosen: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let rejected: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    let targets: Vec<i64> =
        fx.v["targets"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    let mask = fx.tensor("mask", &device);
    let cases = fx.v["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 9);
    for case in &cases {
        let logits =
            Tensor::<2>::from_data(TensorData::new(fx.floats("logits"), [b * t, vocab]), &device)
                .require_grad();
        let gold = Tensor::<1, Int>::from_data(TensorData::new(targets.clone(), [b * t]), &device);
        let token_logps =
            log_softmax(logits.clone(), 1).gather(1, gold.unsqueeze_dim::<2>(1)).reshape([b * t]);
        let p = &case["params"];
        let num = |k: &str| p[k].as_f64().unwrap();
        let name = format!("{} {p}", case["loss"].as_str().unwrap());
        let out = match case["loss"].as_str().unwrap() {
            "dpo" => {
                let lp = sequence_logps(token_logps, mask.clone(), b);
                let refs = fx.tensor("ref_logps", &device);
                let opts =
                    DpoOptions { beta: num("beta"), label_smoothing: num("label_smoothing") };
                dpo_loss(
                    lp.clone().select(0, rows(&chosen, &device)),
                    lp.select(0, rows(&rejected, &device)),
                    refs.clone().select(0, rows(&chosen, &device)),
                    refs.select(0, rows(&rejected, &device)),
                    &opts,
                )
            }
            "kto" => {
                let lp = sequence_logps(token_logps, mask.clone(), b);
                let opts = KtoOptions {
                    beta: num("beta"),
                    desirable_weight: num("desirable_weight"),
                    undesirable_weight: num("undesirable_weight"),
                };
                let kl = fx.tensor("kl_logps", &device).add_scalar(num("kl_shift"));
                let out = kto_loss(
                    lp,
                    fx.tensor("ref_logps", &device),
                    &desirable,
                    kl,
                    fx.tensor("ref_kl_logps", &device),
                    &opts,
                );
                // TRL's loss is the mean over the batch of the weighted per-example losses,
                // desirable ones first: the same mean in any order
                out
            }
            "orpo" => {
                let means = mean_sequence_logps(token_logps.clone(), mask.clone(), b);
                let per_row = (token_logps * mask.clone()).reshape([b, t]);
                let chosen_rows = rows(&chosen, &device);
                let chosen_tokens =
                    mask.clone().reshape([b, t]).select(0, chosen_rows.clone()).sum();
                let nll = per_row.select(0, chosen_rows).sum().neg() / chosen_tokens;
                orpo_loss(
                    means.clone().select(0, rows(&chosen, &device)),
                    means.select(0, rows(&rejected, &device)),
                    nll.reshape([1]),
                    num("beta"),
                )
            }
            other => panic!("unknown loss {other}"),
        };
        let value = out.loss.clone().into_scalar::<f32>() as f64;
        close(&format!("{name} loss"), value, case["value"].as_f64().unwrap());
        check_metrics(&name, &out.metrics, &case["metrics"]);
        let grads = out.loss.backward();
        let g: Vec<f32> = logits.grad(&grads).unwrap().try_to_vec_as::<f32>().unwrap();
        let want: Vec<f64> =
            case["grad"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(g.len(), want.len());
        for (i, (g, w)) in g.iter().zip(&want).enumerate() {
            assert!(
                (*g as f64 - w).abs() < 1e-5,
                "{name}: d loss / d logit[{i}] = {g}, reference {w}"
            );
        }
    }
}
