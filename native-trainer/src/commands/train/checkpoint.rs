//! Training checkpoints for exact resume: `<model-file>.checkpoint/` holds a model directory
//! (Burn's for the generator, a Hugging Face one for a causal LM) plus the optimizer state (`optimizer.bpk`) and the trainer's own state (`trainer_state.json`: step,
//! data-sampler position, best validation value, schedule state, and the flags a resume must
//! share). All of it is written in one atomic directory swap, so a checkpoint is never torn.

use super::args::TrainArgs;
use super::schedule::PlateauState;
use super::trainee::Trainee;
use anyhow::Context;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Optimizer state file inside a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// Trainer state file inside a checkpoint.
pub const STATE_FILE: &str = "trainer_state.json";
const STATE_VERSION: u32 = 1;

/// Everything besides weights and optimizer moments that a resumed run needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Format version.
    pub version: u32,
    /// Updates completed.
    pub step: usize,
    /// Draws the multitask sampler has made (examples consumed).
    pub sampler_draws: u64,
    /// Best value of --validation-metric so far.
    pub best: Option<f64>,
    /// Validations since the best one (for --validation-patience).
    pub validations_since_best: usize,
    /// Learning-rate schedule state.
    pub plateau: PlateauState,
    /// Context + target tokens trained on so far.
    pub tokens: usize,
    /// Training seconds so far (all runs together).
    pub seconds: f64,
    /// The flags that must not change across a resume, by flag name.
    pub fingerprint: BTreeMap<String, String>,
    /// The loss scaler of mixed-precision training (absent in f32 runs and older checkpoints).
    #[serde(default)]
    pub loss_scale: Option<super::loss_scale::LossScaler>,
    /// The model's parameter ids in module order, which the optimizer state is keyed by
    /// (absent in older checkpoints, whose Burn weight files keep them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param_ids: Option<Vec<u64>>,
}

impl TrainerState {
    /// The state of a run that has not started, with the flags a resume must share.
    pub fn new(fingerprint: BTreeMap<String, String>) -> Self {
        Self { version: STATE_VERSION, fingerprint, ..Default::default() }
    }
}

/// The flags that decide which examples, candidates and updates a run makes; a resume must
/// use the same values to continue the same run.
pub fn fingerprint(args: &TrainArgs) -> BTreeMap<String, String> {
    let o = args.cringe_options();
    [
        ("task", args.task.join(",")),
        ("multitask-weights", format!("{:?}", args.weights())),
        ("batchsize", args.batchsize.to_string()),
        ("update-freq", args.update_freq.to_string()),
        ("seed", args.seed.to_string()),
        ("optimizer", format!("{:?}", args.optimizer).to_lowercase()),
        ("text-truncate", args.truncation().text_truncate.to_string()),
        ("label-truncate", args.truncation().label_truncate.to_string()),
        ("ct-loss-weight", o.ct_loss_weight.to_string()),
        ("num-pos-predictions", o.num_pos_predictions.to_string()),
        ("detach-positives-during-ct", o.detach_positives_during_ct.to_string()),
        ("train-ct-on-positive-examples", o.train_ct_on_positive_examples.to_string()),
        ("train-ce-on-positive-examples", o.train_ce_on_positive_examples.to_string()),
        ("ct-exclude-eos", o.ct_exclude_eos.to_string()),
        ("loss", args.loss.name().to_string()),
        ("precision", args.compute.precision.get().name().to_string()),
        ("pairwise-margin", args.pairwise_margin.to_string()),
        ("pairwise-temperature", args.pairwise_temperature.to_string()),
        ("chat-template", format!("{:?}", args.chat_template).to_lowercase()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Writes the checkpoint (weights, tokenizer, optimizer, state) atomically.
pub fn save<M: Trainee>(
    dir: &Path,
    model: &M,
    text: &M::Text,
    optim: &ModuleOptimizer,
    state: &TrainerState,
) -> anyhow::Result<()> {
    let optim_bytes = optim.into_bytes().map_err(|e| {
        anyhow::anyhow!("{}: cannot serialise the optimizer state: {e}", dir.display())
    })?;
    let state_json = serde_json::to_vec_pretty(state)?;
    model.save(text, dir, &[(OPTIMIZER_FILE, &optim_bytes[..]), (STATE_FILE, &state_json)])
}

/// Puts back the previous checkpoint when a save was killed between its two renames (the
/// checkpoint directory moved aside to `.<name>.old-<pid>`, the new one not yet in place).
/// Returns whether a checkpoint is now in `dir`.
pub fn recover(dir: &Path) -> anyhow::Result<bool> {
    let restored = restore(dir)?;
    // a run resumed at its last step saves no checkpoint, so clean up here too
    cringe_core::fsutil::remove_leftovers(dir);
    Ok(restored)
}

fn restore(dir: &Path) -> anyhow::Result<bool> {
    if dir.exists() {
        return Ok(true);
    }
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return Ok(false) };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let prefix = format!(".{}.old-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else { return Ok(false) };
    let mut old: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with(&prefix)
                && e.path().join(STATE_FILE).is_file()
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    old.sort();
    match old.pop() {
        Some((_, newest)) => {
            std::fs::rename(&newest, dir).with_context(|| {
                format!("restoring the interrupted checkpoint {}", newest.display())
            })?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The optimizer and trainer state of the checkpoint in `dir` (its model is loaded by family:
/// a model directory or a Hugging Face one).
pub fn load_state(dir: &Path) -> anyhow::Result<(OptimizerRecord, TrainerState)> {
    let spath = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&spath).with_context(|| {
        format!("{}: not a training checkpoint (cannot read {STATE_FILE})", dir.display())
    })?;
    let state = parse_state(&text, &spath)?;
    let opath = dir.join(OPTIMIZER_FILE);
    let bytes = std::fs::read(&opath)
        .with_context(|| format!("{}: cannot read the optimizer state", opath.display()))?;
    let optimizer = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| anyhow::anyhow!("{}: unreadable optimizer state: {e}", opath.display()))?;
    Ok((optimizer, state))
}

/// Parses a `trainer_state.json` (`path` names it in errors).
pub fn parse_state(text: &str, path: &Path) -> anyhow::Result<TrainerState> {
    let state: TrainerState =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(
        state.version == STATE_VERSION,
        "{}: trainer state version {} is not the supported {STATE_VERSION}",
        path.display(),
        state.version
    );
    Ok(state)
}

/// The trainer state of the checkpoint in `dir`, checked against this run: the flags a resume
/// must share (`fresh` is the state this run would start from, with its fingerprint), the
/// sampler position its steps imply at `draws_per_step` examples an update (`per_step` says
/// how in the error), and its schedule state (repaired with a warning where an older version
/// wrote scale 0).
pub fn checked_resume_state(
    dir: &Path,
    saved: &TrainerState,
    fresh: TrainerState,
    draws_per_step: usize,
    per_step: &str,
) -> anyhow::Result<TrainerState> {
    check_fingerprint(dir, &saved.fingerprint, &fresh.fingerprint)?;
    let state_file = dir.join(STATE_FILE);
    let expected = saved.step as u64 * draws_per_step as u64;
    anyhow::ensure!(
        saved.sampler_draws == expected,
        "{}: `sampler_draws` is {} but {} steps of {per_step} drew {expected}; the checkpoint is corrupt",
        state_file.display(),
        saved.sampler_draws,
        saved.step,
    );
    let (plateau, warning) = saved.plateau.clone().checked(&state_file)?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(TrainerState { fingerprint: fresh.fingerprint, plateau, ..saved.clone() })
}

/// Checks that the flags of this run match the checkpoint's, naming the first that differs.
pub fn check_fingerprint(
    dir: &Path,
    saved: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for (flag, value) in now {
        if let Some(old) = saved.get(flag)
            && old != value
        {
            anyhow::bail!(
                "cannot resume from {}: it was trained with --{flag} {old}, this run has {value}; \
                 use the original value, or start over without --load-from-checkpoint",
                dir.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_mismatch_names_the_flag() {
        let a: BTreeMap<String, String> = [("batchsize".to_string(), "16".to_string())].into();
        let b: BTreeMap<String, String> = [("batchsize".to_string(), "8".to_string())].into();
        check_fingerprint(Path::new("m.checkpoint"), &a, &a).unwrap();
        let e = check_fingerprint(Path::new("m.checkpoint"), &a, &b).unwrap_err().to_string();
        assert!(
            e.contains("--batchsize 16") && e.contains("has 8") && e.contains("m.checkpoint"),
            "{e}"
        );
    }

    #[test]
    fn a_checkpoint_moved_aside_by_a_killed_save_is_restored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m.checkpoint");
        assert!(!recover(&dir).unwrap());
        let aside = tmp.path().join(".m.checkpoint.old-123");
        std::fs::create_dir_all(&aside).unwrap();
        std::fs::write(aside.join(STATE_FILE), "{}").unwrap();
        assert!(recover(&dir).unwrap());
        assert!(dir.join(STATE_FILE).is_file() && !aside.exists());
    }
}
