//! Decoding: batched beam search with ParlAI's `TreeSearch` semantics, greedy, top-k and
//! nucleus sampling, n-gram blocking, on the generator's key/value cache.

pub mod blocking;
pub mod scorer;
pub mod search;
pub mod select;

pub use scorer::{GeneratorScorer, NextTokenScorer};
pub use search::{Hypothesis, SearchConfig, SearchResult, search};
pub use select::Inference;

use crate::error::Result;
use crate::model::Generator;
use burn::tensor::Device;

/// Generates responses for a batch of contexts with `model`.
///
/// `inputs[c]` is the model input (truncated context with its end token); `block_contexts[c]`
/// the tokens used for context n-gram blocking (see [`search`]). `max_length` is capped at the
/// model's `n_positions`.
pub fn generate(
    model: &Generator,
    inputs: &[Vec<u32>],
    block_contexts: &[Vec<u32>],
    cfg: &SearchConfig,
    device: &Device,
) -> Result<Vec<SearchResult>> {
    let mut cfg = cfg.clone();
    cfg.max_length = cfg.max_length.min(model.config().n_positions);
    let rows = if cfg.inference == Inference::Greedy { 1 } else { cfg.beam_size };
    let mut scorer = GeneratorScorer::new(model, inputs, rows, device);
    let c = model.config();
    search(&mut scorer, block_contexts, c.start_id as u32, c.end_id as u32, &cfg)
}
