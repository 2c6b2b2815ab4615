//! Padding-free training (`Generator::forward_rows` + `Objective::loss_rows`, what `cringe
//! train` runs on padded batches) against the padded forward and loss: the same logits at every
//! real position, and the same loss, statistics and gradient of every parameter, for every
//! model variant and every loss — with ragged contexts (one of them only its end token),
//! ragged targets and a preference pair.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use cringe_core::data::label_id::{NEG, NONE, POS};
use cringe_core::loss::{CandidateDraw, CringeOptions, LossKind, Objective, PairwiseOptions};
use cringe_core::model::{
    Activation, Generator, GeneratorConfig, Packing, Variant, parameter_gradients,
};

const PAD: i64 = 0;
const END: i64 = 2;
const START: i64 = 1;

/// `rows` right-padded sequences of the given lengths, ids from `token(row, position)`.
fn padded(
    lengths: &[usize],
    len: usize,
    token: impl Fn(usize, usize) -> i64,
    dev: &Device,
) -> Tensor<2, Int> {
    let v: Vec<i64> = lengths
        .iter()
        .enumerate()
        .flat_map(|(r, &l)| (0..len).map(move |t| if t < l { (r, t) } else { (usize::MAX, 0) }))
        .map(|(r, t)| if r == usize::MAX { PAD } else { token(r, t) })
        .collect();
    Tensor::from_data(TensorData::new(v, [lengths.len(), len]), dev)
}

struct Outcome {
    logits: Vec<f32>,
    loss: f32,
    stats: Vec<f32>,
    grads: Vec<Vec<f32>>,
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn packed_rows_equal_the_padded_forward_loss_and_gradients() {
    let dev = Device::flex().autodiff();
    dev.seed(7);
    let (ctx_len, tgt_len) = ([6usize, 3, 1], [3usize, 2, 5]);
    let (s, t) = (6, 5);
    let vocab = 60;
    // contexts end with the end token; the third is nothing but it
    let context = padded(
        &ctx_len,
        s,
        |r, p| if p + 1 == ctx_len[r] { END } else { 5 + ((r * 13 + p * 7) % 50) as i64 },
        &dev,
    );
    let targets = padded(
        &tgt_len,
        t,
        |r, p| if p + 1 == tgt_len[r] { END } else { 4 + ((r * 11 + p * 5) % 53) as i64 },
        &dev,
    );
    let target_ids: Vec<i64> = targets.clone().try_to_vec_as().unwrap();
    let decoder_input =
        padded(&tgt_len, t, |r, p| if p == 0 { START } else { target_ids[r * t + p - 1] }, &dev);
    // row 0 (pos) and row 1 (neg) form a preference pair; row 2 is unlabeled
    let labels = padded(&[t, t, t], t, |r, _| [POS, NEG, NONE][r], &dev);
    let u = Tensor::<1>::random([3 * t], Distribution::Uniform(0.0, 1.0), &dev);
    let (ctx_rows, tgt_rows) =
        (Packing::from_lengths(&ctx_len, s, &dev), Packing::from_lengths(&tgt_len, t, &dev));
    assert!(!ctx_rows.is_dense() && !tgt_rows.is_dense());
    let real: Vec<usize> =
        tgt_len.iter().enumerate().flat_map(|(r, &l)| (0..l).map(move |p| r * t + p)).collect();

    for variant in [Variant::Prelayernorm, Variant::Aiayn, Variant::Xlm] {
        let mut cfg = GeneratorConfig::tiny(vocab);
        cfg.variant = variant;
        cfg.activation =
            if variant == Variant::Aiayn { Activation::Relu } else { Activation::Gelu };
        let model = Generator::new(&cfg, &dev);
        for kind in LossKind::ALL {
            let objective = Objective {
                kind,
                cringe: CringeOptions { num_pos_predictions: 3, ..Default::default() },
                pairwise: PairwiseOptions { margin: 0.5, temperature: 20.0 },
            };
            let ids = (PAD as usize, END as usize);
            let finish = |logits: Vec<f32>, out: cringe_core::loss::LossOutput| {
                let grads = GradientsParams::from_grads(out.loss.backward(), &model);
                Outcome {
                    logits,
                    loss: out.loss.into_scalar(),
                    stats: out.stats.try_to_vec_as().unwrap(),
                    grads: parameter_gradients(&model, &grads),
                }
            };
            let padded_run = {
                let logits = model.forward(context.clone(), decoder_input.clone());
                let values: Vec<f32> = logits.clone().try_to_vec_as().unwrap();
                let out =
                    objective.loss(logits, targets.clone(), labels.clone(), &[(0, 1)], ids, |n| {
                        assert_eq!(n, 3 * t);
                        CandidateDraw::Uniform(u.clone())
                    });
                // the logits of the real positions, in order
                finish(
                    real.iter()
                        .flat_map(|&r| values[r * vocab..(r + 1) * vocab].to_vec())
                        .collect(),
                    out,
                )
            };
            let packed_run = {
                let logits = model.forward_rows(
                    context.clone(),
                    ctx_rows.clone(),
                    decoder_input.clone(),
                    &tgt_rows,
                );
                assert_eq!(logits.dims(), [real.len(), vocab]);
                let values: Vec<f32> = logits.clone().try_to_vec_as().unwrap();
                let out = objective.loss_rows(
                    logits,
                    &tgt_rows,
                    targets.clone(),
                    labels.clone(),
                    &[(0, 1)],
                    ids,
                    |n| {
                        assert_eq!(n, real.len());
                        CandidateDraw::Uniform(tgt_rows.pack_values(u.clone()))
                    },
                );
                finish(values, out)
            };
            let what = format!("{variant:?} {}", kind.name());
            for (i, (a, b)) in padded_run.logits.iter().zip(&packed_run.logits).enumerate() {
                assert!(close(*a, *b, 1e-5), "{what}: logit {i}: {a} (padded) vs {b} (packed)");
            }
            assert!(
                close(padded_run.loss, packed_run.loss, 1e-5),
                "{what}: loss {} vs {}",
                padded_run.loss,
                packed_run.loss
            );
            for (i, (a, b)) in padded_run.stats.iter().zip(&packed_run.stats).enumerate() {
                assert!(close(*a, *b, 1e-5), "{what}: statistic {i}: {a} vs {b}");
            }
            assert_eq!(padded_run.grads.len(), packed_run.grads.len(), "{what}");
            assert!(padded_run.grads.len() > 20, "{what}: every layer's parameters have gradients");
            for (p, (a, b)) in padded_run.grads.iter().zip(&packed_run.grads).enumerate() {
                let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-4 * scale,
                        "{what}: parameter {p}, element {i}: {x} (padded) vs {y} (packed)"
                    );
                }
            }
        }
    }
}
