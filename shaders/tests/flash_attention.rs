//! Flash attention against plain-Rust attention in f64: the output for causal, padding,
//! broadcast and missing masks, one-query decoding and sequences longer than a tile; the
//! gradients of q, k and v against central finite differences. Needs a wgpu adapter (CI:
//! lavapipe).

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use cringe_shaders::attention::{flash_attention, supports};
use rand::{Rng, SeedableRng, rngs::StdRng};

const MASKED: f64 = -1e20;

/// Shapes of one case: batch, heads, queries, keys, head dimension.
#[derive(Debug, Clone, Copy)]
struct Shape {
    b: usize,
    h: usize,
    tq: usize,
    tk: usize,
    d: usize,
}

/// Additive mask `[bb, 1, bq, tk]` (flattened) or none.
#[derive(Debug, Clone)]
struct Mask {
    bb: usize,
    bq: usize,
    values: Vec<f64>,
}

fn causal(t: usize) -> Mask {
    let values = (0..t * t).map(|x| if x % t > x / t { MASKED } else { 0.0 }).collect();
    Mask { bb: 1, bq: t, values }
}

/// Key padding per batch row: the last `pads[b]` keys are masked.
fn padding(tk: usize, pads: &[usize]) -> Mask {
    let values = pads
        .iter()
        .flat_map(|&p| (0..tk).map(move |j| if j + p >= tk { MASKED } else { 0.0 }))
        .collect();
    Mask { bb: pads.len(), bq: 1, values }
}

/// Plain attention, f64: `out[b,h,i,:] = Σ_j softmax_j(q_i·k_j + mask) v_j`.
fn reference(s: Shape, q: &[f64], k: &[f64], v: &[f64], mask: Option<&Mask>) -> Vec<f64> {
    let mut out = vec![0.0; s.b * s.h * s.tq * s.d];
    for b in 0..s.b {
        for h in 0..s.h {
            let bh = b * s.h + h;
            for i in 0..s.tq {
                let scores: Vec<f64> = (0..s.tk)
                    .map(|j| {
                        let dot: f64 = (0..s.d)
                            .map(|d| q[(bh * s.tq + i) * s.d + d] * k[(bh * s.tk + j) * s.d + d])
                            .sum();
                        let bias = mask
                            .map_or(0.0, |m| m.values[((b % m.bb) * m.bq + i % m.bq) * s.tk + j]);
                        dot + bias
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = scores.iter().map(|x| (x - mx).exp()).sum();
                for (j, x) in scores.iter().enumerate() {
                    let p = (x - mx).exp() / z;
                    for d in 0..s.d {
                        out[(bh * s.tq + i) * s.d + d] += p * v[(bh * s.tk + j) * s.d + d];
                    }
                }
            }
        }
    }
    out
}

fn random(n: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
}

fn tensor(x: &[f64], shape: [usize; 4], dev: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), dev)
}

fn mask_tensor(m: &Mask, s: Shape, dev: &Device) -> Tensor<4> {
    tensor(&m.values, [m.bb, 1, m.bq, s.tk], dev)
}

#[test]
fn output_matches_plain_attention() {
    let dev = common::wgpu();
    let mut rng = StdRng::seed_from_u64(1);
    let cases: Vec<(Shape, Option<Mask>)> = vec![
        (Shape { b: 2, h: 3, tq: 9, tk: 9, d: 8 }, Some(causal(9))),
        (Shape { b: 1, h: 2, tq: 45, tk: 45, d: 64 }, Some(causal(45))),
        (Shape { b: 3, h: 2, tq: 6, tk: 40, d: 16 }, Some(padding(40, &[0, 7, 39]))),
        (Shape { b: 2, h: 4, tq: 1, tk: 13, d: 32 }, Some(padding(13, &[2, 0]))),
        (Shape { b: 2, h: 2, tq: 5, tk: 70, d: 80 }, None),
        // every key masked: uniform weights, as the decomposed softmax gives
        (Shape { b: 1, h: 1, tq: 3, tk: 4, d: 4 }, Some(padding(4, &[4]))),
    ];
    for (s, mask) in cases {
        assert!(supports(&dev, s.d));
        let (q, k, v) = (
            random(s.b * s.h * s.tq * s.d, &mut rng),
            random(s.b * s.h * s.tk * s.d, &mut rng),
            random(s.b * s.h * s.tk * s.d, &mut rng),
        );
        let want = reference(s, &q, &k, &v, mask.as_ref());
        let got = flash_attention(
            tensor(&q, [s.b, s.h, s.tq, s.d], &dev),
            tensor(&k, [s.b, s.h, s.tk, s.d], &dev),
            tensor(&v, [s.b, s.h, s.tk, s.d], &dev),
            mask.as_ref().map(|m| mask_tensor(m, s, &dev)),
        );
        assert_eq!(got.dims(), [s.b, s.h, s.tq, s.d]);
        let got = got.into_data().try_to_vec::<f32>().unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (*g as f64 - w).abs() < 1e-5,
                "{s:?} mask {:?}: element {i}: kernel {g}, reference {w}",
                mask.as_ref().map(|m| (m.bb, m.bq))
            );
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let dev = common::wgpu().autodiff();
    let mut rng = StdRng::seed_from_u64(2);
    let cases: Vec<(Shape, Option<Mask>)> = vec![
        (Shape { b: 2, h: 2, tq: 5, tk: 5, d: 4 }, Some(causal(5))),
        (Shape { b: 2, h: 1, tq: 3, tk: 37, d: 3 }, Some(padding(37, &[1, 20]))),
        (Shape { b: 1, h: 2, tq: 34, tk: 6, d: 2 }, None),
    ];
    for (s, mask) in cases {
        let nq = s.b * s.h * s.tq * s.d;
        let nk = s.b * s.h * s.tk * s.d;
        let (q, k, v) = (random(nq, &mut rng), random(nk, &mut rng), random(nk, &mut rng));
        let w = random(nq, &mut rng);
        let (tq_, tk_, tv_) = (
            tensor(&q, [s.b, s.h, s.tq, s.d], &dev).require_grad(),
            tensor(&k, [s.b, s.h, s.tk, s.d], &dev).require_grad(),
            tensor(&v, [s.b, s.h, s.tk, s.d], &dev).require_grad(),
        );
        let out = flash_attention(
            tq_.clone(),
            tk_.clone(),
            tv_.clone(),
            mask.as_ref().map(|m| mask_tensor(m, s, &dev)),
        );
        let loss = (out * tensor(&w, [s.b, s.h, s.tq, s.d], &dev)).sum();
        let grads = loss.backward();
        let grad_of =
            |t: &Tensor<4>| t.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let (gq, gk, gv) = (grad_of(&tq_), grad_of(&tk_), grad_of(&tv_));
        let f = |q: &[f64], k: &[f64], v: &[f64]| -> f64 {
            reference(s, q, k, v, mask.as_ref()).iter().zip(&w).map(|(o, w)| o * w).sum()
        };
        let h = 1e-5;
        let check = |name: &str, got: &[f32], which: usize| {
            for (i, g) in got.iter().enumerate() {
                let (mut a, mut b) =
                    ([q.clone(), k.clone(), v.clone()], [q.clone(), k.clone(), v.clone()]);
                a[which][i] += h;
                b[which][i] -= h;
                let fd = (f(&a[0], &a[1], &a[2]) - f(&b[0], &b[1], &b[2])) / (2.0 * h);
                assert!(
                    (*g as f64 - fd).abs() < 2e-4,
                    "{s:?}: d{name}[{i}]: kernel {g}, finite difference {fd}"
                );
            }
        };
        check("q", &gq, 0);
        check("k", &gk, 1);
        check("v", &gv, 2);
    }
}
