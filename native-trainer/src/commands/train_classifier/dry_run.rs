//! `cringe train-classifier --dry-run`: the classifier (its shape, or the model it starts
//! from), the training and validation tasks with their class counts, the optimizer, schedule,
//! validation and limits, checked and printed without training or writing anything.

use super::TrainClassifierArgs;
use anyhow::Context;
use cringe_core::data::{Example, Label};
use cringe_core::model::ModelDir;
use cringe_core::model::footprint::{
    causal_training_bytes, classifier_training_bytes, format_bytes,
};
use cringe_core::tokenizer::CringeTokenizer;
use std::path::Path;

/// Prints what `cringe train-classifier` would do with `args` on `train` and `valid`.
pub fn report(
    args: &TrainClassifierArgs,
    train: &[(String, Vec<Example>)],
    valid: &[(String, Vec<Example>)],
) -> anyhow::Result<()> {
    println!("dry run: nothing is trained or written");
    match &args.init_model {
        Some(init) if cringe_core::pretrained::is_causal(init) => causal(args, init)?,
        Some(init) => bb1_encoder(args, init)?,
        None => fresh(args)?,
    }
    let p = &args.parlai;
    println!(
        "head: classes {} over the {:?} of the encoder's states × {}{}{}",
        p.classes.join(", "),
        p.reduction_type,
        p.output_scaling,
        if p.n_segments > 0 {
            format!(", {} segment embeddings", p.n_segments)
        } else {
            String::new()
        },
        if p.learn_embeddings { "" } else { ", token embeddings frozen" },
    );
    for (split, tasks) in [("train", train), ("valid", valid)] {
        println!("{split} tasks:");
        for (name, ex) in tasks {
            let count = |l: Label| ex.iter().filter(|e| e.label == l).count();
            println!(
                "  {name}: {} examples ({} pos, {} neg)",
                ex.len(),
                count(Label::Pos),
                count(Label::Neg)
            );
        }
    }
    schedule(args);
    Ok(())
}

/// The optimizer, schedule, validation, limits and checkpoints.
fn schedule(args: &TrainClassifierArgs) {
    let p = &args.parlai;
    println!(
        "schedule: at most {} updates of batch {} at lr {:e} ({:?}, warmup {}, scheduler {:?}), texts ≤ {} tokens{}{}",
        args.max_train_steps,
        args.batchsize,
        args.learning_rate(),
        args.optimizer,
        args.warmup_updates,
        args.lr_scheduler,
        args.text_truncate,
        if p.dict_lower { ", lowercased" } else { "" },
        if p.history_size > 0 {
            format!(", last {} context lines", p.history_size)
        } else {
            String::new()
        },
    );
    let every = match (args.validation_steps(), args.validation_every_n_secs) {
        (Some(n), s) if s > 0.0 => format!("every {n} updates and every {s} s"),
        (Some(n), _) => format!("every {n} updates"),
        (None, s) => format!("every {s} s"),
    };
    println!(
        "validation {every} on {} examples, {} averaged; the best by {} ({:?}) kept in {}{}",
        if args.validation_max_exs > 0 {
            format!("≤ {}", args.validation_max_exs)
        } else {
            "all".into()
        },
        if p.logging.aggregate_micro { "micro" } else { "macro" },
        args.validation_metric,
        args.metric_mode(),
        args.model_file.display(),
        if args.validation_patience > 0 {
            format!("; stop after {} without improvement", args.validation_patience)
        } else {
            String::new()
        },
    );
    if p.logging.max_train_time > 0.0 {
        println!("train time limit: {} s", p.logging.max_train_time);
    }
    if args.checkpointing() || args.load_from_checkpoint {
        println!(
            "checkpoint: {}{}{}",
            super::resume::checkpoint_dir(args).display(),
            if args.checkpointing() { " written" } else { " not written" },
            if args.load_from_checkpoint { ", resumed from when present" } else { "" },
        );
    }
    println!("{}", args.compute.summary());
}

/// The memory line: what one update of `--batchsize` texts of `tokens` tokens needs.
fn memory(args: &TrainClassifierArgs, tokens: usize, bytes: u64) {
    println!(
        "memory: one update of batch {} × {tokens} tokens needs ~{} (weights, gradients, Adam moments, activations)",
        args.batchsize,
        format_bytes(bytes)
    );
}

fn causal(args: &TrainClassifierArgs, init: &Path) -> anyhow::Result<()> {
    let source = format!("--init-model {}", init.display());
    args.check_causal(&source)?;
    let lm = cringe_core::pretrained::load(init, &burn::tensor::Device::flex())
        .with_context(|| format!("loading {source}"))?;
    let cfg = lm.model.config();
    println!(
        "classifier: a head on the backbone of {} ({} layers, hidden {}; {} parameters with the LM head)",
        init.display(),
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_params()
    );
    let tokens = args.text_truncate.min(cfg.max_position_embeddings);
    memory(args, tokens, causal_training_bytes(cfg, args.batchsize, tokens, 0));
    Ok(())
}

fn bb1_encoder(args: &TrainClassifierArgs, init: &Path) -> anyhow::Result<()> {
    let source = format!("--init-model {}", init.display());
    let cfg = ModelDir::load_config(init).with_context(|| format!("reading {source}"))?;
    let cfg = args.bb1_encoder_config(cfg, &source)?;
    println!(
        "classifier: the token embeddings and encoder of {} ({} layers, width {}, ffn {}, {} heads, {} positions, {:?}, vocabulary {}; {} parameters), a fresh head; dropout {}, attention dropout {}, relu dropout {}",
        init.display(),
        cfg.n_encoder_layers,
        cfg.embedding_size,
        cfg.ffn_size,
        cfg.n_heads,
        cfg.n_positions,
        cfg.variant,
        cfg.vocab_size,
        cfg.encoder_num_params(),
        cfg.dropout,
        cfg.attention_dropout,
        cfg.relu_dropout,
    );
    let tokens = args.text_truncate.min(cfg.n_positions);
    memory(args, tokens, classifier_training_bytes(&cfg, args.batchsize, tokens));
    Ok(())
}

fn fresh(args: &TrainClassifierArgs) -> anyhow::Result<()> {
    let given = args.tokenizer.clone().or_else(|| args.parlai.dict_tokenizer_file());
    let vocab = match &given {
        Some(path) => CringeTokenizer::load(path)?.vocab_size(),
        None => args.vocab_size,
    };
    let cfg = args.encoder_config(vocab)?;
    println!(
        "classifier: an encoder from --preset {}{}: {} layers, width {}, ffn {}, {} heads, {} positions, vocabulary {vocab}; {} parameters",
        args.preset,
        if args.shape.any() { " and the shape flags" } else { "" },
        cfg.n_encoder_layers,
        cfg.embedding_size,
        cfg.ffn_size,
        cfg.n_heads,
        cfg.n_positions,
        cfg.encoder_num_params()
    );
    let tokens = args.text_truncate.min(cfg.n_positions);
    memory(args, tokens, classifier_training_bytes(&cfg, args.batchsize, tokens));
    Ok(())
}
