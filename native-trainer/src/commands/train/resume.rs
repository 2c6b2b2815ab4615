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
        checkpoint::check_fingerprint(ckpt_dir, &self.state.fingerprint, &fresh.fingerprint)?;
        let state_file = ckpt_dir.join(checkpoint::STATE_FILE);
        let bs = args.batchsize;
        let expected_draws = self.state.step as u64 * (bs * args.update_freq) as u64;
        anyhow::ensure!(
            self.state.sampler_draws == expected_draws,
            "{}: `sampler_draws` is {} but {} steps of batch {bs} × --update-freq {} drew {expected_draws}; the checkpoint is corrupt",
            state_file.display(),
            self.state.sampler_draws,
            self.state.step,
            args.update_freq
        );
        let (plateau, warning) = self.state.plateau.clone().checked(&state_file)?;
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        Ok(TrainerState { fingerprint: fresh.fingerprint, plateau, ..self.state.clone() })
    }
}
