//! The training loop: seeded multitask sampling, teacher-forced forward, CRINGE loss, gradient
//! accumulation and global-norm clipping, Adam/AdamW with a warmup + `--lr-scheduler` schedule,
//! validation by steps or seconds, best/last checkpoints written atomically, exact resume,
//! a progress bar, and a checkpoint on Ctrl-C.
//!
//! Each update is a sequence of named steps on [`Run`]: [`Run::gradients`] (the micro-batches),
//! [`Run::apply`] (the optimizer update, with or without loss scaling), [`Run::record`]
//! (metrics, progress, the log) and [`Run::validate_and_save`] (validation, checkpoints, stop).
//!
//! The steps are in `steps.rs`.
//!
//! Exact resume: every random choice of update `s` (dropout masks, CRINGE candidates) is seeded
//! from `(--seed, s)`, and the data sampler is replayed to its saved position, so a run resumed
//! from a checkpoint makes the same updates as one that never stopped.

use super::args::{TrainArgs, checkpoint_dir};
use super::checkpoint::{self, TrainerState};
use super::interrupt::InterruptGuard;
use super::log::MetricsLog;
use super::loss_scale::LossScaler;
use super::progress::Progress;
pub use super::resume::Resume;
use super::schedule::LrSchedule;
use super::trainee::Trainee;
use super::validate::{ValidSet, metric_value};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use cringe_core::data::{EncodedExample, Label, MultitaskSampler};
use cringe_core::loss::{CringeMetrics, CringeStats, Objective};
use cringe_core::model::{Precision, autocast};
use std::path::PathBuf;
use std::time::Instant;

mod steps;

/// What a training run did and measured.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Updates performed in this run (not counting those of a resumed checkpoint).
    pub steps: usize,
    /// Context + target tokens processed in this run.
    pub tokens: usize,
    /// Wall time of this run's loop, in seconds.
    pub seconds: f64,
    /// Metrics aggregated over this run.
    pub metrics: CringeMetrics,
}

impl TrainSummary {
    /// The summary of a run that did nothing (`--dry-run`).
    pub fn nothing() -> Self {
        Self { steps: 0, tokens: 0, seconds: 0.0, metrics: CringeStats::default().metrics() }
    }

    /// Training throughput in context + target tokens per second.
    pub fn tokens_per_sec(&self) -> f64 {
        if self.seconds > 0.0 { self.tokens as f64 / self.seconds } else { 0.0 }
    }
}

/// The random streams of an update, each seeded from (`--seed`, stream, update).
#[derive(Debug, Clone, Copy)]
enum Stream {
    /// The device's generator: Burn's own random ops (dropout on GPU devices).
    Device = 1,
    /// CRINGE's candidate draws.
    Candidates = 2,
    /// Our CPU dropout masks (`kernels::dropout`).
    Dropout = 3,
}

/// Seed of the random stream `stream` at update `step` (SplitMix64 of the three).
fn step_seed(seed: u64, stream: Stream, step: usize) -> u64 {
    let mut z = seed
        ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (step as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn new_optimizer(args: &TrainArgs) -> ModuleOptimizer {
    args.optimizer.build(args.adam_beta1, args.adam_beta2, args.adam_eps, args.weight_decay)
}

/// Number of updates the run makes in all: --max-train-steps, or fewer with --num-epochs.
pub(super) fn total_steps(args: &TrainArgs, n_examples: usize) -> usize {
    let steps_per_epoch = n_examples.div_ceil(args.batchsize * args.update_freq);
    match args.num_epochs {
        Some(e) => args.max_train_steps.min((e * steps_per_epoch as f64).ceil() as usize),
        None => args.max_train_steps,
    }
}

/// The gradients of one update and what its micro-batches measured.
struct Accumulated {
    grads: GradientsParams,
    stats: CringeStats,
    tokens: usize,
    /// A reduced-precision forward was not finite: the update is skipped.
    overflow: bool,
}

/// Running totals: over the whole run, and over the window since the last log line.
struct Meters {
    run: CringeStats,
    window: CringeStats,
    run_tokens: usize,
    window_tokens: usize,
    start: Instant,
    window_start: Instant,
    last_valid: Instant,
    last_save: Instant,
    peak_device_bytes: Option<u64>,
}

impl Meters {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            run: CringeStats::default(),
            window: CringeStats::default(),
            run_tokens: 0,
            window_tokens: 0,
            start: now,
            window_start: now,
            last_valid: now,
            last_save: now,
            peak_device_bytes: None,
        }
    }
}

/// A training run between updates.
struct Run<'a, M: Trainee> {
    args: &'a TrainArgs,
    text: &'a M::Text,
    tasks: &'a [(String, Vec<EncodedExample>)],
    valid: &'a ValidSet,
    device: &'a Device,
    objective: Objective,
    precision: Precision,
    sampler: MultitaskSampler,
    optim: ModuleOptimizer,
    schedule: LrSchedule,
    scaler: LossScaler,
    st: TrainerState,
    log: MetricsLog,
    progress: Progress,
    ckpt_dir: PathBuf,
    n_examples: usize,
    max_steps: usize,
    first_step: usize,
    meters: Meters,
}

/// Trains `model` on the encoded `tasks`, validating on `valid`, and saves it to `--model-file`
/// (and its checkpoint to `<model-file>.checkpoint`).
pub fn train<M: Trainee>(
    args: &TrainArgs,
    mut model: M,
    text: &M::Text,
    tasks: Vec<(String, Vec<EncodedExample>)>,
    valid: &ValidSet,
    device: &Device,
    resume: Option<Resume>,
) -> anyhow::Result<TrainSummary> {
    let mut run = Run::start(args, &model, text, &tasks, valid, device, resume)?;
    let _autocast = autocast(run.precision);
    let interrupt = InterruptGuard::install();
    for step in run.first_step..run.max_steps {
        let step_start = Instant::now();
        let acc = run.gradients(&model, step)?;
        let lr = run.schedule.lr(step);
        model = run.apply(model, acc.grads, acc.overflow, lr, step)?;
        run.record(step, step_start, lr, &acc.stats, acc.tokens)?;
        if run.validate_and_save(&model, step + 1, &interrupt)? {
            break;
        }
    }
    run.finish(&model)
}

impl<'a, M: Trainee> Run<'a, M> {
    /// Checks the options, builds the sampler, optimizer, schedule and log, and applies a
    /// checkpoint's state when resuming.
    fn start(
        args: &'a TrainArgs,
        model: &M,
        text: &'a M::Text,
        tasks: &'a [(String, Vec<EncodedExample>)],
        valid: &'a ValidSet,
        device: &'a Device,
        resume: Option<Resume>,
    ) -> anyhow::Result<Self> {
        let objective = args.objective();
        let opts = &objective.cringe;
        let vocab_size = model.vocab_size();
        anyhow::ensure!(
            !objective.kind.samples_candidates() || opts.num_pos_predictions < vocab_size,
            "--num-pos-predictions {} must be smaller than the vocabulary ({vocab_size})",
            opts.num_pos_predictions,
        );
        if args.validating() {
            metric_value(&CringeStats::default().metrics(), &args.validation_metric)?;
        }
        let n_examples: usize = tasks.iter().map(|(_, d)| d.len()).sum();
        let max_steps = total_steps(args, n_examples);
        let sizes: Vec<usize> = tasks.iter().map(|(_, d)| d.len()).collect();
        let mut sampler = MultitaskSampler::new(&sizes, &args.weights(), args.seed.wrapping_add(1))
            .map_err(anyhow::Error::msg)?;
        let mut optim = new_optimizer(args);
        let mut schedule = LrSchedule::new(
            args.lr,
            args.warmup_updates,
            args.lr_scheduler,
            args.lr_scheduler_decay,
            args.lr_scheduler_patience,
            max_steps,
        );
        let ckpt_dir = checkpoint_dir(&args.model_file);
        let resuming = resume.is_some();
        let mut st = TrainerState::new(checkpoint::fingerprint(args));
        if let Some(r) = resume {
            st = r.checked_state(args, &ckpt_dir, st)?;
            optim = optim.load_record(r.optimizer);
            sampler.skip(st.sampler_draws);
            schedule.state = st.plateau.clone();
        }
        let log =
            MetricsLog::open(&args.metrics_path(), resuming, args.tensorboard_dir().as_deref())?;
        let progress = Progress::new(args.quiet, st.step, max_steps);
        if resuming {
            progress.println(&format!(
                "resuming from {} at step {}/{max_steps}",
                ckpt_dir.display(),
                st.step
            ));
        }
        let precision = args.compute.precision.get();
        let scaler = st.loss_scale.clone().unwrap_or_else(|| {
            LossScaler::new(precision.needs_loss_scaling(), args.init_loss_scale)
        });
        let first_step = st.step;
        let run = Self {
            args,
            text,
            tasks,
            valid,
            device,
            objective,
            precision,
            sampler,
            optim,
            schedule,
            scaler,
            st,
            log,
            progress,
            ckpt_dir,
            n_examples,
            max_steps,
            first_step,
            meters: Meters::new(),
        };
        run.announce(model);
        Ok(run)
    }

    fn mixed(&self) -> bool {
        self.precision != Precision::F32
    }

    /// Prints what is trained, on what data, in what precision.
    fn announce(&self, model: &M) {
        let p = &self.progress;
        p.println(&format!(
            "training {} parameters with the {} loss for {} steps, batch {}, on:",
            model.param_count(),
            self.objective.kind.name(),
            self.max_steps,
            self.args.batchsize
        ));
        for ((name, d), w) in self.tasks.iter().zip(self.args.weights()) {
            let count = |l: Label| d.iter().filter(|e| e.label == l).count();
            let pairs = d.iter().filter(|e| e.rejected.is_some()).count();
            p.println(&format!(
                "  {name}: {} examples ({} pos, {} neg, {} none{}), weight {w}",
                d.len(),
                count(Label::Pos),
                count(Label::Neg),
                count(Label::None),
                if pairs > 0 {
                    format!("; {pairs} of the pos are pairs with a rejected response")
                } else {
                    String::new()
                }
            ));
        }
        if self.mixed() {
            p.println(&format!(
                "mixed precision: products in {}, weights and optimizer state in f32{}",
                self.precision,
                if self.scaler.dynamic {
                    format!(", dynamic loss scale (now {})", self.scaler.scale)
                } else {
                    String::new()
                }
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Stream, step_seed};

    #[test]
    fn step_seeds_differ_by_stream_and_step() {
        let a = step_seed(42, Stream::Device, 0);
        assert_eq!(a, step_seed(42, Stream::Device, 0));
        assert_ne!(a, step_seed(42, Stream::Candidates, 0));
        assert_ne!(a, step_seed(42, Stream::Device, 1));
        assert_ne!(a, step_seed(43, Stream::Device, 0));
    }
}
