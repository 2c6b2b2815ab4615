//! `cringe filter-world-logs`: turn generated world logs into balanced iterative training data,
//! as the seed's `safety_filter_world_logs.py` does.
//!
//! Each episode's first exchange is labelled (human label, else the classifier's verdict, see
//! DESIGN §6); negatives are kept as they are, positives with the same generated text are kept at
//! most `--max-repeats` times; then n = min(#neg, #pos) of each are drawn with a seeded shuffle
//! and written, in shuffled order, as the unchanged input lines.

use clap::Args;
use cringe_core::data::{Label, read_world_logs};
use cringe_core::fsutil::write_atomic;
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
}

/// Runs the filter.
pub fn run(args: &FilterWorldLogsArgs) -> anyhow::Result<FilterCounts> {
    let path = &args.world_logs_file;
    let records = read_world_logs(path)?;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for rec in &records {
        let first = rec.first_exchange(path)?;
        match first.label() {
            Label::Neg => neg.push(rec.raw.as_str()),
            _ => {
                let n = seen.entry(first.response.clone()).or_default();
                if *n < args.max_repeats {
                    *n += 1;
                    pos.push(rec.raw.as_str());
                }
            }
        }
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    let n = pos.len().min(neg.len());
    let mut out: Vec<&str> = pos[..n].iter().chain(&neg[..n]).copied().collect();
    out.shuffle(&mut rng);
    let mut body = out.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    write_atomic(&args.filtered_world_logs_file, body.as_bytes())?;
    let counts = FilterCounts { read: records.len(), neg: neg.len(), pos_deduped: pos.len(), kept_each: n };
    println!(
        "read {} episodes ({} unsafe, {} safe after keeping each text at most {} times); wrote {} safe + {} unsafe to {}",
        counts.read,
        counts.neg,
        counts.pos_deduped,
        args.max_repeats,
        n,
        n,
        args.filtered_world_logs_file.display()
    );
    if n == 0 {
        eprintln!("warning: no balanced data: one of the two classes is empty");
    }
    Ok(counts)
}
