//! Running `cringe` subcommands in-process as the stages of `iterate` and `compare`.
//!
//! A stage's command line is typed by the subcommand it runs ([`StageLine`]`<TrainArgs>`, …):
//! it is parsed by that subcommand's flags only, exactly as `cringe <command>` would parse it
//! (ParlAI's short flags, flag files), checked the same way before anything runs (the
//! preflight), and run to that subcommand's result (a training summary, an evaluation report,
//! …). The loops hold typed lines, so none can run a stage as the wrong command.

mod evaluation;
mod report;

pub use evaluation::{
    EvalStage, Evaluation, FormArgs, FormScore, PerplexityTask, TaskPerplexity, evaluate,
    named_file,
};
pub use report::{ReportText, write_report_files};

use crate::commands::eval::{EvalArgs, EvalReport};
use crate::commands::filter_world_logs::{FilterCounts, FilterWorldLogsArgs};
use crate::commands::make_pairs::{MakePairsArgs, PairCounts};
use crate::commands::train::{TrainArgs, TrainSummary};
use crate::commands::train_classifier::{ClassifierScores, TrainClassifierArgs};
use clap::{Args, FromArgMatches};
use std::marker::PhantomData;
use std::path::Path;

/// A subcommand that runs as a stage.
pub trait Stage: Args + FromArgMatches {
    /// Its name on the command line.
    const COMMAND: &'static str;
    /// What running it gives the loop.
    type Output;
    /// The checks its run makes before reading any input.
    fn validate(&self) -> anyhow::Result<()>;
    /// Runs it.
    fn run(self) -> anyhow::Result<Self::Output>;
}

impl Stage for TrainArgs {
    const COMMAND: &'static str = "train";
    type Output = TrainSummary;
    fn validate(&self) -> anyhow::Result<()> {
        TrainArgs::validate(self)
    }
    fn run(self) -> anyhow::Result<TrainSummary> {
        crate::commands::train::run(self)
    }
}

impl Stage for TrainClassifierArgs {
    const COMMAND: &'static str = "train-classifier";
    type Output = ClassifierScores;
    fn validate(&self) -> anyhow::Result<()> {
        TrainClassifierArgs::validate(self)
    }
    fn run(self) -> anyhow::Result<ClassifierScores> {
        crate::commands::train_classifier::run(self)
    }
}

impl Stage for EvalArgs {
    const COMMAND: &'static str = "eval";
    type Output = EvalReport;
    fn validate(&self) -> anyhow::Result<()> {
        EvalArgs::validate(self)
    }
    fn run(self) -> anyhow::Result<EvalReport> {
        crate::commands::eval::run(self)
    }
}

/// As a stage the filter writes nothing, and gives `kept_each` 0, when one class is empty (the
/// loop goes on without new data), where `cringe filter-world-logs` fails.
impl Stage for FilterWorldLogsArgs {
    const COMMAND: &'static str = "filter-world-logs";
    type Output = FilterCounts;
    fn validate(&self) -> anyhow::Result<()> {
        FilterWorldLogsArgs::validate(self)
    }
    fn run(self) -> anyhow::Result<FilterCounts> {
        crate::commands::filter_world_logs::balance(&self)
    }
}

impl Stage for MakePairsArgs {
    const COMMAND: &'static str = "make-pairs";
    type Output = PairCounts;
    fn validate(&self) -> anyhow::Result<()> {
        MakePairsArgs::validate(self)
    }
    fn run(self) -> anyhow::Result<PairCounts> {
        crate::commands::make_pairs::run(&self)
    }
}

/// One stage's command line: `cringe <S::COMMAND> <args…>`.
#[derive(Debug, Clone)]
pub struct StageLine<S> {
    args: Vec<String>,
    stage: PhantomData<S>,
}

impl<S: Stage> StageLine<S> {
    /// The line with these arguments (after the command name).
    pub fn new(args: Vec<String>) -> Self {
        Self { args, stage: PhantomData }
    }

    /// Appends arguments.
    pub fn with(mut self, more: impl IntoIterator<Item = String>) -> Self {
        self.args.extend(more);
        self
    }

    /// The arguments after the command name.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// How the line is shown in the console and the report: `cringe train -t …`.
    pub fn shown(&self) -> String {
        let quoted =
            self.args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() });
        std::iter::once(format!("cringe {}", S::COMMAND))
            .chain(quoted)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses the line as `cringe <command>` would.
    pub fn parse(&self) -> anyhow::Result<S> {
        let bad =
            |e: String| anyhow::anyhow!("bad stage command in the config: `{}`: {e}", self.shown());
        let argv = crate::args::parlai::normalize_parlai_flags(
            ["cringe".to_string(), S::COMMAND.to_string()]
                .into_iter()
                .chain(self.args.iter().cloned()),
        );
        let argv = crate::flag_file::expand_flag_files(argv).map_err(|e| bad(e.to_string()))?;
        // a config layers arguments (shared, then per stage or form): a flag given again
        // overrides the earlier value, as ParlAI's options do
        let command = clap::Command::new(S::COMMAND).args_override_self(true);
        let root = clap::Command::new("cringe")
            .subcommand(S::augment_args(command))
            .subcommand_required(true);
        let parsed = root
            .try_get_matches_from(argv)
            .and_then(|m| S::from_arg_matches(m.subcommand_matches(S::COMMAND).expect("required")));
        parsed.map_err(|e| {
            bad(e.render().to_string().trim().trim_start_matches("error: ").to_string())
        })
    }

    /// Parses the line and checks its values as its command would before running, so a bad
    /// value fails the preflight check, not the stage.
    pub fn check(&self) -> anyhow::Result<S> {
        let stage = self.parse()?;
        stage.validate().map_err(|e| {
            anyhow::anyhow!("bad stage command in the config: `{}`: {e}", self.shown())
        })?;
        Ok(stage)
    }
}

/// `cringe <command> <args…> --mf <model> --seed <seed>`: a stage that trains a model from the
/// config's arguments into the folder the loop chose.
pub fn training_line<S: Stage>(args: &[String], model: &Path, seed: u64) -> StageLine<S> {
    StageLine::new(args.to_vec()).with([
        "--mf".into(),
        path_arg(model),
        "--seed".into(),
        seed.to_string(),
    ])
}

/// A path as a command-line argument.
pub fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// Runs stages in order and records their command lines for the report.
#[derive(Debug, Default)]
pub struct Runner {
    /// Every stage command line run, as shown.
    pub commands: Vec<String>,
}

impl Runner {
    /// Prints and records `line`, then parses and runs it.
    pub fn run<S: Stage>(&mut self, line: &StageLine<S>) -> anyhow::Result<S::Output> {
        let shown = line.shown();
        println!("\n$ {shown}");
        self.commands.push(shown);
        line.parse()?.run()
    }
}
