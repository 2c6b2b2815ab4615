//! The SwiGLU feed-forward layer: `down(silu(gate(x)) · up(x))`.

use super::config::CausalConfig;
use crate::kernels::swiglu::swiglu;
use crate::model::precision;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Gate, up and down projections, named as in the checkpoints.
#[derive(Module, Debug)]
pub struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    /// Freshly initialised projections (normal, `initializer_range`).
    pub fn new(cfg: &CausalConfig, device: &Device) -> Self {
        let (d, f) = (cfg.hidden_size, cfg.intermediate_size);
        let lin = |a, b| linear(a, b, cfg.mlp_bias, cfg.initializer_range, device);
        Self { gate_proj: lin(d, f), up_proj: lin(d, f), down_proj: lin(f, d) }
    }

    /// `[..., D]` → `[..., D]`.
    pub fn forward<const N: usize>(&self, x: Tensor<N>) -> Tensor<N> {
        let gate = precision::linear(&self.gate_proj, x.clone());
        let up = precision::linear(&self.up_proj, x);
        precision::linear(&self.down_proj, swiglu(gate, up))
    }
}

/// A linear layer `a → b` initialised as `transformers` initialises Llama's: weights from
/// N(0, std²), biases zero.
pub(super) fn linear(a: usize, b: usize, bias: bool, std: f64, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(a, b)
        .with_bias(bias)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device);
    if layer.bias.is_some() {
        layer.bias = Some(Param::from_tensor(Tensor::zeros([b], device)));
    }
    layer
}
