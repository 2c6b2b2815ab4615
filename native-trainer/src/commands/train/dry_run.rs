//! `cringe train --dry-run`: everything a run would check, and what it would do, without
//! training or writing anything — so a long command line (the seed's 3B one) is known to be
//! right, and to fit, before hours are spent on it. Prints the resolved model shape, its
//! parameter count, the memory one update needs against what the device has, the tasks with
//! their sizes and weights, and the schedule.
//!
//! A BB1 `--init-model` is read for its config (and tokenizer) only, not its weights; a causal
//! LM is loaded, which takes seconds.

use super::TrainArgs;
use anyhow::Context;
use cringe_core::data::{Example, Label};
use cringe_core::model::GeneratorConfig;
use cringe_core::model::footprint::format_bytes;
use cringe_core::tokenizer::CringeTokenizer;

/// Prints what `cringe train` would do with `args` on `tasks` (loaded and mutated as training
/// would), after every check training makes before its first update.
pub fn report(args: &TrainArgs, tasks: &[(String, Vec<Example>)]) -> anyhow::Result<()> {
    println!("dry run: nothing is trained or written");
    if args.is_causal() {
        causal_model(args)?;
    } else {
        let (cfg, source) = generator_config(args, tasks)?;
        print_generator(args, &cfg, &source);
    }
    print_tasks(args, tasks);
    print_schedule(args, tasks.iter().map(|(_, e)| e.len()).sum());
    Ok(())
}

/// The BB1 config the run would build or load, checked against the shape flags, and where it
/// comes from.
fn generator_config(
    args: &TrainArgs,
    tasks: &[(String, Vec<Example>)],
) -> anyhow::Result<(GeneratorConfig, String)> {
    if let Some(init) = &args.init_model {
        let source = format!("--init-model {}", init.display());
        let mut cfg = cringe_core::hf::load_model_config(init)
            .with_context(|| format!("reading {source}"))?;
        args.shape.check_against(&cfg, &source)?;
        args.shape.apply_regularisation(&mut cfg);
        cfg.validate()?;
        if args.parlai.dict_file.is_some() && init.join("tokenizer.json").is_file() {
            let own = CringeTokenizer::load(&init.join("tokenizer.json"))?;
            super::check_dict_file(args, &own, &source)?;
        }
        return Ok((cfg, source));
    }
    let vocab = match args.tokenizer_file() {
        Some(path) => CringeTokenizer::load(&path)?.vocab_size(),
        None => {
            anyhow::ensure!(
                tasks.iter().any(|(_, e)| !e.is_empty()),
                "no text to train a tokenizer on"
            );
            args.vocab_size
        }
    };
    let cfg = super::fresh_config(args, vocab)?;
    cfg.validate()?;
    let base = match &args.model_config {
        Some(path) => format!("--model-config {}", path.display()),
        None => format!("--preset {}", args.preset),
    };
    let flags = if args.shape.any() { " and the shape flags" } else { "" };
    Ok((cfg, format!("a fresh model: {base}{flags}")))
}

fn print_generator(args: &TrainArgs, cfg: &GeneratorConfig, source: &str) {
    let params = cfg.num_params() as u64;
    println!("model: BB1 encoder–decoder, {source}");
    println!(
        "  embedding_size {}, ffn_size {}, {} encoder / {} decoder layers, {} heads, {} positions, {}, {} positions, {}",
        cfg.embedding_size,
        cfg.ffn_size,
        cfg.n_encoder_layers,
        cfg.n_decoder_layers,
        cfg.n_heads,
        cfg.n_positions,
        lower(cfg.variant),
        if cfg.learn_positional_embeddings { "learned" } else { "sinusoidal" },
        lower(cfg.activation),
    );
    println!(
        "  dropout {}, attention dropout {}, relu dropout {}; vocabulary {}",
        cfg.dropout, cfg.attention_dropout, cfg.relu_dropout, cfg.vocab_size
    );
    println!("  {params} parameters ({} of f32 weights)", format_bytes(params * 4));
    let trunc = args.truncation();
    let (text, label) =
        (trunc.text_truncate.min(cfg.n_positions), trunc.label_truncate.min(cfg.n_positions));
    let needed = super::update_bytes(args, cfg);
    let what = format!("one update of batch {} × ({text} + {label} tokens)", args.batchsize);
    match super::ensure_training_fits(args, cfg) {
        Ok(()) => println!(
            "memory: {what} needs ~{}: fits on --device {}",
            format_bytes(needed),
            args.compute.device
        ),
        Err(e) => println!("memory: would not fit: {e}"),
    }
    println!("{}", args.compute.summary());
}

/// A causal LM's shape: the model is loaded (seconds for a 135M-parameter GGUF).
fn causal_model(args: &TrainArgs) -> anyhow::Result<()> {
    let init = args.init_model.as_ref().ok_or_else(|| {
        anyhow::anyhow!("a causal LM is trained from --init-model; resuming is not dry-run")
    })?;
    args.shape.check_causal(&format!("--init-model {}", init.display()))?;
    let lm = cringe_core::pretrained::load(init, &burn::tensor::Device::flex())
        .with_context(|| format!("loading --init-model {}", init.display()))?;
    let cfg = lm.model.config();
    println!("model: causal LM from --init-model {}", init.display());
    println!(
        "  hidden {}, {} layers, {} heads / {} KV heads, FFN {}, vocabulary {}, {} parameters ({} of f32 weights)",
        cfg.hidden_size,
        cfg.num_hidden_layers,
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.intermediate_size,
        cfg.vocab_size,
        cfg.num_params(),
        format_bytes(cfg.num_params() as u64 * 4)
    );
    Ok(())
}

fn print_tasks(args: &TrainArgs, tasks: &[(String, Vec<Example>)]) {
    println!("tasks (train split, after mutators):");
    for ((name, ex), w) in tasks.iter().zip(args.weights()) {
        let count = |l: Label| ex.iter().filter(|e| e.label == l).count();
        println!(
            "  weight {w:>3}  {name}: {} examples ({} pos, {} neg, {} none)",
            ex.len(),
            count(Label::Pos),
            count(Label::Neg),
            count(Label::None)
        );
    }
}

fn print_schedule(args: &TrainArgs, n_examples: usize) {
    let per_update = args.batchsize * args.update_freq;
    let per_epoch = n_examples.div_ceil(per_update).max(1);
    let steps = super::trainer::total_steps(args, n_examples);
    let trunc = args.truncation();
    println!(
        "schedule: {steps} updates ({:.2} epochs) of batch {} × update-freq {} = {per_update} examples; contexts ≤ {} and responses ≤ {} tokens",
        steps as f64 / per_epoch as f64,
        args.batchsize,
        args.update_freq,
        trunc.text_truncate,
        trunc.label_truncate
    );
    println!(
        "  {} lr {:e}, warmup {} updates, {} (patience {}, decay {}), gradient clip {}; loss {} (α {}, k {})",
        lower(args.optimizer),
        args.lr,
        args.warmup_updates,
        lower(args.lr_scheduler),
        args.lr_scheduler_patience,
        args.lr_scheduler_decay,
        args.gradient_clip,
        args.loss.name(),
        args.ct_loss_weight,
        args.num_pos_predictions
    );
    let valid = match args.validating() {
        true => format!(
            "every {} updates / {} s on ≤ {} examples, {} by {} ({})",
            args.validation_every_n_steps,
            args.validation_every_n_secs,
            args.validation_max_exs,
            if args.parlai.logging.aggregate_micro { "micro-averaged" } else { "macro-averaged" },
            args.validation_metric,
            lower(args.validation_metric_mode)
        ),
        false => "none".into(),
    };
    println!("  validation: {valid}; writes {}", args.model_file.display());
}

/// A flag value's name as the command line spells it (`Prelayernorm` → `prelayernorm`).
fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}
