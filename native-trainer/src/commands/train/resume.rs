//! Resuming from `<model-file>.checkpoint`: the checkpoint's state checked against this run
//! (the flags a resume must share, the sampler position the steps imply) and handed back for
//! the loop to continue from.

use super::args::TrainArgs;
use super::checkpoint::{self, TrainerState};
use burn::optim::OptimizerRecord;
use std::path::Path;

/// Where a resumed run starts from.
pub struct Resume {
    /// The optimizer state of the checkpoint.
    pub optimizer: OptimizerRecord,
    /// The trainer state of the checkpoint.
    pub state: TrainerState,
}

impl Resume {
    /// The checkpoint's trainer state, checked against this run's flags (`fresh` is the state
    /// this run would start from) and its own sampler position; warns about a plateau schedule
    /// state that needed repair.
    pub fn checked_state(
        &self,
        args: &TrainArgs,
        ckpt_dir: &Path,
        fresh: TrainerState,
    ) -> anyhow::Result<TrainerState> {
        let bs = args.batchsize;
        checkpoint::checked_resume_state(
            ckpt_dir,
            &self.state,
            fresh,
            bs * args.update_freq,
            &format!("batch {bs} × --update-freq {}", args.update_freq),
        )
    }
}
