//! One decoder block of the causal LM: pre-norm attention and pre-norm SwiGLU, each added
//! back to the residual stream.

use super::attention::{AttentionInputs, CausalAttention};
use super::cache::LayerKv;
use super::config::CausalConfig;
use super::mlp::Mlp;
use super::norm::RmsNorm;
use crate::model::packing::Packing;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// `x + attn(norm₁(x))`, then `h + mlp(norm₂(h))`; names as in the checkpoints.
#[derive(Module, Debug)]
pub struct CausalBlock {
    input_layernorm: RmsNorm,
    self_attn: CausalAttention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl CausalBlock {
    /// A freshly initialised block.
    pub fn new(cfg: &CausalConfig, device: &Device) -> Self {
        let norm = || RmsNorm::new(cfg.hidden_size, cfg.rms_norm_eps, device);
        Self {
            input_layernorm: norm(),
            self_attn: CausalAttention::new(cfg, device),
            post_attention_layernorm: norm(),
            mlp: Mlp::new(cfg, device),
        }
    }

    /// The block on packed rows `x` `[N,D]` (see [`CausalAttention::forward_rows`]).
    pub fn forward_rows(
        &self,
        x: Tensor<2>,
        rows: &Packing,
        inputs: &AttentionInputs,
        cache: Option<&mut LayerKv>,
    ) -> Tensor<2> {
        let attended = self.self_attn.forward_rows(
            self.input_layernorm.forward(x.clone()),
            rows,
            inputs,
            cache,
        );
        let h = x + attended;
        let ffn = self.mlp.forward(self.post_attention_layernorm.forward(h.clone()));
        h + ffn
    }
}
