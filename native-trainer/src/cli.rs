//! Top-level command-line interface: the subcommands and their dispatch.

use clap::{Parser, Subcommand};

/// Train language models with negative examples using the CRINGE loss.
#[derive(Debug, Parser)]
#[command(name = "cringe", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum Command {
    /// Train a generator on examples labelled pos/neg/none with the CRINGE loss.
    Train(crate::train::TrainArgs),
    /// Train the safety classifier that judges generations (pos = safe, neg = unsafe).
    TrainClassifier(crate::train_classifier::TrainClassifierArgs),
    /// Print a task's examples as the model sees them (like `parlai dd`).
    #[command(visible_alias = "dd")]
    DisplayData(crate::display_data::DisplayDataArgs),
    /// Generate on an evaluation task and measure F1, perplexity and speed (like `parlai em`).
    #[command(visible_alias = "em")]
    Eval(crate::eval::EvalArgs),
    /// Talk to a model: each input line is a turn.
    Chat(crate::chat::ChatArgs),
    /// Run the whole iterative CRINGE loop from a config file and write a report.
    Iterate(crate::iterate::IterateArgs),
    /// Balance world logs 50/50 between safe and unsafe generations (iterative data).
    FilterWorldLogs(crate::filter_world_logs::FilterWorldLogsArgs),
    /// Build preference pairs {context, chosen, rejected} from labelled generations.
    MakePairs(crate::make_pairs::MakePairsArgs),
    /// Train several losses from one baseline on the same data and budget, and compare them.
    Compare(crate::compare::CompareArgs),
    /// Write a model as a Hugging Face Blenderbot checkpoint that `transformers` loads.
    Export(crate::export::ExportArgs),
    /// Serve the browser UI (label world logs in the browser) over HTTP.
    ServeUi(crate::serve_ui::ServeUiArgs),
}

/// ParlAI's multi-letter short flags and the long flags they mean here.
const PARLAI_SHORT_FLAGS: &[(&str, &str)] = &[
    ("-dt", "--datatype"),
    ("-bs", "--batchsize"),
    ("-lr", "--lr"),
    ("-mf", "--model-file"),
    ("-dp", "--datapath"),
    ("-eps", "--num-epochs"),
    ("-tstep", "--max-train-steps"),
];

/// Rewrites ParlAI-style flags such as `-dt valid` or `-lr=5e-5` to their long forms, so the
/// seed's command lines work as written.
pub fn normalize_parlai_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let (flag, value) = match a.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            match PARLAI_SHORT_FLAGS.iter().find(|(short, _)| *short == flag) {
                Some((_, long)) => match value {
                    Some(v) => format!("{long}={v}"),
                    None => long.to_string(),
                },
                None => a,
            }
        })
        .collect()
}

impl Command {
    /// Checks a parsed command line's values as far as that can be done without reading its
    /// inputs — every check its run makes first, so `iterate` and `compare` can check each
    /// stage before the first one runs.
    pub fn validate(&self) -> anyhow::Result<()> {
        match self {
            Command::Train(a) => a.validate(),
            Command::TrainClassifier(a) => a.validate(),
            Command::Eval(a) => a.validate(),
            Command::Chat(a) => a.decode.validate(),
            Command::FilterWorldLogs(a) => a.validate(),
            Command::MakePairs(a) => a.validate(),
            Command::DisplayData(_)
            | Command::Iterate(_)
            | Command::Compare(_)
            | Command::Export(_)
            | Command::ServeUi(_) => Ok(()),
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => crate::train::run(args).map(|_| ()),
        Command::DisplayData(args) => crate::display_data::run(args, &mut std::io::stdout().lock()),
        Command::TrainClassifier(args) => crate::train_classifier::run(args).map(|_| ()),
        Command::Eval(args) => crate::eval::run(args).map(|_| ()),
        Command::Iterate(args) => crate::iterate::run(args).map(|_| ()),
        Command::FilterWorldLogs(args) => crate::filter_world_logs::run(&args).map(|_| ()),
        Command::MakePairs(args) => crate::make_pairs::run(&args).map(|_| ()),
        Command::Compare(args) => crate::compare::run(args).map(|_| ()),
        Command::ServeUi(args) => crate::serve_ui::run(&args),
        Command::Export(args) => crate::export::run(&args, &mut std::io::stdout().lock()),
        Command::Chat(args) => {
            crate::chat::run(args, std::io::stdin().lock(), &mut std::io::stdout().lock())
        }
    }
}
