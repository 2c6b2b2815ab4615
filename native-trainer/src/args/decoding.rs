//! Decoding flags shared by `eval` and `chat`, named as in the seed's ParlAI commands.

use super::parse_bool;
use clap::{ArgAction, Args, ValueEnum};
use cringe_core::decode::{Inference, SearchConfig};

/// `--inference` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InferenceKind {
    /// Beam search.
    Beam,
    /// Most likely token at each step.
    Greedy,
    /// Sample among the --topk most likely tokens.
    Topk,
    /// Sample among the tokens holding --topp of the probability.
    Nucleus,
}

/// How to generate.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Decoding method.
    #[arg(long, value_enum, default_value_t = InferenceKind::Beam)]
    pub inference: InferenceKind,

    /// Hypotheses per context.
    #[arg(long = "beam-size", default_value_t = 10)]
    pub beam_size: usize,

    /// The end token is forbidden before this many tokens.
    #[arg(long = "beam-min-length", default_value_t = 1)]
    pub beam_min_length: usize,

    /// Never repeat an n-gram of this size within a response (0 = off).
    #[arg(long = "beam-block-ngram", default_value_t = 0)]
    pub beam_block_ngram: usize,

    /// Never produce an n-gram of this size from the context (0 = off).
    #[arg(long = "beam-context-block-ngram", default_value_t = 0)]
    pub beam_context_block_ngram: usize,

    /// Context blocking looks at the whole untruncated history (plus end token) rather than the
    /// truncated model input (ParlAI's default: true).
    #[arg(long = "beam-block-full-context", action = ArgAction::Set, value_parser = parse_bool, default_value = "true", value_name = "BOOL")]
    pub beam_block_full_context: bool,

    /// Length penalty exponent: score = log-prob / ((1 + length) / 6) ^ this.
    #[arg(long = "beam-length-penalty", default_value_t = 0.65)]
    pub beam_length_penalty: f64,

    /// k for --inference topk.
    #[arg(long, default_value_t = 10)]
    pub topk: usize,

    /// p for --inference nucleus.
    #[arg(long, default_value_t = 0.9)]
    pub topp: f64,

    /// Divide logits by this before sampling or searching.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,

    /// Longest response in tokens (ParlAI uses --label-truncate for this).
    #[arg(long = "label-truncate", default_value_t = 128)]
    pub label_truncate: usize,

    /// Keep at most this many context tokens for the model input.
    #[arg(long = "text-truncate", default_value_t = 128)]
    pub text_truncate: usize,

    /// Seed for the sampling methods.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl DecodeArgs {
    /// Checks the flags (everything that can be told without the model).
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.text_truncate > 0, "--text-truncate must be at least 1 token");
        self.search_config().validate()?;
        Ok(())
    }

    /// Fails when decoding `contexts` contexts at once with these flags would need more memory
    /// than `device` has (checked before the first batch).
    pub fn check_memory(
        &self,
        cfg: &cringe_core::model::GeneratorConfig,
        contexts: usize,
        device: crate::device::DeviceKind,
    ) -> anyhow::Result<()> {
        let beam = if self.inference == InferenceKind::Greedy { 1 } else { self.beam_size };
        let rows = contexts.saturating_mul(beam);
        let bytes = cringe_core::model::footprint::decoding_bytes(
            cfg,
            rows,
            self.text_truncate.min(cfg.n_positions),
            self.label_truncate.min(cfg.n_positions),
        );
        crate::memory::ensure_fits(
            device,
            bytes,
            &format!("decoding {contexts} contexts × beam {beam} at once"),
            "reduce --beam-size or -bs",
        )
    }

    /// The search configuration these flags select.
    pub fn search_config(&self) -> SearchConfig {
        let inference = match self.inference {
            InferenceKind::Beam => Inference::Beam,
            InferenceKind::Greedy => Inference::Greedy,
            InferenceKind::Topk => Inference::Topk { k: self.topk },
            InferenceKind::Nucleus => Inference::Nucleus { p: self.topp },
        };
        SearchConfig {
            inference,
            beam_size: self.beam_size,
            min_length: self.beam_min_length,
            max_length: self.label_truncate,
            length_penalty: self.beam_length_penalty,
            block_ngram: self.beam_block_ngram,
            context_block_ngram: self.beam_context_block_ngram,
            temperature: self.temperature,
            seed: self.seed,
        }
    }
}
