//! `cringe train-classifier`: the safety classifier that judges generations (pos = safe,
//! neg = unsafe), trained with cross-entropy on labelled tasks and validated by F1, as the
//! seed's DIRECTOR classifier command does — which runs here as written ([`parlai_flags`]).
//! Three starting points: the small encoder classifier from scratch (`--preset` and the shape
//! flags), the encoder of a BB1 model (`--init-model DIR`, ParlAI's pretrained-ranker start),
//! or a classification head on a pretrained causal LM's backbone (`--init-model` a GGUF file
//! or Hugging Face model; [`net`]). The loop is [`trainer`].

mod args;
mod dry_run;
mod net;
mod parlai_flags;
mod resume;
mod scores;
mod trainer;

pub use args::TrainClassifierArgs;
pub use net::ClassifierNet;
pub use scores::{ClassifierScores, score};

use crate::commands::train::load_tasks;
use anyhow::Context;
use burn::tensor::Device;
use cringe_core::data::{Datatype, Example, Label};
use cringe_core::model::causal::CausalClassifier;
use cringe_core::model::{
    Classifier, ClassifierConfig, GeneratorConfig, ModelDir, Precision, autocast,
};
use cringe_core::tokenizer::CringeTokenizer;
use std::path::Path;
use trainer::{Encoded, EncodedTask};

/// The text a classifier judges: the response, unless it is empty or a class label (then the
/// context, as in ParlAI's safety teachers where the utterance is the text).
pub fn classifier_text(e: &Example) -> &str {
    e.real_response().unwrap_or(&e.context)
}

/// Labelled tasks as (name, examples).
type Tasks = [(String, Vec<Example>)];

/// Runs `cringe train-classifier`; returns the best validation scores.
pub fn run(args: TrainClassifierArgs) -> anyhow::Result<ClassifierScores> {
    args.validate()?;
    let causal = args.init_model.as_deref().is_some_and(cringe_core::pretrained::is_causal);
    if !args.dry_run {
        match causal {
            true => cringe_core::hf::EXPORT_DIR.check_replaceable(&args.model_file)?,
            false => {
                cringe_core::model::model_dir::MODEL_DIR.check_replaceable(&args.model_file)?
            }
        }
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
        Some(init) if causal => run.causal(init, &train, &valid),
        Some(init) => run.bb1_encoder(init, &train, &valid),
        None => run.encoder(&train, &valid),
    }
}

/// One run's settings.
struct Run<'a> {
    args: &'a TrainClassifierArgs,
    device: Device,
    precision: Precision,
}

impl Run<'_> {
    /// The encoder classifier from scratch, with a tokenizer trained on the tasks' text (or
    /// `--tokenizer` / `--dict-file`).
    fn encoder(&self, train: &Tasks, valid: &Tasks) -> anyhow::Result<ClassifierScores> {
        let args = self.args;
        let given = args.tokenizer.clone().or_else(|| args.parlai.dict_tokenizer_file());
        let tokenizer = match &given {
            Some(p) => CringeTokenizer::load(p)?,
            None => CringeTokenizer::train(
                train.iter().flat_map(|(_, e)| e).map(|e| args.parlai.history(classifier_text(e))),
                args.vocab_size,
            )?,
        };
        let mut cfg = args.encoder_config(tokenizer.vocab_size())?;
        let sp = tokenizer.special();
        (cfg.pad_id, cfg.start_id, cfg.end_id) =
            (sp.pad as usize, sp.start as usize, sp.end as usize);
        let model = Classifier::new(&self.classifier_config(cfg), &self.device.clone().autodiff());
        self.fit(self.frozen(model), tokenizer, train, valid)
    }

    /// The encoder classifier on the token embeddings and encoder of the BB1 model `init`,
    /// with its tokenizer; a fresh head.
    fn bb1_encoder(
        &self,
        init: &Path,
        train: &Tasks,
        valid: &Tasks,
    ) -> anyhow::Result<ClassifierScores> {
        let args = self.args;
        let source = format!("--init-model {}", init.display());
        let loaded = ModelDir::load(init, &self.device.clone().autodiff())
            .with_context(|| format!("loading {source}"))?;
        let cfg = args.bb1_encoder_config(loaded.model.config().clone(), &source)?;
        if let Some(file) = args.parlai.dict_tokenizer_file() {
            let dict = CringeTokenizer::load(&file)?;
            anyhow::ensure!(
                dict.same_vocabulary(&loaded.tokenizer),
                "--dict-file {}: not the tokenizer of {source}, whose embeddings the classifier takes",
                file.display()
            );
        }
        let config = self.classifier_config(cfg);
        let model =
            Classifier::from_generator(&config, loaded.model, &self.device.clone().autodiff());
        self.fit(self.frozen(model), loaded.tokenizer, train, valid)
    }

    /// A head on the backbone of the causal LM `init`, with its tokenizer.
    fn causal(
        &self,
        init: &Path,
        train: &Tasks,
        valid: &Tasks,
    ) -> anyhow::Result<ClassifierScores> {
        let source = format!("--init-model {}", init.display());
        self.args.check_causal(&source)?;
        let train_device = self.device.clone().autodiff();
        let lm = cringe_core::pretrained::load(init, &train_device)
            .with_context(|| format!("loading {source}"))?;
        let model =
            CausalClassifier::from_lm(lm.model, self.args.parlai.classes.clone(), &train_device);
        self.fit(model, lm.text, train, valid)
    }

    /// The classifier's config for encoder shape `encoder`, with ParlAI's classifier options.
    fn classifier_config(&self, encoder: GeneratorConfig) -> ClassifierConfig {
        let p = &self.args.parlai;
        ClassifierConfig {
            classes: p.classes.clone(),
            reduction: p.reduction_type.into(),
            output_scaling: p.output_scaling,
            n_segments: p.n_segments,
            lowercase: p.dict_lower,
            ..ClassifierConfig::safety(encoder)
        }
    }

    /// `model` with its token embeddings frozen when `--learn-embeddings false`.
    fn frozen(&self, model: Classifier) -> Classifier {
        if self.args.parlai.learn_embeddings { model } else { model.freeze_embeddings() }
    }

    /// Continues from the checkpoint when resuming, encodes the tasks for `model` and trains.
    fn fit<M: ClassifierNet>(
        &self,
        model: M,
        text: M::Text,
        train: &Tasks,
        valid: &Tasks,
    ) -> anyhow::Result<ClassifierScores> {
        let (model, text, resume) = match resume::load_resume::<M>(self.args, &self.device)? {
            Some((m, t, r)) => (m, t, Some(r)),
            None => (model, text, None),
        };
        let encode = |s: &str| model.encode(&text, self.args.parlai.history(s));
        let classes = model.class_names().to_vec();
        let mut valid: Vec<(String, EncodedTask)> = valid
            .iter()
            .map(|(name, ex)| Ok((name.clone(), encode_task(name, ex, &classes, &encode)?)))
            .collect::<anyhow::Result<_>>()?;
        cut_to(&mut valid, self.args.validation_max_exs);
        if self.args.parlai.logging.aggregate_micro {
            let pooled: EncodedTask = valid.drain(..).flat_map(|(_, t)| t).collect();
            valid = vec![("all validation tasks".to_string(), pooled)];
        }
        let data = Encoded {
            train: train
                .iter()
                .map(|(name, ex)| encode_task(name, ex, &classes, &encode))
                .collect::<anyhow::Result<_>>()?,
            valid,
            trunc: self.args.text_truncate.min(model.max_positions()),
        };
        trainer::train(self.args, model, &text, &data, &self.device, self.precision, resume)
    }
}

/// A task's examples encoded, with the index of each one's class in `classes`.
fn encode_task(
    task: &str,
    examples: &[Example],
    classes: &[String],
    encode: &impl Fn(&str) -> anyhow::Result<Vec<u32>>,
) -> anyhow::Result<EncodedTask> {
    let index = |name: &str| classes.iter().position(|c| c == name);
    let (pos, neg) = (index("pos"), index("neg"));
    examples
        .iter()
        .map(|e| {
            let class = match (e.label, pos, neg) {
                (Label::Pos, Some(i), _) | (Label::Neg, _, Some(i)) => i,
                (Label::None, ..) => anyhow::bail!(
                    "task {task} has unlabeled examples; add relabel (and pos_only/neg_only) mutators"
                ),
                _ => anyhow::bail!("the classifier's classes {classes:?} have no {:?}", e.label),
            };
            Ok((encode(classifier_text(e))?, class))
        })
        .collect()
}

/// Keeps about `max` validation examples in all (0: all): the first `max / tasks` (rounded up)
/// of each task, so every task stays represented.
fn cut_to(valid: &mut [(String, EncodedTask)], max: usize) {
    if max == 0 || valid.is_empty() {
        return;
    }
    let share = max.div_ceil(valid.len());
    valid.iter_mut().for_each(|(_, task)| task.truncate(share));
}
