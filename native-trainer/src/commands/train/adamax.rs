//! Adamax (Kingma & Ba 2015, §7.1), the optimizer of the seed's DIRECTOR classifier command
//! (`--optimizer adamax`). Burn 0.22 has Adam, AdamW and others but not Adamax, so it is
//! written here against Burn's per-tensor [`Optimizer`] trait, with PyTorch's
//! `torch.optim.Adamax` update (what ParlAI calls):
//!
//! m ← β1·m + (1−β1)·g;  u ← max(β2·u, |g| + ε);  θ ← θ − lr / (1 − β1^t) · m / u.
//!
//! Its state (t, m, u per parameter) round-trips through Burn's optimizer record like Adam's,
//! so checkpoints and exact resume work the same.

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Adamax with PyTorch's defaults for β and ε.
#[derive(Debug, Clone, Copy)]
pub struct Adamax {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the infinity norm.
    pub beta_2: f32,
    /// Added to |g| in the norm (PyTorch's placement).
    pub epsilon: f32,
}

impl Default for Adamax {
    fn default() -> Self {
        Self { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8 }
    }
}

impl Adamax {
    /// The optimizer for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

/// One parameter's Adamax state.
#[derive(Clone)]
pub struct AdamaxState<const D: usize> {
    /// Updates made.
    pub time: usize,
    /// First moment m.
    pub moment: Tensor<D>,
    /// Exponentially weighted infinity norm u.
    pub inf_norm: Tensor<D>,
}

impl<const D: usize> RecordState for AdamaxState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "time", burn_pack::Scalar::from(self.time));
        out.push_tensor(prefix, "moment", self.moment.to_data());
        out.push_tensor(prefix, "inf_norm", self.inf_norm.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let time = usize::try_from(src.take_scalar(prefix, "time")?).ok()?;
        let moment = Tensor::from_data(src.take_tensor(prefix, "moment")?, device);
        let inf_norm = Tensor::from_data(src.take_tensor(prefix, "inf_norm")?, device);
        Some(Self { time, moment, inf_norm })
    }
}

impl Optimizer for Adamax {
    type State<const D: usize> = AdamaxState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let abs = grad.clone().abs().add_scalar(self.epsilon);
        let state = match state {
            Some(s) => AdamaxState {
                time: s.time + 1,
                moment: s.moment.mul_scalar(self.beta_1) + grad.mul_scalar(1.0 - self.beta_1),
                inf_norm: s.inf_norm.mul_scalar(self.beta_2).max_pair(abs),
            },
            None => {
                AdamaxState { time: 1, moment: grad.mul_scalar(1.0 - self.beta_1), inf_norm: abs }
            }
        };
        let correction = 1.0 - (self.beta_1 as f64).powi(state.time as i32);
        let delta = (state.moment.clone() / state.inf_norm.clone()).mul_scalar(lr / correction);
        (tensor - delta, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamaxState {
            time: state.time,
            moment: state.moment.to_device(device),
            inf_norm: state.inf_norm.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch 2.x `torch.optim.Adamax(lr=0.1)` on θ = [1, -2] with gradients g1 = [0.5, -1],
    /// g2 = [-0.25, 3], worked by hand from its documented update.
    #[test]
    fn two_steps_follow_pytorchs_adamax_update() {
        let dev = Device::flex();
        let opt = Adamax::default();
        let theta = Tensor::<1>::from_floats([1.0, -2.0], &dev);
        let (theta, s) = opt.step(0.1, theta, Tensor::from_floats([0.5, -1.0], &dev), None);
        // t=1: m = 0.1 g, u = |g| + ε, step = 0.1 / 0.1 · m / u = 0.1 · sign(g)
        let got: Vec<f32> = theta.to_data().try_to_vec::<f32>().unwrap();
        assert!((got[0] - 0.9).abs() < 1e-6 && (got[1] + 1.9).abs() < 1e-6, "{got:?}");
        let (theta, s) = opt.step(0.1, theta, Tensor::from_floats([-0.25, 3.0], &dev), s);
        // t=2: m = 0.9·0.1g1 + 0.1g2; u = max(0.999|g1|, |g2|); correction 1 − 0.81 = 0.19
        let m = [0.9 * 0.05 + 0.1 * -0.25, 0.9 * -0.1 + 0.1 * 3.0];
        let u = [0.999 * 0.5f64, 3.0];
        let want = [0.9 - 0.1 / 0.19 * m[0] / u[0], -1.9 - 0.1 / 0.19 * m[1] / u[1]];
        let got: Vec<f32> = theta.to_data().try_to_vec::<f32>().unwrap();
        for i in 0..2 {
            assert!((got[i] as f64 - want[i]).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        assert_eq!(s.unwrap().time, 2);
    }
}
