//! Training losses: CRINGE (`cringe`), its pairwise form (`pairwise`), the MLE and unlikelihood
//! baselines (`unlikelihood`), TRL's preference losses KTO, DPO and ORPO (`preference`), all on the shared token masks and reduction of `tokens`;
//! `objective` picks one; `stats` turns their sums into metrics; `fused` runs CRINGE as one
//! fused kernel per pass (`crate::kernels::cringe_rows` on the CPU, `cringe-shaders` on GPUs).

pub mod cringe;
pub mod fused;
pub mod objective;
pub mod pairwise;
pub mod preference;
pub mod stats;
pub mod tokens;
pub mod topk;
pub mod unlikelihood;

pub use cringe::{
    CandidateDraw, CringeOptions, CringeOutput, cringe_loss, cringe_on_terms, ct_signs,
    reduce_cringe, uniform_draws,
};
pub use objective::{LossKind, Objective};
pub use pairwise::{PairwiseOptions, pairwise_gate};
pub use preference::{
    DpoOptions, KtoOptions, PreferenceMetrics, PreferenceOutput, dpo_loss, kto_loss, orpo_loss,
};
pub use stats::{CringeMetrics, CringeStats};
pub use tokens::{LossOutput, TokenTerms};
pub use unlikelihood::{mle_loss, unlikelihood_loss};
