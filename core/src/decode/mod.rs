//! Decoding: batched beam search with ParlAI's `TreeSearch` semantics, greedy, top-k and
//! nucleus sampling, n-gram blocking, on the generator's key/value cache.

pub mod blocking;
pub mod causal;
pub mod scorer;
pub mod search;
pub mod select;
pub mod stream;

pub use causal::CausalScorer;
pub use scorer::{GeneratorScorer, NextTokenScorer};
pub use search::{Hypothesis, SearchConfig, SearchResult, search, search_until};
pub use select::Inference;
pub use stream::TokenStream;

use crate::error::Result;
use crate::model::Generator;
use burn::tensor::Device;

/// Generates responses for a batch of contexts with `model`.
///
/// `inputs[c]` is the model input (truncated context with its end token); `block_contexts[c]`
/// the tokens used for context n-gram blocking (see [`search`]). `max_length` is capped at the
/// model's `n_positions`. On the CPU the batch is split across the available cores (Burn's CPU
/// kernels barely parallelise at decoding sizes); results and sampling seeds do not depend on
/// the split.
pub fn generate(
    model: &Generator,
    inputs: &[Vec<u32>],
    block_contexts: &[Vec<u32>],
    cfg: &SearchConfig,
    device: &Device,
) -> Result<Vec<SearchResult>> {
    let mut cfg = cfg.clone();
    cfg.max_length = cfg.max_length.min(model.config().n_positions);
    let shards = if crate::kernels::cpu::is_cpu(device) {
        std::thread::available_parallelism().map(usize::from).unwrap_or(1).min(inputs.len()).max(1)
    } else {
        1
    };
    if shards <= 1 {
        return generate_shard(model, inputs, block_contexts, &cfg, device);
    }
    let per = inputs.len().div_ceil(shards);
    let precision = crate::model::precision::current();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..inputs.len())
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(inputs.len());
                let shard_cfg =
                    SearchConfig { seed: cfg.seed.wrapping_add(start as u64), ..cfg.clone() };
                scope.spawn(move || {
                    let _autocast = crate::model::precision::autocast(precision);
                    generate_shard(
                        model,
                        &inputs[start..end],
                        &block_contexts[start..end],
                        &shard_cfg,
                        device,
                    )
                })
            })
            .collect();
        let mut out = Vec::with_capacity(inputs.len());
        for h in handles {
            out.extend(h.join().expect("decoding thread panicked")?);
        }
        Ok(out)
    })
}

fn generate_shard(
    model: &Generator,
    inputs: &[Vec<u32>],
    block_contexts: &[Vec<u32>],
    cfg: &SearchConfig,
    device: &Device,
) -> Result<Vec<SearchResult>> {
    let rows = if cfg.inference == Inference::Greedy { 1 } else { cfg.beam_size };
    let mut scorer = GeneratorScorer::new(model, inputs, rows, device);
    let c = model.config();
    search(&mut scorer, block_contexts, c.start_id as u32, c.end_id as u32, cfg)
}
