//! The fused CPU CRINGE rows (`kernels::cringe_rows`, used by `Objective::loss` on the CPU) against
//! the tensor-op losses (the CRINGE one checked against PyTorch in `cringe_parity.rs`): the
//! same loss, statistics and gradient of the logits for CRINGE and pairwise CRINGE under every
//! option that changes the rows' work (k, CT on positives, end token excluded, detached
//! candidate), and for MLE (which reads the rows' cross-entropy and arg-max), with padding,
//! targets that are the row's best guess, and all three labels.

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use cringe_core::data::label_id::{NEG, NONE, POS};
use cringe_core::kernels::set_enabled;
use cringe_core::loss::{CandidateDraw, CringeOptions, LossKind, Objective, PairwiseOptions};

const PAD: usize = 0;
const END: usize = 2;

struct Run {
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
) -> Run {
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
    Run { loss: out.loss.into_scalar(), stats: out.stats.try_to_vec_as::<f32>().unwrap(), grad }
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn fused_cpu_rows_equal_the_tensor_op_losses() {
    let dev = Device::flex().autodiff();
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
    // some targets are the model's own best guess, so the rows drop the target from the top list
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
    let mle = [
        CringeOptions::default(),
        CringeOptions { train_ce_on_positive_examples: false, ..Default::default() },
    ];
    let cringe = [LossKind::Cringe, LossKind::PairwiseCringe]
        .into_iter()
        .flat_map(|kind| options.iter().map(move |o| (kind, o)));
    for (kind, opts) in cringe.chain(mle.iter().map(|o| (LossKind::Mle, o))) {
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
            "{ctx}: loss {} (tensor ops) vs {} (fused rows)",
            reference.loss,
            fused.loss
        );
        assert_eq!(reference.stats.len(), fused.stats.len());
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
