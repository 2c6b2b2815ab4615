//! The training loop: seeded multitask sampling, teacher-forced forward, CRINGE loss, gradient
//! accumulation and global-norm clipping, Adam/AdamW with a warmup + `--lr-scheduler` schedule,
//! validation by steps or seconds, best/last checkpoints written atomically, exact resume,
//! a progress bar, and a checkpoint on Ctrl-C.
//!
//! Each update is a sequence of named steps on [`Run`]: [`Run::gradients`] (the micro-batches),
//! [`Run::apply`] (the optimizer update, with or without loss scaling), [`Run::record`]
//! (metrics, progress, the log) and [`Run::validate_and_save`] (validation, checkpoints, stop).
//!
//! Exact resume: every random choice of update `s` (dropout masks, CRINGE candidates) is seeded
//! from `(--seed, s)`, and the data sampler is replayed to its saved position, so a run resumed
//! from a checkpoint makes the same updates as one that never stopped.

use super::args::{OptimizerKind, TrainArgs, checkpoint_dir};
use super::checkpoint::{self, TrainerState};
use super::interrupt::InterruptGuard;
use super::log::{MetricsLog, StepRecord, console_line, live_message};
use super::loss_scale::LossScaler;
use super::progress::{Progress, format_duration};
pub use super::resume::Resume;
use super::schedule::LrSchedule;
use super::update::{Outcome, Update};
use super::validate::{batch_loss, improves, metric_value, validate};
use burn::module::Module;
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer,
};
use burn::tensor::Device;
use cringe_core::data::{Batcher, EncodedExample, Label, MultitaskSampler};
use cringe_core::loss::{CringeMetrics, CringeStats, Objective};
use cringe_core::model::{Generator, ModelDir, Precision, autocast};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;
use std::time::Instant;

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
    match args.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(args.adam_beta1)
            .with_beta_2(args.adam_beta2)
            .with_epsilon(args.adam_eps)
            .init(),
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_beta_1(args.adam_beta1)
            .with_beta_2(args.adam_beta2)
            .with_epsilon(args.adam_eps)
            .with_weight_decay(args.weight_decay)
            .init(),
    }
}

/// Number of updates the run makes in all: --max-train-steps, or fewer with --num-epochs.
fn total_steps(args: &TrainArgs, n_examples: usize) -> usize {
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
struct Run<'a> {
    args: &'a TrainArgs,
    batcher: &'a Batcher,
    tasks: &'a [(String, Vec<EncodedExample>)],
    valid: &'a [EncodedExample],
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
pub fn train(
    args: &TrainArgs,
    mut model: Generator,
    batcher: &Batcher,
    tasks: Vec<(String, Vec<EncodedExample>)>,
    valid: &[EncodedExample],
    device: &Device,
    resume: Option<Resume>,
) -> anyhow::Result<TrainSummary> {
    let mut run = Run::start(args, &model, batcher, &tasks, valid, device, resume)?;
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

impl<'a> Run<'a> {
    /// Checks the options, builds the sampler, optimizer, schedule and log, and applies a
    /// checkpoint's state when resuming.
    fn start(
        args: &'a TrainArgs,
        model: &Generator,
        batcher: &'a Batcher,
        tasks: &'a [(String, Vec<EncodedExample>)],
        valid: &'a [EncodedExample],
        device: &'a Device,
        resume: Option<Resume>,
    ) -> anyhow::Result<Self> {
        let cfg = model.config();
        let objective = args.objective();
        let opts = &objective.cringe;
        anyhow::ensure!(
            !objective.kind.samples_candidates() || opts.num_pos_predictions < cfg.vocab_size,
            "--num-pos-predictions {} must be smaller than the vocabulary ({})",
            opts.num_pos_predictions,
            cfg.vocab_size
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
        let log = MetricsLog::open(&args.metrics_path(), resuming)?;
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
            batcher,
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
    fn announce(&self, model: &Generator) {
        let p = &self.progress;
        p.println(&format!(
            "training {} parameters with the {} loss for {} steps, batch {}, on:",
            model.config().num_params(),
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

    /// Seeds update `step`'s random streams and accumulates the gradients of its
    /// `--update-freq` micro-batches (the loss scaled for mixed precision).
    fn gradients(&mut self, model: &Generator, step: usize) -> anyhow::Result<Accumulated> {
        let (args, device) = (self.args, self.device);
        device.seed(step_seed(args.seed, Stream::Device, step));
        cringe_core::kernels::dropout::seed(step_seed(args.seed, Stream::Dropout, step));
        let mut rng = StdRng::seed_from_u64(step_seed(args.seed, Stream::Candidates, step));
        let mut accumulator = GradientsAccumulator::new();
        let (mut stats, mut tokens, mut overflow) = (CringeStats::default(), 0, false);
        for _ in 0..args.update_freq {
            let items: Vec<EncodedExample> = (0..args.batchsize)
                .map(|_| {
                    let (t, i) = self.sampler.next_pair();
                    self.tasks[t].1[i].clone()
                })
                .collect();
            let batch = self.batcher.collate(&items, device);
            tokens += batch.context_tokens() + batch.target_tokens();
            let out = batch_loss(model, batch, &self.objective, &mut rng, device);
            let micro = CringeStats::from_tensor(out.stats.clone());
            if !micro.loss_sum.is_finite() && self.mixed() {
                // An overflow in the reduced-precision forward: the update is skipped.
                overflow = true;
                continue;
            }
            if !micro.loss_sum.is_finite() {
                self.progress.finish();
                anyhow::bail!(
                    "the loss became non-finite at step {}; try a lower --lr (the model in {} and its last checkpoint were not overwritten)",
                    step + 1,
                    args.model_file.display()
                );
            }
            stats.merge(&micro);
            let loss = out.loss.mul_scalar(self.scaler.scale / args.update_freq as f64);
            accumulator.accumulate(model, GradientsParams::from_grads(loss.backward(), model));
        }
        Ok(Accumulated { grads: accumulator.grads(), stats, tokens, overflow })
    }

    /// The optimizer update at learning rate `lr`; in mixed precision an overflowing update is
    /// skipped and reported, and too many in a row stop training.
    fn apply(
        &mut self,
        model: Generator,
        grads: GradientsParams,
        overflow: bool,
        lr: f64,
        step: usize,
    ) -> anyhow::Result<Generator> {
        let mixed = self.mixed();
        let update = Update {
            optim: &mut self.optim,
            lr,
            clip: self.args.gradient_clip,
            scaler: mixed.then_some(&mut self.scaler),
        };
        let (model, outcome) = update.apply(model, grads, !overflow);
        let precision = self.precision;
        match outcome {
            Outcome::Applied => {}
            Outcome::Skipped { scale } => self.progress.println(&format!(
                "step {}: non-finite {} in {precision} at loss scale {scale}; update skipped{}",
                step + 1,
                if overflow { "loss" } else { "gradients" },
                if self.scaler.dynamic {
                    format!(", loss scale now {}", self.scaler.scale)
                } else {
                    String::new()
                }
            )),
            Outcome::GaveUp => {
                self.progress.finish();
                anyhow::bail!(
                    "{} updates in a row overflowed in {precision} (step {}); try --precision bf16 or f32, or a lower --lr \
                     (the model in {} and its last checkpoint were not overwritten)",
                    self.scaler.consecutive_skips,
                    step + 1,
                    self.args.model_file.display()
                );
            }
        }
        if mixed {
            self.st.loss_scale = Some(self.scaler.clone());
        }
        Ok(model)
    }

    /// Books update `step`: the trainer state, the meters, the progress bar, and every
    /// `--log-every-n-steps` a metrics line in the log and on the console.
    fn record(
        &mut self,
        step: usize,
        step_start: Instant,
        lr: f64,
        stats: &CringeStats,
        tokens: usize,
    ) -> anyhow::Result<()> {
        let (done, m) = (step + 1, &mut self.meters);
        if let Some(usage) = self.device.memory_pool_usage() {
            m.peak_device_bytes = Some(m.peak_device_bytes.unwrap_or(0).max(usage.bytes_reserved));
        }
        if step == self.first_step && !self.args.compute.device.is_cpu() {
            self.progress.println(&format!(
                "first update took {:.1}s on {} (kernel compilation and autotuning; kept in {} for the next run)",
                step_start.elapsed().as_secs_f64(),
                self.args.compute.device,
                crate::device::kernel_cache_dir().display()
            ));
        }
        let st = &mut self.st;
        st.step = done;
        st.sampler_draws = self.sampler.draws();
        st.tokens += tokens;
        st.seconds += step_start.elapsed().as_secs_f64();
        m.run.merge(stats);
        m.window.merge(stats);
        m.run_tokens += tokens;
        m.window_tokens += tokens;
        let secs = m.window_start.elapsed().as_secs_f64();
        let tokens_per_sec = if secs > 0.0 { m.window_tokens as f64 / secs } else { 0.0 };
        self.progress.update(done, live_message(&stats.metrics(), tokens_per_sec));
        if done % self.args.log_every_n_steps == 0 || done == self.max_steps {
            let mixed = self.precision != Precision::F32;
            let rec = StepRecord {
                step: done,
                epoch: st.sampler_draws as f64 / self.n_examples as f64,
                lr,
                tokens_per_sec,
                metrics: m.window.metrics(),
                loss_scale: mixed.then_some(self.scaler.scale),
                skipped_updates: mixed.then_some(self.scaler.skipped),
                peak_device_mib: m.peak_device_bytes.map(|b| b as f64 / (1024.0 * 1024.0)),
            };
            self.log.write(&rec)?;
            let eta = format_duration(self.progress.eta(done));
            self.progress.println(&console_line(&rec, self.max_steps, &eta));
            m.window = CringeStats::default();
            m.window_tokens = 0;
            m.window_start = Instant::now();
        }
        Ok(())
    }

    /// After update `done`: validates when due (saving a better model), writes the checkpoint
    /// when due, and stops on Ctrl-C (an error, with the checkpoint saved). Returns whether the
    /// validation patience ran out.
    fn validate_and_save(
        &mut self,
        model: &Generator,
        done: usize,
        interrupt: &InterruptGuard,
    ) -> anyhow::Result<bool> {
        let a = self.args;
        let due = |every: usize| every > 0 && done.is_multiple_of(every);
        let since = |t: Instant, secs: f64| secs > 0.0 && t.elapsed().as_secs_f64() >= secs;
        let mut save =
            due(a.save_every_n_steps) || since(self.meters.last_save, a.save_every_n_secs);
        let validate_now = due(a.validation_every_n_steps)
            || since(self.meters.last_valid, a.validation_every_n_secs)
            || (a.validating() && done == self.max_steps);
        let mut stop_early = false;
        if validate_now {
            stop_early = self.validation(model, done)?;
            self.meters.last_valid = Instant::now();
            save = true;
        }
        let interrupted = interrupt.requested();
        if save || interrupted || stop_early || done == self.max_steps {
            self.st.plateau = self.schedule.state.clone();
            let tokenizer = self.batcher.tokenizer();
            checkpoint::save(&self.ckpt_dir, model, tokenizer, &self.optim, &self.st)?;
            self.meters.last_save = Instant::now();
        }
        if interrupted {
            self.progress.finish();
            anyhow::bail!(
                "interrupted after step {done}/{}; checkpoint saved in {} — run the same command with --load-from-checkpoint true to continue",
                self.max_steps,
                self.ckpt_dir.display()
            );
        }
        Ok(stop_early)
    }

    /// One validation: the metrics on the valid split, the model saved when better, the
    /// schedule told; returns whether `--validation-patience` ran out.
    fn validation(&mut self, model: &Generator, done: usize) -> anyhow::Result<bool> {
        let a = self.args;
        let eval_device = self.device.clone().without_autodiff();
        let m = validate(
            &model.valid(),
            self.batcher,
            self.valid,
            a.batchsize,
            &self.objective,
            &eval_device,
        );
        let value = metric_value(&m, &a.validation_metric)?;
        let better = improves(value, self.st.best, a.validation_metric_mode);
        if better {
            self.st.best = Some(value);
            self.st.validations_since_best = 0;
            ModelDir::save(model, self.batcher.tokenizer(), &a.model_file)?;
        } else {
            self.st.validations_since_best += 1;
        }
        let decayed = self.schedule.on_validation(done, value, a.validation_metric_mode);
        self.st.plateau = self.schedule.state.clone();
        self.log.write_valid(done, &m)?;
        self.progress.println(&format!(
            "valid  {done:>6} | loss {:.4} | ce_loss {:.4} | ct_loss {:.4} | ppl_pos {:.2} | ppl_ct {:.2} | {} {value:.4}{}{}",
            m.loss,
            m.ce_loss,
            m.ct_loss,
            m.ppl_pos,
            m.ppl_ct,
            a.validation_metric,
            if better { " (best, saved)" } else { "" },
            if decayed { format!(" | lr decayed to {:.2e}", self.schedule.lr(done)) } else { String::new() }
        ));
        let out_of_patience =
            a.validation_patience > 0 && self.st.validations_since_best >= a.validation_patience;
        if out_of_patience {
            self.progress.println(&format!(
                "stopping: {} validations without a better {}",
                self.st.validations_since_best, a.validation_metric
            ));
        }
        Ok(out_of_patience)
    }

    /// Ends the run: the model saved (unless validation already saved the best one), and the
    /// summary.
    fn finish(self, model: &Generator) -> anyhow::Result<TrainSummary> {
        self.progress.finish();
        let seconds = self.meters.start.elapsed().as_secs_f64();
        let args = self.args;
        if !args.validating() || self.max_steps == 0 {
            ModelDir::save(model, self.batcher.tokenizer(), &args.model_file)?;
        }
        let summary = TrainSummary {
            steps: self.st.step - self.first_step,
            tokens: self.meters.run_tokens,
            seconds,
            metrics: self.meters.run.metrics(),
        };
        if !args.quiet {
            println!(
                "saved {} after {} steps in {:.1}s ({:.0} tokens/s)",
                args.model_file.display(),
                self.st.step,
                summary.seconds,
                summary.tokens_per_sec()
            );
        }
        Ok(summary)
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
