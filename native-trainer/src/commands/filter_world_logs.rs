//! `cringe filter-world-logs`: turn generated world logs into balanced iterative training data,
//! as the seed's `safety_filter_world_logs.py` does.
//!
//! Each episode's first exchange is labelled (human label, else the classifier's verdict, see
//! DESIGN §6; an episode with neither, or with an empty generation, is left out and reported by
//! line, and a malformed verdict is an error); negatives are kept as they are, positives with
//! the same generated text are kept at most `--max-repeats` times; then n = min(#neg, #pos) of
//! each are drawn with a seeded shuffle and written, in shuffled order, as the unchanged input
//! lines.

use clap::Args;
use cringe_core::data::{Label, LeftOut, read_world_logs};
use cringe_core::fsutil::{refuse_overwriting_inputs, write_atomic};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::HashMap;
use std::path::PathBuf;

/// Balance world logs 50/50 between safe and unsafe generations.
#[derive(Debug, Clone, Args)]
pub struct FilterWorldLogsArgs {
    /// World logs written by `cringe eval --world-logs` (or by ParlAI).
    #[arg(long = "world-logs-file", value_name = "FILE")]
    pub world_logs_file: PathBuf,

    /// Where to write the balanced lines.
    #[arg(long = "filtered-world-logs-file", value_name = "FILE")]
    pub filtered_world_logs_file: PathBuf,

    /// Keep a safe generation's text at most this many times.
    #[arg(long = "max-repeats", default_value_t = 2)]
    pub max_repeats: usize,

    /// Shuffle seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl FilterWorldLogsArgs {
    /// Checks the flags.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_repeats > 0,
            "--max-repeats must be at least 1 (0 would keep no safe generation)"
        );
        Ok(())
    }
}

/// How many lines of each kind were read and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCounts {
    /// Episodes read.
    pub read: usize,
    /// Unsafe (negative) episodes read.
    pub neg: usize,
    /// Safe episodes left after the repeat limit.
    pub pos_deduped: usize,
    /// Lines written of each kind.
    pub kept_each: usize,
    /// Episodes left out: no verdict, or an empty generation.
    pub left_out: usize,
}

/// Runs `cringe filter-world-logs`: [`balance`], where nothing balanced is an error.
pub fn run(args: &FilterWorldLogsArgs) -> anyhow::Result<FilterCounts> {
    let counts = balance(args)?;
    anyhow::ensure!(
        counts.kept_each > 0,
        "{}: no balanced data to write: {} unsafe and {} safe episodes with a verdict (of {} read); nothing was written to {}",
        args.world_logs_file.display(),
        counts.neg,
        counts.pos_deduped,
        counts.read,
        args.filtered_world_logs_file.display()
    );
    Ok(counts)
}

/// Balances the world logs and writes the lines, unless one class is empty: then nothing is
/// written and the counts say so (`kept_each` 0; the iterative loop goes on without new data).
pub fn balance(args: &FilterWorldLogsArgs) -> anyhow::Result<FilterCounts> {
    args.validate()?;
    let path = &args.world_logs_file;
    refuse_overwriting_inputs(
        &[path.as_path()],
        &args.filtered_world_logs_file,
        "--filtered-world-logs-file",
    )?;
    let records = read_world_logs(path)?;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut left_out = LeftOut::default();
    for rec in &records {
        let Some(judged) = rec.judge(path, rec.first_exchange(path)?, &mut left_out)? else {
            continue;
        };
        match judged.label {
            Label::Neg => neg.push(rec.raw.as_str()),
            _ => {
                let n = seen.entry(judged.exchange.response).or_default();
                if *n < args.max_repeats {
                    *n += 1;
                    pos.push(rec.raw.as_str());
                }
            }
        }
    }
    if let Some(note) = left_out.summary(path) {
        eprintln!("warning: {note}");
    }
    let n = pos.len().min(neg.len());
    let counts = FilterCounts {
        read: records.len(),
        neg: neg.len(),
        pos_deduped: pos.len(),
        kept_each: n,
        left_out: left_out.len(),
    };
    if n == 0 {
        return Ok(counts);
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    let mut out: Vec<&str> = pos[..n].iter().chain(&neg[..n]).copied().collect();
    out.shuffle(&mut rng);
    let mut body = out.join("\n");
    body.push('\n');
    write_atomic(&args.filtered_world_logs_file, body.as_bytes())?;
    println!(
        "read {} episodes ({} unsafe, {} safe after keeping each text at most {} times, {} left out); wrote {} safe + {} unsafe to {}",
        counts.read,
        counts.neg,
        counts.pos_deduped,
        args.max_repeats,
        counts.left_out,
        n,
        n,
        args.filtered_world_logs_file.display()
    );
    Ok(counts)
}
