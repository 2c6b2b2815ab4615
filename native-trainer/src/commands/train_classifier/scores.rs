//! Validation of a classifier: accuracy and per-class F1 of pos (safe) and neg (unsafe), and
//! their mean, the score the best checkpoint is kept by.

use super::net::ClassifierNet;
use burn::tensor::Device;
use cringe_core::model::classifier::predicted_classes;
use serde::Serialize;

/// Validation results.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ClassifierScores {
    /// Examples scored.
    pub exs: usize,
    /// Accuracy.
    pub accuracy: f64,
    /// F1 of the pos (safe) class.
    pub f1_pos: f64,
    /// F1 of the neg (unsafe) class.
    pub f1_neg: f64,
    /// Mean of the two.
    pub macro_f1: f64,
}

/// Scores a classifier on encoded examples (token ids, gold class 0 = pos or 1 = neg).
pub fn score<M: ClassifierNet>(
    model: &M,
    data: &[(Vec<u32>, usize)],
    trunc: usize,
    device: &Device,
) -> anyhow::Result<ClassifierScores> {
    let mut conf = [[0usize; 2]; 2]; // [gold][pred]
    for chunk in data.chunks(64) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|(s, _)| s.clone()).collect();
        let pred = predicted_classes(model.logits(&seqs, trunc, device)?)?;
        for ((_, gold), p) in chunk.iter().zip(pred) {
            conf[*gold][p] += 1;
        }
    }
    Ok(from_confusion(conf))
}

/// The scores of a confusion matrix `[gold][predicted]`.
fn from_confusion(conf: [[usize; 2]; 2]) -> ClassifierScores {
    let f1 = |c: usize| {
        let tp = conf[c][c] as f64;
        let p = tp / (conf[0][c] + conf[1][c]).max(1) as f64;
        let r = tp / (conf[c][0] + conf[c][1]).max(1) as f64;
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
    };
    let exs = conf.iter().flatten().sum();
    let (f1_pos, f1_neg) = (f1(0), f1(1));
    ClassifierScores {
        exs,
        accuracy: (conf[0][0] + conf[1][1]) as f64 / exs.max(1) as f64,
        f1_pos,
        f1_neg,
        macro_f1: (f1_pos + f1_neg) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_confusion_matrix() {
        // 3 pos (2 right), 2 neg (1 right)
        let s = from_confusion([[2, 1], [1, 1]]);
        assert_eq!(s.exs, 5);
        assert!((s.accuracy - 0.6).abs() < 1e-12);
        assert!((s.f1_pos - 2.0 / 3.0).abs() < 1e-12, "p = r = 2/3");
        assert!((s.f1_neg - 0.5).abs() < 1e-12, "p = r = 1/2");
        assert!((s.macro_f1 - 7.0 / 12.0).abs() < 1e-12);
        assert_eq!(from_confusion([[0, 0], [0, 0]]).accuracy, 0.0);
    }
}
