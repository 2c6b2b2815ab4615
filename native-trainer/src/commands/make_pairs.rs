//! `cringe make-pairs`: preference pairs from labelled generations, for the pairwise CRINGE
//! loss (and, as a positive plus a negative, for every other loss).
//!
//! Several world logs over the same contexts (e.g. `cringe eval --world-logs` runs with
//! different `--seed`s, judged by a classifier or labelled by people) are grouped by context;
//! each context that has both a safe and an unsafe generation gives up to
//! `--max-pairs-per-context` pairs `{context, chosen: safe, rejected: unsafe}` of distinct texts,
//! chosen with a seeded shuffle. Labels are read as `filter-world-logs` reads them (a human
//! label first, then the classifier's verdict).

use clap::Args;
use cringe_core::data::{Label, LeftOut, PromptForm, pair_line, read_world_logs};
use cringe_core::fsutil::{refuse_overwriting_inputs, write_atomic};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::HashMap;
use std::path::PathBuf;

/// Build preference pairs from world logs.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  cringe make-pairs --world-logs gen1.jsonl,gen2.jsonl,gen3.jsonl --pairs-file pairs.jsonl"
)]
pub struct MakePairsArgs {
    /// World logs with labelled generations, comma-separated (the same contexts sampled several
    /// times).
    #[arg(
        long = "world-logs",
        value_delimiter = ',',
        required = true,
        value_name = "FILE[,FILE...]"
    )]
    pub world_logs: Vec<PathBuf>,

    /// Where to write the pairs (JSONL `{context, chosen, rejected}`).
    #[arg(long = "pairs-file", value_name = "FILE")]
    pub pairs_file: PathBuf,

    /// At most this many pairs per context.
    #[arg(long = "max-pairs-per-context", default_value_t = 1)]
    pub max_pairs_per_context: usize,

    /// Shuffle seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// What `make-pairs` found and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairCounts {
    /// Generations read.
    pub generations: usize,
    /// Distinct contexts.
    pub contexts: usize,
    /// Contexts with at least one safe and one unsafe generation.
    pub mixed_contexts: usize,
    /// Pairs written.
    pub pairs: usize,
}

/// The distinct safe and unsafe replies of one context.
#[derive(Default)]
struct Replies {
    safe: Vec<String>,
    unsafe_: Vec<String>,
}

impl MakePairsArgs {
    /// Checks the flags.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_pairs_per_context > 0,
            "--max-pairs-per-context must be at least 1"
        );
        Ok(())
    }
}

/// Runs `make-pairs`.
pub fn run(args: &MakePairsArgs) -> anyhow::Result<PairCounts> {
    args.validate()?;
    // keyed by the prompt form too: a context generated on as a continuation and as a chat
    // prompt is two prompts
    type Key = (String, Option<PromptForm>);
    let mut order: Vec<Key> = Vec::new();
    let mut by_context: HashMap<Key, Replies> = HashMap::new();
    let mut generations = 0;
    for path in &args.world_logs {
        refuse_overwriting_inputs(&[path.as_path()], &args.pairs_file, "--pairs-file")?;
        let mut left_out = LeftOut::default();
        for rec in read_world_logs(path)? {
            let Some(judged) = rec.judge(path, rec.first_exchange(path)?, &mut left_out)? else {
                continue;
            };
            let (first, label) = (judged.exchange, judged.label);
            generations += 1;
            let key = (first.context.clone(), first.form);
            let replies = by_context.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Replies::default()
            });
            let list = if label == Label::Neg { &mut replies.unsafe_ } else { &mut replies.safe };
            if !list.contains(&first.response) {
                list.push(first.response.clone());
            }
        }
        if let Some(note) = left_out.summary(path) {
            eprintln!("warning: {note}");
        }
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (mut lines, mut mixed) = (Vec::new(), 0);
    for key in &order {
        let r = by_context.get_mut(key).expect("every context was inserted");
        if r.safe.is_empty() || r.unsafe_.is_empty() {
            continue;
        }
        mixed += 1;
        r.safe.shuffle(&mut rng);
        r.unsafe_.shuffle(&mut rng);
        let n = args.max_pairs_per_context.min(r.safe.len().max(r.unsafe_.len()));
        for i in 0..n {
            let (chosen, rejected) = (&r.safe[i % r.safe.len()], &r.unsafe_[i % r.unsafe_.len()]);
            if chosen != rejected {
                lines.push(pair_line(&key.0, chosen, rejected, key.1));
            }
        }
    }
    let mut body = lines.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    write_atomic(&args.pairs_file, body.as_bytes())?;
    let counts = PairCounts {
        generations,
        contexts: order.len(),
        mixed_contexts: mixed,
        pairs: lines.len(),
    };
    println!(
        "read {} generations over {} contexts; {} contexts have both a safe and an unsafe reply; wrote {} pairs to {}",
        counts.generations,
        counts.contexts,
        counts.mixed_contexts,
        counts.pairs,
        args.pairs_file.display()
    );
    if counts.pairs == 0 {
        eprintln!("warning: no pairs: no context has both a safe and an unsafe generation");
    }
    Ok(counts)
}
