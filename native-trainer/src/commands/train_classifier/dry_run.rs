//! `cringe train-classifier --dry-run`: the classifier's shape (or its causal backbone), the
//! training and validation tasks with their class counts, and the schedule, checked and
//! printed without training or writing anything.

use super::TrainClassifierArgs;
use anyhow::Context;
use cringe_core::data::{Example, Label};
use cringe_core::tokenizer::CringeTokenizer;

/// Prints what `cringe train-classifier` would do with `args` on `train` and `valid`.
pub fn report(
    args: &TrainClassifierArgs,
    train: &[(String, Vec<Example>)],
    valid: &[(String, Vec<Example>)],
) -> anyhow::Result<()> {
    println!("dry run: nothing is trained or written");
    match &args.init_model {
        Some(init) => {
            args.shape.check_causal(&format!("--init-model {}", init.display()))?;
            let lm = cringe_core::pretrained::load(init, &burn::tensor::Device::flex())
                .with_context(|| format!("loading --init-model {}", init.display()))?;
            let cfg = lm.model.config();
            println!(
                "classifier: a pos/neg head on the backbone of {} ({} layers, hidden {}; {} parameters with the LM head)",
                init.display(),
                cfg.num_hidden_layers,
                cfg.hidden_size,
                cfg.num_params()
            );
        }
        None => {
            let vocab = match &args.tokenizer {
                Some(path) => CringeTokenizer::load(path)?.vocab_size(),
                None => args.vocab_size,
            };
            let cfg = args.encoder_config(vocab)?;
            println!(
                "classifier: an encoder from --preset {}{}: {} layers, width {}, ffn {}, {} heads, {} positions, vocabulary {vocab}",
                args.preset,
                if args.shape.any() { " and the shape flags" } else { "" },
                cfg.n_encoder_layers,
                cfg.embedding_size,
                cfg.ffn_size,
                cfg.n_heads,
                cfg.n_positions
            );
        }
    }
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
    println!(
        "schedule: {} updates of batch {} at lr {:e} (Adam), texts ≤ {} tokens; validation every {} updates, the best by macro F1 kept in {}",
        args.max_train_steps,
        args.batchsize,
        args.learning_rate(),
        args.text_truncate,
        args.validation_every_n_steps,
        args.model_file.display()
    );
    println!(
        "precision: {} on --device {}",
        args.compute.precision.get().name(),
        args.compute.device
    );
    Ok(())
}
