//! Resuming `train-classifier` from `<model-file>.checkpoint` (ParlAI's
//! `--load-from-checkpoint true`): the checkpoint's trainer state checked against this run's
//! flags and its own sampler position, its model loaded with the parameter ids its optimizer
//! state is keyed by; and the best scores a finished run left beside its model.

use super::args::TrainClassifierArgs;
use super::net::ClassifierNet;
use super::scores::ClassifierScores;
use super::trainer::SCORES_FILE;
use crate::commands::train::checkpoint::{self, STATE_FILE, TrainerState};
use burn::tensor::Device;
use std::path::PathBuf;

/// Where a resumed run continues from.
pub struct Resume {
    /// The checkpoint's optimizer state.
    pub optimizer: burn::optim::OptimizerRecord,
    /// Its trainer state, already checked against this run's flags.
    pub state: TrainerState,
}

/// The flags a resume must share with the run it continues.
pub fn fingerprint(args: &TrainClassifierArgs) -> std::collections::BTreeMap<String, String> {
    let init = args.init_model.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    [
        ("task", args.task.join(",")),
        ("multitask-weights", format!("{:?}", args.multitask_weights)),
        ("batchsize", args.batchsize.to_string()),
        ("seed", args.seed.to_string()),
        ("optimizer", format!("{:?}", args.optimizer).to_lowercase()),
        ("text-truncate", args.text_truncate.to_string()),
        ("init-model", init),
        ("classes", args.parlai.classes.join(" ")),
        ("history-size", args.parlai.history_size.to_string()),
        ("dict-lower", args.parlai.dict_lower.to_string()),
        ("precision", args.compute.precision.get().name().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `<model-file>.checkpoint`.
pub fn checkpoint_dir(args: &TrainClassifierArgs) -> PathBuf {
    crate::commands::train::checkpoint_dir(&args.model_file)
}

/// The best scores a finished earlier run saved beside its model (a resume at the last step).
pub fn saved_scores(args: &TrainClassifierArgs) -> anyhow::Result<ClassifierScores> {
    let path = args.model_file.join(SCORES_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!("{}: {e} (the checkpoint is at its last step)", path.display())
    })?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The checkpoint in `<model-file>.checkpoint` when `--load-from-checkpoint true` and one
/// exists: its model (with the ids its optimizer state is keyed by) and where to continue.
pub fn load_resume<M: ClassifierNet>(
    args: &TrainClassifierArgs,
    device: &Device,
) -> anyhow::Result<Option<(M, M::Text, Resume)>> {
    let dir = checkpoint_dir(args);
    if !args.load_from_checkpoint || !checkpoint::recover(&dir)? {
        return Ok(None);
    }
    let (optimizer, saved) = checkpoint::load_state(&dir)?;
    let fresh = TrainerState::new(fingerprint(args));
    let bs = args.batchsize;
    let state = checkpoint::checked_resume_state(&dir, &saved, fresh, bs, &format!("batch {bs}"))?;
    let (model, text) = M::load(&dir, &device.clone().autodiff())?;
    let ids = state
        .param_ids
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("{}: no `param_ids`", dir.join(STATE_FILE).display()))?;
    let model = crate::commands::train::param_ids::with_param_ids(model, ids)?;
    Ok(Some((model, text, Resume { optimizer, state })))
}
