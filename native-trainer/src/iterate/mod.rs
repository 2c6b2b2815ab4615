//! `cringe iterate`: the seed's whole iterative CRINGE loop from one config file — baseline
//! training, the safety classifier, evaluation, generation on training contexts, filtering,
//! and fine-tuning from the previous model with the filtered generations added, N rounds.
//!
//! Every stage is an ordinary `cringe` command line (recorded in the report), run in-process.

mod config;
mod plot;
mod report;

pub use config::IterateConfig;
pub use report::{RoundRow, markdown_table};

use crate::cli::{Cli, Command, normalize_parlai_flags};
use clap::{Args, Parser};
use std::path::{Path, PathBuf};

/// Run the iterative CRINGE loop.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Example:\n  cringe iterate --config configs/iterate-safety-mini.toml")]
pub struct IterateArgs {
    /// The loop's TOML config (see configs/).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Override the number of CRINGE rounds.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Override the output folder.
    #[arg(long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

struct Runner {
    commands: Vec<String>,
}

impl Runner {
    /// Runs one `cringe` command line in-process and records it.
    fn run(&mut self, argv: Vec<String>) -> anyhow::Result<Command> {
        let shown = format!("cringe {}", argv.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() }).collect::<Vec<_>>().join(" "));
        println!("\n$ {shown}");
        self.commands.push(shown.clone());
        let argv = crate::flag_file::expand_flag_files(normalize_parlai_flags(std::iter::once("cringe".to_string()).chain(argv)))
            .map_err(|e| anyhow::anyhow!("bad stage command in the iterate config: `{shown}`: {e}"))?;
        let cli = Cli::try_parse_from(argv).map_err(|e| {
            let msg = e.render().to_string();
            anyhow::anyhow!("bad stage command in the iterate config: `{shown}`: {}", msg.trim().trim_start_matches("error: "))
        })?;
        Ok(cli.command)
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Runs the loop; returns one row per round (baseline first).
pub fn run(args: IterateArgs) -> anyhow::Result<Vec<RoundRow>> {
    let mut cfg = IterateConfig::load(&args.config)?;
    if let Some(r) = args.rounds {
        cfg.rounds = r;
    }
    if let Some(d) = args.out_dir {
        cfg.out_dir = d;
    }
    let out = cfg.out_dir.clone();
    std::fs::create_dir_all(&out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let seed = cfg.seed.to_string();
    let mut runner = Runner { commands: Vec::new() };

    let classifier = out.join("classifier");
    let mut argv = strings(&["train-classifier"]);
    argv.extend(cfg.classifier.args.clone());
    argv.extend([ "--mf".into(), s(&classifier), "--seed".into(), seed.clone(), "-q".into()]);
    if let Command::TrainClassifier(a) = runner.run(argv)? {
        crate::train_classifier::run(a)?;
    }

    let mut model = out.join("round0").join("model");
    let mut argv = strings(&["train"]);
    argv.extend(cfg.baseline.args.clone());
    argv.extend(["--mf".into(), s(&model), "--seed".into(), seed.clone()]);
    if let Command::Train(a) = runner.run(argv)? {
        crate::train::run(a)?;
    }
    let mut rows = vec![evaluate(&mut runner, &cfg, &classifier, &model, 0, 0)?];
    report::write_report(&out, &rows, &runner.commands)?;

    let mut generated: Vec<PathBuf> = Vec::new();
    for round in 1..=cfg.rounds {
        let prev_dir = out.join(format!("round{}", round - 1));
        let logs = prev_dir.join("generated_world_logs.jsonl");
        let mut argv = strings(&["eval", "--mf"]);
        argv.push(s(&model));
        argv.extend(["-t".into(), cfg.generate.task.clone()]);
        argv.extend(cfg.generate.args.clone());
        argv.extend(["--eval-classifier-model-file".into(), s(&classifier), "--world-logs".into(), s(&logs), "-q".into()]);
        if let Command::Eval(a) = runner.run(argv)? {
            crate::eval::run(a)?;
        }
        let filtered = prev_dir.join("filtered_world_logs.jsonl");
        let argv = vec!["filter-world-logs".into(), "--world-logs-file".into(), s(&logs), "--filtered-world-logs-file".into(), s(&filtered), "--seed".into(), seed.clone()];
        let mut new_examples = 0;
        if let Command::FilterWorldLogs(a) = runner.run(argv)? {
            new_examples = 2 * crate::filter_world_logs::run(&a)?.kept_each;
        }
        if new_examples > 0 {
            generated.push(filtered);
        }
        let mut tasks = cfg.cringe.tasks.clone();
        let mut weights = cfg.cringe.multitask_weights.clone();
        for g in &generated {
            tasks.push(',');
            tasks.push_str(&s(g));
            weights.push_str(&format!(",{}", cfg.cringe.generated_weight));
        }
        let next = out.join(format!("round{round}")).join("model");
        let mut argv = vec!["train".into(), "-t".into(), tasks, "--multitask-weights".into(), weights, "--init-model".into(), s(&model)];
        argv.extend(cfg.cringe.args.clone());
        argv.extend(["--mf".into(), s(&next), "--seed".into(), (cfg.seed + round as u64).to_string()]);
        if let Command::Train(a) = runner.run(argv)? {
            crate::train::run(a)?;
        }
        model = next;
        rows.push(evaluate(&mut runner, &cfg, &classifier, &model, round, new_examples)?);
        report::write_report(&out, &rows, &runner.commands)?;
    }
    println!("\n{}", markdown_table(&rows));
    println!("report: {}", out.join("report.md").display());
    Ok(rows)
}

/// Safe % on the toxic contexts (with world logs kept), F1 and perplexity on dialogue.
fn evaluate(runner: &mut Runner, cfg: &IterateConfig, classifier: &Path, model: &Path, round: usize, new_examples: usize) -> anyhow::Result<RoundRow> {
    let dir = cfg.out_dir.join(format!("round{round}"));
    let mut argv = vec!["eval".into(), "--mf".into(), s(model), "-t".into(), cfg.eval.safety_task.clone()];
    argv.extend(cfg.eval.args.clone());
    argv.extend(["--eval-classifier-model-file".into(), s(classifier), "--world-logs".into(), s(&dir.join("eval_world_logs.jsonl")), "-q".into()]);
    let Command::Eval(a) = runner.run(argv)? else { unreachable!() };
    let safety = crate::eval::run(a)?;
    let mut argv = vec!["eval".into(), "--mf".into(), s(model), "-t".into(), cfg.eval.dialogue_task.clone()];
    argv.extend(cfg.eval.args.clone());
    argv.push("-q".into());
    let Command::Eval(a) = runner.run(argv)? else { unreachable!() };
    let dialogue = crate::eval::run(a)?;
    Ok(RoundRow {
        round,
        safe_pct: 100.0 * safety.classifier_accuracy.unwrap_or(0.0),
        f1: dialogue.f1,
        ppl: dialogue.ppl.unwrap_or(f64::NAN),
        gen_len: safety.gen_len,
        new_examples,
    })
}
