//! The key/value cache of incremental decoding for the causal LM.
//!
//! Prompts of a batch are left-padded to one length, so every row's next token sits in the
//! same column; `pads[r]` says how many leading columns of row r are padding (masked as keys,
//! and subtracted from the row's positions). Keys and values are kept per key/value head, not
//! repeated per query head. Beam search reorders rows with [`CausalCache::reorder`].

use burn::tensor::{Device, Int, Tensor, TensorData};

/// One block's keys and values so far: `[B, kv_heads, capacity, head_dim]` buffers whose first
/// `len` columns are filled. New columns are written in place (the buffers are held only here
/// between steps), and the capacity doubles when full, so a step copies the new columns, not
/// the whole history.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    pub(crate) k: Option<Tensor<4>>,
    pub(crate) v: Option<Tensor<4>>,
    len: usize,
}

impl LayerKv {
    /// Appends `k`, `v` `[B,kv,T,hd]` along the time axis and returns everything so far.
    pub(crate) fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let t = k.dims()[2];
        let (start, end) = (self.len, self.len + t);
        self.k = Some(write_columns(self.k.take(), k, start));
        self.v = Some(write_columns(self.v.take(), v, start));
        self.len = end;
        let filled = |x: &Tensor<4>| {
            let [b, h, _, d] = x.dims();
            x.clone().slice([0..b, 0..h, 0..end, 0..d])
        };
        (filled(self.k.as_ref().unwrap()), filled(self.v.as_ref().unwrap()))
    }
}

/// `new` `[B,h,T,d]` written into columns `start..start + T` of `buffer`, grown (to twice what
/// it must hold) when they don't fit; no buffer yet: `new` itself, exactly as long.
fn write_columns(buffer: Option<Tensor<4>>, new: Tensor<4>, start: usize) -> Tensor<4> {
    let [b, h, t, d] = new.dims();
    let Some(mut buffer) = buffer else { return new };
    let capacity = buffer.dims()[2];
    if start + t > capacity {
        let spare = Tensor::zeros([b, h, 2 * (start + t) - capacity, d], &buffer.device());
        buffer = Tensor::cat(vec![buffer, spare], 2);
    }
    buffer.slice_assign([0..b, 0..h, start..start + t, 0..d], new)
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
