//! Grouped-query self-attention of the causal LM, as `transformers`' `LlamaAttention`:
//! q/k/v projections (biased in Qwen2), an RMSNorm per query and key head (Qwen3), rotary
//! positions on queries and keys, each key/value head shared by `heads / kv_heads` query
//! heads, and the output projection.
//!
//! Rows arrive packed ([`Packing`]): the projections run on real positions only and the
//! attention itself on the padded `[B,H,T,D]` layout, as for the BB1 generator. Keys and
//! values stay per key/value head ([`grouped_context`]); on GPU devices the product is the
//! flash-attention kernel (feature `gpu-kernels`).

use super::cache::LayerKv;
use super::config::CausalConfig;
use super::mlp::linear;
use super::norm::RmsNorm;
use super::rope;
use crate::model::attention::grouped_context;
use crate::model::packing::Packing;
use crate::model::precision;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};

/// What every block's attention shares in one forward: the rotary tables and the mask.
#[derive(Debug, Clone)]
pub struct AttentionInputs {
    /// `cos` `[B|1,1,T,head_dim]`.
    pub cos: Tensor<4>,
    /// `sin`, same shape.
    pub sin: Tensor<4>,
    /// Additive mask `[B|1,1,T,Tk]` (causal, and left pads as keys), or none when nothing is
    /// hidden (one new token without pads).
    pub bias: Option<Tensor<4>>,
}

/// Self-attention with grouped key/value heads.
#[derive(Module, Debug)]
pub struct CausalAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    attn_dropout: Dropout,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl CausalAttention {
    /// Freshly initialised projections (normal, `initializer_range`; biases zero).
    pub fn new(cfg: &CausalConfig, device: &Device) -> Self {
        let (d, hd, std) = (cfg.hidden_size, cfg.head_dim, cfg.initializer_range);
        let (q, kv) = (cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd);
        let norm = || cfg.qk_norm.then(|| RmsNorm::new(hd, cfg.rms_norm_eps, device));
        Self {
            q_proj: linear(d, q, cfg.qkv_bias, std, device),
            k_proj: linear(d, kv, cfg.qkv_bias, std, device),
            v_proj: linear(d, kv, cfg.qkv_bias, std, device),
            o_proj: linear(q, d, cfg.o_bias, std, device),
            q_norm: norm(),
            k_norm: norm(),
            attn_dropout: DropoutConfig::new(cfg.attention_dropout).init(),
            heads: cfg.num_attention_heads,
            kv_heads: cfg.num_key_value_heads,
            head_dim: hd,
        }
    }

    /// Attention over packed rows `x` `[N,D]` of a `[B,T]` block laid out by `rows`. With a
    /// cache, the block's keys and values are appended to it and the queries attend to all
    /// of them. Returns `[N,D]`.
    pub fn forward_rows(
        &self,
        x: Tensor<2>,
        rows: &Packing,
        inputs: &AttentionInputs,
        cache: Option<&mut LayerKv>,
    ) -> Tensor<2> {
        let [b, t] = [rows.batch(), rows.padded_len()];
        let q = self.heads_of(rows.unpack(precision::linear(&self.q_proj, x.clone())), self.heads);
        let k =
            self.heads_of(rows.unpack(precision::linear(&self.k_proj, x.clone())), self.kv_heads);
        let v = self.heads_of(rows.unpack(precision::linear(&self.v_proj, x)), self.kv_heads);
        let (q, k) = match (&self.q_norm, &self.k_norm) {
            (Some(qn), Some(kn)) => (qn.forward(q), kn.forward(k)),
            _ => (q, k),
        };
        // [B,T,H,hd] → [B,H,T,hd], then rotate
        let q = rope::apply(q.swap_dims(1, 2), &inputs.cos, &inputs.sin);
        let k = rope::apply(k.swap_dims(1, 2), &inputs.cos, &inputs.sin);
        let v = v.swap_dims(1, 2);
        let (k, v) = match cache {
            Some(kv) => kv.append(k, v),
            None => (k, v),
        };
        let q = q.div_scalar((self.head_dim as f64).sqrt());
        let out = grouped_context(q, k, v, inputs.bias.clone(), &self.attn_dropout);
        let out = out.swap_dims(1, 2).reshape([b, t, self.heads * self.head_dim]);
        precision::linear(&self.o_proj, rows.pack(out))
    }

    /// `[B,T,n·hd]` → `[B,T,n,hd]`.
    fn heads_of(&self, x: Tensor<3>, n: usize) -> Tensor<4> {
        let [b, t, _] = x.dims();
        x.reshape([b, t, n, self.head_dim])
    }
}
