//! The transformer encoder stack shared by the generator and the classifier.

use super::config::{GeneratorConfig, Variant};
use super::embedder::Embedder;
use super::layers::{EncoderLayer, layer_norm};
use super::packing::Packing;
use crate::mask::NEG_INF;
use burn::module::Module;
use burn::nn::LayerNorm;
use burn::tensor::{Device, Int, Tensor};

/// The encoded context: hidden states and the additive mask over its pads.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// `[N,D]` encoder output at the context's positions laid out by `rows`.
    pub rows_states: Tensor<2>,
    /// Which positions of the `[B,S]` context `rows_states` holds.
    pub rows: Packing,
    /// `[B,1,1,S]`: 0 for real tokens, [`NEG_INF`] for pads.
    pub bias: Tensor<4>,
}

impl Encoded {
    /// `[B,S,D]` encoder output, zero at pads.
    pub fn states(&self) -> Tensor<3> {
        self.rows.unpack(self.rows_states.clone())
    }
}

/// Embeddings, `n_encoder_layers` blocks and (pre-layer-norm variant) a final norm.
#[derive(Module, Debug)]
pub struct Encoder {
    embed: Embedder,
    layers: Vec<EncoderLayer>,
    final_norm: Option<LayerNorm>,
    pad_id: usize,
}

impl Encoder {
    /// Builds the stack for `cfg` (its `n_encoder_layers` layers).
    pub fn new(cfg: &GeneratorConfig, device: &Device) -> Self {
        Self {
            embed: Embedder::for_encoder(cfg, device),
            layers: (0..cfg.n_encoder_layers).map(|_| EncoderLayer::new(cfg, device)).collect(),
            final_norm: (cfg.variant == Variant::Prelayernorm).then(|| layer_norm(cfg, device)),
            pad_id: cfg.pad_id,
        }
    }

    /// Sets every dropout of the stack to `cfg`'s (the weights stay).
    pub fn set_dropouts(&mut self, cfg: &GeneratorConfig) {
        self.embed.set_dropouts(cfg);
        self.layers.iter_mut().for_each(|l| l.set_dropouts(cfg));
    }

    /// Encodes `context` `[B,S]` (right-padded) with the token table `table` `[V,D]`.
    pub fn forward(&self, table: Tensor<2>, context: Tensor<2, Int>) -> Encoded {
        let [b, s] = context.dims();
        self.forward_rows(table, context, Packing::dense(b, s))
    }

    /// [`Encoder::forward`] computing only the positions `rows` keeps (its real tokens, or
    /// all of them with a dense layout, where pads are zeroed after every layer as in ParlAI).
    pub fn forward_rows(
        &self,
        table: Tensor<2>,
        context: Tensor<2, Int>,
        rows: Packing,
    ) -> Encoded {
        let is_pad = context.clone().equal_elem(self.pad_id as i64);
        let keep = is_pad.clone().bool_not().float().unsqueeze_dim::<3>(2);
        let bias = is_pad.float().mul_scalar(NEG_INF).unsqueeze_dim::<3>(1).unsqueeze_dim::<4>(1);
        // On a dense layout the pads are rows too: keep them at zero.
        let keep_rows = rows.is_dense().then(|| rows.pack(keep.clone()));
        let zero_pads = |x: Tensor<2>| match &keep_rows {
            Some(keep) => x * keep.clone(),
            None => x,
        };
        let mut x = rows.pack(self.embed.forward(table, context, 0) * keep);
        for layer in &self.layers {
            x = zero_pads(layer.forward(x, &rows, bias.clone()));
        }
        if let Some(norm) = &self.final_norm {
            x = zero_pads(norm.forward(x));
        }
        Encoded { rows_states: x, rows, bias }
    }
}
