//! The key/value cache of incremental decoding for the causal LM.
//!
//! Prompts of a batch are left-padded to one length, so every row's next token sits in the
//! same column; `pads[r]` says how many leading columns of row r are padding (masked as keys,
//! and subtracted from the row's positions). Keys and values are kept per key/value head, not
//! repeated per query head. Beam search reorders rows with [`CausalCache::reorder`].

use burn::tensor::{Device, Int, Tensor, TensorData};

/// One block's keys and values so far, `[B, kv_heads, T, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    pub(crate) k: Option<Tensor<4>>,
    pub(crate) v: Option<Tensor<4>>,
}

impl LayerKv {
    /// Appends `k`, `v` along the time axis and returns everything so far.
    pub(crate) fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let k = match self.k.take() {
            Some(past) => Tensor::cat(vec![past, k], 2),
            None => k,
        };
        let v = match self.v.take() {
            Some(past) => Tensor::cat(vec![past, v], 2),
            None => v,
        };
        self.k = Some(k.clone());
        self.v = Some(v.clone());
        (k, v)
    }
}

/// Everything the causal LM needs to continue a batch of sequences.
#[derive(Debug, Clone)]
pub struct CausalCache {
    pub(crate) layers: Vec<LayerKv>,
    pads: Vec<usize>,
    len: usize,
}

impl CausalCache {
    /// An empty cache for `pads.len()` rows whose prompts start with `pads[r]` pad columns.
    pub fn new(n_layers: usize, pads: Vec<usize>) -> Self {
        Self { layers: vec![LayerKv::default(); n_layers], pads, len: 0 }
    }

    /// Number of sequences (rows).
    pub fn rows(&self) -> usize {
        self.pads.len()
    }

    /// Columns held so far (pads included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Leading pad columns of each row.
    pub fn pads(&self) -> &[usize] {
        &self.pads
    }

    pub(crate) fn advance(&mut self, tokens: usize) {
        self.len += tokens;
    }

    /// Keeps, for each output row i, the state of input row `rows[i]` (rows may repeat or be
    /// dropped: this is how beams are expanded and re-ranked).
    pub fn reorder(&mut self, rows: &[usize], device: &Device) {
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), device);
        for layer in &mut self.layers {
            layer.k = layer.k.take().map(|t| t.select(0, idx.clone()));
            layer.v = layer.v.take().map(|t| t.select(0, idx.clone()));
        }
        self.pads = rows.iter().map(|&r| self.pads[r]).collect();
    }
}
