//! Validation of a classifier: loss, accuracy and the F1 of pos (safe) and neg (unsafe), their
//! mean and support-weighted mean, per validation task and pooled (ParlAI's
//! `--aggregate-micro`), and the metric `--validation-metric` keeps the best model by.

use super::net::ClassifierNet;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::model::classifier::predicted_classes;
use serde::{Deserialize, Serialize};

/// Validation results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierScores {
    /// Examples scored.
    pub exs: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// ParlAI's `f1`: the word F1 of the predicted class name against the gold one, which for
    /// one-word class names is 1 or 0 per example, so it equals the accuracy.
    pub f1: f64,
    /// F1 of the pos (safe) class (ParlAI's `class_pos_f1`).
    pub f1_pos: f64,
    /// F1 of the neg (unsafe) class (ParlAI's `class_neg_f1`).
    pub f1_neg: f64,
    /// Mean of the two.
    pub macro_f1: f64,
    /// The two weighted by their gold counts (ParlAI's `weighted_f1`).
    pub weighted_f1: f64,
}

/// `--validation-metric` names and the field each reads.
const METRICS: &[&str] =
    &["loss", "accuracy", "f1", "class_pos_f1", "class_neg_f1", "macro_f1", "weighted_f1"];

impl ClassifierScores {
    /// The value of `--validation-metric name`.
    pub fn metric(&self, name: &str) -> anyhow::Result<f64> {
        Ok(match name {
            "loss" => self.loss,
            "accuracy" => self.accuracy,
            "f1" => self.f1,
            "class_pos_f1" | "f1_pos" => self.f1_pos,
            "class_neg_f1" | "f1_neg" => self.f1_neg,
            "macro_f1" => self.macro_f1,
            "weighted_f1" => self.weighted_f1,
            _ => anyhow::bail!("unknown --validation-metric {name:?}; expected one of {METRICS:?}"),
        })
    }

    /// The mean of per-task scores, each task counting the same (ParlAI's
    /// `--aggregate-micro false`); `exs` is their total.
    pub fn macro_average(tasks: &[ClassifierScores]) -> ClassifierScores {
        let n = tasks.len().max(1) as f64;
        let mean = |f: fn(&ClassifierScores) -> f64| tasks.iter().map(f).sum::<f64>() / n;
        ClassifierScores {
            exs: tasks.iter().map(|t| t.exs).sum(),
            loss: mean(|t| t.loss),
            accuracy: mean(|t| t.accuracy),
            f1: mean(|t| t.f1),
            f1_pos: mean(|t| t.f1_pos),
            f1_neg: mean(|t| t.f1_neg),
            macro_f1: mean(|t| t.macro_f1),
            weighted_f1: mean(|t| t.weighted_f1),
        }
    }
}

/// Scores a classifier on encoded examples (token ids, gold class index); `pos` is the index
/// of class `pos` in its output.
pub fn score<M: ClassifierNet>(
    model: &M,
    data: &[(Vec<u32>, usize)],
    trunc: usize,
    pos: usize,
    device: &Device,
) -> anyhow::Result<ClassifierScores> {
    let mut conf = [[0usize; 2]; 2]; // [gold][pred]
    let mut loss_sum = 0.0f64;
    for chunk in data.chunks(64) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|(s, _)| s.clone()).collect();
        let logits = model.logits(&seqs, trunc, device)?;
        let gold: Vec<i64> = chunk.iter().map(|(_, c)| *c as i64).collect();
        let gold = Tensor::<1, Int>::from_data(TensorData::new(gold, [chunk.len()]), device);
        let nll = log_softmax(logits.clone(), 1).gather(1, gold.unsqueeze_dim::<2>(1)).neg();
        loss_sum += nll.sum().into_scalar::<f32>() as f64;
        for ((_, gold), p) in chunk.iter().zip(predicted_classes(logits)?) {
            conf[*gold][p] += 1;
        }
    }
    let mut s = from_confusion(conf, pos);
    s.loss = loss_sum / s.exs.max(1) as f64;
    Ok(s)
}

/// The scores of a confusion matrix `[gold][predicted]` (loss left at 0).
fn from_confusion(conf: [[usize; 2]; 2], pos: usize) -> ClassifierScores {
    let f1 = |c: usize| {
        let tp = conf[c][c] as f64;
        let p = tp / (conf[0][c] + conf[1][c]).max(1) as f64;
        let r = tp / (conf[c][0] + conf[c][1]).max(1) as f64;
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
    };
    let exs: usize = conf.iter().flatten().sum();
    let support = |c: usize| (conf[c][0] + conf[c][1]) as f64;
    let (f1_pos, f1_neg) = (f1(pos), f1(1 - pos));
    let accuracy = (conf[0][0] + conf[1][1]) as f64 / exs.max(1) as f64;
    ClassifierScores {
        exs,
        loss: 0.0,
        accuracy,
        f1: accuracy,
        f1_pos,
        f1_neg,
        macro_f1: (f1_pos + f1_neg) / 2.0,
        weighted_f1: (f1_pos * support(pos) + f1_neg * support(1 - pos)) / (exs.max(1) as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_confusion_matrix() {
        // 3 pos (2 right), 2 neg (1 right)
        let s = from_confusion([[2, 1], [1, 1]], 0);
        assert_eq!(s.exs, 5);
        assert!((s.accuracy - 0.6).abs() < 1e-12 && s.f1 == s.accuracy);
        assert!((s.f1_pos - 2.0 / 3.0).abs() < 1e-12, "p = r = 2/3");
        assert!((s.f1_neg - 0.5).abs() < 1e-12, "p = r = 1/2");
        assert!((s.macro_f1 - 7.0 / 12.0).abs() < 1e-12);
        assert!((s.weighted_f1 - (3.0 * 2.0 / 3.0 + 2.0 * 0.5) / 5.0).abs() < 1e-12);
        assert_eq!(from_confusion([[0, 0], [0, 0]], 0).accuracy, 0.0);
        // with --classes neg pos the pos class is output 1
        let swapped = from_confusion([[1, 1], [1, 2]], 1);
        assert_eq!((swapped.f1_pos, swapped.f1_neg), (s.f1_pos, s.f1_neg));
    }

    #[test]
    fn macro_averaging_weighs_each_task_once_and_metrics_are_found_by_parlais_names() {
        let a = ClassifierScores { exs: 10, accuracy: 1.0, macro_f1: 1.0, ..Default::default() };
        let b = ClassifierScores { exs: 90, accuracy: 0.5, macro_f1: 0.0, ..Default::default() };
        let m = ClassifierScores::macro_average(&[a, b]);
        assert_eq!((m.exs, m.accuracy, m.macro_f1), (100, 0.75, 0.5));
        assert_eq!(m.metric("class_pos_f1").unwrap(), m.f1_pos);
        let e = m.metric("ppl").unwrap_err().to_string();
        assert!(e.contains("\"ppl\"") && e.contains("weighted_f1"), "{e}");
    }
}
