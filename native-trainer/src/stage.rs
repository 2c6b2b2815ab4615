//! Running `cringe` command lines in-process, as the stages of `iterate` and `compare`: parse
//! them exactly as the CLI would, record them for the report, and the shared evaluation stage.

use crate::cli::{Cli, Command, normalize_parlai_flags};
use crate::iterate::EvalStage;
use clap::Parser;
use cringe_core::fsutil::write_atomic;
use std::path::Path;

/// Records the command lines it parses.
#[derive(Debug, Default)]
pub struct Runner {
    /// Every stage command line, as shown.
    pub commands: Vec<String>,
}

/// How a stage command line is shown in the console and the report.
pub fn shown(argv: &[String]) -> String {
    format!(
        "cringe {}",
        argv.iter()
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() })
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `cringe <command> <args…> --mf <model> --seed <seed>`: a stage that trains a model from the
/// config's arguments into the folder the loop chose.
pub fn train_argv(command: &str, args: &[String], model: &Path, seed: u64) -> Vec<String> {
    let mut argv = vec![command.to_string()];
    argv.extend(args.iter().cloned());
    argv.extend(["--mf".into(), s(model), "--seed".into(), seed.to_string()]);
    argv
}

/// Parses one stage command line as `cringe` would.
pub fn parse_stage(argv: &[String]) -> anyhow::Result<Command> {
    let shown = shown(argv);
    let argv = crate::flag_file::expand_flag_files(normalize_parlai_flags(
        std::iter::once("cringe".to_string()).chain(argv.iter().cloned()),
    ))
    .map_err(|e| anyhow::anyhow!("bad stage command in the config: `{shown}`: {e}"))?;
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let msg = e.render().to_string();
        anyhow::anyhow!(
            "bad stage command in the config: `{shown}`: {}",
            msg.trim().trim_start_matches("error: ")
        )
    })?;
    Ok(cli.command)
}

/// Parses one stage command line and checks its values as its command would before running
/// ([`Command::validate`]), so a bad value fails the preflight check, not the stage.
pub fn check_stage(argv: &[String]) -> anyhow::Result<Command> {
    let command = parse_stage(argv)?;
    command
        .validate()
        .map_err(|e| anyhow::anyhow!("bad stage command in the config: `{}`: {e}", shown(argv)))?;
    Ok(command)
}

impl Runner {
    /// Parses one `cringe` command line for running in-process, and records it.
    pub fn run(&mut self, argv: Vec<String>) -> anyhow::Result<Command> {
        let line = shown(&argv);
        println!("\n$ {line}");
        self.commands.push(line);
        parse_stage(&argv)
    }
}

/// A loop's report files in `dir`, each written atomically: `report.md` (title, the table, the
/// plot, the commands run), `report.json` (`rows`), `plot.png` and `plot.svg`.
pub fn write_report_files<T: serde::Serialize>(
    dir: &Path,
    title: &str,
    table: &str,
    plot_alt: &str,
    figure: &crate::plot::Figure,
    rows: &T,
    commands: &[String],
) -> anyhow::Result<()> {
    let mut md =
        format!("# {title}\n\n{table}\n![{plot_alt}](plot.png)\n\n## Commands run\n\n```\n");
    for c in commands {
        md.push_str(c);
        md.push('\n');
    }
    md.push_str("```\n");
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    write_atomic(&dir.join("report.json"), serde_json::to_string_pretty(rows)?.as_bytes())?;
    write_atomic(&dir.join("plot.png"), &figure.png)?;
    write_atomic(&dir.join("plot.svg"), figure.svg.as_bytes())?;
    Ok(())
}

/// What the evaluation stage measured of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Share of generations on the safety task the classifier judged safe, in %.
    pub safe_pct: f64,
    /// Unigram F1 of dialogue generations.
    pub f1: f64,
    /// Perplexity of gold dialogue responses.
    pub ppl: f64,
    /// Mean generated length on the safety task.
    pub gen_len: f64,
    /// Wall time of both evaluations, in seconds.
    pub seconds: f64,
}

/// Safe % on the safety task (world logs kept), F1 and perplexity on the dialogue task.
pub fn evaluate(
    runner: &mut Runner,
    eval: &EvalStage,
    classifier: &Path,
    model: &Path,
    world_logs: &Path,
) -> anyhow::Result<Evaluation> {
    let Command::Eval(a) = runner.run(eval.safety_argv(model, classifier, world_logs))? else {
        unreachable!("eval argv")
    };
    let safety = crate::eval::run(a)?;
    let Command::Eval(a) = runner.run(eval.dialogue_argv(model))? else {
        unreachable!("eval argv")
    };
    let dialogue = crate::eval::run(a)?;
    Ok(Evaluation {
        safe_pct: 100.0 * safety.classifier_accuracy.unwrap_or(0.0),
        f1: dialogue.f1,
        ppl: dialogue.ppl.unwrap_or(f64::NAN),
        gen_len: safety.gen_len,
        seconds: safety.seconds + dialogue.seconds,
    })
}
