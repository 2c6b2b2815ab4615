//! Key/value cache for incremental decoding.
//!
//! The encoder output is projected once per decoder layer; each decoding step appends the new
//! position's self-attention keys and values. Beam search reorders the cache with
//! [`DecoderCache::reorder`] when hypotheses are re-ranked.

use super::layers::LayerCache;
use burn::tensor::{Int, Tensor};

/// Everything the decoder needs to continue a batch of sequences one token at a time.
#[derive(Debug, Clone)]
pub struct DecoderCache {
    layers: Vec<LayerCache>,
    enc_bias: Tensor<4>,
    position: usize,
}

impl DecoderCache {
    pub(crate) fn new(layers: Vec<LayerCache>, enc_bias: Tensor<4>) -> Self {
        Self { layers, enc_bias, position: 0 }
    }

    /// Number of sequences (rows) the cache holds.
    pub fn rows(&self) -> usize {
        self.enc_bias.dims()[0]
    }

    /// Number of tokens decoded so far (the position of the next one).
    pub fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn advance(&mut self) {
        self.position += 1;
    }

    pub(crate) fn enc_bias(&self) -> Tensor<4> {
        self.enc_bias.clone()
    }

    pub(crate) fn layers_mut(&mut self) -> impl Iterator<Item = &mut LayerCache> {
        self.layers.iter_mut()
    }

    /// Like [`DecoderCache::reorder`] for a permutation that keeps every row within its group of
    /// rows sharing one context (beam re-ranking): only the self-attention state moves, since
    /// the encoder state is identical within a group.
    pub fn reorder_within_groups(&mut self, indices: Tensor<1, Int>) {
        let pick = |t: Tensor<4>| t.select(0, indices.clone());
        for lc in &mut self.layers {
            lc.self_k = lc.self_k.take().map(pick);
            lc.self_v = lc.self_v.take().map(pick);
        }
    }

    /// Keeps, for each output row i, the state of input row `indices[i]` (rows may repeat:
    /// this is how beams are expanded and re-ranked).
    pub fn reorder(&mut self, indices: Tensor<1, Int>) {
        let pick = |t: Tensor<4>| t.select(0, indices.clone());
        for lc in &mut self.layers {
            lc.self_k = lc.self_k.take().map(pick);
            lc.self_v = lc.self_v.take().map(pick);
            lc.enc_k = pick(lc.enc_k.clone());
            lc.enc_v = pick(lc.enc_v.clone());
        }
        self.enc_bias = pick(self.enc_bias.clone());
    }
}
