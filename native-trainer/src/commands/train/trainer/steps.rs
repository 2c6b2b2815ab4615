//! The steps of one update on a [`Run`]: the micro-batches' gradients, the optimizer update,
//! the bookkeeping, and validation with checkpoints; and the end of the run.

use super::super::checkpoint;
use super::super::interrupt::InterruptGuard;
use super::super::log::{StepRecord, console_line, live_message};
use super::super::param_ids::param_ids;
use super::super::progress::format_duration;
use super::super::trainee::{Trainee, batch_tokens};
use super::super::update::{Outcome, Update};
use super::super::validate::{improves, metric_value, validate};
use super::{Accumulated, Run, Stream, TrainSummary, step_seed};
use burn::optim::{GradientsAccumulator, GradientsParams};
use cringe_core::data::EncodedExample;
use cringe_core::loss::CringeStats;
use cringe_core::model::Precision;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

impl<M: Trainee> Run<'_, M> {
    /// Seeds update `step`'s random streams and accumulates the gradients of its
    /// `--update-freq` micro-batches (the loss scaled for mixed precision).
    pub(super) fn gradients(&mut self, model: &M, step: usize) -> anyhow::Result<Accumulated> {
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
            tokens += batch_tokens(&items);
            let out = model.loss(self.text, &items, &self.objective, &mut rng, device);
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
    pub(super) fn apply(
        &mut self,
        model: M,
        grads: GradientsParams,
        overflow: bool,
        lr: f64,
        step: usize,
    ) -> anyhow::Result<M> {
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
    pub(super) fn record(
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
        let log_secs = self.args.parlai.logging.log_every_n_secs;
        let log_due = done.is_multiple_of(self.args.log_every_n_steps)
            || (log_secs > 0.0 && secs >= log_secs)
            || done == self.max_steps;
        if log_due {
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
    /// when due, and stops on Ctrl-C (an error, with the checkpoint saved). Returns whether to
    /// stop: the validation patience ran out or `--max-train-time` is reached.
    pub(super) fn validate_and_save(
        &mut self,
        model: &M,
        done: usize,
        interrupt: &InterruptGuard,
    ) -> anyhow::Result<bool> {
        let a = self.args;
        let due = |every: usize| every > 0 && done.is_multiple_of(every);
        let since = |t: Instant, secs: f64| secs > 0.0 && t.elapsed().as_secs_f64() >= secs;
        let mut save =
            due(a.save_every_n_steps) || since(self.meters.last_save, a.save_every_n_secs);
        // training seconds over the whole run, resumes included (ParlAI counts -ttim so too)
        let time_up = a.parlai.logging.out_of_time(self.st.seconds);
        let last = done == self.max_steps || time_up;
        let validate_now = due(a.validation_every_n_steps)
            || since(self.meters.last_valid, a.validation_every_n_secs)
            || (a.validating() && last);
        let mut stop_early = false;
        if validate_now {
            stop_early = self.validation(model, done)?;
            self.meters.last_valid = Instant::now();
            save |= a.parlai.save_after_valid;
        }
        if time_up && done < self.max_steps {
            self.progress.println(&format!(
                "stopping: --max-train-time {} s reached after update {done}/{}",
                a.parlai.logging.max_train_time, self.max_steps
            ));
            stop_early = true;
        }
        let interrupted = interrupt.requested();
        if save || interrupted || stop_early || last {
            self.st.plateau = self.schedule.state.clone();
            self.st.param_ids = Some(param_ids(model));
            checkpoint::save(&self.ckpt_dir, model, self.text, &self.optim, &self.st)?;
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
    fn validation(&mut self, model: &M, done: usize) -> anyhow::Result<bool> {
        let a = self.args;
        let eval_device = self.device.clone().without_autodiff();
        let m = validate(
            &model.valid(),
            self.text,
            self.valid,
            a.parlai.logging.aggregate_micro,
            a.batchsize,
            &self.objective,
            &eval_device,
        );
        let value = metric_value(&m, &a.validation_metric)?;
        let better = improves(value, self.st.best, a.validation_metric_mode);
        if better {
            self.st.best = Some(value);
            self.st.validations_since_best = 0;
            model.save(self.text, &a.model_file, &[])?;
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
    pub(super) fn finish(self, model: &M) -> anyhow::Result<TrainSummary> {
        self.progress.finish();
        let seconds = self.meters.start.elapsed().as_secs_f64();
        let args = self.args;
        if !args.validating() || self.max_steps == 0 {
            model.save(self.text, &args.model_file, &[])?;
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
