//! The `iterate` report's rows, their markdown table with its sample sizes, and the example
//! replies of the same held-out contexts round by round (the plot: `plot.rs`).

use crate::stage::Evaluation;
use cringe_core::data::read_world_logs;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One round's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRow {
    /// 0 = baseline.
    pub round: usize,
    /// What the evaluation stage measured (safe %, F1, perplexities, lengths, diversity,
    /// each form's scores, sample sizes).
    #[serde(flatten)]
    pub eval: Evaluation,
    /// Filtered examples of the previous round's generations added to this round's training
    /// mix (0 for the baseline, or when too few to add).
    pub new_examples: usize,
}

fn round_name(round: usize) -> String {
    if round == 0 { "baseline".to_string() } else { format!("CRINGE round {round}") }
}

/// The markdown table: one safe % column per form, the dialogue's F1 and perplexity, one
/// column per perplexity task, distinct-1/2 and length of the safety replies; then a line
/// with every number's sample size.
pub fn markdown_table(rows: &[RoundRow]) -> String {
    let Some(first) = rows.first() else { return String::new() };
    let mut head = vec!["round".to_string()];
    for f in &first.eval.forms {
        head.push(if f.form.is_empty() {
            "classifier-safe %".into()
        } else {
            format!("safe % ({})", f.form)
        });
    }
    head.extend(["F1".into(), "perplexity".into()]);
    head.extend(first.eval.perplexity.iter().map(|p| format!("ppl ({})", p.name)));
    head.extend(["distinct-1".into(), "distinct-2".into(), "gen. length".into()]);
    head.push("new iterative examples".into());
    let mut s = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for r in rows {
        let e = &r.eval;
        let mut cells = vec![round_name(r.round)];
        cells.extend(e.forms.iter().map(|f| format!("{:.1}", f.safe_pct)));
        cells.extend([format!("{:.4}", e.f1), format!("{:.2}", e.ppl)]);
        cells.extend(e.perplexity.iter().map(|p| format!("{:.2}", p.ppl)));
        let n = e.forms.len().max(1) as f64;
        let d1 = e.forms.iter().map(|f| f.distinct_1).sum::<f64>() / n;
        cells.extend([format!("{d1:.3}"), format!("{:.3}", e.distinct_2)]);
        cells.extend([format!("{:.1}", e.gen_len), r.new_examples.to_string()]);
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(s, "\n{}", sample_sizes(&first.eval));
    s
}

/// "Sample sizes: …" for the table's numbers.
fn sample_sizes(e: &Evaluation) -> String {
    let contexts = e.forms.first().map_or(0, |f| f.contexts);
    let per_form = if e.forms.len() > 1 {
        " in each form (distinct-n and length: the mean over the forms)"
    } else {
        ""
    };
    let mut s = format!(
        "Sample sizes: safe %, distinct-n and length over {contexts} held-out contexts{per_form}; \
         F1 and perplexity over {} dialogue turns",
        e.dialogue_examples
    );
    for p in &e.perplexity {
        let _ = write!(s, "; ppl ({}) over {} responses", p.name, p.examples);
    }
    s.push('.');
    s
}

/// A markdown section with the replies of every round to the first `n` contexts of each
/// form's safety evaluation (read from the rounds' world logs), with the classifier's verdict.
pub fn example_replies(out: &Path, rows: &[RoundRow], n: usize) -> anyhow::Result<String> {
    let Some(first) = rows.first().filter(|_| n > 0) else { return Ok(String::new()) };
    let mut s = String::from("## Example replies\n\n");
    let _ = writeln!(
        s,
        "The first {n} held-out contexts of the safety evaluation, the same in every round \
         (sampled replies; the classifier's verdict in brackets).\n"
    );
    for form in &first.eval.forms {
        let mut per_round = Vec::new();
        for r in rows {
            let dir = out.join(format!("round{}", r.round));
            let path = crate::stage::EvalStage::world_logs(&dir, &form.form);
            let mut replies = Vec::new();
            for rec in read_world_logs(&path)?.into_iter().take(n) {
                let ex = rec.first_exchange(&path)?;
                let verdict = match ex.classifier_verdict() {
                    Ok(Some(cringe_core::data::Label::Neg)) => "unsafe",
                    Ok(Some(_)) => "safe",
                    _ => "not judged",
                };
                replies.push((ex.context, format!("{} [{verdict}]", ex.response.trim())));
            }
            per_round.push(replies);
        }
        if !form.form.is_empty() {
            let _ = writeln!(s, "### {} form\n", form.form);
        }
        for (i, (context, _)) in per_round[0].iter().enumerate() {
            let _ = writeln!(s, "**Context:** {}\n", one_line(context));
            for (r, replies) in rows.iter().zip(&per_round) {
                if let Some((_, reply)) = replies.get(i) {
                    let _ = writeln!(s, "- {}: {}", round_name(r.round), one_line(reply));
                }
            }
            s.push('\n');
        }
    }
    Ok(s)
}

/// `text` on one line, markdown's emphasis and table characters escaped.
fn one_line(text: &str) -> String {
    text.replace('\n', " ⏎ ").replace('|', "\\|").replace('*', "\\*").replace('_', "\\_")
}
