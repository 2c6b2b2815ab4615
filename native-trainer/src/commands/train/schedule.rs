//! Learning-rate schedules, as ParlAI's `--lr-scheduler`: linear warmup over
//! `--warmup-updates`, then `reduceonplateau` (the default: multiply by
//! `--lr-scheduler-decay` after more than `--lr-scheduler-patience` validations without
//! improvement, like PyTorch's `ReduceLROnPlateau`), `fixed` (multiply by the decay every
//! `--lr-scheduler-patience` validations, PyTorch's `StepLR` stepped per validation as ParlAI
//! does), `invsqrt`, `linear` decay to zero at the last step, or `none`.

use super::validate::MetricMode;
use serde::{Deserialize, Serialize};

/// `--lr-scheduler` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerKind {
    /// Decay on validation plateaus (ParlAI's default).
    Reduceonplateau,
    /// Decay every --lr-scheduler-patience validations, improvement or not.
    Fixed,
    /// lr · sqrt(warmup) / sqrt(step) after warmup.
    Invsqrt,
    /// Linear decay to 0 at --max-train-steps.
    Linear,
    /// Constant after warmup.
    None,
}

/// Relative improvement a validation must make to reset the plateau counter (PyTorch's default
/// `threshold`, in its `rel` mode).
const PLATEAU_THRESHOLD: f64 = 1e-4;

/// The schedule's mutable part, saved in training checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// Product of all decays applied so far (1 at the start).
    pub scale: f64,
    /// Best validation value seen by the plateau rule.
    pub best: Option<f64>,
    /// Validations since the last improvement (`fixed`: since the last decay).
    pub bad_validations: usize,
}

impl Default for PlateauState {
    /// The state before any validation: no decay applied yet (scale 1).
    fn default() -> Self {
        Self { scale: 1.0, best: None, bad_validations: 0 }
    }
}

impl PlateauState {
    /// Checks a state read from a checkpoint. A scale outside (0, 1] cannot come from decays in
    /// (0, 1]; a scale of exactly 0 is what checkpoints written before any validation stored
    /// until this was fixed, and is repaired to 1 (returns a warning saying so).
    pub fn checked(mut self, file: &std::path::Path) -> anyhow::Result<(Self, Option<String>)> {
        if self.scale == 0.0 {
            self.scale = 1.0;
            let warning = format!(
                "{}: `plateau.scale` is 0 (written by an older cringe before any validation); resuming with scale 1",
                file.display()
            );
            return Ok((self, Some(warning)));
        }
        anyhow::ensure!(
            self.scale > 0.0 && self.scale <= 1.0,
            "{}: `plateau.scale` must be in (0, 1], got {}",
            file.display(),
            self.scale
        );
        Ok((self, None))
    }
}

/// A learning-rate schedule.
#[derive(Debug, Clone)]
pub struct LrSchedule {
    base: f64,
    warmup: usize,
    kind: SchedulerKind,
    decay: f64,
    patience: usize,
    max_steps: usize,
    /// Plateau bookkeeping (checkpointed).
    pub state: PlateauState,
}

impl LrSchedule {
    /// A schedule starting from `base` with these settings.
    pub fn new(
        base: f64,
        warmup: usize,
        kind: SchedulerKind,
        decay: f64,
        patience: usize,
        max_steps: usize,
    ) -> Self {
        Self { base, warmup, kind, decay, patience, max_steps, state: PlateauState::default() }
    }

    /// Learning rate of update `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        let done = step + 1;
        if self.warmup > 0 && done <= self.warmup {
            return self.base * done as f64 / self.warmup as f64;
        }
        match self.kind {
            SchedulerKind::Reduceonplateau | SchedulerKind::Fixed => self.base * self.state.scale,
            SchedulerKind::None => self.base,
            SchedulerKind::Invsqrt => {
                self.base * (self.warmup.max(1) as f64).sqrt() / (done as f64).sqrt()
            }
            SchedulerKind::Linear => {
                let span = self.max_steps.saturating_sub(self.warmup).max(1) as f64;
                let into = (done - self.warmup.min(done)) as f64;
                self.base * (1.0 - into / span).max(0.0)
            }
        }
    }

    /// Feeds one validation result (after update `step`); returns true when it lowered the rate.
    /// Only `reduceonplateau` and `fixed` react, and not during warmup.
    pub fn on_validation(&mut self, step: usize, value: f64, mode: MetricMode) -> bool {
        if self.kind == SchedulerKind::Fixed && step >= self.warmup {
            self.state.bad_validations += 1;
            if self.state.bad_validations >= self.patience.max(1) {
                self.state.scale *= self.decay;
                self.state.bad_validations = 0;
                return true;
            }
            return false;
        }
        if self.kind != SchedulerKind::Reduceonplateau || step < self.warmup || !value.is_finite() {
            return false;
        }
        let improved = match (self.state.best, mode) {
            (None, _) => true,
            (Some(b), MetricMode::Min) => value < b - b.abs() * PLATEAU_THRESHOLD,
            (Some(b), MetricMode::Max) => value > b + b.abs() * PLATEAU_THRESHOLD,
        };
        if improved {
            self.state.best = Some(value);
            self.state.bad_validations = 0;
            return false;
        }
        self.state.bad_validations += 1;
        if self.state.bad_validations > self.patience {
            self.state.scale *= self.decay;
            self.state.bad_validations = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_is_linear_then_each_schedule() {
        let s = LrSchedule::new(1.0, 4, SchedulerKind::None, 0.5, 3, 100);
        assert_eq!([s.lr(0), s.lr(3), s.lr(10)], [0.25, 1.0, 1.0]);
        let s = LrSchedule::new(1.0, 4, SchedulerKind::Invsqrt, 0.5, 3, 100);
        assert_eq!(s.lr(15), 0.5); // sqrt(4)/sqrt(16)
        let s = LrSchedule::new(1.0, 0, SchedulerKind::Linear, 0.5, 3, 10);
        assert!((s.lr(4) - 0.5).abs() < 1e-12);
        assert_eq!(s.lr(9), 0.0);
        let s = LrSchedule::new(2.0, 0, SchedulerKind::Reduceonplateau, 0.5, 3, 10);
        assert_eq!(s.lr(0), 2.0);
    }

    #[test]
    fn plateau_decays_after_patience_bad_validations() {
        let mut s = LrSchedule::new(1.0, 0, SchedulerKind::Reduceonplateau, 0.5, 2, 100);
        assert!(!s.on_validation(1, 3.0, MetricMode::Min));
        assert!(!s.on_validation(2, 2.0, MetricMode::Min)); // improved
        assert!(!s.on_validation(3, 2.0, MetricMode::Min)); // bad 1
        assert!(!s.on_validation(4, 1.99999, MetricMode::Min)); // below the threshold: bad 2
        assert!(s.on_validation(5, 2.5, MetricMode::Min)); // bad 3 > patience 2: decay
        assert_eq!(s.lr(6), 0.5);
        assert_eq!(s.state.bad_validations, 0);
        assert!(!s.on_validation(6, 1.0, MetricMode::Min));
        assert_eq!(s.state.best, Some(1.0));
        // max mode, and nothing happens during warmup
        let mut s = LrSchedule::new(1.0, 10, SchedulerKind::Reduceonplateau, 0.1, 0, 100);
        assert!(!s.on_validation(3, 0.5, MetricMode::Max));
        assert!(!s.on_validation(11, 0.5, MetricMode::Max));
        assert!(s.on_validation(12, 0.4, MetricMode::Max));
        assert!((s.lr(13) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn fixed_decays_every_patience_validations_whatever_they_say() {
        let mut s = LrSchedule::new(1.0, 2, SchedulerKind::Fixed, 0.9, 3, 100);
        assert!(!s.on_validation(1, 0.0, MetricMode::Max)); // warming up: not counted
        let decayed: Vec<bool> =
            (2..9).map(|step| s.on_validation(step, step as f64, MetricMode::Max)).collect();
        assert_eq!(decayed, [false, false, true, false, false, true, false]);
        assert!((s.lr(9) - 0.81).abs() < 1e-12);
    }
}
