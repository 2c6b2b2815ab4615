//! `cringe judge`: re-judge the replies of world logs with a safety classifier, and, where
//! people labelled them (`human_label`, from the browser's Label page), measure how often the
//! classifier agrees with them.
//!
//! A loop is only as good as its judge: a classifier with 0.9 validation accuracy on its own
//! data may still call a harmless reply unsafe because it mentions a group, on another
//! model's replies. Labelling a sample of the model's own replies and running this tells the
//! two apart before a loop trains on the verdicts.

use anyhow::Context;
use clap::Args;
use cringe_core::data::read_world_logs;
use cringe_core::fsutil::{refuse_overwriting_inputs, write_atomic};
use cringe_core::judge::SafetyClassifier;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Judge the replies in world logs with a classifier; agreement with human labels.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  cringe judge --world-logs labelled.jsonl --classifier runs/classifier --judged-world-logs judged.jsonl"
)]
pub struct JudgeArgs {
    /// World logs whose model replies to judge (human labels, where present, are compared).
    #[arg(long = "world-logs", value_name = "FILE")]
    pub world_logs: PathBuf,

    /// The safety classifier (from `cringe train-classifier`).
    #[arg(long = "eval-classifier-model-file", visible_alias = "classifier", value_name = "DIR")]
    pub classifier: PathBuf,

    /// Write the world logs with this classifier's verdicts (`classifier_accuracy` 1.0 safe,
    /// 0.0 unsafe; an older `pos_classifier_prediction` removed); other fields unchanged.
    #[arg(long = "judged-world-logs", value_name = "FILE")]
    pub judged_world_logs: Option<PathBuf>,

    /// Truncate each reply to this many tokens for the classifier.
    #[arg(long = "text-truncate", default_value_t = 128)]
    pub text_truncate: usize,

    /// Device and precision.
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
}

/// How the classifier's verdicts compare with people's labels (unsafe is the positive class).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Agreement {
    /// Replies with a human label.
    pub labelled: usize,
    /// Share of them where the classifier says what the person said.
    pub accuracy: f64,
    /// Of the replies the classifier calls unsafe, the share people call unsafe.
    pub unsafe_precision: f64,
    /// Of the replies people call unsafe, the share the classifier calls unsafe.
    pub unsafe_recall: f64,
    /// Both say safe.
    pub both_safe: usize,
    /// Both say unsafe.
    pub both_unsafe: usize,
    /// People say safe, the classifier unsafe.
    pub false_unsafe: usize,
    /// People say unsafe, the classifier safe.
    pub missed_unsafe: usize,
}

/// What `cringe judge` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeReport {
    /// Replies judged.
    pub replies: usize,
    /// Share the classifier judged safe.
    pub safe_share: f64,
    /// Agreement with the human labels (absent when there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Agreement>,
}

impl Agreement {
    /// From (human says safe, classifier says safe) pairs.
    pub fn of(pairs: &[(bool, bool)]) -> Self {
        let count = |h: bool, c: bool| pairs.iter().filter(|p| **p == (h, c)).count();
        let (both_safe, both_unsafe) = (count(true, true), count(false, false));
        let (false_unsafe, missed_unsafe) = (count(true, false), count(false, true));
        let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        Self {
            labelled: pairs.len(),
            accuracy: ratio(both_safe + both_unsafe, pairs.len()),
            unsafe_precision: ratio(both_unsafe, both_unsafe + false_unsafe),
            unsafe_recall: ratio(both_unsafe, both_unsafe + missed_unsafe),
            both_safe,
            both_unsafe,
            false_unsafe,
            missed_unsafe,
        }
    }
}

/// Runs `cringe judge`.
pub fn run(args: &JudgeArgs) -> anyhow::Result<JudgeReport> {
    let path = &args.world_logs;
    if let Some(out) = &args.judged_world_logs {
        refuse_overwriting_inputs(&[path.as_path()], out, "--judged-world-logs")?;
    }
    let (device, _) = args.compute.open()?;
    let classifier = SafetyClassifier::load(&args.classifier, &device)
        .with_context(|| format!("loading --classifier {}", args.classifier.display()))?;
    let mut records = read_world_logs(path)?;
    // every (record, turn) with a reply, its text and its human label
    let mut replies = Vec::new();
    for (r, rec) in records.iter().enumerate() {
        for (turn, ex) in rec.exchanges(path)?.into_iter().enumerate() {
            let human = ex
                .human_label()
                .map_err(|m| anyhow::anyhow!("{}:{}: {m}", path.display(), rec.line))?
                .map(|label| label == cringe_core::data::Label::Pos);
            replies.push((r, turn, ex.response, human));
        }
    }
    let texts: Vec<String> = replies.iter().map(|(_, _, t, _)| t.clone()).collect();
    let verdicts = classifier.is_safe(&texts, args.text_truncate, &device)?;
    for ((r, turn, _, _), safe) in replies.iter().zip(&verdicts) {
        set_verdict(&mut records[*r].episode, *turn, *safe);
    }
    if let Some(out) = &args.judged_world_logs {
        let mut body: String =
            records.iter().map(|r| Value::Object(r.episode.clone()).to_string() + "\n").collect();
        if body.is_empty() {
            body.push('\n');
        }
        write_atomic(out, body.as_bytes())?;
    }
    let pairs: Vec<(bool, bool)> =
        replies.iter().zip(&verdicts).filter_map(|((_, _, _, h), c)| Some(((*h)?, *c))).collect();
    let safe = verdicts.iter().filter(|v| **v).count();
    let report = JudgeReport {
        replies: verdicts.len(),
        safe_share: if verdicts.is_empty() { 0.0 } else { safe as f64 / verdicts.len() as f64 },
        agreement: (!pairs.is_empty()).then(|| Agreement::of(&pairs)),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(report)
}

/// Writes the verdict into turn `turn`'s model act metrics.
fn set_verdict(episode: &mut serde_json::Map<String, Value>, turn: usize, safe: bool) {
    let Some(act) = episode
        .get_mut("dialog")
        .and_then(|d| d.get_mut(turn))
        .and_then(|t| t.get_mut(1))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let metrics = act.entry("metrics").or_insert_with(|| json!({}));
    if let Some(m) = metrics.as_object_mut() {
        m.remove("pos_classifier_prediction");
        m.insert("classifier_accuracy".into(), json!(if safe { 1.0 } else { 0.0 }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_counts_each_cell_with_unsafe_as_the_positive_class() {
        // (human safe?, classifier safe?)
        let pairs = [(true, true), (true, false), (false, false), (false, false), (false, true)];
        let a = Agreement::of(&pairs);
        assert_eq!(
            (a.both_safe, a.false_unsafe, a.both_unsafe, a.missed_unsafe, a.labelled),
            (1, 1, 2, 1, 5)
        );
        assert!((a.accuracy - 0.6).abs() < 1e-12);
        assert!((a.unsafe_precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((a.unsafe_recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Agreement::of(&[]).accuracy, 0.0);
    }
}
