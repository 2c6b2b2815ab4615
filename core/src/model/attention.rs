//! Multi-head attention as in ParlAI's `MultiHeadAttention`, with an additive mask.
//!
//! Masks are additive biases broadcast over heads: 0 where a key may be attended to and
//! [`NEG_INF`](crate::mask::NEG_INF) where it may not, so padded and future positions get exactly zero weight.

use super::packing::Packing;
use super::precision;
use crate::kernels::dropout;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Query, key, value and output projections with `n_heads` heads.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    q_lin: Linear,
    k_lin: Linear,
    v_lin: Linear,
    out_lin: Linear,
    attn_dropout: Dropout,
    n_heads: usize,
}

impl MultiHeadAttention {
    /// Builds the layer with ParlAI's Xavier-normal initialisation.
    pub fn new(dim: usize, n_heads: usize, attention_dropout: f64, device: &Device) -> Self {
        let lin = || {
            LinearConfig::new(dim, dim)
                .with_initializer(Initializer::XavierNormal { gain: 1.0 })
                .init(device)
        };
        Self {
            q_lin: lin(),
            k_lin: lin(),
            v_lin: lin(),
            out_lin: lin(),
            attn_dropout: DropoutConfig::new(attention_dropout).init(),
            n_heads,
        }
    }

    /// Projects keys (or values) and splits them into heads: `[B,T,D]` → `[B,H,T,D/H]`.
    pub fn project_key(&self, x: Tensor<3>) -> Tensor<4> {
        self.split(precision::linear(&self.k_lin, x))
    }

    /// Projects values and splits them into heads: `[B,T,D]` → `[B,H,T,D/H]`.
    pub fn project_value(&self, x: Tensor<3>) -> Tensor<4> {
        self.split(precision::linear(&self.v_lin, x))
    }

    fn split(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, t, d] = x.dims();
        x.reshape([b, t, self.n_heads, d / self.n_heads]).swap_dims(1, 2)
    }

    /// Attends `query` `[B,Tq,D]` over already-projected keys and values `[B,H,Tk,D/H]`.
    ///
    /// `mask_bias` is `[B,1,Tq|1,Tk]`, added to the attention logits.
    pub fn attend(
        &self,
        query: Tensor<3>,
        keys: Tensor<4>,
        values: Tensor<4>,
        mask_bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let [b, tq, d] = query.dims();
        let dh = d / self.n_heads;
        let q = self.split(precision::linear(&self.q_lin, query)).div_scalar((dh as f64).sqrt());
        let out = context(q, keys, values, mask_bias, &self.attn_dropout)
            .swap_dims(1, 2)
            .reshape([b, tq, d]);
        precision::linear(&self.out_lin, out)
    }

    /// Full attention over packed rows: `query` `[Nq,D]` holds the real positions of a
    /// `[B,Tq]` batch laid out by `query_rows`, `key_value` `[Nk,D]` those of `[B,Tk]` by
    /// `kv_rows`; the projections run on the rows, the attention itself on the padded layout
    /// (pads are zero and masked by `mask_bias`). Returns `[Nq,D]`.
    pub fn forward_rows(
        &self,
        query: Tensor<2>,
        query_rows: &Packing,
        key_value: Tensor<2>,
        kv_rows: &Packing,
        mask_bias: Option<Tensor<4>>,
    ) -> Tensor<2> {
        let k = self.split(kv_rows.unpack(precision::linear(&self.k_lin, key_value.clone())));
        let v = self.split(kv_rows.unpack(precision::linear(&self.v_lin, key_value)));
        let d = query.dims()[1];
        let dh = d / self.n_heads;
        let q = self
            .split(query_rows.unpack(precision::linear(&self.q_lin, query)))
            .div_scalar((dh as f64).sqrt());
        let [b, tq] = [query_rows.batch(), query_rows.padded_len()];
        let out =
            context(q, k, v, mask_bias, &self.attn_dropout).swap_dims(1, 2).reshape([b, tq, d]);
        precision::linear(&self.out_lin, query_rows.pack(out))
    }
}

/// `softmax(q·kᵀ + bias)·v` per head for already-scaled `q` `[B,H,Tq,D]` and `keys`, `values`
/// `[B,H,Tk,D]`: flash attention on GPU devices (feature `gpu-kernels`), else the score
/// matrix, softmax and attention dropout as tensor ops. Shared by the BB1 generator and the
/// causal LM.
pub(crate) fn context(
    q: Tensor<4>,
    keys: Tensor<4>,
    values: Tensor<4>,
    mask_bias: Option<Tensor<4>>,
    attn_dropout: &Dropout,
) -> Tensor<4> {
    #[cfg(feature = "gpu-kernels")]
    if let Some(out) =
        crate::kernels::flash_attention(&q, &keys, &values, &mask_bias, attn_dropout.prob)
    {
        return out;
    }
    let mut scores = precision::matmul(q, keys.swap_dims(2, 3));
    if let Some(bias) = mask_bias {
        scores = scores + bias;
    }
    let weights = dropout::forward(attn_dropout, softmax(scores, 3));
    precision::matmul(weights, values)
}
