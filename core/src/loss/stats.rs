//! CRINGE metrics: sums and counts that aggregate over batches ("aggregate-micro", as ParlAI's
//! `--aggregate-micro True`), and the metrics derived from them.

use burn::tensor::Tensor;
use serde::Serialize;

/// Token-level sums accumulated over one or many batches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CringeStats {
    /// Σ (CE·ce_mask + α·CT·ct_mask).
    pub loss_sum: f64,
    /// Σ CE over CE-masked tokens.
    pub ce_sum: f64,
    /// Σ CT over CT-masked tokens.
    pub ct_sum: f64,
    /// Number of tokens trained with CE.
    pub ce_tokens: f64,
    /// Number of tokens trained with CT.
    pub ct_tokens: f64,
    /// Number of tokens with either mask (the loss denominator).
    pub total_tokens: f64,
    /// Correct argmax predictions among scored tokens.
    pub correct: f64,
    /// Non-pad tokens of positive or unlabeled examples.
    pub pos_tokens: f64,
    /// Correct argmax predictions among them.
    pub pos_correct: f64,
    /// Σ CE over them.
    pub pos_ce_sum: f64,
    /// Non-pad tokens of negative examples.
    pub neg_tokens: f64,
    /// Argmax predictions equal to the negative target.
    pub neg_correct: f64,
    /// Σ CE over CT-masked tokens (how likely the pushed-away text still is).
    pub ct_ce_sum: f64,
}

/// The metrics reported per step and per validation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CringeMetrics {
    /// The optimised loss per scored token.
    pub loss: f64,
    /// Mean CE per CE token.
    pub ce_loss: f64,
    /// Mean CT per CT token.
    pub ct_loss: f64,
    /// Argmax accuracy over scored tokens.
    pub token_acc: f64,
    /// Argmax accuracy over positive/unlabeled tokens.
    pub token_acc_pos: f64,
    /// How often the argmax is the negative token (lower is better).
    pub token_acc_neg: f64,
    /// exp(ce_loss).
    pub ppl_ce: f64,
    /// Perplexity of positive/unlabeled responses.
    pub ppl_pos: f64,
    /// Perplexity of the CT-trained (negative) responses: higher means pushed further away.
    pub ppl_ct: f64,
    /// Number of CE target tokens.
    pub ce_target_tokens: f64,
    /// Number of CT target tokens.
    pub ct_target_tokens: f64,
    /// Number of scored target tokens.
    pub total_target_tokens: f64,
}

impl CringeStats {
    /// Number of entries in the on-device statistics vector.
    pub const LEN: usize = 13;

    /// Reads the statistics vector produced by [`super::cringe_loss`] back from the device.
    pub fn from_tensor(stats: Tensor<1>) -> Self {
        let v: Vec<f32> = stats.try_to_vec_as::<f32>().expect("stats read back");
        Self::from_slice(&v)
    }

    /// Builds stats from the vector's host values.
    pub fn from_slice(v: &[f32]) -> Self {
        assert_eq!(v.len(), Self::LEN, "CRINGE stats vector has the wrong length");
        let f = |i: usize| v[i] as f64;
        Self {
            loss_sum: f(0),
            ce_sum: f(1),
            ct_sum: f(2),
            ce_tokens: f(3),
            ct_tokens: f(4),
            total_tokens: f(5),
            correct: f(6),
            pos_tokens: f(7),
            pos_correct: f(8),
            pos_ce_sum: f(9),
            neg_tokens: f(10),
            neg_correct: f(11),
            ct_ce_sum: f(12),
        }
    }

    /// Adds another batch's sums.
    pub fn merge(&mut self, o: &Self) {
        self.loss_sum += o.loss_sum;
        self.ce_sum += o.ce_sum;
        self.ct_sum += o.ct_sum;
        self.ce_tokens += o.ce_tokens;
        self.ct_tokens += o.ct_tokens;
        self.total_tokens += o.total_tokens;
        self.correct += o.correct;
        self.pos_tokens += o.pos_tokens;
        self.pos_correct += o.pos_correct;
        self.pos_ce_sum += o.pos_ce_sum;
        self.neg_tokens += o.neg_tokens;
        self.neg_correct += o.neg_correct;
        self.ct_ce_sum += o.ct_ce_sum;
    }

    /// The derived metrics (a ratio over zero tokens is 0; a perplexity over zero tokens is 1).
    pub fn metrics(&self) -> CringeMetrics {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let ce_loss = ratio(self.ce_sum, self.ce_tokens);
        CringeMetrics {
            loss: ratio(self.loss_sum, self.total_tokens),
            ce_loss,
            ct_loss: ratio(self.ct_sum, self.ct_tokens),
            token_acc: ratio(self.correct, self.total_tokens),
            token_acc_pos: ratio(self.pos_correct, self.pos_tokens),
            token_acc_neg: ratio(self.neg_correct, self.neg_tokens),
            ppl_ce: ce_loss.exp(),
            ppl_pos: ratio(self.pos_ce_sum, self.pos_tokens).exp(),
            ppl_ct: ratio(self.ct_ce_sum, self.ct_tokens).exp(),
            ce_target_tokens: self.ce_tokens,
            ct_target_tokens: self.ct_tokens,
            total_target_tokens: self.total_tokens,
        }
    }

    /// ParlAI's macro average of several tasks' metrics (`--aggregate-micro false`): each task
    /// counts the same, whatever its size. A ratio or perplexity is the mean over the tasks that
    /// have tokens of its kind (a task without negatives has no ct_loss to average in); token
    /// counts are summed. (Micro averaging is [`CringeStats::merge`] then `metrics`.)
    pub fn macro_metrics(tasks: &[CringeStats]) -> CringeMetrics {
        let per: Vec<CringeMetrics> = tasks.iter().map(CringeStats::metrics).collect();
        let mean =
            |value: fn(&CringeMetrics) -> f64, tokens: fn(&CringeStats) -> f64, none: f64| {
                let vals: Vec<f64> = tasks
                    .iter()
                    .zip(&per)
                    .filter(|(s, _)| tokens(s) > 0.0)
                    .map(|(_, m)| value(m))
                    .collect();
                if vals.is_empty() { none } else { vals.iter().sum::<f64>() / vals.len() as f64 }
            };
        let sum = |tokens: fn(&CringeStats) -> f64| tasks.iter().map(tokens).sum::<f64>();
        CringeMetrics {
            loss: mean(|m| m.loss, |s| s.total_tokens, 0.0),
            ce_loss: mean(|m| m.ce_loss, |s| s.ce_tokens, 0.0),
            ct_loss: mean(|m| m.ct_loss, |s| s.ct_tokens, 0.0),
            token_acc: mean(|m| m.token_acc, |s| s.total_tokens, 0.0),
            token_acc_pos: mean(|m| m.token_acc_pos, |s| s.pos_tokens, 0.0),
            token_acc_neg: mean(|m| m.token_acc_neg, |s| s.neg_tokens, 0.0),
            ppl_ce: mean(|m| m.ppl_ce, |s| s.ce_tokens, 1.0),
            ppl_pos: mean(|m| m.ppl_pos, |s| s.pos_tokens, 1.0),
            ppl_ct: mean(|m| m.ppl_ct, |s| s.ct_tokens, 1.0),
            ce_target_tokens: sum(|s| s.ce_tokens),
            ct_target_tokens: sum(|s| s.ct_tokens),
            total_target_tokens: sum(|s| s.total_tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(loss_sum: f64, total: f64, ct_tokens: f64) -> CringeStats {
        CringeStats {
            loss_sum,
            total_tokens: total,
            ct_tokens,
            ct_sum: ct_tokens * 2.0,
            ..Default::default()
        }
    }

    #[test]
    fn macro_averaging_counts_each_task_once_and_micro_pools_the_tokens() {
        // a big task with loss 1 per token and a small one with loss 3, only the small one with negatives
        let tasks = [task(100.0, 100.0, 0.0), task(30.0, 10.0, 5.0)];
        let m = CringeStats::macro_metrics(&tasks);
        assert_eq!(m.loss, 2.0);
        assert_eq!(m.ct_loss, 2.0, "the task without negatives has no ct_loss to average in");
        assert_eq!(m.total_target_tokens, 110.0);
        let mut pooled = CringeStats::default();
        tasks.iter().for_each(|t| pooled.merge(t));
        assert!((pooled.metrics().loss - 130.0 / 110.0).abs() < 1e-12);
        assert_eq!(CringeStats::macro_metrics(&tasks[..1]), tasks[0].metrics());
    }
}
