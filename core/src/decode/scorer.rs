//! What a search needs from a model: next-token logits for a set of rows, and a way to reorder
//! the rows. [`GeneratorScorer`] implements it on the generator's key/value cache; tests use
//! scripted scorers.

use crate::error::Result;
use crate::model::{DecoderCache, Generator};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Incremental next-token scoring for `rows` hypotheses.
pub trait NextTokenScorer {
    /// Size of the vocabulary (length of each row of logits).
    fn vocab_size(&self) -> usize;
    /// Appends `tokens[r]` to row r and returns next-token logits of all rows, row-major.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>>;
    /// Makes row i continue what row `rows[i]` held (rows may repeat); rows not named are
    /// dropped, so `rows` may be shorter than the batch. A search only moves rows within the
    /// group of rows of their own context, and drops whole groups.
    fn reorder(&mut self, rows: &[usize]);
}

/// The generator as a scorer: contexts are encoded once and each is repeated for its
/// hypotheses; decoding steps reuse the key/value cache.
pub struct GeneratorScorer<'a> {
    model: &'a Generator,
    cache: DecoderCache,
    device: Device,
}

impl<'a> GeneratorScorer<'a> {
    /// Encodes `contexts` (token ids, already truncated) and prepares `rows_per_context` rows
    /// for each.
    pub fn new(
        model: &'a Generator,
        contexts: &[Vec<u32>],
        rows_per_context: usize,
        device: &Device,
    ) -> Self {
        let pad = model.config().pad_id as i64;
        let b = contexts.len();
        let s = contexts.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut ids = vec![pad; b * s];
        for (i, c) in contexts.iter().enumerate() {
            for (j, &t) in c.iter().enumerate() {
                ids[i * s + j] = t as i64;
            }
        }
        let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, s]), device);
        let encoded = model.encode(input);
        let mut cache = model.start_decoding(&encoded);
        if rows_per_context > 1 {
            let rows: Vec<i64> =
                (0..b).flat_map(|c| std::iter::repeat_n(c as i64, rows_per_context)).collect();
            cache.reorder(Tensor::from_data(TensorData::new(rows, [b * rows_per_context]), device));
        }
        Self { model, cache, device: device.clone() }
    }
}

impl GeneratorScorer<'_> {
    /// Like [`NextTokenScorer::step`], leaving the logits `[rows, V]` on the device (for
    /// callers that must read them back asynchronously, as in a browser on WebGPU).
    pub fn step_tensor(&mut self, tokens: &[u32]) -> Tensor<2> {
        let n = tokens.len();
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let input = Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &self.device);
        self.model.decode_step(input, &mut self.cache)
    }
}

impl NextTokenScorer for GeneratorScorer<'_> {
    fn vocab_size(&self) -> usize {
        self.model.config().vocab_size
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.step_tensor(tokens)
            .try_to_vec_as::<f32>()
            .map_err(|e| crate::error::CoreError::Invalid(format!("reading logits back: {e:?}")))
    }

    fn reorder(&mut self, rows: &[usize]) {
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::from_data(TensorData::new(idx, [rows.len()]), &self.device);
        if rows.len() == self.cache.rows() {
            self.cache.reorder_within_groups(idx);
        } else {
            // whole contexts leave: their encoder state goes too
            self.cache.reorder(idx);
        }
    }
}
