//! The training loop: seeded multitask sampling, teacher-forced forward, CRINGE loss, gradient
//! accumulation and global-norm clipping, Adam/AdamW with a warmup + `--lr-scheduler` schedule,
//! validation by steps or seconds, best/last checkpoints written atomically, exact resume,
//! a progress bar, and a checkpoint on Ctrl-C.
//!
//! Exact resume: every random choice of update `s` (dropout masks, CRINGE candidates) is seeded
//! from `(--seed, s)`, and the data sampler is replayed to its saved position, so a run resumed
//! from a checkpoint makes the same updates as one that never stopped.

use super::args::{OptimizerKind, TrainArgs};
use super::checkpoint::{self, TrainerState};
use super::clip::{clip_global_norm, clip_to_norm};
use super::interrupt::InterruptGuard;
use super::log::{MetricsLog, StepRecord, console_line, live_message};
use super::loss_scale::{LossScaler, Verdict};
use super::progress::{Progress, format_duration};
use super::schedule::LrSchedule;
use super::validate::{batch_loss, improves, metric_value, validate};
use burn::module::Module;
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer,
    OptimizerRecord,
};
use burn::tensor::Device;
use cringe_core::data::{Batcher, EncodedExample, Label, MultitaskSampler};
use cringe_core::loss::{CringeMetrics, CringeStats};
use cringe_core::model::{Generator, ModelDir, Precision, autocast};
use rand::SeedableRng;
use rand::rngs::StdRng;
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

/// Where a resumed run starts from.
pub struct Resume {
    /// The optimizer state of the checkpoint.
    pub optimizer: OptimizerRecord,
    /// The trainer state of the checkpoint.
    pub state: TrainerState,
}

/// Seed of the random stream `stream` at update `step` (SplitMix64 of the three).
fn step_seed(seed: u64, stream: u64, step: usize) -> u64 {
    let mut z = seed
        ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
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
    let cfg = model.config().clone();
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
    let n: usize = tasks.iter().map(|(_, d)| d.len()).sum();
    let bs = args.batchsize;
    let max_steps = total_steps(args, n);
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
    let ckpt_dir = checkpoint::checkpoint_dir(&args.model_file);
    let resuming = resume.is_some();
    let mut st = TrainerState::new(checkpoint::fingerprint(args));
    if let Some(r) = resume {
        checkpoint::check_fingerprint(&ckpt_dir, &r.state.fingerprint, &st.fingerprint)?;
        let state_file = ckpt_dir.join(checkpoint::STATE_FILE);
        let expected_draws = r.state.step as u64 * (bs * args.update_freq) as u64;
        anyhow::ensure!(
            r.state.sampler_draws == expected_draws,
            "{}: `sampler_draws` is {} but {} steps of batch {bs} × --update-freq {} drew {expected_draws}; the checkpoint is corrupt",
            state_file.display(),
            r.state.sampler_draws,
            r.state.step,
            args.update_freq
        );
        let (plateau, warning) = r.state.plateau.clone().checked(&state_file)?;
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        st = TrainerState { fingerprint: st.fingerprint, plateau, ..r.state };
        optim = optim.load_record(r.optimizer);
        sampler.skip(st.sampler_draws);
        schedule.state = st.plateau.clone();
    }
    let mut log = MetricsLog::open(&args.metrics_path(), resuming)?;
    let progress = Progress::new(args.quiet, st.step, max_steps);
    if resuming {
        progress.println(&format!(
            "resuming from {} at step {}/{max_steps}",
            ckpt_dir.display(),
            st.step
        ));
    }
    progress.println(&format!(
        "training {} parameters with the {} loss for {max_steps} steps, batch {bs}, on:",
        cfg.num_params(),
        objective.kind.name()
    ));
    for ((name, d), w) in tasks.iter().zip(args.weights()) {
        let count = |l: Label| d.iter().filter(|e| e.label == l).count();
        let pairs = d.iter().filter(|e| e.rejected.is_some()).count();
        progress.println(&format!(
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

    let precision = args.precision.get();
    let mixed = precision != Precision::F32;
    let _autocast = autocast(precision);
    let mut scaler = st
        .loss_scale
        .clone()
        .unwrap_or_else(|| LossScaler::new(precision.needs_loss_scaling(), args.init_loss_scale));
    if mixed {
        progress.println(&format!(
            "mixed precision: products in {precision}, weights and optimizer state in f32{}",
            if scaler.dynamic {
                format!(", dynamic loss scale (now {})", scaler.scale)
            } else {
                String::new()
            }
        ));
    }

    let interrupt = InterruptGuard::install();
    let first_step = st.step;
    let mut run_stats = CringeStats::default();
    let mut window = CringeStats::default();
    let (mut run_tokens, mut window_tokens) = (0usize, 0usize);
    let start = Instant::now();
    let mut window_start = Instant::now();
    let (mut last_valid, mut last_save) = (Instant::now(), Instant::now());
    let tokenizer = batcher.tokenizer();
    let mut stop_early = false;
    let mut peak_device_bytes: Option<u64> = None;
    for step in first_step..max_steps {
        let step_start = Instant::now();
        device.seed(step_seed(args.seed, 1, step));
        cringe_core::kernels::dropout::seed(step_seed(args.seed, 3, step));
        let mut rng = StdRng::seed_from_u64(step_seed(args.seed, 2, step));
        let mut accumulator = GradientsAccumulator::new();
        let mut stats = CringeStats::default();
        let mut tokens = 0;
        let mut overflow = false;
        for _ in 0..args.update_freq {
            let items: Vec<EncodedExample> = (0..bs)
                .map(|_| {
                    let (t, i) = sampler.next_pair();
                    tasks[t].1[i].clone()
                })
                .collect();
            let batch = batcher.collate(&items, device);
            tokens += batch.context_tokens() + batch.target_tokens();
            let out = batch_loss(&model, batch, &objective, &mut rng, device);
            let micro = CringeStats::from_tensor(out.stats.clone());
            if !micro.loss_sum.is_finite() && mixed {
                // An overflow in the reduced-precision forward: the update is skipped below.
                overflow = true;
                continue;
            }
            if !micro.loss_sum.is_finite() {
                progress.finish();
                anyhow::bail!(
                    "the loss became non-finite at step {}; try a lower --lr (the model in {} and its last checkpoint were not overwritten)",
                    step + 1,
                    args.model_file.display()
                );
            }
            stats.merge(&micro);
            let loss = out.loss.mul_scalar(scaler.scale / args.update_freq as f64);
            accumulator.accumulate(&model, GradientsParams::from_grads(loss.backward(), &model));
        }
        let mut grads = accumulator.grads();
        let lr = schedule.lr(step);
        if mixed {
            let scale_before = scaler.scale;
            let (verdict, norm) = scaler.unscale(&model, &mut grads, !overflow);
            match verdict {
                Verdict::Apply => {
                    if args.gradient_clip > 0.0 {
                        clip_to_norm(&model, &mut grads, norm, args.gradient_clip);
                    }
                    model = optim.step(lr, model, grads);
                }
                Verdict::Skip => progress.println(&format!(
                    "step {}: non-finite {} in {precision} at loss scale {scale_before}; update skipped{}",
                    step + 1,
                    if overflow { "loss" } else { "gradients" },
                    if scaler.dynamic { format!(", loss scale now {}", scaler.scale) } else { String::new() }
                )),
                Verdict::GiveUp => {
                    progress.finish();
                    anyhow::bail!(
                        "{} updates in a row overflowed in {precision} (step {}); try --precision bf16 or f32, or a lower --lr \
                         (the model in {} and its last checkpoint were not overwritten)",
                        scaler.consecutive_skips,
                        step + 1,
                        args.model_file.display()
                    );
                }
            }
            st.loss_scale = Some(scaler.clone());
        } else {
            if args.gradient_clip > 0.0 {
                clip_global_norm(&model, &mut grads, args.gradient_clip);
            }
            model = optim.step(lr, model, grads);
        }

        let done = step + 1;
        if let Some(usage) = device.memory_pool_usage() {
            peak_device_bytes = Some(peak_device_bytes.unwrap_or(0).max(usage.bytes_reserved));
        }
        if step == first_step && !args.device.is_cpu() {
            progress.println(&format!(
                "first update took {:.1}s on {} (kernel compilation and autotuning; kept in {} for the next run)",
                step_start.elapsed().as_secs_f64(),
                args.device,
                crate::device::kernel_cache_dir().display()
            ));
        }
        st.step = done;
        st.sampler_draws = sampler.draws();
        st.tokens += tokens;
        st.seconds += step_start.elapsed().as_secs_f64();
        run_stats.merge(&stats);
        window.merge(&stats);
        run_tokens += tokens;
        window_tokens += tokens;
        let secs = window_start.elapsed().as_secs_f64();
        let tokens_per_sec = if secs > 0.0 { window_tokens as f64 / secs } else { 0.0 };
        progress.update(done, live_message(&stats.metrics(), tokens_per_sec));
        if done % args.log_every_n_steps == 0 || done == max_steps {
            let rec = StepRecord {
                step: done,
                epoch: st.sampler_draws as f64 / n as f64,
                lr,
                tokens_per_sec,
                metrics: window.metrics(),
                loss_scale: mixed.then_some(scaler.scale),
                skipped_updates: mixed.then_some(scaler.skipped),
                peak_device_mib: peak_device_bytes.map(|b| b as f64 / (1024.0 * 1024.0)),
            };
            log.write(&rec)?;
            progress.println(&console_line(&rec, max_steps, &format_duration(progress.eta(done))));
            window = CringeStats::default();
            window_tokens = 0;
            window_start = Instant::now();
        }

        let mut save_checkpoint = (args.save_every_n_steps > 0
            && done % args.save_every_n_steps == 0)
            || (args.save_every_n_secs > 0.0
                && last_save.elapsed().as_secs_f64() >= args.save_every_n_secs);
        let validate_now = (args.validation_every_n_steps > 0
            && done % args.validation_every_n_steps == 0)
            || (args.validation_every_n_secs > 0.0
                && last_valid.elapsed().as_secs_f64() >= args.validation_every_n_secs)
            || (args.validating() && done == max_steps);
        if validate_now {
            let m = validate(
                &model.valid(),
                batcher,
                valid,
                bs,
                &objective,
                &device.clone().without_autodiff(),
            );
            let value = metric_value(&m, &args.validation_metric)?;
            let better = improves(value, st.best, args.validation_metric_mode);
            if better {
                st.best = Some(value);
                st.validations_since_best = 0;
                ModelDir::save(&model, tokenizer, &args.model_file)?;
            } else {
                st.validations_since_best += 1;
            }
            let decayed = schedule.on_validation(done, value, args.validation_metric_mode);
            st.plateau = schedule.state.clone();
            log.write_valid(done, &m)?;
            progress.println(&format!(
                "valid  {done:>6} | loss {:.4} | ce_loss {:.4} | ct_loss {:.4} | ppl_pos {:.2} | ppl_ct {:.2} | {} {value:.4}{}{}",
                m.loss,
                m.ce_loss,
                m.ct_loss,
                m.ppl_pos,
                m.ppl_ct,
                args.validation_metric,
                if better { " (best, saved)" } else { "" },
                if decayed { format!(" | lr decayed to {:.2e}", schedule.lr(done)) } else { String::new() }
            ));
            if args.validation_patience > 0 && st.validations_since_best >= args.validation_patience
            {
                progress.println(&format!(
                    "stopping: {} validations without a better {}",
                    st.validations_since_best, args.validation_metric
                ));
                stop_early = true;
            }
            last_valid = Instant::now();
            save_checkpoint = true;
        }
        let interrupted = interrupt.requested();
        if save_checkpoint || interrupted || stop_early || done == max_steps {
            st.plateau = schedule.state.clone();
            checkpoint::save(&ckpt_dir, &model, tokenizer, &optim, &st)?;
            last_save = Instant::now();
        }
        if interrupted {
            progress.finish();
            anyhow::bail!(
                "interrupted after step {done}/{max_steps}; checkpoint saved in {} — run the same command with --load-from-checkpoint true to continue",
                ckpt_dir.display()
            );
        }
        if stop_early {
            break;
        }
    }
    progress.finish();
    let seconds = start.elapsed().as_secs_f64();
    if !args.validating() || max_steps == 0 {
        ModelDir::save(&model, tokenizer, &args.model_file)?;
    }
    let summary = TrainSummary {
        steps: st.step - first_step,
        tokens: run_tokens,
        seconds,
        metrics: run_stats.metrics(),
    };
    if !args.quiet {
        println!(
            "saved {} after {} steps in {:.1}s ({:.0} tokens/s)",
            args.model_file.display(),
            st.step,
            summary.seconds,
            summary.tokens_per_sec()
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::step_seed;

    #[test]
    fn step_seeds_differ_by_stream_and_step() {
        let a = step_seed(42, 1, 0);
        assert_eq!(a, step_seed(42, 1, 0));
        assert_ne!(a, step_seed(42, 2, 0));
        assert_ne!(a, step_seed(42, 1, 1));
        assert_ne!(a, step_seed(43, 1, 0));
    }
}
