//! The GPU kernels of `cringe-shaders` against the core's tensor-op versions on the same wgpu
//! device (CI: lavapipe). The fused CRINGE kernel: the same loss, statistics and gradient of
//! the logits for CRINGE and pairwise CRINGE under every option that changes the kernel's work
//! (k, CT on positives, end token excluded, detached candidate), with padding and all three
//! labels in the batch. Flash attention: a whole generator (padded contexts, causal decoder,
//! cross attention) gives the same logits and parameter gradients (`wgpu_e2e` covers decoding);
//! the causal LM (grouped-query attention, left-padded prompts in the key/value cache) gives
//! the CPU's logits and greedy continuations.
//! Built with `--features wgpu`.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use cringe_core::data::label_id::{NEG, NONE, POS};
use cringe_core::kernels::set_enabled;
use cringe_core::loss::{CandidateDraw, CringeOptions, LossKind, Objective, PairwiseOptions};
use cringe_core::model::{Generator, GeneratorConfig, parameter_gradients};
use std::sync::Mutex;

const PAD: usize = 0;
/// The kernel switch is process-wide: tests that flip it take turns.
static SWITCH: Mutex<()> = Mutex::new(());
const END: usize = 2;

struct Result {
    loss: f32,
    stats: Vec<f32>,
    grad: Vec<f32>,
}

fn run(
    objective: &Objective,
    logits: &Tensor<3>,
    targets: &Tensor<2, Int>,
    labels: &Tensor<2, Int>,
    u: &Tensor<1>,
    fused: bool,
) -> Result {
    set_enabled(fused);
    let x = logits.clone().require_grad();
    // rows 0/1 and 2/3 are (chosen, rejected) pairs for pairwise CRINGE
    let out = objective.loss(
        x.clone(),
        targets.clone(),
        labels.clone(),
        &[(0, 1), (2, 3)],
        (PAD, END),
        |_| CandidateDraw::Uniform(u.clone()),
    );
    let grad = x.grad(&out.loss.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
    Result { loss: out.loss.into_scalar(), stats: out.stats.try_to_vec_as::<f32>().unwrap(), grad }
}

/// The wgpu device as `cringe --device wgpu` starts it (kernel cache in `CRINGE_KERNEL_CACHE`).
fn wgpu_device() -> Device {
    cringe_trainer::device::DeviceKind::Wgpu(None).device().unwrap().autodiff()
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn fused_kernel_equals_the_tensor_op_cringe_loss() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let dev = wgpu_device();
    let (b, t, v) = (5, 7, 700);
    let logits = Tensor::<3>::random([b, t, v], Distribution::Normal(0.0, 2.0), &dev);
    // targets: random ids, the end token, and padding at the end of some rows
    let mut ids: Vec<i64> = (0..b * t).map(|i| 3 + ((i * 7919) % (v - 3)) as i64).collect();
    for r in 0..b {
        ids[r * t + 4] = END as i64;
        for c in 5 + r % 3..t {
            ids[r * t + c] = PAD as i64;
        }
    }
    // make some targets the model's own best guess, so the kernel drops the target from its top list
    let best = logits.clone().argmax(2).reshape([b * t]).try_to_vec_as::<i64>().unwrap();
    for i in (0..b * t).step_by(3) {
        if ids[i] != PAD as i64 {
            ids[i] = best[i];
        }
    }
    let targets = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &dev);
    let row_labels = [POS, NEG, POS, NEG, NONE];
    let labels: Vec<i64> = row_labels.iter().flat_map(|&l| std::iter::repeat_n(l, t)).collect();
    let labels = Tensor::<2, Int>::from_data(TensorData::new(labels, [b, t]), &dev);
    let u = Tensor::<1>::random([b * t], Distribution::Uniform(0.0, 1.0), &dev);

    let options = [
        CringeOptions { num_pos_predictions: 1, ..Default::default() },
        CringeOptions { num_pos_predictions: 5, ct_loss_weight: 0.5, ..Default::default() },
        CringeOptions {
            num_pos_predictions: 3,
            train_ct_on_positive_examples: true,
            ct_exclude_eos: true,
            ..Default::default()
        },
        CringeOptions {
            num_pos_predictions: 8,
            detach_positives_during_ct: true,
            train_ce_on_positive_examples: false,
            ..Default::default()
        },
    ];
    for kind in [LossKind::Cringe, LossKind::PairwiseCringe] {
        for opts in &options {
            let objective = Objective {
                kind,
                cringe: opts.clone(),
                pairwise: PairwiseOptions { margin: 1.0, temperature: 2.0 },
            };
            let reference = run(&objective, &logits, &targets, &labels, &u, false);
            let fused = run(&objective, &logits, &targets, &labels, &u, true);
            let ctx = format!("{kind:?} {opts:?}");
            assert!(
                close(reference.loss, fused.loss, 1e-5),
                "{ctx}: loss {} (tensor ops) vs {} (kernel)",
                reference.loss,
                fused.loss
            );
            for (i, (a, b)) in reference.stats.iter().zip(&fused.stats).enumerate() {
                assert!(close(*a, *b, 1e-5), "{ctx}: statistic {i}: {a} vs {b}");
            }
            for (i, (a, b)) in reference.grad.iter().zip(&fused.grad).enumerate() {
                assert!((a - b).abs() < 1e-6, "{ctx}: d loss / d logit {i}: {a} vs {b}");
            }
            assert!(
                reference.grad.iter().any(|g| g.abs() > 1e-4),
                "{ctx}: the gradient is not trivially zero"
            );
        }
    }
    set_enabled(true);
}

fn ids(v: Vec<i64>, shape: [usize; 2], dev: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, shape), dev)
}

#[test]
fn flash_attention_in_the_generator_equals_the_tensor_op_attention() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let dev = wgpu_device();
    let cfg = GeneratorConfig::tiny(300);
    let model = Generator::new(&cfg, &dev);
    // contexts of 9, 6 and 2 tokens (padded with 0), 5 target tokens each
    let context: Vec<i64> = [9usize, 6, 2]
        .iter()
        .flat_map(|&n| (0..9).map(move |i| if i < n { 5 + (i * 31 + n) as i64 % 290 } else { 0 }))
        .collect();
    let context = ids(context, [3, 9], &dev);
    let dec_in = ids(
        (0..15).map(|i| if i % 5 == 0 { 1 } else { 7 + (i * 17) % 280 }).collect(),
        [3, 5],
        &dev,
    );
    let targets = ids(
        (0..15).map(|i| if i % 5 == 4 { 2 } else { 7 + (i * 17 + 17) % 280 }).collect(),
        [3, 5],
        &dev,
    );
    let labels = ids(
        [POS, NEG, NONE].iter().flat_map(|&l| std::iter::repeat_n(l, 5)).collect(),
        [3, 5],
        &dev,
    );
    let objective = Objective { kind: LossKind::Mle, ..Default::default() };
    let run = |fused: bool| {
        set_enabled(fused);
        let logits = model.forward(context.clone(), dec_in.clone());
        let out = objective.loss(
            logits.clone(),
            targets.clone(),
            labels.clone(),
            &[],
            (PAD, END),
            |_| unreachable!("MLE draws nothing"),
        );
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        (logits.try_to_vec_as::<f32>().unwrap(), parameter_gradients(&model, &grads))
    };
    let (logits_ref, grads_ref) = run(false);
    let (logits_flash, grads_flash) = run(true);
    set_enabled(true);
    for (i, (a, b)) in logits_ref.iter().zip(&logits_flash).enumerate() {
        assert!((a - b).abs() < 1e-4, "logit {i}: {a} (tensor ops) vs {b} (flash attention)");
    }
    assert_eq!(grads_ref.len(), grads_flash.len());
    assert!(
        grads_ref.len() > 20,
        "every attention, norm and feed-forward parameter has a gradient"
    );
    for (p, (a, b)) in grads_ref.iter().zip(&grads_flash).enumerate() {
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-3);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-3 * scale,
                "parameter {p}, element {i}: {x} (tensor ops) vs {y} (flash attention)"
            );
        }
    }
}

#[test]
fn flash_attention_in_the_causal_lm_gives_the_cpus_logits_and_greedy_continuations() {
    use cringe_core::decode::{CausalScorer, Inference, SearchConfig, search};
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    set_enabled(true);
    // the tiny Llama of core/tests/hf_causal.rs (grouped-query attention, llama3 rotary scaling)
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/hf_causal/llama");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let rows = |v: &serde_json::Value| -> Vec<Vec<u32>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect())
            .collect()
    };
    let gpu = cringe_trainer::device::DeviceKind::Wgpu(None).device().unwrap();
    let cpu = Device::flex();
    let load = |dev: &Device| cringe_core::hf::causal::load_model(&dir, dev).unwrap();
    let (on_gpu, on_cpu) = (load(&gpu), load(&cpu));
    for seq in rows(&expected["sequences"]) {
        let logits = |m: &cringe_core::model::causal::CausalLm, dev: &Device| {
            let t = ids(seq.iter().map(|&x| x as i64).collect(), [1, seq.len()], dev);
            m.forward(t).try_to_vec_as::<f32>().unwrap()
        };
        let (g, c) = (logits(&on_gpu, &gpu), logits(&on_cpu, &cpu));
        let scale = c.iter().fold(0f32, |m, x| m.max(x.abs()));
        for (i, (a, b)) in g.iter().zip(&c).enumerate() {
            assert!((a - b).abs() <= 1e-4 * scale, "logit {i}: {a} (wgpu) vs {b} (cpu)");
        }
    }
    // left-padded prompts through the key/value cache: the pad mask on the device
    let prompts = rows(&expected["prompts"]);
    let want = rows(&expected["greedy_batched"]);
    let end = (0..96).find(|t| !want.iter().flatten().any(|w| w == t)).unwrap();
    let cfg = SearchConfig {
        inference: Inference::Greedy,
        min_length: 0,
        max_length: want[0].len(),
        ..SearchConfig::default()
    };
    let mut scorer = CausalScorer::new(&on_gpu, &prompts, 1, &gpu).unwrap();
    let got: Vec<Vec<u32>> = search(&mut scorer, &prompts, 0, end, &cfg)
        .unwrap()
        .iter()
        .map(|r| r.best().tokens.clone())
        .collect();
    assert_eq!(got, want, "greedy continuations on the wgpu device");
}
