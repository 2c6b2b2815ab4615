//! Token + position embeddings of one stack (ParlAI: scaled token embedding, learned or
//! sinusoidal positions, the XLM variant's embedding norm, dropout).
//!
//! ParlAI's XLM variant normalises the encoder's embeddings after adding the positions but
//! the decoder's token embeddings before adding them (Hugging Face BlenderbotSmall copies
//! this); [`Embedder::for_decoder`] does the latter.

use super::config::{GeneratorConfig, Variant};
use super::layers::layer_norm;
use crate::kernels::dropout;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm};
use burn::tensor::module::embedding;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

/// Token and position embeddings plus the optional embedding norm of one stack.
#[derive(Module, Debug)]
pub struct Embedder {
    positions: Param<Tensor<2>>,
    norm_embeddings: Option<LayerNorm>,
    dropout: Dropout,
    scale: f64,
    norm_before_positions: bool,
}

impl Embedder {
    /// The encoder's embeddings (XLM norm after the positions are added).
    pub fn for_encoder(cfg: &GeneratorConfig, device: &Device) -> Self {
        Self::new(cfg, false, device)
    }

    /// The decoder's embeddings (XLM norm on the token embeddings, before the positions).
    pub fn for_decoder(cfg: &GeneratorConfig, device: &Device) -> Self {
        Self::new(cfg, true, device)
    }

    /// Builds the position table (learned, or fixed sinusoids) and the optional norm.
    fn new(cfg: &GeneratorConfig, decoder: bool, device: &Device) -> Self {
        let d = cfg.embedding_size;
        let positions = if cfg.learn_positional_embeddings {
            let std = (d as f64).powf(-0.5);
            Param::from_tensor(Tensor::random(
                [cfg.n_positions, d],
                Distribution::Normal(0.0, std),
                device,
            ))
        } else {
            Param::from_tensor(Tensor::from_data(sinusoids(cfg.n_positions, d), device))
                .set_require_grad(false)
        };
        Self {
            positions,
            norm_embeddings: (cfg.variant == Variant::Xlm).then(|| layer_norm(cfg, device)),
            dropout: DropoutConfig::new(cfg.dropout).init(),
            scale: match cfg.embeddings_scale && (cfg.decoder_embeddings_scale || !decoder) {
                true => (d as f64).sqrt(),
                false => 1.0,
            },
            norm_before_positions: decoder,
        }
    }

    /// Sets the embedding dropout to `cfg.dropout` (the weights stay).
    pub fn set_dropouts(&mut self, cfg: &GeneratorConfig) {
        self.dropout.prob = cfg.dropout;
    }

    /// Embeds `tokens` `[B,T]` whose first position is `start`.
    pub fn forward(&self, table: Tensor<2>, tokens: Tensor<2, Int>, start: usize) -> Tensor<3> {
        let [_, t] = tokens.dims();
        let n_pos = self.positions.dims()[0];
        assert!(
            start + t <= n_pos,
            "sequence of {} tokens exceeds n_positions = {n_pos}; truncate it (text_truncate / label_truncate)",
            start + t
        );
        let mut x = embedding(table, tokens).mul_scalar(self.scale);
        let pos = self.positions.val().slice(start..start + t).unsqueeze_dim::<3>(0);
        match &self.norm_embeddings {
            Some(norm) if self.norm_before_positions => x = norm.forward(x) + pos,
            Some(norm) => x = norm.forward(x + pos),
            None => x = x + pos,
        }
        dropout::forward(&self.dropout, x)
    }
}

/// ParlAI's fixed sinusoidal position codes (sin on even, cos on odd dimensions).
fn sinusoids(n_pos: usize, dim: usize) -> TensorData {
    let mut v = vec![0f32; n_pos * dim];
    for p in 0..n_pos {
        for j in 0..dim / 2 {
            let angle = p as f64 / 10000f64.powf(2.0 * j as f64 / dim as f64);
            v[p * dim + 2 * j] = angle.sin() as f32;
            if 2 * j + 1 < dim {
                v[p * dim + 2 * j + 1] = angle.cos() as f32;
            }
        }
    }
    TensorData::new(v, [n_pos, dim])
}
