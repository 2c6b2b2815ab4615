//! Training progress: a console line every N steps and per-step metrics as JSON lines (and
//! TensorBoard events with `--tensorboard-log`).

use super::tensorboard::{TensorboardLog, numeric_fields};
use cringe_core::loss::CringeMetrics;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of the metrics file.
#[derive(Debug, Serialize)]
pub struct StepRecord {
    /// Update number (1-based).
    pub step: usize,
    /// Fractional epoch.
    pub epoch: f64,
    /// Learning rate used for this update.
    pub lr: f64,
    /// Context + target tokens per second over the logging window.
    pub tokens_per_sec: f64,
    /// The CRINGE metrics of this step.
    #[serde(flatten)]
    pub metrics: CringeMetrics,
    /// Mixed precision: the loss scale after this step and the updates skipped so far for
    /// overflowing gradients (absent in f32 runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<f64>,
    /// See `loss_scale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_updates: Option<usize>,
    /// Peak device memory reserved so far, in MiB (GPU devices; absent on the CPU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_device_mib: Option<f64>,
}

/// Appends [`StepRecord`]s to a JSONL file, one flushed line each, and with
/// `--tensorboard-log` to a TensorBoard event file too.
pub struct MetricsLog {
    file: std::fs::File,
    path: PathBuf,
    tensorboard: Option<TensorboardLog>,
}

impl MetricsLog {
    /// Opens the metrics file: truncated for a new run, appended to when `append` (a resumed
    /// run); with `tensorboard`, a new event file in that folder too.
    pub fn open(path: &Path, append: bool, tensorboard: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let tensorboard = tensorboard.map(TensorboardLog::create).transpose()?;
        Ok(Self { file, path: path.to_path_buf(), tensorboard })
    }

    /// Writes one record.
    pub fn write(&mut self, rec: &StepRecord) -> anyhow::Result<()> {
        let line = serde_json::to_string(rec)?;
        writeln!(self.file, "{line}")
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        match &mut self.tensorboard {
            Some(tb) => tb.scalars("train", rec.step, &numeric_fields(rec)),
            None => Ok(()),
        }
    }
}

impl MetricsLog {
    /// Writes one validation record (`"split": "valid"`).
    pub fn write_valid(&mut self, step: usize, metrics: &CringeMetrics) -> anyhow::Result<()> {
        let mut v = serde_json::to_value(metrics)?;
        v["step"] = step.into();
        v["split"] = "valid".into();
        writeln!(self.file, "{v}").map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        match &mut self.tensorboard {
            Some(tb) => tb.scalars("valid", step, &numeric_fields(metrics)),
            None => Ok(()),
        }
    }
}

/// The console form of a record, with the estimated time left.
pub fn console_line(rec: &StepRecord, max_steps: usize, eta: &str) -> String {
    let m = &rec.metrics;
    format!(
        "step {:>6}/{max_steps} | epoch {:.2} | loss {:.4} | ce_loss {:.4} | ct_loss {:.4} | token_acc {:.3} | ppl_pos {:.2} | ppl_ct {:.2} | lr {:.2e} | {:.0} tok/s | eta {eta}",
        rec.step,
        rec.epoch,
        m.loss,
        m.ce_loss,
        m.ct_loss,
        m.token_acc,
        m.ppl_pos,
        m.ppl_ct,
        rec.lr,
        rec.tokens_per_sec
    )
}

/// The short live-metrics message of the progress bar.
pub fn live_message(m: &CringeMetrics, tokens_per_sec: f64) -> String {
    format!(
        "loss {:.3} · ce {:.3} · ct {:.3} · {:.0} tok/s",
        m.loss, m.ce_loss, m.ct_loss, tokens_per_sec
    )
}
