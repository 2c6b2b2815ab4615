//! Beam-search generation speed of a randomly initialised generator on given prompts.
//! Prints one JSON line: generated tokens, seconds, tokens/s. Driven by bench/beam_generate.py,
//! which runs Hugging Face `generate` on the same prompts and shapes and prints the ratio.

use burn::tensor::Device;
use clap::Parser;
use cringe_core::decode::{Inference, SearchConfig, generate};
use cringe_core::model::{Generator, GeneratorConfig};
use std::time::Instant;

/// Times beam search of a random `--preset` model.
#[derive(Parser)]
struct Args {
    /// JSON file: a list of prompts, each a list of token ids.
    #[arg(long)]
    prompts: std::path::PathBuf,
    /// Model preset.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Vocabulary size.
    #[arg(long, default_value_t = 8000)]
    vocab: usize,
    /// Beam size.
    #[arg(long, default_value_t = 10)]
    beam: usize,
    /// Minimum generated length.
    #[arg(long, default_value_t = 20)]
    min_length: usize,
    /// Maximum generated length.
    #[arg(long, default_value_t = 40)]
    max_length: usize,
    /// N-gram blocking within a hypothesis.
    #[arg(long, default_value_t = 3)]
    block_ngram: usize,
    /// Prompts decoded together.
    #[arg(long, default_value_t = 8)]
    batchsize: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let prompts: Vec<Vec<u32>> = serde_json::from_str(&std::fs::read_to_string(&args.prompts)?)?;
    let device = Device::flex();
    device.seed(0);
    let model = Generator::new(&GeneratorConfig::preset(&args.preset, args.vocab)?, &device);
    let cfg = SearchConfig {
        inference: Inference::Beam,
        beam_size: args.beam,
        min_length: args.min_length,
        max_length: args.max_length,
        block_ngram: args.block_ngram,
        ..SearchConfig::default()
    };
    // warm-up on the first batch (allocations, thread pool)
    let first = &prompts[..args.batchsize.min(prompts.len())];
    generate(&model, first, first, &cfg, &device)?;
    let start = Instant::now();
    let mut tokens = 0;
    for chunk in prompts.chunks(args.batchsize) {
        for r in generate(&model, chunk, chunk, &cfg, &device)? {
            tokens += r.best().tokens.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"tokens": tokens, "seconds": secs, "tokens_per_sec": tokens as f64 / secs})
    );
    Ok(())
}
