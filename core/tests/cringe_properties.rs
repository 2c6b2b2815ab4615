//! Properties of the CRINGE loss that hold for any input: it reduces to cross-entropy on
//! positive data, its sampling follows the softmax over the top-k, it is reproducible under a
//! seed, and a gradient step on a negative example makes that response less likely.

use burn::module::Module;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::data::{Batcher, Example, Label, TruncationConfig};
use cringe_core::loss::{CandidateDraw, CringeOptions, cringe_loss, uniform_draws};
use cringe_core::model::{Generator, GeneratorConfig};
use cringe_core::tokenizer::CringeTokenizer;
use rand::SeedableRng;

fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

#[test]
fn all_positive_batch_is_exactly_cross_entropy() {
    let dev = Device::flex();
    let (n, v) = (6, 7);
    let logits: Vec<f32> = (0..n * v).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.7).collect();
    let targets = vec![3i64, 4, 5, 6, 2, 0]; // last token is padding
    let x = Tensor::<2>::from_data(TensorData::new(logits.clone(), [n, v]), &dev);
    for label in [1i64, -1] {
        let out = cringe_loss(
            x.clone(),
            ints(targets.clone(), &dev),
            ints(vec![label; n], &dev),
            &CringeOptions { num_pos_predictions: 3, ..Default::default() },
            0,
            2,
            CandidateDraw::Uniform(uniform_draws(
                &mut rand::rngs::StdRng::seed_from_u64(1),
                n,
                &dev,
            )),
        );
        let loss: f32 = out.loss.into_scalar();
        // independent host computation in f64
        let mut sum = 0.0;
        for i in 0..n - 1 {
            let row = &logits[i * v..(i + 1) * v];
            let m = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
            let lse = m + row.iter().map(|&z| (z as f64 - m).exp()).sum::<f64>().ln();
            sum += lse - row[targets[i] as usize] as f64;
        }
        let want = sum / (n - 1) as f64;
        assert!((loss as f64 - want).abs() < 1e-6, "label {label}: {loss} vs {want}");
    }
}

#[test]
fn sampling_follows_softmax_over_the_top_k_without_the_target() {
    let dev = Device::flex();
    let n = 20000;
    // one row repeated: logits 0..6; target is id 5 (second best), k = 3
    let row = [0.0f32, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0];
    let v = row.len();
    let logits: Vec<f32> = row.iter().cycle().take(n * v).cloned().collect();
    let out = cringe_loss(
        Tensor::from_data(TensorData::new(logits, [n, v]), &dev),
        ints(vec![5; n], &dev),
        ints(vec![0; n], &dev),
        &CringeOptions { num_pos_predictions: 3, ..Default::default() },
        0,
        2,
        CandidateDraw::Uniform(uniform_draws(&mut rand::rngs::StdRng::seed_from_u64(3), n, &dev)),
    );
    let sampled: Vec<i64> = out.sampled.try_to_vec_as::<i64>().unwrap();
    // candidates: ids 6, 4, 3 (top 4 = 6,5,4,3 minus target 5)
    let z: f64 = [3.0f64, 2.0, 1.5].iter().map(|x| x.exp()).sum();
    for (id, logit) in [(6, 3.0f64), (4, 2.0), (3, 1.5)] {
        let freq = sampled.iter().filter(|&&s| s == id).count() as f64 / n as f64;
        let p = logit.exp() / z;
        assert!((freq - p).abs() < 0.015, "id {id}: {freq} vs {p}");
    }
    assert!(sampled.iter().all(|s| [6, 4, 3].contains(s)));
}

#[test]
fn same_seed_same_loss() {
    let dev = Device::flex();
    let (n, v) = (30, 9);
    let logits: Vec<f32> = (0..n * v).map(|i| ((i * 7919 % 23) as f32) * 0.3).collect();
    let run = |seed: u64| -> f32 {
        let out = cringe_loss(
            Tensor::from_data(TensorData::new(logits.clone(), [n, v]), &dev),
            ints((0..n as i64).map(|i| 3 + i % 6).collect(), &dev),
            ints(vec![0; n], &dev),
            &CringeOptions { num_pos_predictions: 5, ..Default::default() },
            0,
            2,
            CandidateDraw::Uniform(uniform_draws(
                &mut rand::rngs::StdRng::seed_from_u64(seed),
                n,
                &dev,
            )),
        );
        out.loss.into_scalar()
    };
    assert_eq!(run(11).to_bits(), run(11).to_bits());
    assert_ne!(run(11).to_bits(), run(12).to_bits());
}

/// Sum of log p(response) of one example under the model.
fn response_logprob(model: &Generator, batcher: &Batcher, ex: &Example, dev: &Device) -> f32 {
    let enc = batcher.encode(ex).unwrap();
    let batch = batcher.collate(&[enc], dev);
    let logits = model.forward(batch.context, batch.decoder_input);
    let [b, t, v] = logits.dims();
    let lp = log_softmax(logits.reshape([b * t, v]), 1);
    lp.gather(1, batch.targets.reshape([b * t, 1])).sum().into_scalar()
}

#[test]
fn one_sgd_step_on_a_negative_example_lowers_its_log_probability() {
    let dev = Device::flex().autodiff();
    dev.seed(5);
    let corpus = ["you are an idiot", "have a nice day", "what a lovely idea"].repeat(20);
    let tok = CringeTokenizer::train(corpus.iter(), 300).unwrap();
    let cfg = GeneratorConfig::tiny(tok.vocab_size());
    let batcher = Batcher::new(
        tok,
        TruncationConfig { text_truncate: 32, label_truncate: 32 },
        cfg.n_positions,
    );
    let model = Generator::new(&cfg, &dev);
    let neg = Example {
        context: "hello".into(),
        response: "you are an idiot".into(),
        label: Label::Neg,
        source: String::new(),
        rejected: None,
        turns: None,
        form: None,
    };
    let before = response_logprob(&model.valid(), &batcher, &neg, &dev);

    let enc = batcher.encode(&neg).unwrap();
    let batch = batcher.collate(&[enc], &dev);
    let logits = model.forward(batch.context, batch.decoder_input);
    let [b, t, v] = logits.dims();
    let out = cringe_loss(
        logits.reshape([b * t, v]),
        batch.targets.reshape([b * t]),
        batch.labels.reshape([b * t]),
        &CringeOptions::default(),
        0,
        2,
        CandidateDraw::Fixed(ints(vec![0; b * t], &dev)),
    );
    let grads = GradientsParams::from_grads(out.loss.backward(), &model);
    let mut optim = SgdConfig::new().init();
    let model = optim.step(0.5, model, grads);
    let after = response_logprob(&model.valid(), &batcher, &neg, &dev);
    assert!(after < before - 1e-3, "log p(negative) should drop: {before} -> {after}");
}

/// Adversarial logits for every loss, on the fused CPU rows and on the tensor ops: NaN, ±inf
/// and ±1e38 at random places. Never a panic; a NaN or +inf anywhere in a real row makes the
/// loss non-finite (so training stops with its "loss became non-finite" error rather than
/// training on a silently wrong value), and without them the loss is never NaN and its gradient
/// is finite whenever the loss is.
#[test]
fn adversarial_logits_give_a_non_finite_loss_never_a_panic_or_a_wrong_finite_one() {
    use cringe_core::data::label_id::{NEG, NONE, POS};
    use cringe_core::kernels::set_enabled;
    use cringe_core::loss::{LossKind, Objective, PairwiseOptions};
    use rand::Rng;
    let dev = Device::flex().autodiff();
    let (b, t, v) = (4, 3, 40);
    let mut rng = rand::rngs::StdRng::seed_from_u64(38);
    let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e38, -1e38];
    let targets: Vec<i64> = (0..b * t).map(|i| 3 + (i as i64 * 7) % (v as i64 - 3)).collect();
    let labels: Vec<i64> =
        [POS, NEG, NEG, NONE].iter().flat_map(|&l| std::iter::repeat_n(l, t)).collect();
    let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [b, t]), &dev);
    let labels = Tensor::<2, Int>::from_data(TensorData::new(labels, [b, t]), &dev);
    let (mut poisoned_runs, mut finite_runs) = (0, 0);
    for trial in 0..60 {
        let mut x: Vec<f32> = (0..b * t * v).map(|_| rng.random_range(-3.0..3.0)).collect();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..x.len());
            x[at] = specials[rng.random_range(0..if trial % 2 == 0 { specials.len() } else { 2 })];
        }
        let poisoned = x.iter().any(|v| v.is_nan() || *v == f32::INFINITY);
        let huge_only = !poisoned && !x.iter().any(|v| v.is_infinite());
        for kind in
            [LossKind::Cringe, LossKind::Mle, LossKind::Unlikelihood, LossKind::PairwiseCringe]
        {
            for fused in [true, false] {
                set_enabled(fused);
                let objective = Objective {
                    kind,
                    cringe: CringeOptions { num_pos_predictions: 3, ..Default::default() },
                    pairwise: PairwiseOptions { margin: 1.0, temperature: 2.0 },
                };
                let logits = Tensor::<3>::from_data(TensorData::new(x.clone(), [b, t, v]), &dev)
                    .require_grad();
                let draws =
                    uniform_draws(&mut rand::rngs::StdRng::seed_from_u64(trial), b * t, &dev);
                let out = objective.loss(
                    logits.clone(),
                    targets.clone(),
                    labels.clone(),
                    &[(0, 1)],
                    (0, 2),
                    |_| CandidateDraw::Uniform(draws),
                );
                let loss: f32 = out.loss.clone().into_scalar();
                let ctx = format!("trial {trial}, {kind:?}, fused {fused}, loss {loss}");
                if poisoned {
                    assert!(!loss.is_finite(), "{ctx}: a NaN or +inf logit gave a finite loss");
                    poisoned_runs += 1;
                }
                if huge_only {
                    assert!(!loss.is_nan(), "{ctx}: finite logits gave a NaN loss");
                }
                if loss.is_finite() {
                    finite_runs += 1;
                    let grad =
                        logits.grad(&out.loss.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
                    assert!(
                        grad.iter().all(|g| g.is_finite()),
                        "{ctx}: a finite loss with a non-finite gradient"
                    );
                }
            }
        }
    }
    set_enabled(true);
    assert!(
        poisoned_runs > 0 && finite_runs > 0,
        "{poisoned_runs} poisoned, {finite_runs} finite runs"
    );
}
