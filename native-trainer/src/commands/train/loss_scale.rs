//! Dynamic loss scaling for mixed-precision training (PyTorch's `GradScaler`, ParlAI's
//! `DynamicLossScaler`): the loss is multiplied by a scale before the backward pass so small
//! f16 gradients do not flush to zero, the gradients are divided by it again before the update,
//! and an update whose gradients overflowed is skipped while the scale halves. After
//! `growth_interval` clean updates in a row the scale doubles.

use super::clip::{global_norm, scale_grads};
use burn::module::Module;
use burn::optim::GradientsParams;
use serde::{Deserialize, Serialize};

/// PyTorch's default initial scale.
pub const INIT_SCALE: f64 = 65536.0;
/// Clean updates in a row before the scale doubles (PyTorch's default).
pub const GROWTH_INTERVAL: usize = 2000;
/// Overflowing updates in a row after which training stops with an error: from
/// [`INIT_SCALE`] the scale has then fallen below 1e-3, so the overflow is not the scale's.
pub const MAX_CONSECUTIVE_SKIPS: usize = 30;

/// The scaler's state (saved in checkpoints so a resumed run scales as an unbroken one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossScaler {
    /// The current scale (1 when scaling is off).
    pub scale: f64,
    /// Whether the scale adapts (f16); otherwise it stays 1 and only overflow-skipping applies.
    pub dynamic: bool,
    /// Clean updates since the last change of scale.
    pub clean_steps: usize,
    /// Overflowing updates in a row.
    pub consecutive_skips: usize,
    /// Updates skipped for overflow in all.
    pub skipped: usize,
    /// Clean updates in a row before the scale doubles.
    pub growth_interval: usize,
}

/// What to do with an update's gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Apply the update.
    Apply,
    /// Skip it: the loss or the gradients were not finite.
    Skip,
    /// Stop: [`MAX_CONSECUTIVE_SKIPS`] updates in a row overflowed.
    GiveUp,
}

impl LossScaler {
    /// A scaler that adapts its scale from `init` (`dynamic`, for f16) or keeps it at 1 (bf16,
    /// f32).
    pub fn new(dynamic: bool, init: f64) -> Self {
        Self {
            scale: if dynamic { init } else { 1.0 },
            dynamic,
            clean_steps: 0,
            consecutive_skips: 0,
            skipped: 0,
            growth_interval: GROWTH_INTERVAL,
        }
    }

    /// Records whether an update's loss and gradients were all finite and says what to do.
    pub fn update(&mut self, finite: bool) -> Verdict {
        if finite {
            self.consecutive_skips = 0;
            self.clean_steps += 1;
            if self.dynamic && self.clean_steps >= self.growth_interval {
                self.scale *= 2.0;
                self.clean_steps = 0;
            }
            return Verdict::Apply;
        }
        self.skipped += 1;
        self.consecutive_skips += 1;
        self.clean_steps = 0;
        if self.dynamic {
            self.scale /= 2.0;
        }
        if self.consecutive_skips >= MAX_CONSECUTIVE_SKIPS {
            Verdict::GiveUp
        } else {
            Verdict::Skip
        }
    }

    /// Divides the gradients of an update by the scale, measures their global norm and records
    /// whether the update was clean (`loss_finite`: every micro-batch's loss was finite, so its
    /// gradients were computed). Returns what to do and the norm (NaN when not finite).
    pub fn unscale<M: Module>(
        &mut self,
        module: &M,
        grads: &mut GradientsParams,
        loss_finite: bool,
    ) -> (Verdict, f64) {
        if self.scale != 1.0 {
            scale_grads(module, grads, 1.0 / self.scale);
        }
        let norm = if loss_finite { global_norm(module, grads) } else { f64::NAN };
        (self.update(norm.is_finite()), norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_overflow_and_doubles_after_a_clean_run() {
        let mut s = LossScaler { growth_interval: 3, ..LossScaler::new(true, INIT_SCALE) };
        assert_eq!(s.scale, 65536.0);
        assert_eq!(s.update(false), Verdict::Skip);
        assert_eq!((s.scale, s.skipped), (32768.0, 1));
        assert_eq!(s.update(true), Verdict::Apply);
        assert_eq!(s.update(true), Verdict::Apply);
        assert_eq!(s.scale, 32768.0);
        assert_eq!(s.update(true), Verdict::Apply);
        assert_eq!(s.scale, 65536.0);
        // an overflow resets the clean run
        s.update(true);
        s.update(true);
        s.update(false);
        s.update(true);
        s.update(true);
        assert_eq!(s.scale, 32768.0);
    }

    #[test]
    fn a_static_scaler_skips_without_rescaling_and_gives_up_eventually() {
        let mut s = LossScaler::new(false, INIT_SCALE);
        assert_eq!(s.scale, 1.0);
        for _ in 1..MAX_CONSECUTIVE_SKIPS {
            assert_eq!(s.update(false), Verdict::Skip);
        }
        assert_eq!(s.scale, 1.0);
        assert_eq!(s.update(false), Verdict::GiveUp);
        for _ in 0..5000 {
            s.update(true);
        }
        assert_eq!(s.scale, 1.0);
        assert_eq!(s.skipped, MAX_CONSECUTIVE_SKIPS);
    }
}
