//! The training loop: seeded multitask sampling, teacher-forced forward, CRINGE loss, gradient
//! accumulation and global-norm clipping, Adam/AdamW with linear warmup, validation, logging,
//! and atomic saves of the model directory.

use super::args::{OptimizerKind, TrainArgs};
use super::log::{MetricsLog, StepRecord, console_line};
use super::clip::clip_global_norm;
use super::validate::{batch_loss, improves, metric_value, validate};
use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig, GradientsAccumulator, GradientsParams};
use burn::tensor::Device;
use cringe_core::data::{Batcher, EncodedExample, Label, MultitaskSampler};
use cringe_core::loss::{CringeMetrics, CringeStats};
use cringe_core::model::{Generator, ModelDir};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

/// What a training run did and measured.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Updates performed.
    pub steps: usize,
    /// Context + target tokens processed.
    pub tokens: usize,
    /// Wall time of the loop, in seconds.
    pub seconds: f64,
    /// Metrics aggregated over the whole run.
    pub metrics: CringeMetrics,
}

impl TrainSummary {
    /// Training throughput in context + target tokens per second.
    pub fn tokens_per_sec(&self) -> f64 {
        if self.seconds > 0.0 { self.tokens as f64 / self.seconds } else { 0.0 }
    }
}

/// Learning rate at update `step` (0-based) with linear warmup.
fn scheduled_lr(lr: f64, warmup: usize, step: usize) -> f64 {
    if warmup == 0 { lr } else { lr * ((step + 1) as f64 / warmup as f64).min(1.0) }
}

/// Trains `model` on the encoded `tasks`, validating on `valid`, and saves it to `--model-file`.
pub fn train(
    args: &TrainArgs,
    mut model: Generator,
    batcher: &Batcher,
    tasks: Vec<(String, Vec<EncodedExample>)>,
    valid: &[EncodedExample],
    device: &Device,
) -> anyhow::Result<TrainSummary> {
    let cfg = model.config().clone();
    let opts = args.cringe_options();
    anyhow::ensure!(
        opts.num_pos_predictions < cfg.vocab_size,
        "--num-pos-predictions {} must be smaller than the vocabulary ({})",
        opts.num_pos_predictions,
        cfg.vocab_size
    );
    let n: usize = tasks.iter().map(|(_, d)| d.len()).sum();
    let bs = args.batchsize;
    let steps_per_epoch = n.div_ceil(bs * args.update_freq);
    let mut max_steps = args.max_train_steps;
    if let Some(e) = args.num_epochs {
        max_steps = max_steps.min((e * steps_per_epoch as f64).ceil() as usize);
    }
    let sizes: Vec<usize> = tasks.iter().map(|(_, d)| d.len()).collect();
    let mut sampler = MultitaskSampler::new(&sizes, &args.weights(), args.seed.wrapping_add(1)).map_err(anyhow::Error::msg)?;
    let mut optim = match args.optimizer {
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
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut log = MetricsLog::create(&args.metrics_path())?;
    if !args.quiet {
        println!("training {} parameters for {max_steps} steps, batch {bs}, on:", cfg.num_params());
        for ((name, d), w) in tasks.iter().zip(args.weights()) {
            let count = |l: Label| d.iter().filter(|e| e.label == l).count();
            println!(
                "  {name}: {} examples ({} pos, {} neg, {} none), weight {w}",
                d.len(),
                count(Label::Pos),
                count(Label::Neg),
                count(Label::None)
            );
        }
    }

    if args.validation_every_n_steps > 0 {
        metric_value(&CringeStats::default().metrics(), &args.validation_metric)?;
    }
    let checkpoint = {
        let mut p = args.model_file.clone().into_os_string();
        p.push(".checkpoint");
        std::path::PathBuf::from(p)
    };
    let mut best: Option<f64> = None;
    let mut examples_seen = 0usize;
    let mut total = CringeStats::default();
    let mut window = CringeStats::default();
    let (mut total_tokens, mut window_tokens) = (0usize, 0usize);
    let start = Instant::now();
    let mut window_start = Instant::now();
    for step in 0..max_steps {
        let mut accumulator = GradientsAccumulator::new();
        let mut stats = CringeStats::default();
        let mut tokens = 0;
        for _ in 0..args.update_freq {
            let items: Vec<EncodedExample> = (0..bs)
                .map(|_| {
                    let (t, i) = sampler.next_pair();
                    tasks[t].1[i].clone()
                })
                .collect();
            examples_seen += bs;
            let batch = batcher.collate(&items, device);
            tokens += batch.context_tokens + batch.target_tokens;
            let out = batch_loss(&model, batch, &opts, &mut rng, device);
            let micro = CringeStats::from_tensor(out.stats.clone());
            anyhow::ensure!(
                micro.loss_sum.is_finite(),
                "the loss became non-finite at step {}; try a lower --lr (the model in {} was not overwritten)",
                step + 1,
                args.model_file.display()
            );
            stats.merge(&micro);
            let loss = out.loss.div_scalar(args.update_freq as f64);
            accumulator.accumulate(&model, GradientsParams::from_grads(loss.backward(), &model));
        }
        let mut grads = accumulator.grads();
        if args.gradient_clip > 0.0 {
            clip_global_norm(&model, &mut grads, args.gradient_clip);
        }
        let lr = scheduled_lr(args.lr, args.warmup_updates, step);
        model = optim.step(lr, model, grads);

        total.merge(&stats);
        window.merge(&stats);
        total_tokens += tokens;
        window_tokens += tokens;
        let done = step + 1;
        if done % args.log_every_n_steps == 0 || done == max_steps {
            let secs = window_start.elapsed().as_secs_f64();
            let rec = StepRecord {
                step: done,
                epoch: examples_seen as f64 / n as f64,
                lr,
                tokens_per_sec: if secs > 0.0 { window_tokens as f64 / secs } else { 0.0 },
                metrics: window.metrics(),
            };
            log.write(&rec)?;
            if !args.quiet {
                println!("{}", console_line(&rec, max_steps));
            }
            window = CringeStats::default();
            window_tokens = 0;
            window_start = Instant::now();
        }
        if args.validation_every_n_steps > 0 && (done % args.validation_every_n_steps == 0 || done == max_steps) {
            let m = validate(&model.valid(), batcher, valid, bs, &opts, &device.clone().without_autodiff());
            let value = metric_value(&m, &args.validation_metric)?;
            let better = improves(value, best, args.validation_metric_mode);
            log.write_valid(done, &m)?;
            ModelDir::save(&model, batcher.tokenizer(), &checkpoint)?;
            if better {
                best = Some(value);
                ModelDir::save(&model, batcher.tokenizer(), &args.model_file)?;
            }
            if !args.quiet {
                println!(
                    "valid  {done:>6} | loss {:.4} | ce_loss {:.4} | ct_loss {:.4} | ppl_pos {:.2} | ppl_ct {:.2} | {} {value:.4}{}",
                    m.loss, m.ce_loss, m.ct_loss, m.ppl_pos, m.ppl_ct, args.validation_metric,
                    if better { " (best, saved)" } else { "" }
                );
            }
        }
        if args.save_every_n_steps > 0 && done % args.save_every_n_steps == 0 && done < max_steps {
            ModelDir::save(&model, batcher.tokenizer(), &args.model_file)?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if args.validation_every_n_steps == 0 || max_steps == 0 {
        ModelDir::save(&model, batcher.tokenizer(), &args.model_file)?;
    }
    let summary = TrainSummary { steps: max_steps, tokens: total_tokens, seconds, metrics: total.metrics() };
    if !args.quiet {
        println!(
            "saved {} after {} steps in {:.1}s ({:.0} tokens/s)",
            args.model_file.display(),
            summary.steps,
            summary.seconds,
            summary.tokens_per_sec()
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::scheduled_lr;

    #[test]
    fn warmup_is_linear_then_flat() {
        assert_eq!(scheduled_lr(1.0, 0, 0), 1.0);
        assert_eq!(scheduled_lr(1.0, 4, 0), 0.25);
        assert_eq!(scheduled_lr(1.0, 4, 3), 1.0);
        assert_eq!(scheduled_lr(1.0, 4, 10), 1.0);
    }
}
