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

    /// Sets the dropout on the attention weights (the weights stay).
    pub fn set_dropout(&mut self, attention_dropout: f64) {
        self.attn_dropout.prob = attention_dropout;
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

/// [`context`] for grouped-query attention without a copy of the keys and values per query
/// head: `q` `[B,H,Tq,D]` over `keys`, `values` `[B,H/g,Tk,D]`, query head h reading key/value
/// head h / g. Each key/value head's g query heads ride along the query axis of one product,
/// so the scores are `[B,H/g,g·Tq,Tk]` (the mask broadcast over the group), and the softmax is
/// the CPU kernel where it applies ([`crate::kernels::softmax`]). On GPU devices where flash
/// attention runs, the keys and values are repeated for it instead.
pub(crate) fn grouped_context(
    q: Tensor<4>,
    keys: Tensor<4>,
    values: Tensor<4>,
    mask_bias: Option<Tensor<4>>,
    attn_dropout: &Dropout,
) -> Tensor<4> {
    let [b, h, tq, d] = q.dims();
    let kv = keys.dims()[1];
    let group = h / kv;
    #[cfg(feature = "gpu-kernels")]
    let flash = crate::kernels::flash_attention_applies(&q, attn_dropout.prob);
    #[cfg(not(feature = "gpu-kernels"))]
    let flash = false;
    if flash {
        let (keys, values) = (repeat_heads(keys, group), repeat_heads(values, group));
        return context(q, keys, values, mask_bias, attn_dropout);
    }
    let scores = precision::matmul(q.reshape([b, kv, group * tq, d]), keys.swap_dims(2, 3));
    let tk = scores.dims()[3];
    let mut scores = scores.reshape([b, kv, group, tq, tk]);
    if let Some(bias) = mask_bias {
        scores = scores + bias.unsqueeze_dim::<5>(1);
    }
    let weights = dropout::forward(attn_dropout, crate::kernels::softmax::softmax_last(scores));
    precision::matmul(weights.reshape([b, kv, group * tq, tk]), values).reshape([b, h, tq, d])
}

/// `[B,kv,T,D]` → `[B,kv·g,T,D]`: head h of the result is head h / g of `x`.
fn repeat_heads(x: Tensor<4>, group: usize) -> Tensor<4> {
    if group == 1 {
        return x;
    }
    let [b, kv, t, d] = x.dims();
    x.unsqueeze_dim::<5>(2).repeat_dim(2, group).reshape([b, kv * group, t, d])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::NEG_INF;
    use burn::tensor::{Distribution, TensorData};

    #[test]
    fn grouped_attention_equals_attention_over_repeated_keys_and_values() {
        let dev = Device::flex();
        let normal =
            |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
        let (q, k, v) = (normal([2, 6, 3, 4]), normal([2, 2, 5, 4]), normal([2, 2, 5, 4]));
        // row 0 hides its first key, row 1 its last two from the first query
        let mut bias = vec![0f32; 2 * 3 * 5];
        bias[0] = NEG_INF;
        bias[3 * 5 + 3] = NEG_INF;
        bias[3 * 5 + 4] = NEG_INF;
        let bias = Tensor::<4>::from_data(TensorData::new(bias, [2, 1, 3, 5]), &dev);
        let dropout = DropoutConfig::new(0.0).init();
        let grouped =
            grouped_context(q.clone(), k.clone(), v.clone(), Some(bias.clone()), &dropout);
        let repeated = context(q, repeat_heads(k, 3), repeat_heads(v, 3), Some(bias), &dropout);
        let (a, b) = (
            grouped.to_data().try_to_vec::<f32>().unwrap(),
            repeated.to_data().try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(grouped.dims(), [2, 6, 3, 4]);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }
}
