//! The classifier's training loop, as ParlAI's train loop runs the DIRECTOR classifier: Adam
//! (or AdamW, Adamax) on cross-entropy under a learning-rate schedule; validation every N
//! updates and/or seconds, the best model by `--validation-metric` kept in `--model-file`
//! (with its scores in `valid_scores.json`); stops at `--max-train-steps`, after
//! `--validation-patience` validations without improvement, at `--max-train-time`, or on
//! Ctrl-C; a resumable checkpoint (`<model-file>.checkpoint`: weights, optimizer state, trainer
//! state in one atomic swap) after validations and/or every N seconds, which
//! `--load-from-checkpoint true` continues exactly.

use super::args::TrainClassifierArgs;
use super::net::ClassifierNet;
use super::resume::{Resume, checkpoint_dir, fingerprint, saved_scores};
use super::scores::{ClassifierScores, score};
use crate::commands::train::checkpoint::{OPTIMIZER_FILE, STATE_FILE, TrainerState};
use crate::commands::train::interrupt::InterruptGuard;
use crate::commands::train::loss_scale::{INIT_SCALE, LossScaler, MAX_CONSECUTIVE_SKIPS};
use crate::commands::train::param_ids::param_ids;
use crate::commands::train::schedule::LrSchedule;
use crate::commands::train::tensorboard::TensorboardLog;
use crate::commands::train::update::{Outcome, Update};
use crate::commands::train::validate::improves;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::data::MultitaskSampler;
use cringe_core::model::Precision;
use std::time::Instant;

/// Scores of the best model, written into its directory.
pub use cringe_core::model::model_dir::VALID_SCORES_FILE as SCORES_FILE;

/// A task's examples as (token ids, class index).
pub type EncodedTask = Vec<(Vec<u32>, usize)>;

/// What the loop trains on and validates with.
pub struct Encoded {
    /// Each training task's examples.
    pub train: Vec<EncodedTask>,
    /// The validation examples (cut to --validation-max-exs in all) by task, or pooled into
    /// one set under `--aggregate-micro true`; the scores are the mean over these sets.
    pub valid: Vec<(String, EncodedTask)>,
    /// Tokens kept of each text.
    pub trunc: usize,
}

/// The loop's state beside the model.
struct Loop<'a> {
    args: &'a TrainClassifierArgs,
    device: &'a Device,
    mixed: bool,
    optim: ModuleOptimizer,
    scaler: LossScaler,
    schedule: LrSchedule,
    sampler: MultitaskSampler,
    st: TrainerState,
    best: Option<ClassifierScores>,
    running: (f64, usize),
    tensorboard: Option<TensorboardLog>,
    pos: usize,
    /// The update the checkpoint on disk was written after.
    saved_at: Option<usize>,
}

/// Trains `model` on `data`; returns the best validation scores.
pub fn train<M: ClassifierNet>(
    args: &TrainClassifierArgs,
    mut model: M,
    text: &M::Text,
    data: &Encoded,
    device: &Device,
    precision: Precision,
    resume: Option<Resume>,
) -> anyhow::Result<ClassifierScores> {
    let mut lp = Loop::start(args, &model, data, device, precision, resume)?;
    let interrupt = InterruptGuard::install();
    let started = Instant::now();
    let seconds_before = lp.st.seconds;
    let (mut last_valid, mut last_save, mut last_log) = (0.0f64, 0.0f64, 0.0f64);
    for step in lp.st.step + 1..=args.max_train_steps {
        model = lp.update(model, data, step)?;
        let now = started.elapsed().as_secs_f64();
        lp.st.seconds = seconds_before + now;
        if args.parlai.logging.log_every_n_secs > 0.0
            && now - last_log >= args.parlai.logging.log_every_n_secs
        {
            lp.log_train(step)?;
            last_log = now;
        }
        let out_of_time = args.parlai.logging.out_of_time(lp.st.seconds);
        let by_time =
            args.validation_every_n_secs > 0.0 && now - last_valid >= args.validation_every_n_secs;
        let by_steps = args.validation_steps().is_some_and(|n| step % n == 0);
        let last = step == args.max_train_steps || out_of_time || interrupt.requested();
        let mut stop = false;
        if by_time || by_steps || last {
            stop = lp.validate(&model, text, data, step)?;
            last_valid = now;
            if args.parlai.save_after_valid {
                lp.save_checkpoint(&model, text)?;
                last_save = now;
            }
        }
        if args.save_every_n_secs > 0.0 && now - last_save >= args.save_every_n_secs {
            lp.save_checkpoint(&model, text)?;
            last_save = now;
        }
        if out_of_time && !args.quiet {
            println!(
                "stopping: --max-train-time {} s reached after update {step}/{}",
                args.parlai.logging.max_train_time, args.max_train_steps
            );
        }
        if stop || last {
            break;
        }
    }
    if (args.checkpointing() || interrupt.requested()) && lp.saved_at != Some(lp.st.step) {
        lp.save_checkpoint(&model, text)?;
    }
    let best = match lp.best {
        Some(b) => b,
        None => saved_scores(args)?,
    };
    println!("{}", serde_json::to_string(&best)?);
    Ok(best)
}

impl<'a> Loop<'a> {
    fn start<M: ClassifierNet>(
        args: &'a TrainClassifierArgs,
        model: &M,
        data: &Encoded,
        device: &'a Device,
        precision: Precision,
        resume: Option<Resume>,
    ) -> anyhow::Result<Self> {
        let weights =
            crate::commands::train::task_weights(&args.multitask_weights, data.train.len())?;
        let sizes: Vec<usize> = data.train.iter().map(Vec::len).collect();
        let mut sampler =
            MultitaskSampler::new(&sizes, &weights, args.seed).map_err(anyhow::Error::msg)?;
        let mut optim = args.new_optimizer();
        let mut schedule = args.schedule();
        let mut st = TrainerState::new(fingerprint(args));
        if let Some(r) = resume {
            optim = optim.load_record(r.optimizer);
            st = r.state;
            sampler.skip(st.sampler_draws);
            schedule.state = st.plateau.clone();
            if !args.quiet {
                println!("resuming from {} at step {}", checkpoint_dir(args).display(), st.step);
            }
        }
        let scaler = st
            .loss_scale
            .clone()
            .unwrap_or_else(|| LossScaler::new(precision.needs_loss_scaling(), INIT_SCALE));
        let tensorboard = (args.parlai.logging.tensorboard_dir(&args.model_file))
            .map(|dir| TensorboardLog::create(&dir))
            .transpose()?;
        let pos = model.class_names().iter().position(|c| c == "pos").unwrap_or(0);
        Ok(Self {
            args,
            device,
            mixed: precision != Precision::F32,
            optim,
            scaler,
            schedule,
            sampler,
            st,
            best: None,
            running: (0.0, 0),
            tensorboard,
            pos,
            saved_at: None,
        })
    }

    /// One optimizer update on a fresh batch.
    fn update<M: ClassifierNet>(
        &mut self,
        model: M,
        data: &Encoded,
        step: usize,
    ) -> anyhow::Result<M> {
        let batch: Vec<&(Vec<u32>, usize)> = (0..self.args.batchsize)
            .map(|_| {
                let (t, i) = self.sampler.next_pair();
                &data.train[t][i]
            })
            .collect();
        // dropout's random stream from (seed, update), so a resumed run draws what an
        // uninterrupted one would. Update 1 (never a resumed run's) keeps the stream the run
        // was seeded with: Burn initialises most weights lazily, at this first forward pass,
        // from that stream, so a fresh classifier is the one this command always trained.
        if step > 1 {
            let seed = self.args.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            self.device.seed(seed);
            cringe_core::kernels::dropout::seed(seed);
        }
        let train_device = self.device.clone().autodiff();
        let (loss, value) = batch_loss(&model, &batch, data.trunc, &train_device)?;
        anyhow::ensure!(
            value.is_finite() || self.mixed,
            "the classifier loss became non-finite at step {step}; try a lower --lr"
        );
        let mut grads = GradientsParams::new();
        if value.is_finite() {
            self.running = (self.running.0 + value as f64, self.running.1 + 1);
            grads =
                GradientsParams::from_grads(loss.mul_scalar(self.scaler.scale).backward(), &model);
        }
        let update = Update {
            optim: &mut self.optim,
            lr: self.schedule.lr(step - 1),
            clip: 0.0,
            scaler: self.mixed.then_some(&mut self.scaler),
        };
        let (model, outcome) = update.apply(model, grads, value.is_finite());
        self.report_outcome(outcome, step)?;
        self.st.step = step;
        self.st.sampler_draws = self.sampler.draws();
        Ok(model)
    }

    /// Scores the model on the validation sets (their mean: one pooled set, or each task), keeps it when
    /// it is the best so far, and feeds the schedule; returns whether patience ran out.
    fn validate<M: ClassifierNet>(
        &mut self,
        model: &M,
        text: &M::Text,
        data: &Encoded,
        step: usize,
    ) -> anyhow::Result<bool> {
        let args = self.args;
        let valid = model.valid();
        let per_task = data
            .valid
            .iter()
            .map(|(_, t)| score(&valid, t, data.trunc, self.pos, self.device))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let scores = ClassifierScores::macro_average(&per_task);
        let value = scores.metric(&args.validation_metric)?;
        let mode = args.metric_mode();
        let improved = improves(value, self.st.best, mode);
        if improved {
            let json = serde_json::to_vec_pretty(&scores)?;
            model.save(text, &args.model_file, &[(SCORES_FILE, &json)])?;
            (self.st.best, self.best, self.st.validations_since_best) =
                (Some(value), Some(scores), 0);
        } else {
            self.st.validations_since_best += 1;
        }
        let decayed = self.schedule.on_validation(step, value, mode);
        self.st.plateau = self.schedule.state.clone();
        let train_loss = self.running.0 / self.running.1.max(1) as f64;
        if !args.quiet {
            println!(
                "step {step:>6} | train loss {train_loss:.4} | valid loss {:.4} acc {:.3} f1_pos {:.3} f1_neg {:.3} macro_f1 {:.3}{}{}",
                scores.loss,
                scores.accuracy,
                scores.f1_pos,
                scores.f1_neg,
                scores.macro_f1,
                if improved { " (best, saved)" } else { "" },
                if decayed { " (lr decayed)" } else { "" },
            );
        }
        if let Some(tb) = &mut self.tensorboard {
            tb.scalars("train", step, &[("loss".into(), train_loss)])?;
            tb.scalars(
                "valid",
                step,
                &crate::commands::train::tensorboard::numeric_fields(&scores),
            )?;
        }
        self.running = (0.0, 0);
        let patience = args.validation_patience;
        let out_of_patience = patience > 0 && self.st.validations_since_best >= patience;
        if out_of_patience && !args.quiet {
            println!(
                "stopping: {patience} validations without a better {}",
                args.validation_metric
            );
        }
        Ok(out_of_patience)
    }

    /// The running training loss line of --log-every-n-secs.
    fn log_train(&mut self, step: usize) -> anyhow::Result<()> {
        let loss = self.running.0 / self.running.1.max(1) as f64;
        if !self.args.quiet {
            println!(
                "step {step:>6} | train loss {loss:.4} | lr {:.3e} | {:.0} s",
                self.schedule.lr(step - 1),
                self.st.seconds
            );
        }
        if let Some(tb) = &mut self.tensorboard {
            tb.scalars("train", step, &[("loss".into(), loss)])?;
        }
        Ok(())
    }

    /// Writes `<model-file>.checkpoint`: weights, optimizer and trainer state, atomically.
    fn save_checkpoint<M: ClassifierNet>(
        &mut self,
        model: &M,
        text: &M::Text,
    ) -> anyhow::Result<()> {
        let dir = checkpoint_dir(self.args);
        self.st.param_ids = Some(param_ids(model));
        self.st.loss_scale = self.mixed.then(|| self.scaler.clone());
        let optim = self.optim.into_bytes().map_err(|e| {
            anyhow::anyhow!("{}: cannot serialise the optimizer state: {e}", dir.display())
        })?;
        let state = serde_json::to_vec_pretty(&self.st)?;
        model.save(text, &dir, &[(OPTIMIZER_FILE, &optim[..]), (STATE_FILE, &state)])?;
        self.saved_at = Some(self.st.step);
        Ok(())
    }

    /// Says a skipped update (mixed precision); fails when too many were.
    fn report_outcome(&self, outcome: Outcome, step: usize) -> anyhow::Result<()> {
        match outcome {
            Outcome::Applied => {}
            Outcome::Skipped { .. } if !self.args.quiet => {
                println!(
                    "step {step}: non-finite loss or gradients in mixed precision; update skipped"
                )
            }
            Outcome::Skipped { .. } => {}
            Outcome::GaveUp => anyhow::bail!(
                "{MAX_CONSECUTIVE_SKIPS} classifier updates in a row overflowed in mixed precision (step {step}); try --precision bf16 or f32"
            ),
        }
        Ok(())
    }
}

/// The mean cross-entropy of a batch of (tokens, class), and its value.
fn batch_loss<M: ClassifierNet>(
    model: &M,
    batch: &[&(Vec<u32>, usize)],
    trunc: usize,
    device: &Device,
) -> anyhow::Result<(Tensor<1>, f32)> {
    let seqs: Vec<Vec<u32>> = batch.iter().map(|(s, _)| s.clone()).collect();
    let gold: Vec<i64> = batch.iter().map(|(_, c)| *c as i64).collect();
    let logits = model.logits(&seqs, trunc, device)?;
    let gold = Tensor::<1, Int>::from_data(TensorData::new(gold, [batch.len()]), device)
        .unsqueeze_dim::<2>(1);
    let loss = log_softmax(logits, 1).gather(1, gold).neg().mean();
    let value: f32 = loss.clone().into_scalar();
    Ok((loss, value))
}
