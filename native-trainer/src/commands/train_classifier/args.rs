//! `cringe train-classifier`'s flags: the tasks, the classifier (a fresh encoder, the encoder of
//! a BB1 model, or a head on a causal LM), the optimizer and schedule, validation and its
//! limits, checkpoints — with ParlAI's names and meanings (the DIRECTOR classifier command of
//! the seed runs as written; its classifier-only flags are in [`super::parlai_flags`]).

use super::parlai_flags::ParlaiClassifierFlags;
use crate::args::parse_bool;
use crate::commands::train::OptimizerKind;
use crate::commands::train::schedule::{LrSchedule, SchedulerKind};
use crate::commands::train::validate::MetricMode;
use clap::{ArgAction, Args};
use cringe_core::model::GeneratorConfig;
use std::path::PathBuf;

/// Train the safety classifier.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples (the seed's pos_only/neg_only streams):\n  cringe train-classifier -t safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only \\\n    --mf runs/classifier --preset small --max-train-steps 600\n  cringe train-classifier -t safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only \\\n    --init-model ~/.cache/cringe-rs/models/SmolLM2-135M-Instruct.Q4_1.gguf --mf runs/classifier-smollm2 --max-train-steps 200 -b 16"
)]
pub struct TrainClassifierArgs {
    /// Labelled training tasks (every example pos or neg), comma-separated.
    #[arg(
        short = 't',
        long = "task",
        value_delimiter = ',',
        required = true,
        value_name = "TASK[,TASK...]"
    )]
    pub task: Vec<String>,
    /// Integer sampling weight of each task (default: all 1).
    #[arg(
        long = "multitask-weights",
        visible_alias = "mtw",
        value_delimiter = ',',
        value_name = "W[,W...]"
    )]
    pub multitask_weights: Vec<u32>,
    /// Validation tasks (default: the training tasks' valid split).
    #[arg(
        long = "eval-task",
        visible_alias = "et",
        value_delimiter = ',',
        value_name = "TASK[,TASK...]"
    )]
    pub eval_task: Vec<String>,
    /// Where to write the classifier directory (the best one by --validation-metric): the
    /// encoder classifier's directory, or for a causal --init-model a Hugging Face directory
    /// (`LlamaForSequenceClassification`, …) that `transformers` loads.
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,
    /// Start from a pretrained model: a causal LM (a `.gguf` file, `hf:DIR`, or a directory
    /// `cringe train` wrote for one) gets a classification head on its backbone; a BB1 model
    /// directory lends its token embeddings and encoder (ParlAI's --load-from-pretrained-ranker)
    /// and its tokenizer. Fine-tuned whole either way.
    #[arg(long = "init-model", value_name = "MODEL", conflicts_with_all = ["preset", "tokenizer", "vocab_size"])]
    pub init_model: Option<PathBuf>,
    /// Encoder shape preset: tiny, small, bb1_90m, bb1_3b (its encoder part).
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Use this tokenizer.json instead of training one on the tasks' text.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Vocabulary size when training a tokenizer.
    #[arg(long = "vocab-size", default_value_t = 8000)]
    pub vocab_size: usize,
    /// Learning rate [default: 5e-4 from scratch, 2e-5 on a pretrained model].
    #[arg(long = "lr", visible_alias = "learningrate")]
    pub lr: Option<f64>,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Linear warmup of the learning rate over this many updates.
    #[arg(long = "warmup-updates", visible_alias = "warmup_updates", default_value_t = 0)]
    pub warmup_updates: usize,
    /// Learning-rate schedule after warmup (as `cringe train`'s; `none`: constant).
    #[arg(long = "lr-scheduler", value_enum, default_value_t = SchedulerKind::None)]
    pub lr_scheduler: SchedulerKind,
    /// Validations the schedule waits (reduceonplateau: without improvement; fixed: in all).
    #[arg(long = "lr-scheduler-patience", default_value_t = 3)]
    pub lr_scheduler_patience: usize,
    /// Factor the schedule multiplies the learning rate by.
    #[arg(long = "lr-scheduler-decay", default_value_t = 0.5)]
    pub lr_scheduler_decay: f64,
    /// Examples per batch.
    #[arg(short = 'b', long = "batchsize", visible_alias = "bs", default_value_t = 32)]
    pub batchsize: usize,
    /// Updates to run at most.
    #[arg(long = "max-train-steps", visible_alias = "steps", default_value_t = 500)]
    pub max_train_steps: usize,
    /// Validate (and keep the best model) every N updates, and at the end [default: 100, or
    /// none when --validation-every-n-secs is given].
    #[arg(long = "validation-every-n-steps", visible_alias = "vstep")]
    pub validation_every_n_steps: Option<usize>,
    /// Also validate every N seconds of training (ParlAI -vtim).
    #[arg(long = "validation-every-n-secs", visible_alias = "vtim", default_value_t = 0.0)]
    pub validation_every_n_secs: f64,
    /// Stop after this many validations without a better --validation-metric (0: never).
    #[arg(long = "validation-patience", visible_alias = "vp", default_value_t = 0)]
    pub validation_patience: usize,
    /// Validate on at most this many examples (the first ones of the valid split; 0: all).
    #[arg(long = "validation-max-exs", visible_alias = "vme", default_value_t = 0)]
    pub validation_max_exs: usize,
    /// The metric that picks the best model: macro_f1, accuracy, f1 (ParlAI's word F1 of the
    /// predicted class name, which for one-word classes equals accuracy), weighted_f1,
    /// class_pos_f1, class_neg_f1 or loss.
    #[arg(long = "validation-metric", visible_alias = "vmt", default_value = "macro_f1")]
    pub validation_metric: String,
    /// Whether larger or smaller --validation-metric is better [default: min for loss, max
    /// otherwise].
    #[arg(long = "validation-metric-mode", visible_alias = "vmm", value_enum)]
    pub validation_metric_mode: Option<MetricMode>,
    /// Write the resumable checkpoint (`<model-file>.checkpoint`) every N seconds (ParlAI
    /// -stim; 0: only as --save-after-valid says).
    #[arg(long = "save-every-n-secs", visible_alias = "stim", default_value_t = 0.0)]
    pub save_every_n_secs: f64,
    /// Resume from `<model-file>.checkpoint` when it exists (the same flags required).
    #[arg(long = "load-from-checkpoint", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL")]
    pub load_from_checkpoint: bool,
    /// Keep at most this many tokens of each text (the last ones).
    #[arg(long = "text-truncate", default_value_t = 128)]
    pub text_truncate: usize,
    /// Folder holding the built-in datasets.
    #[arg(long = "datapath", visible_alias = "dp", value_name = "DIR")]
    pub datapath: Option<PathBuf>,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// The encoder's shape and dropouts as ParlAI's flags give them (over --preset;
    /// `--n-layers` is the encoder's depth).
    #[command(flatten)]
    pub shape: crate::args::ModelShapeArgs,

    /// ParlAI's classifier flags.
    #[command(flatten)]
    pub parlai: ParlaiClassifierFlags,

    /// Device and precision.
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
    /// Check the flags and tasks, print the classifier's shape, the tasks and the schedule,
    /// and exit without training or writing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Print only the final JSON report.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Validation every this many updates when neither validation flag is given.
const DEFAULT_VALIDATION_STEPS: usize = 100;

impl TrainClassifierArgs {
    /// Checks the flags (everything that can be told before reading data).
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.batchsize > 0, "--batchsize must be at least 1");
        anyhow::ensure!(
            self.validation_every_n_steps != Some(0),
            "--validation-every-n-steps must be at least 1"
        );
        anyhow::ensure!(
            self.max_train_steps > 0,
            "--max-train-steps must be at least 1 (a classifier is only saved after a validation)"
        );
        let lr = self.learning_rate();
        anyhow::ensure!(lr > 0.0 && lr.is_finite(), "--lr must be a positive number, got {lr}");
        anyhow::ensure!(
            self.lr_scheduler_decay > 0.0 && self.lr_scheduler_decay <= 1.0,
            "--lr-scheduler-decay must be in (0, 1], got {}",
            self.lr_scheduler_decay
        );
        for (flag, secs) in [
            ("--validation-every-n-secs", self.validation_every_n_secs),
            ("--save-every-n-secs", self.save_every_n_secs),
        ] {
            crate::args::ensure_seconds(flag, secs)?;
        }
        super::scores::ClassifierScores::default().metric(&self.validation_metric)?;
        self.parlai.check(self)
    }

    /// The encoder's shape: `--preset` with the shape flags over it, for a vocabulary of
    /// `vocab`.
    pub fn encoder_config(&self, vocab: usize) -> anyhow::Result<GeneratorConfig> {
        let mut cfg = GeneratorConfig::preset(&self.preset, vocab)?;
        self.shape.apply(&mut cfg);
        cfg.validate()?;
        Ok(cfg)
    }

    /// The encoder of a BB1 `--init-model` (`source` names it): the model's config `cfg`,
    /// which the shape flags must match, with the dropout flags over it.
    pub fn bb1_encoder_config(
        &self,
        mut cfg: GeneratorConfig,
        source: &str,
    ) -> anyhow::Result<GeneratorConfig> {
        self.shape.check_encoder_against(&cfg, source)?;
        self.shape.apply_regularisation(&mut cfg);
        Ok(cfg)
    }

    /// Refuses the encoder-only flags (shape and ParlAI's classifier options) for a head on the
    /// causal LM `source`.
    pub fn check_causal(&self, source: &str) -> anyhow::Result<()> {
        self.shape.check_causal(source)?;
        self.parlai.check_causal(source)
    }

    /// `--lr`, or its default for a fresh encoder or a pretrained model.
    pub fn learning_rate(&self) -> f64 {
        self.lr.unwrap_or(if self.init_model.is_some() { 2e-5 } else { 5e-4 })
    }

    /// Validation every this many updates (`None`: by time only).
    pub fn validation_steps(&self) -> Option<usize> {
        match (self.validation_every_n_steps, self.validation_every_n_secs > 0.0) {
            (Some(n), _) => Some(n),
            (None, true) => None,
            (None, false) => Some(DEFAULT_VALIDATION_STEPS),
        }
    }

    /// Whether larger --validation-metric is better.
    pub fn metric_mode(&self) -> MetricMode {
        self.validation_metric_mode.unwrap_or(if self.validation_metric == "loss" {
            MetricMode::Min
        } else {
            MetricMode::Max
        })
    }

    /// The learning-rate schedule.
    pub fn schedule(&self) -> LrSchedule {
        LrSchedule::new(
            self.learning_rate(),
            self.warmup_updates,
            self.lr_scheduler,
            self.lr_scheduler_decay,
            self.lr_scheduler_patience,
            self.max_train_steps,
        )
    }

    /// Whether this run writes `<model-file>.checkpoint`.
    pub fn checkpointing(&self) -> bool {
        self.parlai.save_after_valid || self.save_every_n_secs > 0.0
    }

    /// The optimizer: β = (0.9, 0.999); ε 1e-5 for Adam and AdamW (Burn's default, what this
    /// command has always trained with, so earlier classifiers reproduce) and PyTorch's 1e-8
    /// for Adamax (ParlAI's optimizer there).
    pub fn new_optimizer(&self) -> burn::optim::ModuleOptimizer {
        let eps = if self.optimizer == OptimizerKind::Adamax { 1e-8 } else { 1e-5 };
        self.optimizer.build(0.9, 0.999, eps, 0.0)
    }
}
