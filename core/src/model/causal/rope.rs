//! Rotary position embeddings as Hugging Face's Llama applies them: each head's vector is
//! split into two halves `(x₁, x₂)` rotated pairwise by `θ_i·p`, i.e.
//! `x·cos + rotate_half(x)·sin` with `rotate_half(x) = (−x₂, x₁)`.
//!
//! (GGUF files store q/k rows for the *interleaved* pairing `(x₀, x₁), (x₂, x₃), …`; their
//! reader permutes the rows into this layout, so the model has one convention.)
//!
//! The frequencies follow the config: `θ_i = rope_theta^(−2i/d)`, optionally rescaled
//! (`linear`, or `llama3`'s wavelength bands). Tables are built on the host for the
//! positions of a batch, in f32 as `transformers` builds them.

use super::config::{CausalConfig, RopeScaling};
use burn::tensor::{Device, Tensor, TensorData};

/// The rotary frequencies of one head size.
#[derive(Debug, Clone)]
pub struct Rope {
    inv_freq: Vec<f32>,
}

/// Positions of the tokens of a `[rows, len]` block: one row shared by the whole batch
/// (`rows == 1`), or one per sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    /// 1, or the batch size.
    pub rows: usize,
    /// Tokens per row.
    pub len: usize,
    /// Row-major positions, `rows · len` of them.
    pub ids: Vec<usize>,
}

impl Positions {
    /// `start, start + 1, …` for every row.
    pub fn shared(start: usize, len: usize) -> Self {
        Self { rows: 1, len, ids: (start..start + len).collect() }
    }
}

impl Rope {
    /// The frequencies of `config` (`head_dim / 2` of them).
    pub fn new(config: &CausalConfig) -> Self {
        let d = config.head_dim;
        let base: Vec<f64> =
            (0..d / 2).map(|i| config.rope_theta.powf(-((2 * i) as f64) / d as f64)).collect();
        let scaled = match &config.rope_scaling {
            None => base,
            Some(RopeScaling::Linear { factor }) => base.iter().map(|f| f / factor).collect(),
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            }) => {
                let old = *original_max_position_embeddings as f64;
                let (low_wavelen, high_wavelen) = (old / low_freq_factor, old / high_freq_factor);
                base.iter()
                    .map(|&f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen < high_wavelen {
                            f
                        } else if wavelen > low_wavelen {
                            f / factor
                        } else {
                            let smooth = (old / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect()
            }
        };
        Self { inv_freq: scaled.into_iter().map(|f| f as f32).collect() }
    }

    /// `cos` and `sin` tables `[rows, 1, len, head_dim]` for `positions` (broadcast over heads).
    pub fn tables(&self, positions: &Positions, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let half = self.inv_freq.len();
        let n = positions.ids.len() * 2 * half;
        let (mut cos, mut sin) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for &p in &positions.ids {
            for _ in 0..2 {
                for &f in &self.inv_freq {
                    // the angle rounded to f32 as transformers computes it, then cos/sin of it
                    let angle = (p as f32 * f) as f64;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        let shape = [positions.rows, 1, positions.len, 2 * half];
        let table = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, shape), device);
        (table(cos), table(sin))
    }
}

/// Rotates `x` `[B,H,T,D]` by the tables of [`Rope::tables`].
pub fn apply(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let half = d / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scaling: Option<RopeScaling>) -> CausalConfig {
        CausalConfig {
            head_dim: 64,
            rope_theta: 500_000.0,
            rope_scaling: scaling,
            ..CausalConfig::tiny(8)
        }
    }

    #[test]
    fn llama3_scaling_keeps_short_wavelengths_and_divides_long_ones() {
        let plain = Rope::new(&config(None));
        let scaled = Rope::new(&config(Some(RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        })));
        let wavelen = |f: f32| 2.0 * std::f32::consts::PI / f;
        for (&p, &s) in plain.inv_freq.iter().zip(&scaled.inv_freq) {
            if wavelen(p) < 2048.0 {
                assert_eq!(p, s);
            } else if wavelen(p) > 8192.0 {
                assert!((s - p / 8.0).abs() <= 1e-6 * p, "{p} → {s}");
            } else {
                assert!(s < p && s > p / 8.0, "{p} → {s} should lie between");
            }
        }
        assert_eq!(plain.inv_freq[0], 1.0);
    }

    #[test]
    fn rotation_preserves_each_pair_norm_and_position_zero_is_identity() {
        let dev = Device::flex();
        let rope = Rope::new(&config(None));
        let x =
            Tensor::<4>::random([1, 2, 3, 64], burn::tensor::Distribution::Normal(0.0, 1.0), &dev);
        let (cos, sin) = rope.tables(&Positions::shared(0, 3), &dev);
        let y = apply(x.clone(), &cos, &sin);
        let (xs, ys) =
            (x.to_data().try_to_vec::<f32>().unwrap(), y.to_data().try_to_vec::<f32>().unwrap());
        for row in 0..6 {
            for i in 0..32 {
                let (a, b) = (row * 64 + i, row * 64 + i + 32);
                let (nx, ny) = (xs[a].hypot(xs[b]), ys[a].hypot(ys[b]));
                assert!((nx - ny).abs() < 1e-5, "pair norm {nx} → {ny}");
                if row % 3 == 0 {
                    assert_eq!((xs[a], xs[b]), (ys[a], ys[b]), "position 0 is not rotated");
                }
            }
        }
    }
}
