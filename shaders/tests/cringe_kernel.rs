//! The fused CRINGE kernel against a reference written out in plain Rust (f64): forward values
//! per token, and the gradient against central finite differences of that reference. Needs a
//! wgpu adapter (CI: lavapipe, Mesa's CPU Vulkan driver).

mod common;

use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_shaders::cringe::{col, cringe_rows, supports};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// One token of the reference: log-sum-exp, CE, candidate (given the draw), CT, arg-max.
struct RefRow {
    lse: f64,
    ce: f64,
    sampled: usize,
    ct: f64,
    argmax: usize,
}

fn softplus(x: f64) -> f64 {
    if x > 0.0 { x + (-x).exp().ln_1p() } else { x.exp().ln_1p() }
}

fn lse(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// The CRINGE token terms by the book: sort the row, take the k+1 best, drop the target (or
/// the last), sample by inverse CDF of the softmax over the k left.
fn reference_row(x: &[f64], target: usize, sign: f64, u: f64, k: usize) -> RefRow {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[b].partial_cmp(&x[a]).unwrap().then(a.cmp(&b)));
    let mut top: Vec<usize> = order[..k + 1].to_vec();
    match top.iter().position(|&i| i == target) {
        Some(p) => {
            top.remove(p);
        }
        None => {
            top.pop();
        }
    }
    let m = x[top[0]];
    let z: f64 = top.iter().map(|&i| (x[i] - m).exp()).sum();
    let mut cdf = 0.0;
    let mut rank = 0;
    for &i in &top {
        cdf += (x[i] - m).exp() / z;
        if cdf < u {
            rank += 1;
        }
    }
    let sampled = top[rank.min(k - 1)];
    let l = lse(x);
    RefRow {
        lse: l,
        ce: l - x[target],
        sampled,
        ct: softplus(sign * (x[target] - x[sampled])),
        argmax: order[0],
    }
}

fn device() -> Device {
    common::wgpu()
}

struct Case {
    logits: Vec<f32>,
    targets: Vec<i64>,
    signs: Vec<f32>,
    draws: Vec<f32>,
    n: usize,
    v: usize,
}

/// Random rows; a third of the targets are the row's best logit and a third its second best,
/// so the kernel's "drop the target" path is exercised as much as the "drop the last" one.
fn case(n: usize, v: usize, seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let logits: Vec<f32> = (0..n * v).map(|_| rng.random::<f32>() * 8.0 - 4.0).collect();
    let targets = (0..n)
        .map(|r| {
            let row = &logits[r * v..(r + 1) * v];
            let mut order: Vec<usize> = (0..v).collect();
            order.sort_by(|&a, &b| row[b].partial_cmp(&row[a]).unwrap());
            (match r % 3 {
                0 => order[0],
                1 => order[1],
                _ => rng.random_range(0..v),
            }) as i64
        })
        .collect();
    let signs = (0..n).map(|r| if r % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let draws = (0..n).map(|_| rng.random::<f32>()).collect();
    Case { logits, targets, signs, draws, n, v }
}

fn tensors(c: &Case, dev: &Device) -> (Tensor<2>, Tensor<1, Int>, Tensor<1>, Tensor<1>) {
    (
        Tensor::from_data(TensorData::new(c.logits.clone(), [c.n, c.v]), dev),
        Tensor::from_data(TensorData::new(c.targets.clone(), [c.n]), dev),
        Tensor::from_data(TensorData::new(c.signs.clone(), [c.n]), dev),
        Tensor::from_data(TensorData::new(c.draws.clone(), [c.n]), dev),
    )
}

fn row_f64(c: &Case, r: usize) -> Vec<f64> {
    c.logits[r * c.v..(r + 1) * c.v].iter().map(|&x| x as f64).collect()
}

#[test]
fn forward_matches_the_reference() {
    let dev = device();
    // vocabularies below, at and above the cube's 256 units; k = 1 (deterministic) up to 7
    for (n, v, k, seed) in [(9, 50, 1, 1), (31, 256, 5, 2), (40, 1000, 7, 3), (17, 3001, 3, 4)] {
        assert!(supports(&dev, n, v, k));
        let c = case(n, v, seed);
        let (logits, targets, signs, draws) = tensors(&c, &dev);
        let out = cringe_rows(logits, targets, signs, draws, k, false)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for r in 0..n {
            let want = reference_row(
                &row_f64(&c, r),
                c.targets[r] as usize,
                c.signs[r] as f64,
                c.draws[r] as f64,
                k,
            );
            let got = &out[r * col::COUNT..(r + 1) * col::COUNT];
            let ctx = format!("{n}x{v} k={k} row {r}: got {got:?}");
            assert_eq!(got[col::SAMPLED] as usize, want.sampled, "{ctx}");
            assert_eq!(got[col::ARGMAX] as usize, want.argmax, "{ctx}");
            for (g, w) in
                [(got[col::CE], want.ce), (got[col::CT], want.ct), (got[col::LSE], want.lse)]
            {
                assert!((g as f64 - w).abs() < 1e-4 * w.abs().max(1.0), "{ctx}, want {w}");
            }
        }
    }
}

#[test]
fn gradient_matches_finite_differences_of_the_reference() {
    let dev = device().autodiff();
    let (n, v, k) = (6, 300, 4);
    let c = case(n, v, 9);
    let mut rng = StdRng::seed_from_u64(10);
    let w_ce: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
    let w_ct: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 2.0).collect();
    for detach in [false, true] {
        let (logits, targets, signs, draws) = tensors(&c, &dev);
        let logits = logits.require_grad();
        let out = cringe_rows(logits.clone(), targets, signs, draws, k, detach);
        let weights = |w: &Vec<f64>| {
            Tensor::<1>::from_data(
                TensorData::new(w.iter().map(|&x| x as f32).collect::<Vec<_>>(), [n]),
                &dev,
            )
        };
        let ce = out.clone().slice([0..n, col::CE..col::CE + 1]).reshape([n]);
        let ct = out.clone().slice([0..n, col::CT..col::CT + 1]).reshape([n]);
        let loss = (ce * weights(&w_ce)).sum() + (ct * weights(&w_ct)).sum();
        let grad = logits.grad(&loss.backward()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let sampled: Vec<usize> = out
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
            .chunks(col::COUNT)
            .map(|r| r[col::SAMPLED] as usize)
            .collect();
        for r in 0..n {
            let x0 = row_f64(&c, r);
            let (t, s) = (c.targets[r] as usize, c.signs[r] as f64);
            // the candidate is a discrete choice: hold it, and (detached) hold its logit too
            let f = |x: &[f64]| {
                let xc = if detach { x0[sampled[r]] } else { x[sampled[r]] };
                w_ce[r] * (lse(x) - x[t]) + w_ct[r] * softplus(s * (x[t] - xc))
            };
            for j in 0..v {
                let h = 1e-4;
                let (mut a, mut b) = (x0.clone(), x0.clone());
                a[j] += h;
                b[j] -= h;
                let fd = (f(&a) - f(&b)) / (2.0 * h);
                let g = grad[r * v + j] as f64;
                assert!(
                    (g - fd).abs() < 1e-4,
                    "detach={detach} row {r} col {j}: kernel {g}, finite difference {fd}"
                );
            }
        }
    }
}

#[test]
fn cpu_devices_are_not_supported() {
    assert!(!supports(&Device::flex(), 4, 100, 2));
    let dev = device();
    assert!(!supports(&dev, 4, 100, 100), "k must be below the vocabulary");
    assert!(!supports(&dev, 4, 1000, 40), "k + 1 above the register lists");
}
