//! `cringe train-classifier`: the safety classifier that judges generations (pos = safe,
//! neg = unsafe), trained with cross-entropy on labelled tasks and validated by F1, as the
//! seed's DIRECTOR classifier command does. Either the small encoder classifier, from scratch
//! (`--preset`), or a classification head on a pretrained causal LM's backbone
//! (`--init-model`, fine-tuned whole: [`net`]).

mod dry_run;
mod net;
mod scores;

pub use net::ClassifierNet;
pub use scores::{ClassifierScores, score};

use crate::commands::train::load_tasks;
use crate::commands::train::loss_scale::{INIT_SCALE, LossScaler, MAX_CONSECUTIVE_SKIPS};
use crate::commands::train::update::{Outcome, Update};
use anyhow::Context;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use cringe_core::data::{Datatype, Example, Label, MultitaskSampler};
use cringe_core::judge::classified_tokens;
use cringe_core::model::causal::CausalClassifier;
use cringe_core::model::{Classifier, ClassifierConfig, GeneratorConfig, Precision, autocast};
use cringe_core::tokenizer::CringeTokenizer;
use std::path::{Path, PathBuf};

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
    /// Where to write the classifier directory (the best one by validation macro F1): the
    /// encoder classifier's directory, or with --init-model a Hugging Face directory
    /// (`LlamaForSequenceClassification`, …) that `transformers` loads.
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,
    /// Put the classification head on this pretrained causal LM's backbone (a `.gguf` file,
    /// `hf:DIR`, or a directory `cringe train` wrote for one) and fine-tune it whole, with its
    /// tokenizer, instead of training the encoder classifier from scratch.
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
    /// Learning rate [default: 5e-4 from scratch, 2e-5 on a pretrained backbone].
    #[arg(long = "lr")]
    pub lr: Option<f64>,
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

    /// The encoder's shape and dropouts as ParlAI's flags give them (over --preset;
    /// `--n-layers` is the encoder's depth).
    #[command(flatten)]
    pub shape: crate::args::ModelShapeArgs,

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

/// Every task's examples encoded by `encode`, with their classes.
fn encode_all(
    tasks: &[(String, Vec<Example>)],
    encode: impl Fn(&str) -> anyhow::Result<Vec<u32>>,
) -> anyhow::Result<Vec<EncodedTask>> {
    tasks
        .iter()
        .map(|(name, ex)| {
            ex.iter().map(|e| Ok((encode(classifier_text(e))?, class_of(e, name)?))).collect()
        })
        .collect()
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
        let lr = self.learning_rate();
        anyhow::ensure!(lr > 0.0 && lr.is_finite(), "--lr must be a positive number, got {lr}");
        Ok(())
    }

    /// The encoder's shape: `--preset` with the shape flags over it, for a vocabulary of
    /// `vocab`.
    pub fn encoder_config(&self, vocab: usize) -> anyhow::Result<GeneratorConfig> {
        let mut cfg = GeneratorConfig::preset(&self.preset, vocab)?;
        self.shape.apply(&mut cfg);
        cfg.validate()?;
        Ok(cfg)
    }

    /// `--lr`, or its default for a fresh encoder or a pretrained backbone.
    pub fn learning_rate(&self) -> f64 {
        self.lr.unwrap_or(if self.init_model.is_some() { 2e-5 } else { 5e-4 })
    }
}

/// Runs `cringe train-classifier`; returns the best validation scores.
pub fn run(args: TrainClassifierArgs) -> anyhow::Result<ClassifierScores> {
    args.validate()?;
    match &args.init_model {
        Some(_) => cringe_core::hf::EXPORT_DIR.check_replaceable(&args.model_file)?,
        None => cringe_core::model::model_dir::MODEL_DIR.check_replaceable(&args.model_file)?,
    }
    let datapath = args.datapath.clone().unwrap_or_else(cringe_core::data::default_datapath);
    let train = load_tasks(&args.task, &datapath, Datatype::Train)?;
    let eval_specs = if args.eval_task.is_empty() { &args.task } else { &args.eval_task };
    let valid = load_tasks(eval_specs, &datapath, Datatype::Valid)?;
    if args.dry_run {
        dry_run::report(&args, &train, &valid)?;
        return Ok(ClassifierScores::default());
    }
    let (device, precision) = args.compute.open()?;
    let _autocast = autocast(precision);
    device.seed(args.seed);
    cringe_core::kernels::dropout::seed(args.seed);
    let run = Run { args: &args, device, precision };
    match &args.init_model {
        Some(init) => run.causal(init, &train, &valid),
        None => run.encoder(&train, &valid),
    }
}

/// One run's settings.
struct Run<'a> {
    args: &'a TrainClassifierArgs,
    device: Device,
    precision: Precision,
}

/// Encoded training tasks and validation examples.
struct Encoded {
    train: Vec<EncodedTask>,
    valid: Vec<(Vec<u32>, usize)>,
    /// Tokens kept of each text.
    trunc: usize,
}

impl Run<'_> {
    /// The encoder classifier from scratch, with a tokenizer trained on the tasks' text (or
    /// `--tokenizer`).
    fn encoder(
        &self,
        train: &[(String, Vec<Example>)],
        valid: &[(String, Vec<Example>)],
    ) -> anyhow::Result<ClassifierScores> {
        let args = self.args;
        let tokenizer = match &args.tokenizer {
            Some(p) => CringeTokenizer::load(p)?,
            None => CringeTokenizer::train(
                train.iter().flat_map(|(_, e)| e).map(classifier_text),
                args.vocab_size,
            )?,
        };
        let encode = |t: &str| Ok(tokenizer.encode(t)?);
        let mut cfg = args.encoder_config(tokenizer.vocab_size())?;
        let sp = tokenizer.special();
        (cfg.pad_id, cfg.start_id, cfg.end_id) =
            (sp.pad as usize, sp.start as usize, sp.end as usize);
        let data = Encoded {
            train: encode_all(train, encode)?,
            valid: encode_all(valid, encode)?.into_iter().flatten().collect(),
            trunc: args.text_truncate.min(cfg.n_positions),
        };
        let model =
            Classifier::new(&ClassifierConfig::safety(cfg), &self.device.clone().autodiff());
        self.train(model, &tokenizer, &data)
    }

    /// A head on the backbone of the causal LM `init`, with its tokenizer.
    fn causal(
        &self,
        init: &Path,
        train: &[(String, Vec<Example>)],
        valid: &[(String, Vec<Example>)],
    ) -> anyhow::Result<ClassifierScores> {
        self.args.shape.check_causal(&format!("--init-model {}", init.display()))?;
        let train_device = self.device.clone().autodiff();
        let lm = cringe_core::pretrained::load(init, &train_device)
            .with_context(|| format!("loading --init-model {}", init.display()))?;
        let text = lm.text;
        let encode = |t: &str| Ok(classified_tokens(&text, t)?);
        let data = Encoded {
            train: encode_all(train, encode)?,
            valid: encode_all(valid, encode)?.into_iter().flatten().collect(),
            trunc: self.args.text_truncate.min(lm.model.config().max_position_embeddings),
        };
        let classes = vec!["pos".to_string(), "neg".to_string()];
        let model = CausalClassifier::from_lm(lm.model, classes, &train_device);
        self.train(model, &text, &data)
    }

    /// Trains `model` with Adam on cross-entropy, validating every
    /// `--validation-every-n-steps` and saving the best by macro F1.
    fn train<M: ClassifierNet>(
        &self,
        mut model: M,
        text: &M::Text,
        data: &Encoded,
    ) -> anyhow::Result<ClassifierScores> {
        let args = self.args;
        let mixed = self.precision != Precision::F32;
        let mut scaler = LossScaler::new(self.precision.needs_loss_scaling(), INIT_SCALE);
        let weights =
            crate::commands::train::task_weights(&args.multitask_weights, data.train.len())?;
        let sizes: Vec<usize> = data.train.iter().map(Vec::len).collect();
        let mut sampler =
            MultitaskSampler::new(&sizes, &weights, args.seed).map_err(anyhow::Error::msg)?;
        let mut optim = AdamConfig::new().init();
        let mut best: Option<ClassifierScores> = None;
        let mut running = (0.0f64, 0usize);
        let train_device = self.device.clone().autodiff();
        for step in 1..=args.max_train_steps {
            let batch: Vec<&(Vec<u32>, usize)> = (0..args.batchsize)
                .map(|_| {
                    let (t, i) = sampler.next_pair();
                    &data.train[t][i]
                })
                .collect();
            let (loss, value) = batch_loss(&model, &batch, data.trunc, &train_device)?;
            anyhow::ensure!(
                value.is_finite() || mixed,
                "the classifier loss became non-finite at step {step}; try a lower --lr"
            );
            let mut grads = GradientsParams::new();
            if value.is_finite() {
                running = (running.0 + value as f64, running.1 + 1);
                grads =
                    GradientsParams::from_grads(loss.mul_scalar(scaler.scale).backward(), &model);
            }
            let update = Update {
                optim: &mut optim,
                lr: args.learning_rate(),
                clip: 0.0,
                scaler: mixed.then_some(&mut scaler),
            };
            let outcome;
            (model, outcome) = update.apply(model, grads, value.is_finite());
            self.report_outcome(outcome, step)?;
            if step % args.validation_every_n_steps == 0 || step == args.max_train_steps {
                let scores = score(&model.valid(), &data.valid, data.trunc, &self.device)?;
                let improved = best.is_none_or(|b| scores.macro_f1 > b.macro_f1);
                if improved {
                    model.save(text, &args.model_file)?;
                    best = Some(scores);
                }
                if !args.quiet {
                    println!(
                        "step {step:>6} | train loss {:.4} | valid acc {:.3} f1_pos {:.3} f1_neg {:.3} macro_f1 {:.3}{}",
                        running.0 / running.1.max(1) as f64,
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

    /// Says a skipped update (mixed precision); fails when too many were.
    fn report_outcome(&self, outcome: Outcome, step: usize) -> anyhow::Result<()> {
        let precision = self.precision;
        match outcome {
            Outcome::Applied => {}
            Outcome::Skipped { .. } if !self.args.quiet => {
                println!("step {step}: non-finite loss or gradients in {precision}; update skipped")
            }
            Outcome::Skipped { .. } => {}
            Outcome::GaveUp => anyhow::bail!(
                "{MAX_CONSECUTIVE_SKIPS} classifier updates in a row overflowed in {precision} (step {step}); try --precision bf16 or f32"
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
