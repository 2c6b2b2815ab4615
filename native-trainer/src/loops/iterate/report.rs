//! The `iterate` report's rows and their markdown table (the plot: `plot.rs`).

use serde::Serialize;
use std::fmt::Write as _;

/// One round's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRow {
    /// 0 = baseline.
    pub round: usize,
    /// Share of generations on held-out toxic contexts the classifier judged safe, in %.
    pub safe_pct: f64,
    /// Unigram F1 of dialogue generations against gold responses.
    pub f1: f64,
    /// Perplexity of gold dialogue responses.
    pub ppl: f64,
    /// Mean generated length on the toxic contexts.
    pub gen_len: f64,
    /// Filtered examples of the previous round's generations added to this round's training
    /// mix (0 for the baseline, or when too few to add).
    pub new_examples: usize,
}

/// The markdown table.
pub fn markdown_table(rows: &[RoundRow]) -> String {
    let mut s = String::from(
        "| round | classifier-safe % | F1 | perplexity | gen. length | new iterative examples |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let name =
            if r.round == 0 { "baseline".to_string() } else { format!("CRINGE round {}", r.round) };
        let _ = writeln!(
            s,
            "| {name} | {:.1} | {:.4} | {:.2} | {:.1} | {} |",
            r.safe_pct, r.f1, r.ppl, r.gen_len, r.new_examples
        );
    }
    s
}
