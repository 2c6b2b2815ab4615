//! Parity of the CRINGE loss with the independent PyTorch reference
//! (`core/tests/reference/cringe_reference.py` → `core/tests/fixtures/cringe_reference.json`):
//! loss, gradient with respect to the logits, sampled candidates and every metric, for every
//! option combination, to 1e-5.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::loss::{CandidateDraw, CringeOptions, CringeStats, cringe_loss};
use serde_json::Value;

const TOL: f64 = 1e-5;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * (1.0 + b.abs())
}

#[test]
fn matches_pytorch_reference_for_every_option_combination() {
    let text = include_str!("fixtures/cringe_reference.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let pad = fixture["pad_id"].as_u64().unwrap() as usize;
    let end = fixture["end_id"].as_u64().unwrap() as usize;
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 128);
    let device = Device::flex().autodiff();
    let floats = |v: &Value| {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>()
    };
    let ints =
        |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect::<Vec<_>>();
    for (ci, case) in cases.iter().enumerate() {
        let opts: CringeOptions = serde_json::from_value(case["options"].clone()).unwrap();
        let (n, v) = (case["n"].as_u64().unwrap() as usize, case["v"].as_u64().unwrap() as usize);
        let logits =
            Tensor::<2>::from_data(TensorData::new(floats(&case["logits"]), [n, v]), &device)
                .require_grad();
        let targets =
            Tensor::<1, Int>::from_data(TensorData::new(ints(&case["targets"]), [n]), &device);
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(ints(&case["labels"]), [n]), &device);
        let rank = Tensor::<1, Int>::from_data(TensorData::new(ints(&case["rank"]), [n]), &device);
        let out = cringe_loss(
            logits.clone(),
            targets.clone(),
            labels,
            &opts,
            pad,
            end,
            CandidateDraw::Fixed(rank),
        );
        let ctx = format!("case {ci} {opts:?}");

        let sampled: Vec<i64> = out.sampled.try_to_vec_as::<i64>().unwrap();
        let want_sampled = ints(&case["sampled"]);
        let tgt = ints(&case["targets"]);
        for i in 0..n {
            if tgt[i] != pad as i64 {
                assert_eq!(sampled[i], want_sampled[i], "{ctx}: sampled candidate of token {i}");
            }
        }

        let loss: f32 = out.loss.clone().into_scalar();
        assert!(
            close(loss as f64, case["loss"].as_f64().unwrap()),
            "{ctx}: loss {loss} vs {}",
            case["loss"]
        );

        let grads = out.loss.backward();
        let g: Vec<f32> = logits.grad(&grads).unwrap().try_to_vec_as::<f32>().unwrap();
        let want_g = floats(&case["grad"]);
        for (i, (a, b)) in g.iter().zip(&want_g).enumerate() {
            assert!(close(*a as f64, *b as f64), "{ctx}: grad[{}][{}] {a} vs {b}", i / v, i % v);
        }

        let m = serde_json::to_value(CringeStats::from_tensor(out.stats).metrics()).unwrap();
        for (name, want) in case["metrics"].as_object().unwrap() {
            let got = m[name].as_f64().unwrap_or_else(|| panic!("metric {name} missing"));
            assert!(close(got, want.as_f64().unwrap()), "{ctx}: metric {name} {got} vs {want}");
        }
    }
}
