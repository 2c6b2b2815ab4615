//! `cringe train-classifier`: the safety classifier that judges generations (pos = safe,
//! neg = unsafe), trained with cross-entropy on labelled tasks and validated by F1, as the
//! seed's DIRECTOR classifier command does.

use crate::commands::train::load_tasks;
use crate::commands::train::loss_scale::{INIT_SCALE, LossScaler, MAX_CONSECUTIVE_SKIPS};
use crate::commands::train::update::{Outcome, Update};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use cringe_core::data::{Datatype, Example, Label, MultitaskSampler};
use cringe_core::model::classifier::pad_batch;
use cringe_core::model::{
    Classifier, ClassifierConfig, ClassifierDir, GeneratorConfig, Precision, autocast,
};
use cringe_core::tokenizer::CringeTokenizer;
use serde::Serialize;
use std::path::PathBuf;

/// Train the safety classifier.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example (the seed's pos_only/neg_only streams):\n  cringe train-classifier -t safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only \\\n    --mf runs/classifier --preset small --max-train-steps 600"
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
    /// Where to write the classifier directory (the best one by validation macro F1).
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,
    /// Encoder shape preset: tiny, small, bb1_90m, bb1_3b (its encoder part).
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Use this tokenizer.json instead of training one on the tasks' text.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Vocabulary size when training a tokenizer.
    #[arg(long = "vocab-size", default_value_t = 8000)]
    pub vocab_size: usize,
    /// Learning rate.
    #[arg(long = "lr", default_value_t = 5e-4)]
    pub lr: f64,
    /// Examples per batch.
    #[arg(short = 'b', long = "batchsize", visible_alias = "bs", default_value_t = 32)]
    pub batchsize: usize,
    /// Updates to run.
    #[arg(long = "max-train-steps", visible_alias = "steps", default_value_t = 500)]
    pub max_train_steps: usize,
    /// Validate (and keep the best model) every N updates, and at the end.
    #[arg(long = "validation-every-n-steps", visible_alias = "vstep", default_value_t = 100)]
    pub validation_every_n_steps: usize,
    /// Keep at most this many tokens of each text (the last ones).
    #[arg(long = "text-truncate", default_value_t = 128)]
    pub text_truncate: usize,
    /// Folder holding the built-in datasets.
    #[arg(long = "datapath", visible_alias = "dp", value_name = "DIR")]
    pub datapath: Option<PathBuf>,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Device and precision.
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
    /// Print only the final JSON report.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Validation results.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ClassifierScores {
    /// Examples scored.
    pub exs: usize,
    /// Accuracy.
    pub accuracy: f64,
    /// F1 of the pos (safe) class.
    pub f1_pos: f64,
    /// F1 of the neg (unsafe) class.
    pub f1_neg: f64,
    /// Mean of the two.
    pub macro_f1: f64,
}

/// The text a classifier judges: the response, unless it is empty or a class label (then the
/// context, as in ParlAI's safety teachers where the utterance is the text).
pub fn classifier_text(e: &Example) -> &str {
    e.real_response().unwrap_or(&e.context)
}

fn class_of(e: &Example, task: &str) -> anyhow::Result<usize> {
    match e.label {
        Label::Pos => Ok(0),
        Label::Neg => Ok(1),
        Label::None => anyhow::bail!(
            "task {task} has unlabeled examples; add relabel (and pos_only/neg_only) mutators"
        ),
    }
}

/// A task's examples as (token ids, class).
type EncodedTask = Vec<(Vec<u32>, usize)>;

fn encode_all(
    tasks: &[(String, Vec<Example>)],
    tok: &CringeTokenizer,
) -> anyhow::Result<Vec<EncodedTask>> {
    tasks
        .iter()
        .map(|(name, ex)| {
            ex.iter().map(|e| Ok((tok.encode(classifier_text(e))?, class_of(e, name)?))).collect()
        })
        .collect()
}

/// Scores a classifier on encoded examples.
pub fn score(
    model: &Classifier,
    data: &[(Vec<u32>, usize)],
    trunc: usize,
    device: &Device,
) -> ClassifierScores {
    let mut conf = [[0usize; 2]; 2]; // [gold][pred]
    for chunk in data.chunks(64) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|(s, _)| s.clone()).collect();
        let pred = model.predict(&seqs, trunc, device).expect("classifier predictions");
        for ((_, gold), p) in chunk.iter().zip(pred) {
            conf[*gold][p] += 1;
        }
    }
    let f1 = |c: usize| {
        let tp = conf[c][c] as f64;
        let p = tp / (conf[0][c] + conf[1][c]).max(1) as f64;
        let r = tp / (conf[c][0] + conf[c][1]).max(1) as f64;
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
    };
    let exs = data.len();
    let (f1_pos, f1_neg) = (f1(0), f1(1));
    ClassifierScores {
        exs,
        accuracy: (conf[0][0] + conf[1][1]) as f64 / exs.max(1) as f64,
        f1_pos,
        f1_neg,
        macro_f1: (f1_pos + f1_neg) / 2.0,
    }
}

impl TrainClassifierArgs {
    /// Checks the flags (everything that can be told before reading data).
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.batchsize > 0 && self.validation_every_n_steps > 0,
            "--batchsize and --validation-every-n-steps must be at least 1"
        );
        anyhow::ensure!(
            self.max_train_steps > 0,
            "--max-train-steps must be at least 1 (a classifier is only saved after a validation)"
        );
        anyhow::ensure!(
            self.lr > 0.0 && self.lr.is_finite(),
            "--lr must be a positive number, got {}",
            self.lr
        );
        Ok(())
    }
}

/// Runs `cringe train-classifier`; returns the best validation scores.
pub fn run(args: TrainClassifierArgs) -> anyhow::Result<ClassifierScores> {
    args.validate()?;
    cringe_core::model::model_dir::MODEL_DIR.check_replaceable(&args.model_file)?;
    let datapath = args.datapath.clone().unwrap_or_else(cringe_core::data::default_datapath);
    let train = load_tasks(&args.task, &datapath, Datatype::Train)?;
    let eval_specs = if args.eval_task.is_empty() { &args.task } else { &args.eval_task };
    let valid = load_tasks(eval_specs, &datapath, Datatype::Valid)?;
    let tokenizer = match &args.tokenizer {
        Some(p) => CringeTokenizer::load(p)?,
        None => CringeTokenizer::train(
            train.iter().flat_map(|(_, e)| e).map(classifier_text),
            args.vocab_size,
        )?,
    };
    let train_enc = encode_all(&train, &tokenizer)?;
    let valid_enc: Vec<(Vec<u32>, usize)> =
        encode_all(&valid, &tokenizer)?.into_iter().flatten().collect();
    let mut enc_cfg = GeneratorConfig::preset(&args.preset, tokenizer.vocab_size())?;
    let sp = tokenizer.special();
    (enc_cfg.pad_id, enc_cfg.start_id, enc_cfg.end_id) =
        (sp.pad as usize, sp.start as usize, sp.end as usize);
    let trunc = args.text_truncate.min(enc_cfg.n_positions);
    let (device, precision) = args.compute.open()?;
    let mixed = precision != Precision::F32;
    let _autocast = autocast(precision);
    let mut scaler = LossScaler::new(precision.needs_loss_scaling(), INIT_SCALE);
    device.seed(args.seed);
    cringe_core::kernels::dropout::seed(args.seed);
    let train_device = device.clone().autodiff();
    let mut model = Classifier::new(&ClassifierConfig::safety(enc_cfg), &train_device);
    let weights = crate::commands::train::task_weights(&args.multitask_weights, train.len())?;
    let sizes: Vec<usize> = train_enc.iter().map(Vec::len).collect();
    let mut sampler =
        MultitaskSampler::new(&sizes, &weights, args.seed).map_err(anyhow::Error::msg)?;
    let mut optim = AdamConfig::new().init();
    let mut best: Option<ClassifierScores> = None;
    let mut running = (0.0f64, 0usize);
    for step in 1..=args.max_train_steps {
        let batch: Vec<&(Vec<u32>, usize)> = (0..args.batchsize)
            .map(|_| {
                let (t, i) = sampler.next_pair();
                &train_enc[t][i]
            })
            .collect();
        let seqs: Vec<Vec<u32>> = batch.iter().map(|(s, _)| s.clone()).collect();
        let gold: Vec<i64> = batch.iter().map(|(_, c)| *c as i64).collect();
        let logits = model.forward(pad_batch(&seqs, sp.pad as usize, trunc, &train_device));
        let gold = Tensor::<1, Int>::from_data(TensorData::new(gold, [batch.len()]), &train_device)
            .unsqueeze_dim::<2>(1);
        let loss = log_softmax(logits, 1).gather(1, gold).neg().mean();
        let value: f32 = loss.clone().into_scalar();
        anyhow::ensure!(
            value.is_finite() || mixed,
            "the classifier loss became non-finite at step {step}; try a lower --lr"
        );
        let mut grads = GradientsParams::new();
        if value.is_finite() {
            running = (running.0 + value as f64, running.1 + 1);
            grads = GradientsParams::from_grads(loss.mul_scalar(scaler.scale).backward(), &model);
        }
        let update = Update {
            optim: &mut optim,
            lr: args.lr,
            clip: 0.0,
            scaler: mixed.then_some(&mut scaler),
        };
        let outcome;
        (model, outcome) = update.apply(model, grads, value.is_finite());
        match outcome {
            Outcome::Applied => {}
            Outcome::Skipped { .. } if !args.quiet => {
                println!("step {step}: non-finite loss or gradients in {precision}; update skipped")
            }
            Outcome::Skipped { .. } => {}
            Outcome::GaveUp => anyhow::bail!(
                "{MAX_CONSECUTIVE_SKIPS} classifier updates in a row overflowed in {precision} (step {step}); try --precision bf16 or f32"
            ),
        }
        if step % args.validation_every_n_steps == 0 || step == args.max_train_steps {
            let scores = score(&model.valid(), &valid_enc, trunc, &device);
            let improved = best.is_none_or(|b| scores.macro_f1 > b.macro_f1);
            if improved {
                ClassifierDir::save(&model, &tokenizer, &args.model_file)?;
                best = Some(scores);
            }
            if !args.quiet {
                println!(
                    "step {step:>6} | train loss {:.4} | valid acc {:.3} f1_pos {:.3} f1_neg {:.3} macro_f1 {:.3}{}",
                    running.0 / running.1 as f64,
                    scores.accuracy,
                    scores.f1_pos,
                    scores.f1_neg,
                    scores.macro_f1,
                    if improved { " (best, saved)" } else { "" }
                );
            }
            running = (0.0, 0);
        }
    }
    let best = best.expect("validate() requires a step, and the last step always validates");
    println!("{}", serde_json::to_string(&best)?);
    Ok(best)
}
