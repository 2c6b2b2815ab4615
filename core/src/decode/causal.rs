//! The causal LM as a [`NextTokenScorer`]: prompts are left-padded into one block and fed
//! once; the search's first step (its start marker) is answered with the prompts' next-token
//! logits, and every later step appends one token per row to the key/value cache.

use super::scorer::NextTokenScorer;
use crate::error::{CoreError, Result};
use crate::model::causal::{CausalCache, CausalLm};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Incremental scoring of `prompts.len() · rows_per_context` rows on a causal LM.
pub struct CausalScorer<'a> {
    model: &'a CausalLm,
    cache: CausalCache,
    /// The prompts' next-token logits, until the first step takes them.
    pending: Option<Tensor<2>>,
    device: Device,
}

impl<'a> CausalScorer<'a> {
    /// Feeds `prompts` (token ids, none empty) and prepares `rows_per_context` rows for each.
    pub fn new(
        model: &'a CausalLm,
        prompts: &[Vec<u32>],
        rows_per_context: usize,
        device: &Device,
    ) -> Result<Self> {
        if let Some(i) = prompts.iter().position(Vec::is_empty) {
            return Err(CoreError::Invalid(format!(
                "prompt {i} is empty: a causal LM needs at least one token to continue"
            )));
        }
        let width = prompts.iter().map(Vec::len).max().unwrap_or(1);
        let pad = model.config().pad_token_id.unwrap_or(0) as i64;
        let mut ids = vec![pad; prompts.len() * width];
        let mut pads = Vec::with_capacity(prompts.len());
        for (r, p) in prompts.iter().enumerate() {
            let start = width - p.len();
            pads.push(start);
            for (j, &t) in p.iter().enumerate() {
                ids[r * width + start + j] = t as i64;
            }
        }
        let tokens =
            Tensor::<2, Int>::from_data(TensorData::new(ids, [prompts.len(), width]), device);
        let mut cache = model.start_cache(pads);
        let mut logits = model.extend(tokens, &mut cache);
        if rows_per_context > 1 {
            let rows: Vec<usize> =
                (0..prompts.len()).flat_map(|c| std::iter::repeat_n(c, rows_per_context)).collect();
            cache.reorder(&rows, device);
            logits = logits.select(0, index(&rows, device));
        }
        Ok(Self { model, cache, pending: Some(logits), device: device.clone() })
    }

    /// Like [`NextTokenScorer::step`], leaving the logits `[rows, V]` on the device.
    pub fn step_tensor(&mut self, tokens: &[u32]) -> Tensor<2> {
        if let Some(logits) = self.pending.take() {
            return logits;
        }
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let input =
            Tensor::<2, Int>::from_data(TensorData::new(ids, [tokens.len(), 1]), &self.device);
        self.model.extend(input, &mut self.cache)
    }
}

fn index(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows.len()]), device)
}

impl NextTokenScorer for CausalScorer<'_> {
    fn vocab_size(&self) -> usize {
        self.model.config().vocab_size
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.step_tensor(tokens)
            .try_to_vec_as::<f32>()
            .map_err(|e| CoreError::Invalid(format!("reading logits back: {e:?}")))
    }

    fn reorder(&mut self, rows: &[usize]) {
        if let Some(logits) = self.pending.take() {
            self.pending = Some(logits.select(0, index(rows, &self.device)));
        }
        self.cache.reorder(rows, &self.device);
    }
}
