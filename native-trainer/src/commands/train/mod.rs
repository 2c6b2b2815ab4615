//! `cringe train`: loads the data, builds or loads the model and tokenizer (the BB1
//! generator, or a causal LM from a GGUF file or a Hugging Face directory), runs the training
//! loop and saves the model directory.

pub mod adamax;
mod args;
pub mod checkpoint;
mod clip;
mod dry_run;
pub mod interrupt;
mod log;
pub mod loss_scale;
pub mod param_ids;
pub mod parlai_flags;
mod progress;
mod resume;
pub mod schedule;
pub mod tensorboard;
mod trainee;
mod trainer;
pub mod update;
pub mod validate;

pub use args::{OptimizerKind, TrainArgs, checkpoint_dir};
pub use checkpoint::parse_state;
pub use schedule::PlateauState;
pub use trainer::TrainSummary;

use validate::ValidSet;

use anyhow::Context;
use burn::tensor::Device;
use cringe_core::data::{Batcher, Datatype, EncodedExample, Example, Label, PromptForm, TaskSpec};
use cringe_core::model::{Generator, GeneratorConfig, ModelDir};
use cringe_core::tokenizer::CringeTokenizer;

/// The sampling weight of each of `n_tasks` tasks: `weights` as given (one per task), or all 1
/// when none were given.
pub fn task_weights(weights: &[u32], n_tasks: usize) -> anyhow::Result<Vec<u32>> {
    if weights.is_empty() {
        return Ok(vec![1; n_tasks]);
    }
    anyhow::ensure!(
        weights.len() == n_tasks,
        "--multitask-weights has {} values but -t names {} tasks",
        weights.len(),
        n_tasks
    );
    Ok(weights.to_vec())
}

/// Loads each `-t` task for `dt`; a task with no examples (after its mutators) is an error.
pub fn load_tasks(
    specs: &[String],
    datapath: &std::path::Path,
    dt: Datatype,
) -> anyhow::Result<Vec<(String, Vec<Example>)>> {
    let mut tasks = Vec::new();
    for spec in specs {
        let (examples, left_out) = TaskSpec::parse(spec)?.load_with_notes(datapath, dt)?;
        if let Some(note) = left_out {
            eprintln!("warning: {note}");
        }
        anyhow::ensure!(
            !examples.is_empty(),
            "task {spec} has no {} examples (after its mutators)",
            dt.name()
        );
        tasks.push((spec.clone(), examples));
    }
    Ok(tasks)
}

/// Removes negative examples and the rejected halves of preference pairs (for losses that train
/// on positives only).
pub fn drop_negatives(examples: &mut Vec<Example>) {
    examples.retain(|e| e.label != Label::Neg);
    examples.iter_mut().for_each(|e| e.rejected = None);
}

/// Bytes one update of this run's batch needs on a model of `cfg`'s shape.
fn update_bytes(args: &TrainArgs, cfg: &GeneratorConfig) -> u64 {
    let npos = cfg.n_positions;
    let trunc = args.truncation();
    cringe_core::model::footprint::training_bytes(
        cfg,
        args.batchsize,
        trunc.text_truncate.min(npos),
        trunc.label_truncate.min(npos),
    )
}

/// The config of a fresh model: `--model-config` or `--preset`, the shape flags over it, and a
/// vocabulary of at least `vocab` (the tokenizer's).
fn fresh_config(args: &TrainArgs, vocab: usize) -> anyhow::Result<GeneratorConfig> {
    let mut cfg = match &args.model_config {
        Some(path) => GeneratorConfig::load_toml(path)?,
        None => GeneratorConfig::preset(&args.preset, vocab)?,
    };
    args.shape.apply(&mut cfg);
    cfg.vocab_size = cfg.vocab_size.max(vocab);
    Ok(cfg)
}

/// Fails when an update of this run's batch on a model of `cfg`'s shape would not fit in memory.
fn ensure_training_fits(args: &TrainArgs, cfg: &GeneratorConfig) -> anyhow::Result<()> {
    let needed = update_bytes(args, cfg);
    let what =
        format!("training a {}-parameter model with batch {}", cfg.num_params(), args.batchsize);
    crate::memory::ensure_fits(
        args.compute.device,
        needed,
        &what,
        "reduce -bs (and raise --update-freq to keep the update size) or the model's size",
    )
}

/// Runs `cringe train` and returns what it measured.
pub fn run(args: TrainArgs) -> anyhow::Result<TrainSummary> {
    args.validate()?;
    args.check_outputs()?;
    if !args.dry_run {
        cringe_core::fsutil::remove_leftovers(&args.model_file);
    }
    if args.max_train_steps == 0 && !args.dry_run {
        match &args.init_model {
            Some(init) => println!(
                "--max-train-steps 0: {} gets {}'s weights unchanged",
                args.model_file.display(),
                init.display()
            ),
            None => eprintln!(
                "warning: --max-train-steps 0: {} gets an initialised, untrained model",
                args.model_file.display()
            ),
        }
    }
    let mut tasks = load_tasks(&args.task, &args.datapath(), Datatype::Train)?;
    if !args.loss.uses_negatives() {
        for (name, examples) in &mut tasks {
            drop_negatives(examples);
            anyhow::ensure!(
                !examples.is_empty(),
                "task {name} has only negative examples, which --loss {} does not train on; remove it from -t",
                args.loss.name()
            );
        }
    }
    if args.dry_run {
        dry_run::report(&args, &tasks)?;
        return Ok(TrainSummary::nothing());
    }
    let (device, _) = args.compute.open()?;
    device.seed(args.seed);
    let train_device = device.autodiff();
    let ckpt_dir = checkpoint_dir(&args.model_file);
    let resume = match args.load_from_checkpoint && checkpoint::recover(&ckpt_dir)? {
        true => {
            let (optimizer, state) = checkpoint::load_state(&ckpt_dir)?;
            Some(resume::Resume { optimizer, state })
        }
        false => None,
    };
    if args.is_causal() {
        run_causal(&args, tasks, resume, &train_device)
    } else {
        run_generator(&args, tasks, resume, &train_device)
    }
}

/// `cringe train` on the BB1 generator: from a checkpoint, an `--init-model`, or a fresh model
/// of `--preset`/`--model-config` with a given or freshly trained tokenizer.
fn run_generator(
    args: &TrainArgs,
    tasks: Vec<(String, Vec<Example>)>,
    resume: Option<resume::Resume>,
    train_device: &Device,
) -> anyhow::Result<TrainSummary> {
    let ckpt_dir = checkpoint_dir(&args.model_file);
    let (model, tokenizer) = match &args.init_model {
        _ if resume.is_some() => {
            let dir = ModelDir::load(&ckpt_dir, train_device)?;
            let source = format!("the checkpoint {}", ckpt_dir.display());
            (shaped_as_loaded(args, dir.model, &source)?, dir.tokenizer)
        }
        Some(dir) => {
            let loaded = cringe_core::hf::load_model(dir, train_device)
                .with_context(|| format!("loading --init-model {}", dir.display()))?;
            let source = format!("--init-model {}", dir.display());
            check_dict_file(args, &loaded.tokenizer, &source)?;
            (shaped_as_loaded(args, loaded.model, &source)?, loaded.tokenizer)
        }
        None => {
            let tokenizer = match &args.tokenizer_file() {
                Some(path) => CringeTokenizer::load(path)?,
                None => {
                    let texts = tasks
                        .iter()
                        .flat_map(|(_, ex)| ex)
                        .flat_map(|e| [e.context.as_str(), e.response.as_str()]);
                    CringeTokenizer::train(texts, args.vocab_size)?
                }
            };
            let mut cfg = fresh_config(args, tokenizer.vocab_size())?;
            let sp = tokenizer.special();
            cfg.pad_id = sp.pad as usize;
            cfg.start_id = sp.start as usize;
            cfg.end_id = sp.end as usize;
            cfg.validate()?;
            ensure_training_fits(args, &cfg)?; // before the model is allocated
            (Generator::new(&cfg, train_device), tokenizer)
        }
    };
    let trunc = args.truncation();
    if let Some(w) = trunc.clamp_warning(model.config().n_positions) {
        eprintln!("warning: {w}");
    }
    let batcher = Batcher::new(tokenizer, trunc, model.config().n_positions);
    if args.init_model.is_some() || resume.is_some() {
        ensure_training_fits(args, model.config())?;
    }
    let encoded = encode_tasks(&tasks, |e| Ok(batcher.encode(e)?))?;
    let valid = load_valid(args, |e| Ok(batcher.encode(e)?))?;
    trainer::train(args, model, &batcher, encoded, &valid, train_device, resume)
}

/// A loaded generator checked against the shape flags (its weights fix the shape) and given the
/// dropout flags, as ParlAI applies them when fine-tuning.
fn shaped_as_loaded(args: &TrainArgs, model: Generator, source: &str) -> anyhow::Result<Generator> {
    args.shape.check_against(model.config(), source)?;
    if !args.shape.regularisation_given() {
        return Ok(model);
    }
    let mut cfg = model.config().clone();
    args.shape.apply_regularisation(&mut cfg);
    cfg.validate()?;
    Ok(model.with_dropouts(&cfg))
}

/// With `--init-model`, `--dict-file` can only name the model's own tokenizer (its vocabulary
/// is the embedding table's): every token at the same id, else an error naming both.
fn check_dict_file(args: &TrainArgs, own: &CringeTokenizer, source: &str) -> anyhow::Result<()> {
    let Some(file) = args.parlai.dict_tokenizer_file() else { return Ok(()) };
    let given =
        CringeTokenizer::load(&file).with_context(|| format!("--dict-file {}", file.display()))?;
    anyhow::ensure!(
        given.same_vocabulary(own),
        "--dict-file {} is not the tokenizer of {source} ({} vs {} tokens, or the same tokens at other ids); a loaded model keeps its own tokenizer",
        file.display(),
        given.vocab_size(),
        own.vocab_size()
    );
    Ok(())
}

/// `cringe train` on a causal LM: from a checkpoint or the `--init-model` (a GGUF file or a
/// Hugging Face directory), its examples encoded as chat turns or plain continuation.
fn run_causal(
    args: &TrainArgs,
    tasks: Vec<(String, Vec<Example>)>,
    resume: Option<resume::Resume>,
    train_device: &Device,
) -> anyhow::Result<TrainSummary> {
    let ckpt_dir = checkpoint_dir(&args.model_file);
    let (spec, what) = match (&resume, &args.init_model) {
        (Some(_), _) => (ckpt_dir.clone(), "the checkpoint"),
        (None, Some(init)) => (init.clone(), "--init-model"),
        (None, None) => anyhow::bail!("a causal LM is trained from --init-model or a checkpoint"),
    };
    args.shape.check_causal(&format!("{what} {}", spec.display()))?;
    anyhow::ensure!(
        args.parlai.dict_file.is_none(),
        "--dict-file: {what} {} is a causal LM, which brings its own tokenizer; drop --dict-file",
        spec.display()
    );
    let started = std::time::Instant::now();
    let lm = cringe_core::pretrained::load(&spec, train_device)
        .with_context(|| format!("loading {what} {}", spec.display()))?;
    let mut model = lm.model;
    if let Some(r) = &resume {
        let ids = r.state.param_ids.as_deref().ok_or_else(|| {
            anyhow::anyhow!("{}: the trainer state lists no parameter ids", ckpt_dir.display())
        })?;
        model = param_ids::with_param_ids(model, ids)
            .with_context(|| format!("resuming from {}", ckpt_dir.display()))?;
    }
    let form = args.chat_template.form(lm.text.template.is_some());
    let text = lm.text.with_form(form)?.with_truncation(args.truncation());
    if !args.quiet {
        eprintln!(
            "loaded {} ({} parameters) in {:.1} s; examples as {}",
            spec.display(),
            model.config().num_params(),
            started.elapsed().as_secs_f64(),
            match form {
                PromptForm::Chat => "chat turns (the model's template, loss on the assistant turn)",
                PromptForm::Continuation => "plain continuation (loss on the response)",
            }
        );
        let own: usize = tasks
            .iter()
            .map(|(_, ex)| ex.iter().filter(|e| e.form.is_some_and(|f| f != form)).count())
            .sum();
        if own > 0 {
            eprintln!(
                "  {own} examples generated in the other form (world logs record it) are read in that form"
            );
        }
    }
    let encoded = encode_tasks(&tasks, |e| Ok(text.encode_example(e)?))?;
    let longest = |f: fn(&EncodedExample) -> usize| {
        encoded.iter().flat_map(|(_, ex)| ex).map(f).max().unwrap_or(1)
    };
    let (prompt_len, target_len) = (longest(|e| e.context.len()), longest(|e| e.target.len()));
    let needed = cringe_core::model::footprint::causal_training_bytes(
        model.config(),
        args.batchsize,
        prompt_len,
        target_len,
    );
    crate::memory::ensure_fits(
        args.compute.device,
        needed,
        &format!(
            "training a {}-parameter model with batch {}",
            model.config().num_params(),
            args.batchsize
        ),
        "reduce -bs (and raise --update-freq to keep the update size), --text-truncate or --label-truncate",
    )?;
    let valid = load_valid(args, |e| Ok(text.encode_example(e)?))?;
    trainer::train(args, model, &text, encoded, &valid, train_device, resume)
}

/// Every task's examples encoded with `encode`.
fn encode_tasks(
    tasks: &[(String, Vec<Example>)],
    encode: impl Fn(&Example) -> anyhow::Result<EncodedExample>,
) -> anyhow::Result<Vec<(String, Vec<EncodedExample>)>> {
    tasks
        .iter()
        .map(|(name, ex)| {
            Ok((name.clone(), ex.iter().map(&encode).collect::<anyhow::Result<_>>()?))
        })
        .collect()
}

/// The validation examples (at most `--validation-max-exs`, shared among the tasks), encoded;
/// none when the run does not validate.
fn load_valid(
    args: &TrainArgs,
    encode: impl Fn(&Example) -> anyhow::Result<EncodedExample>,
) -> anyhow::Result<ValidSet> {
    let mut v = ValidSet::default();
    if !args.validating() {
        return Ok(v);
    }
    let per_task = args.validation_max_exs.div_ceil(args.task.len().max(1));
    for (name, ex) in load_tasks(&args.task, &args.datapath(), Datatype::Valid)? {
        let encoded: Vec<EncodedExample> =
            ex.iter().take(per_task).map(&encode).collect::<anyhow::Result<_>>()?;
        v.push_task(&name, encoded);
    }
    v.truncate(args.validation_max_exs);
    Ok(v)
}
