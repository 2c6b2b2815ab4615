//! Token + position embeddings of one stack (ParlAI: scaled token embedding, learned or
//! sinusoidal positions, the XLM variant's embedding norm, dropout).

use super::config::{GeneratorConfig, Variant};
use super::layers::layer_norm;
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
}

impl Embedder {
    /// Builds the position table (learned, or fixed sinusoids) and the optional norm.
    pub fn new(cfg: &GeneratorConfig, device: &Device) -> Self {
        let d = cfg.embedding_size;
        let positions = if cfg.learn_positional_embeddings {
            let std = (d as f64).powf(-0.5);
            Param::from_tensor(Tensor::random([cfg.n_positions, d], Distribution::Normal(0.0, std), device))
        } else {
            Param::from_tensor(Tensor::from_data(sinusoids(cfg.n_positions, d), device)).set_require_grad(false)
        };
        Self {
            positions,
            norm_embeddings: (cfg.variant == Variant::Xlm).then(|| layer_norm(cfg, device)),
            dropout: DropoutConfig::new(cfg.dropout).init(),
            scale: if cfg.embeddings_scale { (d as f64).sqrt() } else { 1.0 },
        }
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
        let x = embedding(table, tokens).mul_scalar(self.scale);
        let pos = self.positions.val().slice([start..start + t]).unsqueeze_dim::<3>(0);
        let mut x = x + pos;
        if let Some(norm) = &self.norm_embeddings {
            x = norm.forward(x);
        }
        self.dropout.forward(x)
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

