//! The run-monitoring flags of ParlAI's train loop that `cringe train` and `train-classifier`
//! both take: how several validation tasks combine (`--aggregate-micro`), a log line every N
//! seconds, the training-time limit (`-ttim`) and TensorBoard event files — one declaration,
//! flattened into each, so the two commands mean the same by them.

use super::parse_bool;
use clap::{ArgAction, Args};
use std::path::{Path, PathBuf};

/// ParlAI's logging and time-limit flags.
#[derive(Debug, Clone, Args)]
pub struct RunLoggingArgs {
    /// How validation metrics of several tasks combine: true (micro) pools every task's
    /// examples; false (macro) averages the per-task metrics, each task counting the same.
    /// ParlAI's default is macro; ours stays micro.
    #[arg(long = "aggregate-micro", action = ArgAction::Set, value_parser = parse_bool, default_value = "true", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub aggregate_micro: bool,

    /// Also write a metrics line every N seconds.
    #[arg(
        long = "log-every-n-secs",
        visible_alias = "ltim",
        default_value_t = 0.0,
        value_name = "SECS",
        help_heading = "ParlAI's flags"
    )]
    pub log_every_n_secs: f64,

    /// Stop after this many seconds of training, counted over resumes (ParlAI -ttim),
    /// validating and saving as at the last update; 0: no limit.
    #[arg(
        long = "max-train-time",
        visible_alias = "ttim",
        default_value_t = 0.0,
        value_name = "SECS",
        help_heading = "ParlAI's flags"
    )]
    pub max_train_time: f64,

    /// Also write the metrics as TensorBoard event files (`train/<metric>` as they are logged,
    /// `valid/<metric>` every validation), in --tensorboard-logdir.
    #[arg(long = "tensorboard-log", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub tensorboard_log: bool,

    /// Where --tensorboard-log writes (default: <model-file>.tensorboard).
    #[arg(long = "tensorboard-logdir", value_name = "DIR", help_heading = "ParlAI's flags")]
    pub tensorboard_logdir: Option<PathBuf>,
}

impl RunLoggingArgs {
    /// Checks the second counts.
    pub fn check(&self) -> anyhow::Result<()> {
        super::ensure_seconds("--log-every-n-secs", self.log_every_n_secs)?;
        super::ensure_seconds("--max-train-time", self.max_train_time)
    }

    /// Where TensorBoard event files go for a run writing `model_file`, if anywhere.
    pub fn tensorboard_dir(&self, model_file: &Path) -> Option<PathBuf> {
        self.tensorboard_log.then(|| {
            self.tensorboard_logdir.clone().unwrap_or_else(|| {
                let mut p = model_file.as_os_str().to_os_string();
                p.push(".tensorboard");
                PathBuf::from(p)
            })
        })
    }

    /// Whether `seconds` of training reach --max-train-time.
    pub fn out_of_time(&self, seconds: f64) -> bool {
        self.max_train_time > 0.0 && seconds >= self.max_train_time
    }
}
