//! `cringe train` flags. Names follow the seed's ParlAI command where one exists
//! (`--model-file`/`--mf`, `--batchsize`/`--bs`, `--lr`, `--text-truncate`, …).

use super::schedule::SchedulerKind;
use crate::args::parse_bool;
use clap::{ArgAction, Args};
use cringe_core::data::TruncationConfig;
use cringe_core::loss::{CringeOptions, LossKind, Objective, PairwiseOptions};
use std::path::{Path, PathBuf};

/// `--optimizer` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    /// Adam (ParlAI's `adam`).
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
    /// Adam's infinity-norm variant (ParlAI's `adamax`, PyTorch's update).
    Adamax,
}

impl OptimizerKind {
    /// The optimizer with these Adam-family settings (Adamax ignores `weight_decay`, as
    /// ParlAI's default of 0 does).
    pub fn build(
        self,
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        weight_decay: f32,
    ) -> burn::optim::ModuleOptimizer {
        use burn::optim::{AdamConfig, AdamWConfig};
        match self {
            Self::Adam => AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .init(),
            Self::Adamw => AdamWConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(weight_decay)
                .init(),
            Self::Adamax => super::adamax::Adamax { beta_1, beta_2, epsilon }.init(),
        }
    }
}

/// Truncation (tokens) of contexts and responses when neither the flag nor `--truncate` says.
pub const DEFAULT_TRUNCATE: usize = 128;

/// `<model-file>.checkpoint`: where a run keeps its resumable checkpoint.
pub fn checkpoint_dir(model_file: &Path) -> PathBuf {
    let mut p = model_file.as_os_str().to_os_string();
    p.push(".checkpoint");
    PathBuf::from(p)
}

/// Train a generator with the CRINGE loss.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  cringe train -t safety-mini:chitchat:mutators=flatten,safety-mini:toxic:mutators=flatten+relabel+ltr_empty --multitask-weights 5,1 --preset small --mf runs/model --max-train-steps 500"
)]
pub struct TrainArgs {
    /// Training tasks, comma-separated: built-in names (safety-mini:chitchat, safety-mini:toxic,
    /// safety-mini:pretrain, safety-mini:toxic-eval) or files (.jsonl examples, TRL's formats,
    /// pairs or world logs; .txt ParlAI text), each optionally with `:mutators=a+b` (flatten,
    /// relabel, ltr_empty, pos_only, neg_only).
    #[arg(
        short = 't',
        long = "task",
        value_delimiter = ',',
        required = true,
        value_name = "TASK[,TASK...]"
    )]
    pub task: Vec<String>,

    /// Integer sampling weight of each task, in -t order (default: all 1).
    #[arg(
        long = "multitask-weights",
        visible_alias = "mtw",
        value_delimiter = ',',
        value_name = "W[,W...]"
    )]
    pub multitask_weights: Vec<u32>,

    /// Folder holding the built-in datasets (default: $CRINGE_DATAPATH, ./data, or the
    /// repository's data/).
    #[arg(long = "datapath", visible_alias = "dp", value_name = "DIR")]
    pub datapath: Option<PathBuf>,

    /// Where to write the trained model directory (weights, config.json, tokenizer.json).
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,

    /// Start from this model directory's weights and tokenizer instead of a fresh model;
    /// `hf:DIR` starts from a Hugging Face Blenderbot or BlenderbotSmall checkpoint, or from a
    /// causal LM (`model_type` llama, qwen2, qwen3); a `.gguf` file (or `gguf:PATH`) from a
    /// causal LM in GGUF. A causal LM's --mf is a Hugging Face directory.
    #[arg(long = "init-model", value_name = "DIR", conflicts_with_all = ["preset", "model_config", "tokenizer"])]
    pub init_model: Option<PathBuf>,

    /// How a causal LM sees examples: `auto` (its chat template when it has one: context →
    /// user turns, response → the assistant turn, the loss on that turn) or `none` (plain
    /// continuation, for a base LM).
    #[arg(long = "chat-template", value_enum, default_value_t = crate::args::TemplateChoice::Auto)]
    pub chat_template: crate::args::TemplateChoice,

    /// Model shape preset: tiny, small, bb1_90m or bb1_3b (the seed command's 3B shape).
    #[arg(long, default_value = "small")]
    pub preset: String,

    /// Model shape from a TOML file (all GeneratorConfig fields), instead of --preset.
    #[arg(long = "model-config", value_name = "FILE")]
    pub model_config: Option<PathBuf>,

    /// Use this tokenizer.json instead of training a byte-level BPE on the task's text.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,

    /// Vocabulary size when training a tokenizer.
    #[arg(long = "vocab-size", default_value_t = 8000)]
    pub vocab_size: usize,

    /// Learning rate (ParlAI -lr).
    #[arg(long = "lr", visible_alias = "learningrate", default_value_t = 1e-4)]
    pub lr: f64,

    /// Linear warmup of the learning rate over this many updates.
    #[arg(long = "warmup-updates", visible_alias = "warmup_updates", default_value_t = 0)]
    pub warmup_updates: usize,

    /// Learning-rate schedule after warmup (reduceonplateau reacts to validations).
    #[arg(long = "lr-scheduler", value_enum, default_value_t = SchedulerKind::Reduceonplateau)]
    pub lr_scheduler: SchedulerKind,

    /// reduceonplateau: decay after more than this many validations without improvement.
    #[arg(long = "lr-scheduler-patience", default_value_t = 3)]
    pub lr_scheduler_patience: usize,

    /// reduceonplateau: multiply the learning rate by this on a plateau.
    #[arg(long = "lr-scheduler-decay", default_value_t = 0.5)]
    pub lr_scheduler_decay: f64,

    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,

    /// Decoupled weight decay (AdamW only).
    #[arg(long = "weight-decay", default_value_t = 0.01)]
    pub weight_decay: f32,

    /// Clip gradients to this global L2 norm (ParlAI --gradient-clip; 0 or less: no clipping).
    #[arg(
        long = "gradient-clip",
        visible_alias = "clip",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    pub gradient_clip: f64,

    /// Accumulate gradients over this many batches per update (ParlAI --update-freq).
    #[arg(long = "update-freq", default_value_t = 1)]
    pub update_freq: usize,

    /// Adam β1.
    #[arg(long = "adam-beta1", default_value_t = 0.9)]
    pub adam_beta1: f32,

    /// Adam β2.
    #[arg(long = "adam-beta2", default_value_t = 0.999)]
    pub adam_beta2: f32,

    /// Adam ε.
    #[arg(long = "adam-eps", default_value_t = 1e-8)]
    pub adam_eps: f32,

    /// Examples per batch (ParlAI -bs).
    #[arg(short = 'b', long = "batchsize", visible_alias = "bs", default_value_t = 16)]
    pub batchsize: usize,

    /// Stop after this many updates.
    #[arg(long = "max-train-steps", visible_alias = "steps", default_value_t = 1000)]
    pub max_train_steps: usize,

    /// Stop after this many passes over the data (whichever limit comes first).
    #[arg(long = "num-epochs", visible_alias = "eps")]
    pub num_epochs: Option<f64>,

    /// Keep at most this many context tokens, the most recent (default: --truncate, else 128).
    #[arg(long = "text-truncate", value_name = "N")]
    pub text_truncate: Option<usize>,

    /// Keep at most this many response tokens (default: --truncate, else 128).
    #[arg(long = "label-truncate", value_name = "N")]
    pub label_truncate: Option<usize>,

    /// The model's shape and dropouts as ParlAI's flags give them (over --preset).
    #[command(flatten)]
    pub shape: crate::args::ModelShapeArgs,

    /// The seed command's other ParlAI flags.
    #[command(flatten)]
    pub parlai: super::parlai_flags::ParlaiTrainFlags,

    /// Training loss: cringe; mle (cross-entropy on positives, negatives dropped); unlikelihood
    /// (−log(1 − p) on negative tokens, weight --ct-loss-weight); pairwise-cringe (the CRINGE
    /// term on a pair's rejected response, gated by the pair's likelihood margin; pairs come
    /// from `{context, chosen, rejected}` JSONL tasks).
    #[arg(long, value_parser = parse_loss, default_value = "cringe", value_name = "LOSS")]
    pub loss: LossKind,

    /// CRINGE α: weight of the contrastive term (also unlikelihood's weight).
    #[arg(long = "ct-loss-weight", default_value_t = 1.0)]
    pub ct_loss_weight: f64,

    /// CRINGE k: sample the positive candidate from the model's top-k (the paper used 5).
    #[arg(
        long = "num-pos-predictions",
        visible_alias = "ct-num-pos-predictions",
        default_value_t = 1
    )]
    pub num_pos_predictions: usize,

    /// Stop gradients through the sampled positive candidate (ParlAI's --ct-detach-positives).
    #[arg(long = "detach-positives-during-ct", visible_alias = "ct-detach-positives", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL")]
    pub detach_positives_during_ct: bool,

    /// Also apply the contrastive term to positive examples (the target must win).
    #[arg(long = "train-ct-on-positive-examples", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL")]
    pub train_ct_on_positive_examples: bool,

    /// Apply cross-entropy to positive examples (unlabeled ones always get it).
    #[arg(long = "train-ce-on-positive-examples", action = ArgAction::Set, value_parser = parse_bool, default_value = "true", value_name = "BOOL")]
    pub train_ce_on_positive_examples: bool,

    /// Keep end tokens out of the contrastive term.
    #[arg(long = "ct-exclude-eos", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL")]
    pub ct_exclude_eos: bool,

    /// pairwise-cringe: the margin b (nats) by which the chosen response's log-likelihood should
    /// exceed the rejected one's before the gate sigmoid((b − M)/τ) closes.
    #[arg(long = "pairwise-margin", default_value_t = 0.0, allow_negative_numbers = true)]
    pub pairwise_margin: f64,

    /// pairwise-cringe: the gate's temperature τ (nats).
    #[arg(long = "pairwise-temperature", default_value_t = 1.0)]
    pub pairwise_temperature: f64,

    /// Random seed: initialisation, shuffling, dropout and candidate sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Print metrics every N updates.
    #[arg(long = "log-every-n-steps", default_value_t = 10)]
    pub log_every_n_steps: usize,

    /// Validate every N updates on the tasks' valid split (0: never). The best model by
    /// --validation-metric is written to --model-file, the latest to <model-file>.checkpoint.
    #[arg(long = "validation-every-n-steps", visible_alias = "vstep", default_value_t = 0)]
    pub validation_every_n_steps: usize,

    /// Also validate every N seconds of training (0: never).
    #[arg(long = "validation-every-n-secs", visible_alias = "vtim", default_value_t = 0.0)]
    pub validation_every_n_secs: f64,

    /// Stop after this many validations without a better --validation-metric (0: never).
    #[arg(long = "validation-patience", visible_alias = "vp", default_value_t = 0)]
    pub validation_patience: usize,

    /// Validate on at most this many examples (the first of each task's valid split, in order).
    #[arg(long = "validation-max-exs", visible_alias = "vme", default_value_t = 1000)]
    pub validation_max_exs: usize,

    /// Metric that picks the best model: loss, ce_loss, ct_loss, ppl_pos, token_acc, …
    #[arg(long = "validation-metric", visible_alias = "vmt", default_value = "loss")]
    pub validation_metric: String,

    /// Whether the validation metric should be small (min) or large (max).
    #[arg(long = "validation-metric-mode", visible_alias = "vmm", value_enum, default_value_t = super::validate::MetricMode::Min)]
    pub validation_metric_mode: super::validate::MetricMode,

    /// Save a resumable checkpoint (<model-file>.checkpoint) every N updates (0: only after
    /// validations, on Ctrl-C and at the end).
    #[arg(long = "save-every-n-steps", default_value_t = 0)]
    pub save_every_n_steps: usize,

    /// Save a resumable checkpoint every N seconds (0: never by time).
    #[arg(long = "save-every-n-secs", visible_alias = "stim", default_value_t = 0.0)]
    pub save_every_n_secs: f64,

    /// Continue from <model-file>.checkpoint when it exists (weights, optimizer, data position,
    /// schedule): the result equals an uninterrupted run's. Other flags must match the
    /// checkpoint's; --max-train-steps may grow.
    #[arg(long = "load-from-checkpoint", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL")]
    pub load_from_checkpoint: bool,

    /// Read flags from this TOML file (keys are flag names, e.g. `lr = 5e-5`,
    /// `task = ["a", "b"]`); flags given on the command line win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Append per-step metrics as JSON lines to this file (default: <model-file>.train.jsonl).
    #[arg(long = "metrics-file", value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Device and precision.
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,

    /// Initial loss scale of f16 training (halved on every overflowing update, doubled after
    /// 2000 clean ones; PyTorch's GradScaler defaults).
    #[arg(long = "init-loss-scale", default_value_t = super::loss_scale::INIT_SCALE)]
    pub init_loss_scale: f64,

    /// Check everything and print the resolved configuration (model shape, parameter count,
    /// memory one update needs, tasks with sizes and weights, schedule), then exit without
    /// training or writing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Parses `--loss`.
fn parse_loss(s: &str) -> Result<LossKind, String> {
    LossKind::parse(s).map_err(|e| e.to_string())
}

impl TrainArgs {
    /// The loss and options these flags select.
    pub fn objective(&self) -> Objective {
        Objective {
            kind: self.loss,
            cringe: self.cringe_options(),
            pairwise: PairwiseOptions {
                margin: self.pairwise_margin,
                temperature: self.pairwise_temperature,
            },
        }
    }

    /// The CRINGE options these flags select.
    pub fn cringe_options(&self) -> CringeOptions {
        CringeOptions {
            ct_loss_weight: self.ct_loss_weight,
            num_pos_predictions: self.num_pos_predictions,
            detach_positives_during_ct: self.detach_positives_during_ct,
            train_ct_on_positive_examples: self.train_ct_on_positive_examples,
            train_ce_on_positive_examples: self.train_ce_on_positive_examples,
            ct_exclude_eos: self.ct_exclude_eos,
        }
    }

    /// Checks values clap cannot check alone.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.batchsize > 0, "--batchsize must be at least 1");
        anyhow::ensure!(self.update_freq > 0, "--update-freq must be at least 1");
        anyhow::ensure!(
            self.lr > 0.0 && self.lr.is_finite(),
            "--lr must be a positive number, got {}",
            self.lr
        );
        anyhow::ensure!(self.num_pos_predictions >= 1, "--num-pos-predictions must be at least 1");
        anyhow::ensure!(self.ct_loss_weight >= 0.0, "--ct-loss-weight must not be negative");
        anyhow::ensure!(
            self.pairwise_temperature > 0.0 && self.pairwise_temperature.is_finite(),
            "--pairwise-temperature must be a positive number, got {}",
            self.pairwise_temperature
        );
        anyhow::ensure!(
            self.pairwise_margin.is_finite(),
            "--pairwise-margin must be a finite number"
        );
        anyhow::ensure!(
            self.init_loss_scale >= 1.0 && self.init_loss_scale.is_finite(),
            "--init-loss-scale must be a finite number of at least 1, got {}",
            self.init_loss_scale
        );
        anyhow::ensure!(self.log_every_n_steps > 0, "--log-every-n-steps must be at least 1");
        anyhow::ensure!(
            self.lr_scheduler_decay > 0.0 && self.lr_scheduler_decay <= 1.0,
            "--lr-scheduler-decay must be in (0, 1], got {}",
            self.lr_scheduler_decay
        );
        crate::args::ensure_seconds("--validation-every-n-secs", self.validation_every_n_secs)?;
        crate::args::ensure_seconds("--save-every-n-secs", self.save_every_n_secs)?;
        for (flag, v) in [("--adam-beta1", self.adam_beta1), ("--adam-beta2", self.adam_beta2)] {
            anyhow::ensure!((0.0..1.0).contains(&v), "{flag} must be in [0, 1), got {v}");
        }
        anyhow::ensure!(
            self.adam_eps > 0.0 && self.adam_eps.is_finite(),
            "--adam-eps must be a positive number, got {}",
            self.adam_eps
        );
        anyhow::ensure!(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "--weight-decay must be a non-negative number, got {}",
            self.weight_decay
        );
        anyhow::ensure!(
            self.gradient_clip.is_finite(),
            "--gradient-clip must be a number, got {}",
            self.gradient_clip
        );
        let trunc = self.truncation();
        anyhow::ensure!(trunc.text_truncate > 0, "--text-truncate must be at least 1 token");
        anyhow::ensure!(
            trunc.label_truncate > 0,
            "--label-truncate must be at least 1 token (the response is what the loss trains on)"
        );
        let tokenizer_given = self.tokenizer.is_some() || self.init_model.is_some();
        self.parlai.check(self.loss.name(), tokenizer_given, self.quiet)?;
        anyhow::ensure!(self.vocab_size > 0, "--vocab-size must be at least 1");
        super::task_weights(&self.multitask_weights, self.task.len())?;
        if let Some(e) = self.num_epochs {
            anyhow::ensure!(
                e > 0.0 && e.is_finite(),
                "--num-epochs must be a positive number, got {e}"
            );
        }
        Ok(())
    }

    /// The model directory and its checkpoint may only replace directories of ours, checked
    /// before any training; `--max-train-steps 0` (an initialised, untrained model) may not
    /// replace a model already there.
    pub fn check_outputs(&self) -> anyhow::Result<()> {
        let kind = match self.is_causal() {
            true => cringe_core::hf::EXPORT_DIR,
            false => cringe_core::model::model_dir::MODEL_DIR,
        };
        let checkpoint = checkpoint_dir(&self.model_file);
        kind.check_replaceable(&self.model_file)?;
        kind.check_replaceable(&checkpoint)?;
        if self.max_train_steps == 0 && self.init_model.is_none() && !self.load_from_checkpoint {
            anyhow::ensure!(
                !self.model_file.join(cringe_core::model::model_dir::WEIGHTS_FILE).exists(),
                "{}: --max-train-steps 0 would replace this model with an untrained one; give a new --mf, or at least 1 step",
                self.model_file.display()
            );
        }
        Ok(())
    }

    /// Whether this run trains a causal LM: its `--init-model` is one, or, without one, the
    /// checkpoint it resumes from is.
    pub fn is_causal(&self) -> bool {
        use cringe_core::pretrained::is_causal;
        match &self.init_model {
            Some(init) => is_causal(init),
            None => self.load_from_checkpoint && is_causal(&checkpoint_dir(&self.model_file)),
        }
    }

    /// `--text-truncate` and `--label-truncate`, each defaulting to `--truncate`, else 128.
    pub fn truncation(&self) -> TruncationConfig {
        let or_default = |v: Option<usize>| v.or(self.parlai.truncate).unwrap_or(DEFAULT_TRUNCATE);
        TruncationConfig {
            text_truncate: or_default(self.text_truncate),
            label_truncate: or_default(self.label_truncate),
        }
    }

    /// The tokenizer file `--tokenizer` or ParlAI's `--dict-file` names, if any.
    pub fn tokenizer_file(&self) -> Option<PathBuf> {
        self.tokenizer.clone().or_else(|| self.parlai.dict_tokenizer_file())
    }

    /// Whether validation runs at all (by steps or by seconds).
    pub fn validating(&self) -> bool {
        self.validation_every_n_steps > 0 || self.validation_every_n_secs > 0.0
    }

    /// The sampling weight of each task (checked by [`TrainArgs::validate`]).
    pub fn weights(&self) -> Vec<u32> {
        super::task_weights(&self.multitask_weights, self.task.len())
            .expect("validated multitask weights")
    }

    /// The datapath in effect.
    pub fn datapath(&self) -> PathBuf {
        self.datapath.clone().unwrap_or_else(cringe_core::data::default_datapath)
    }

    /// Where TensorBoard event files go with `--tensorboard-log true`: `--tensorboard-logdir`,
    /// else `<model-file>.tensorboard` (ParlAI's default).
    pub fn tensorboard_dir(&self) -> Option<PathBuf> {
        self.parlai.logging.tensorboard_dir(&self.model_file)
    }

    /// Where per-step metrics go.
    pub fn metrics_path(&self) -> PathBuf {
        self.metrics_file.clone().unwrap_or_else(|| {
            let mut p = self.model_file.clone().into_os_string();
            p.push(".train.jsonl");
            PathBuf::from(p)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_sits_beside_the_model_with_a_suffix() {
        assert_eq!(checkpoint_dir(Path::new("runs/m")), PathBuf::from("runs/m.checkpoint"));
    }
}
