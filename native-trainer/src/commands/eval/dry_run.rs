//! `cringe eval --dry-run`: the model, tasks, classifier and search loaded and checked as an
//! evaluation would, and printed, without generating or writing anything — so the seed's long
//! `em` command lines (beam 10, min length 20, a classifier in the task's options) are known to
//! be right before a long run.

use super::EvalArgs;
use super::subject::Subject;
use cringe_core::data::Example;
use cringe_core::decode::SearchConfig;

/// Prints what `cringe eval` would do: `examples` are the (task, example) pairs it would
/// evaluate, `classifier` the judge it loaded, if any.
pub fn report(
    args: &EvalArgs,
    subject: &Subject,
    examples: &[(String, Example)],
    classifier: Option<&std::path::Path>,
    search: &SearchConfig,
) -> anyhow::Result<()> {
    println!("dry run: nothing is generated or written");
    match subject {
        Subject::Generator { md, .. } => {
            let cfg = md.model.config();
            println!(
                "model: BB1 encoder–decoder {} ({} parameters; {} encoder / {} decoder layers, width {}, {} positions)",
                args.model_file.display(),
                cfg.num_params(),
                cfg.n_encoder_layers,
                cfg.n_decoder_layers,
                cfg.embedding_size,
                cfg.n_positions
            );
        }
        Subject::Causal(lm) => {
            let cfg = lm.model.config();
            println!(
                "model: causal LM {} ({} parameters; {} layers, hidden {}, {} positions); prompts as {:?}",
                args.model_file.display(),
                cfg.num_params(),
                cfg.num_hidden_layers,
                cfg.hidden_size,
                cfg.max_position_embeddings,
                lm.text.form()
            );
        }
    }
    println!("{}", args.compute.summary());
    println!("tasks ({} split):", args.datatype);
    for spec in &args.task {
        let n = examples.iter().filter(|(t, _)| t == spec).count();
        println!("  {spec}: {n} examples");
    }
    println!(
        "search: {} (batch {}, contexts ≤ {} tokens); {}",
        serde_json::to_string(search)?,
        args.batchsize,
        args.decode.text_truncate,
        if args.skip_generation {
            "perplexity only (--skip-generation)"
        } else {
            "replies generated"
        }
    );
    match classifier {
        Some(dir) => println!("classifier: {} (loaded)", dir.display()),
        None => println!("classifier: none"),
    }
    match &args.world_logs {
        Some(path) => println!("world logs: would be written to {}", path.display()),
        None => println!("world logs: none"),
    }
    Ok(())
}
