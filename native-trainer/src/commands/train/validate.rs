//! Validation during training: teacher-forced CRINGE metrics on the tasks' valid split (pooled,
//! or averaged per task as ParlAI's `--aggregate-micro false` does), and the choice of the best
//! checkpoint by one of those metrics.

use super::trainee::Trainee;
use burn::tensor::Device;
use clap::ValueEnum;
use cringe_core::data::{Batch, EncodedExample};
use cringe_core::loss::{
    CandidateDraw, CringeMetrics, CringeStats, LossOutput, Objective, uniform_draws,
};
use cringe_core::model::{Generator, Packing};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::ops::Range;

/// Whether a larger or smaller validation metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricMode {
    /// Smaller is better (losses, perplexities).
    Min,
    /// Larger is better (accuracies).
    Max,
}

/// The value of metric `name` (a field of [`CringeMetrics`]).
pub fn metric_value(m: &CringeMetrics, name: &str) -> anyhow::Result<f64> {
    let v = serde_json::to_value(m)?;
    v.get(name).and_then(|x| x.as_f64()).ok_or_else(|| {
        let names: Vec<String> =
            v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        anyhow::anyhow!("unknown --validation-metric {name:?}; expected one of {names:?}")
    })
}

/// Whether `new` improves on `best` under `mode`.
pub fn improves(new: f64, best: Option<f64>, mode: MetricMode) -> bool {
    match (best, mode) {
        (None, _) => new.is_finite(),
        (Some(b), MetricMode::Min) => new < b,
        (Some(b), MetricMode::Max) => new > b,
    }
}

/// Teacher-forced training loss of `model` on one batch, CRINGE candidates drawn from `rng`.
pub fn batch_loss(
    model: &Generator,
    batch: Batch,
    objective: &Objective,
    rng: &mut StdRng,
    device: &Device,
) -> LossOutput {
    let cfg = model.config();
    let (context_rows, target_rows) = Packing::for_batch(&batch, device);
    let logits = model.forward_rows(batch.context, context_rows, batch.decoder_input, &target_rows);
    let draw = |n| CandidateDraw::Uniform(uniform_draws(rng, n, device));
    objective.loss_rows(
        logits,
        &target_rows,
        batch.targets,
        batch.labels,
        &batch.pairs,
        (cfg.pad_id, cfg.end_id),
        draw,
    )
}

/// The validation examples of every task, in task order, and which of them are whose.
#[derive(Debug, Default)]
pub struct ValidSet {
    /// Every task's examples, one task after the other.
    pub examples: Vec<EncodedExample>,
    /// Each task's name and its examples' range in `examples`.
    pub tasks: Vec<(String, Range<usize>)>,
}

impl ValidSet {
    /// Adds a task's validation examples.
    pub fn push_task(&mut self, name: &str, examples: impl IntoIterator<Item = EncodedExample>) {
        let start = self.examples.len();
        self.examples.extend(examples);
        self.tasks.push((name.to_string(), start..self.examples.len()));
    }

    /// Keeps the first `n` examples (tasks past them keep empty ranges and are dropped).
    pub fn truncate(&mut self, n: usize) {
        self.examples.truncate(n);
        for (_, r) in &mut self.tasks {
            *r = r.start.min(n)..r.end.min(n);
        }
        self.tasks.retain(|(_, r)| !r.is_empty());
    }
}

/// Loss statistics of `model` on `data` (batches of `bs`), with a fixed candidate-sampling seed
/// so successive validations are comparable.
fn validation_stats<M: Trainee>(
    model: &M,
    text: &M::Text,
    data: &[EncodedExample],
    bs: usize,
    objective: &Objective,
    device: &Device,
) -> CringeStats {
    let mut rng = StdRng::seed_from_u64(0);
    let mut stats = CringeStats::default();
    for chunk in data.chunks(bs.max(1)) {
        let out = model.loss(text, chunk, objective, &mut rng, device);
        stats.merge(&CringeStats::from_tensor(out.stats));
    }
    stats
}

/// Loss metrics of `model` on the validation set: pooled over every task's tokens (`micro`,
/// `--aggregate-micro true`) or the mean of the per-task metrics (ParlAI's macro average).
pub fn validate<M: Trainee>(
    model: &M,
    text: &M::Text,
    valid: &ValidSet,
    micro: bool,
    bs: usize,
    objective: &Objective,
    device: &Device,
) -> CringeMetrics {
    if micro || valid.tasks.len() <= 1 {
        return validation_stats(model, text, &valid.examples, bs, objective, device).metrics();
    }
    let per_task: Vec<CringeStats> = valid
        .tasks
        .iter()
        .map(|(_, r)| {
            validation_stats(model, text, &valid.examples[r.clone()], bs, objective, device)
        })
        .collect();
    CringeStats::macro_metrics(&per_task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lookup_and_modes() {
        let m = CringeStats { loss_sum: 6.0, total_tokens: 3.0, ..Default::default() }.metrics();
        assert_eq!(metric_value(&m, "loss").unwrap(), 2.0);
        assert!(metric_value(&m, "bogus").unwrap_err().to_string().contains("ppl_pos"));
        assert!(improves(1.0, None, MetricMode::Min));
        assert!(!improves(f64::NAN, None, MetricMode::Min));
        assert!(
            improves(1.0, Some(2.0), MetricMode::Min) && !improves(1.0, Some(2.0), MetricMode::Max)
        );
    }
}
