//! Dropout with a fast, reproducible keep-mask on the CPU.
//!
//! Burn's `Dropout::forward` draws a Bernoulli tensor; on the CPU backend that is one ChaCha
//! draw per element on a single thread — 7% of a `small` CPU training step's processor time,
//! with the other core idle meanwhile. Here, on CPU devices, each element's keep decision is a
//! counter-based hash (SplitMix64) of the thread's dropout seed, the call's sequence number and
//! the element's index: computed on all cores, already scaled by 1 / keep (one multiply in the
//! forward pass, one in the backward), and the same on any number of threads. GPU devices keep
//! Burn's on-device Bernoulli draw. The model's `burn::nn::Dropout` fields (probability and
//! training flag) are read as they are, so model files do not change.

use burn::nn::Dropout;
use burn::tensor::{Tensor, TensorData};
use std::cell::Cell;

thread_local! {
    /// (seed, masks drawn since it was set) of this thread's dropout stream.
    static STREAM: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Restarts this thread's dropout stream from `seed` (the trainer calls it with the step's
/// seed, next to `Device::seed`), so a training step's masks depend only on the seed.
pub fn seed(seed: u64) {
    STREAM.with(|s| s.set((seed, 0)));
}

/// `dropout.forward(x)` with the CPU mask above: the identity unless the layer is in
/// training mode, on an autodiff device, with a probability above zero.
pub fn forward<const D: usize>(dropout: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !dropout.training.is_enabled() || !device.is_autodiff() || dropout.prob == 0.0 {
        return x;
    }
    if !crate::kernels::cpu::is_cpu(&device) {
        return dropout.forward(x);
    }
    let keep = 1.0 - dropout.prob;
    let shape = x.shape();
    let key = STREAM.with(|s| {
        let (seed, calls) = s.get();
        s.set((seed, calls + 1));
        mix(seed ^ mix(calls.wrapping_add(0x5851_F42D_4C95_7F2D)))
    });
    let mask = keep_mask(key, shape.num_elements(), keep);
    x * Tensor::<D>::from_data(TensorData::new(mask, shape), &device)
}

/// SplitMix64's finaliser: a bijective 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `len` values: 1 / keep where the element's uniform number (the top 24 bits of its hash) is
/// below `keep`, else 0.
pub fn keep_mask(key: u64, len: usize, keep: f64) -> Vec<f32> {
    let threshold = (keep * (1u64 << 24) as f64).round() as u64;
    let scale = (1.0 / keep) as f32;
    let value = move |i: usize| {
        let u = mix(key.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))) >> 40;
        if u < threshold { scale } else { 0.0 }
    };
    crate::kernels::cpu::map_indexed(len, value)
}

/// Burn's Bernoulli draw, for comparison in tests.
#[cfg(test)]
fn burn_reference<const D: usize>(x: Tensor<D>, keep: f64) -> Tensor<D> {
    use burn::tensor::Distribution;
    x.clone() * x.random_like(Distribution::Bernoulli(keep)) / keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    fn autodiff_cpu() -> Device {
        Device::flex().autodiff()
    }

    #[test]
    fn keeps_the_expected_share_scaled_by_one_over_keep() {
        let m = keep_mask(7, 200_000, 0.9);
        let kept = m.iter().filter(|&&v| v > 0.0).count() as f64 / m.len() as f64;
        assert!((kept - 0.9).abs() < 0.003, "kept {kept}");
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.9).abs() < 1e-6));
        // the mean is preserved, as with Burn's Bernoulli draw
        let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len() as f64;
        assert!((mean - 1.0).abs() < 0.005, "mean {mean}");
        let x = Tensor::<1>::ones([200_000], &Device::flex());
        let burn_mean = burn_reference(x, 0.9).mean().into_scalar::<f32>() as f64;
        assert!((burn_mean - 1.0).abs() < 0.005, "burn mean {burn_mean}");
    }

    #[test]
    fn neighbouring_elements_and_calls_are_independent() {
        let a = keep_mask(1, 100_000, 0.5);
        let b = keep_mask(2, 100_000, 0.5);
        let both = |p: &[f32], q: &[f32]| {
            p.iter().zip(q).filter(|(x, y)| **x > 0.0 && **y > 0.0).count() as f64 / p.len() as f64
        };
        assert!((both(&a, &b) - 0.25).abs() < 0.01);
        assert!((both(&a[..99_999], &a[1..]) - 0.25).abs() < 0.01);
    }

    #[test]
    fn the_seed_fixes_the_masks_and_inference_is_the_identity() {
        let dev = autodiff_cpu();
        let d = DropoutConfig::new(0.3).init();
        let x = Tensor::<2>::ones([64, 300], &dev);
        seed(5);
        let a = forward(&d, x.clone()).into_data();
        let b = forward(&d, x.clone()).into_data();
        seed(5);
        assert_eq!(forward(&d, x.clone()).into_data(), a);
        assert_ne!(a, b, "a second call draws a new mask");
        let plain = Tensor::<2>::ones([64, 300], &Device::flex());
        assert_eq!(
            forward(&d, plain.clone()).into_data(),
            plain.into_data(),
            "no autodiff: no dropout"
        );
    }

    #[test]
    fn the_gradient_is_the_mask() {
        let dev = autodiff_cpu();
        let d = DropoutConfig::new(0.25).init();
        let x =
            Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &dev).require_grad();
        seed(11);
        let y = forward(&d, x.clone());
        let grads = (y.clone() * 3.0).sum().backward();
        let g = x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let y = y.into_data().try_to_vec::<f32>().unwrap();
        for (i, (gi, yi)) in g.iter().zip(&y).enumerate() {
            let m = yi / (i as f32 + 1.0);
            assert!(m == 0.0 || (m - 1.0 / 0.75).abs() < 1e-6, "mask value {m}");
            assert!((gi - 3.0 * m).abs() < 1e-5, "grad {gi} vs 3 × mask {m}");
        }
    }
}
