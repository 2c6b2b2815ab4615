//! Training losses. `cringe` is the CRINGE loss; `stats` turns its sums into metrics.

pub mod cringe;
pub mod stats;
pub mod topk;

pub use cringe::{CandidateDraw, CringeOptions, CringeOutput, cringe_loss, label_id, uniform_draws};
pub use stats::{CringeMetrics, CringeStats};
