//! Gradient clipping by the global norm over all parameters (PyTorch's `clip_grad_norm_`, what
//! ParlAI's `--gradient-clip` does). Burn's own clipping works tensor by tensor.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// The global L2 norm of all gradients of `module`.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut v = SquaredNorm { grads, sum: None };
    module.visit(&mut v);
    v.sum.map(|s| (s.into_scalar::<f32>() as f64).sqrt()).unwrap_or(0.0)
}

/// Multiplies every gradient of `module` by `factor`.
pub fn scale_grads<M: Module>(module: &M, grads: &mut GradientsParams, factor: f64) {
    module.visit(&mut Scale { grads, factor });
}

/// Scales all gradients so their global norm — `norm`, already measured — is at most
/// `max_norm`.
pub fn clip_to_norm<M: Module>(module: &M, grads: &mut GradientsParams, norm: f64, max_norm: f64) {
    if norm > max_norm && norm.is_finite() {
        scale_grads(module, grads, max_norm / (norm + 1e-6));
    }
}

/// Scales all gradients so their global norm is at most `max_norm`; returns the norm before
/// clipping.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let norm = global_norm(module, grads);
    clip_to_norm(module, grads, norm, max_norm);
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    #[test]
    fn clips_to_the_global_norm() {
        let dev = Device::flex().autodiff();
        let lin: Linear = LinearConfig::new(3, 2).init(&dev);
        let x = Tensor::<2>::ones([4, 3], &dev);
        let loss = lin.forward(x).sum().mul_scalar(10.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &lin);
        // d/dW = 10 * sum over 4 rows of x = 40 for each of 6 weights; d/db = 40 for 2 biases
        let norm = global_norm(&lin, &grads);
        assert!((norm - (8.0f64 * 1600.0).sqrt()).abs() < 1e-3, "{norm}");
        let before = clip_global_norm(&lin, &mut grads, 1.0);
        assert!((before - norm).abs() < 1e-9);
        assert!((global_norm(&lin, &grads) - 1.0).abs() < 1e-4);
        // under the limit nothing changes
        assert!((clip_global_norm(&lin, &mut grads, 10.0) - 1.0).abs() < 1e-4);
        assert!((global_norm(&lin, &grads) - 1.0).abs() < 1e-4);
    }
}
