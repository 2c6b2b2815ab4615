//! Transformer blocks: feed-forward, encoder layer and decoder layer (ParlAI semantics).
//!
//! With `prenorm` (the `prelayernorm` variant) each sub-block is `x + f(norm(x))`; otherwise
//! (`aiayn`, `xlm`) it is `norm(x + f(x))`.

use super::attention::MultiHeadAttention;
use super::config::{Activation, GeneratorConfig, Variant};
use super::packing::Packing;
use super::precision;
use crate::kernels::dropout;
use crate::kernels::gelu::gelu;
use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Two linear layers with a nonlinearity and ParlAI's `relu_dropout` between them.
#[derive(Module, Debug)]
pub struct FeedForward {
    lin1: Linear,
    lin2: Linear,
    relu_dropout: Dropout,
    gelu: bool,
}

impl FeedForward {
    /// Builds the block with Xavier-uniform weights, as ParlAI does.
    pub fn new(cfg: &GeneratorConfig, device: &Device) -> Self {
        let init = Initializer::XavierUniform { gain: 1.0 };
        Self {
            lin1: LinearConfig::new(cfg.embedding_size, cfg.ffn_size)
                .with_initializer(init.clone())
                .init(device),
            lin2: LinearConfig::new(cfg.ffn_size, cfg.embedding_size)
                .with_initializer(init)
                .init(device),
            relu_dropout: DropoutConfig::new(cfg.relu_dropout).init(),
            gelu: cfg.activation == Activation::Gelu,
        }
    }

    /// Sets the dropout after the nonlinearity to `cfg.relu_dropout` (the weights stay).
    pub fn set_dropouts(&mut self, cfg: &GeneratorConfig) {
        self.relu_dropout.prob = cfg.relu_dropout;
    }

    /// `[…,D]` → `[…,D]` (each row on its own).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let h = precision::linear(&self.lin1, x);
        let h = if self.gelu { gelu(h) } else { relu(h) };
        precision::linear(&self.lin2, dropout::forward(&self.relu_dropout, h))
    }
}

pub(crate) fn layer_norm(cfg: &GeneratorConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(cfg.embedding_size).with_epsilon(1e-5).init(device)
}

/// Applies a residual sub-block in pre- or post-norm order.
fn residual<const D: usize>(
    prenorm: bool,
    norm: &LayerNorm,
    drop: &Dropout,
    x: Tensor<D>,
    f: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    if prenorm {
        let y = f(norm.forward(x.clone()));
        x + dropout::forward(drop, y)
    } else {
        let y = f(x.clone());
        norm.forward(x + dropout::forward(drop, y))
    }
}

/// Self-attention + feed-forward.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    attention: MultiHeadAttention,
    norm1: LayerNorm,
    ffn: FeedForward,
    norm2: LayerNorm,
    dropout: Dropout,
    prenorm: bool,
}

impl EncoderLayer {
    /// Builds one encoder layer.
    pub fn new(cfg: &GeneratorConfig, device: &Device) -> Self {
        Self {
            attention: MultiHeadAttention::new(
                cfg.embedding_size,
                cfg.n_heads,
                cfg.attention_dropout,
                device,
            ),
            norm1: layer_norm(cfg, device),
            ffn: FeedForward::new(cfg, device),
            norm2: layer_norm(cfg, device),
            dropout: DropoutConfig::new(cfg.dropout).init(),
            prenorm: cfg.variant == Variant::Prelayernorm,
        }
    }

    /// Sets this layer's dropouts to `cfg`'s (the weights stay).
    pub fn set_dropouts(&mut self, cfg: &GeneratorConfig) {
        self.attention.set_dropout(cfg.attention_dropout);
        self.ffn.set_dropouts(cfg);
        self.dropout.prob = cfg.dropout;
    }

    /// `x` `[N,D]`: the rows of a `[B,S]` context laid out by `rows`; `bias` `[B,1,1,S]`
    /// masks its pads.
    pub fn forward(&self, x: Tensor<2>, rows: &Packing, bias: Tensor<4>) -> Tensor<2> {
        let x = residual(self.prenorm, &self.norm1, &self.dropout, x, |h| {
            self.attention.forward_rows(h.clone(), rows, h, rows, Some(bias))
        });
        residual(self.prenorm, &self.norm2, &self.dropout, x, |h| self.ffn.forward(h))
    }
}

/// The keys and values one decoder layer attends to during incremental decoding.
#[derive(Debug, Clone)]
pub struct LayerCache {
    /// Self-attention keys of all tokens decoded so far, `[B,H,T,D/H]`.
    pub self_k: Option<Tensor<4>>,
    /// Self-attention values of all tokens decoded so far.
    pub self_v: Option<Tensor<4>>,
    /// Encoder-attention keys (computed once per context).
    pub enc_k: Tensor<4>,
    /// Encoder-attention values (computed once per context).
    pub enc_v: Tensor<4>,
}

/// Causal self-attention + encoder attention + feed-forward.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    self_attention: MultiHeadAttention,
    norm1: LayerNorm,
    encoder_attention: MultiHeadAttention,
    norm2: LayerNorm,
    ffn: FeedForward,
    norm3: LayerNorm,
    dropout: Dropout,
    prenorm: bool,
}

impl DecoderLayer {
    /// Builds one decoder layer.
    pub fn new(cfg: &GeneratorConfig, device: &Device) -> Self {
        let mha = || {
            MultiHeadAttention::new(cfg.embedding_size, cfg.n_heads, cfg.attention_dropout, device)
        };
        Self {
            self_attention: mha(),
            norm1: layer_norm(cfg, device),
            encoder_attention: mha(),
            norm2: layer_norm(cfg, device),
            ffn: FeedForward::new(cfg, device),
            norm3: layer_norm(cfg, device),
            dropout: DropoutConfig::new(cfg.dropout).init(),
            prenorm: cfg.variant == Variant::Prelayernorm,
        }
    }

    /// Sets this layer's dropouts to `cfg`'s (the weights stay).
    pub fn set_dropouts(&mut self, cfg: &GeneratorConfig) {
        self.self_attention.set_dropout(cfg.attention_dropout);
        self.encoder_attention.set_dropout(cfg.attention_dropout);
        self.ffn.set_dropouts(cfg);
        self.dropout.prob = cfg.dropout;
    }

    /// Projects the encoder output once for this layer's encoder attention.
    pub fn encoder_kv(&self, encoded: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        (
            self.encoder_attention.project_key(encoded.clone()),
            self.encoder_attention.project_value(encoded),
        )
    }

    /// Teacher-forced forward over a whole target: `x` `[N,D]` holds the rows of a `[B,T]`
    /// target laid out by `rows`, `encoded` the encoder's rows laid out by `enc_rows`;
    /// `causal` is `[1,1,T,T]`, `enc_bias` `[B,1,1,S]`.
    pub fn forward(
        &self,
        x: Tensor<2>,
        rows: &Packing,
        encoded: Tensor<2>,
        enc_rows: &Packing,
        causal: Tensor<4>,
        enc_bias: Tensor<4>,
    ) -> Tensor<2> {
        let x = residual(self.prenorm, &self.norm1, &self.dropout, x, |h| {
            self.self_attention.forward_rows(h.clone(), rows, h, rows, Some(causal))
        });
        let x = residual(self.prenorm, &self.norm2, &self.dropout, x, |h| {
            self.encoder_attention.forward_rows(h, rows, encoded, enc_rows, Some(enc_bias))
        });
        residual(self.prenorm, &self.norm3, &self.dropout, x, |h| self.ffn.forward(h))
    }

    /// One incremental step: `x` `[B,1,D]` is the newest position; the cache grows by one.
    pub fn step(&self, x: Tensor<3>, cache: &mut LayerCache, enc_bias: Tensor<4>) -> Tensor<3> {
        let x = residual(self.prenorm, &self.norm1, &self.dropout, x, |h| {
            let k_new = self.self_attention.project_key(h.clone());
            let v_new = self.self_attention.project_value(h.clone());
            let k = match cache.self_k.take() {
                Some(k) => Tensor::cat(vec![k, k_new], 2),
                None => k_new,
            };
            let v = match cache.self_v.take() {
                Some(v) => Tensor::cat(vec![v, v_new], 2),
                None => v_new,
            };
            cache.self_k = Some(k.clone());
            cache.self_v = Some(v.clone());
            self.self_attention.attend(h, k, v, None)
        });
        let x = residual(self.prenorm, &self.norm2, &self.dropout, x, |h| {
            self.encoder_attention.attend(
                h,
                cache.enc_k.clone(),
                cache.enc_v.clone(),
                Some(enc_bias),
            )
        });
        residual(self.prenorm, &self.norm3, &self.dropout, x, |h| self.ffn.forward(h))
    }
}
