//! One optimizer update, in f32 or mixed precision: what `train` and `train-classifier` share.
//!
//! In f32 the gradients are clipped by their global norm and applied. In mixed precision they
//! were computed from the loss times the scaler's scale: they are unscaled, an update whose
//! loss or gradients are not finite is skipped (the scaler halves its scale), and the clip uses
//! the norm the unscaling measured.

use super::clip::{clip_global_norm, clip_to_norm};
use super::loss_scale::{LossScaler, Verdict};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};

/// How an update went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The gradients were applied.
    Applied,
    /// The loss or the gradients were not finite at loss scale `scale`: nothing was applied.
    Skipped {
        /// The scale the gradients were computed at.
        scale: f64,
    },
    /// Too many updates in a row were skipped ([`Verdict::GiveUp`]): stop training.
    GaveUp,
}

/// The optimizer step and its settings.
pub struct Update<'a> {
    /// The optimizer.
    pub optim: &'a mut ModuleOptimizer,
    /// The learning rate of this update.
    pub lr: f64,
    /// Global-norm clip (≤ 0: none).
    pub clip: f64,
    /// The loss scaler in mixed precision; `None` in f32.
    pub scaler: Option<&'a mut LossScaler>,
}

impl Update<'_> {
    /// Applies `grads` to `model`. `finite_loss` is false when the forward pass already
    /// overflowed (mixed precision only).
    pub fn apply<M: Module>(
        self,
        model: M,
        mut grads: GradientsParams,
        finite_loss: bool,
    ) -> (M, Outcome) {
        let Some(scaler) = self.scaler else {
            if self.clip > 0.0 {
                clip_global_norm(&model, &mut grads, self.clip);
            }
            return (self.optim.step(self.lr, model, grads), Outcome::Applied);
        };
        let scale = scaler.scale;
        let (verdict, norm) = scaler.unscale(&model, &mut grads, finite_loss);
        match verdict {
            Verdict::Apply => {
                if self.clip > 0.0 {
                    clip_to_norm(&model, &mut grads, norm, self.clip);
                }
                (self.optim.step(self.lr, model, grads), Outcome::Applied)
            }
            Verdict::Skip => (model, Outcome::Skipped { scale }),
            Verdict::GiveUp => (model, Outcome::GaveUp),
        }
    }
}
