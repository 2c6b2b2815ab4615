//! Top-level command-line interface: the subcommands and their dispatch.

use clap::{Parser, Subcommand};

/// Train language models with negative examples using the CRINGE loss.
#[derive(Debug, Parser)]
#[command(name = "cringe", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a generator on examples labelled pos/neg/none with the CRINGE loss.
    Train(crate::commands::train::TrainArgs),
    /// Train the safety classifier that judges generations (pos = safe, neg = unsafe).
    TrainClassifier(crate::commands::train_classifier::TrainClassifierArgs),
    /// Print a task's examples as the model sees them (like `parlai dd`).
    #[command(visible_alias = "dd")]
    DisplayData(crate::commands::display_data::DisplayDataArgs),
    /// Generate on an evaluation task and measure F1, perplexity and speed (like `parlai em`).
    #[command(visible_alias = "em")]
    Eval(crate::commands::eval::EvalArgs),
    /// Talk to a model: each input line is a turn.
    Chat(crate::commands::chat::ChatArgs),
    /// Run the whole iterative CRINGE loop from a config file and write a report.
    Iterate(crate::loops::iterate::IterateArgs),
    /// Balance world logs 50/50 between safe and unsafe generations (iterative data).
    FilterWorldLogs(crate::commands::filter_world_logs::FilterWorldLogsArgs),
    /// Re-judge world-log replies with a safety classifier; agreement with human labels.
    Judge(crate::commands::judge::JudgeArgs),
    /// Build preference pairs {context, chosen, rejected} from labelled generations.
    MakePairs(crate::commands::make_pairs::MakePairsArgs),
    /// Train several losses from one baseline on the same data and budget, and compare them.
    Compare(crate::loops::compare::CompareArgs),
    /// Write a model as a Hugging Face Blenderbot checkpoint that `transformers` loads.
    Export(crate::commands::export::ExportArgs),
    /// Serve the browser UI (label world logs in the browser) over HTTP.
    ServeUi(crate::commands::serve_ui::ServeUiArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => crate::commands::train::run(args).map(|_| ()),
        Command::DisplayData(args) => {
            crate::commands::display_data::run(args, &mut std::io::stdout().lock())
        }
        Command::TrainClassifier(args) => crate::commands::train_classifier::run(args).map(|_| ()),
        Command::Eval(args) => crate::commands::eval::run(args).map(|_| ()),
        Command::Iterate(args) => crate::loops::iterate::run(args).map(|_| ()),
        Command::FilterWorldLogs(args) => {
            crate::commands::filter_world_logs::run(&args).map(|_| ())
        }
        Command::MakePairs(args) => crate::commands::make_pairs::run(&args).map(|_| ()),
        Command::Judge(args) => crate::commands::judge::run(&args).map(|_| ()),
        Command::Compare(args) => crate::loops::compare::run(args).map(|_| ()),
        Command::ServeUi(args) => crate::commands::serve_ui::run(&args),
        Command::Export(args) => crate::commands::export::run(&args, &mut std::io::stdout().lock()),
        Command::Chat(args) => {
            crate::commands::chat::run(args, std::io::stdin().lock(), &mut std::io::stdout().lock())
        }
    }
}
