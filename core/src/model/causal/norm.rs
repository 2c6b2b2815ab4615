//! RMSNorm as Llama defines it: `x / sqrt(mean(x²) + ε) · weight`, over the last dimension,
//! in f32 (also under autocast, as `transformers` computes it). The parameter is named
//! `weight`, as in the checkpoints.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// Root-mean-square normalisation with a learned scale.
#[derive(Module, Debug)]
pub struct RmsNorm {
    weight: Param<Tensor<1>>,
    eps: f64,
}

impl RmsNorm {
    /// A norm of width `dim` with unit scale.
    pub fn new(dim: usize, eps: f64, device: &Device) -> Self {
        Self { weight: Param::from_tensor(Tensor::ones([dim], device)), eps }
    }

    /// Normalises the last dimension of `x`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let rms = x.clone().square().mean_dim(D - 1).add_scalar(self.eps).sqrt();
        let weight = self.weight.val().unsqueeze::<D>();
        x / rms * weight
    }
}
