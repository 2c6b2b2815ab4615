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

use crate::commands::eval::EvalArgs;
use crate::commands::filter_world_logs::FilterWorldLogsArgs;
use crate::commands::train::TrainArgs;
use crate::commands::train_classifier::TrainClassifierArgs;
use crate::stage::{
    FormArgs, ReportText, Runner, StageLine, evaluate, named_file, path_arg, training_line,
    write_report_files,
};
use clap::Args;
use std::path::{Path, PathBuf};

pub use config::StageArgs;

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
    /// Use this safety classifier directory (from `cringe train-classifier`, or an earlier
    /// run's `classifier/`) instead of training one.
    #[arg(long, value_name = "DIR")]
    pub classifier: Option<PathBuf>,
}

/// The stage command lines of the loop (shared by the run and the preflight check).
struct Stages<'a> {
    cfg: &'a IterateConfig,
    classifier: PathBuf,
}

impl Stages<'_> {
    fn classifier(&self) -> StageLine<TrainClassifierArgs> {
        training_line(&self.cfg.classifier.args, &self.classifier, self.cfg.seed)
            .with(["-q".into()])
    }

    fn baseline(&self, model: &Path) -> StageLine<TrainArgs> {
        training_line(&self.cfg.baseline.args, model, self.cfg.seed)
    }

    fn generate(&self, model: &Path, form: &FormArgs, logs: &Path) -> StageLine<EvalArgs> {
        let g = &self.cfg.generate;
        StageLine::new(vec!["--mf".into(), path_arg(model), "-t".into(), g.task.clone()])
            .with(g.args.clone())
            .with(form.args.clone())
            .with([
                "--eval-classifier-model-file".into(),
                path_arg(&self.classifier),
                "--world-logs".into(),
                path_arg(logs),
                "-q".into(),
            ])
    }

    fn filter(&self, logs: &Path, filtered: &Path) -> StageLine<FilterWorldLogsArgs> {
        StageLine::new(vec![
            "--world-logs-file".into(),
            path_arg(logs),
            "--filtered-world-logs-file".into(),
            path_arg(filtered),
            "--seed".into(),
            self.cfg.seed.to_string(),
        ])
    }

    /// Round `round`'s fine-tuning from `init` on the configured tasks plus `generated`.
    fn cringe(
        &self,
        round: usize,
        init: &Path,
        next: &Path,
        generated: &[PathBuf],
    ) -> StageLine<TrainArgs> {
        let c = &self.cfg.cringe;
        let (mut tasks, mut weights) = (c.tasks.clone(), c.multitask_weights.clone());
        for g in generated {
            tasks.push_str(&format!(",{}", path_arg(g)));
            weights.push_str(&format!(",{}", c.generated_weight));
        }
        StageLine::new(vec![
            "-t".into(),
            tasks,
            "--multitask-weights".into(),
            weights,
            "--init-model".into(),
            path_arg(init),
        ])
        .with(c.args.clone())
        .with([
            "--mf".into(),
            path_arg(next),
            "--seed".into(),
            (self.cfg.seed + round as u64).to_string(),
        ])
    }

    /// Parses every stage's command line before anything runs, so a typo in the config fails
    /// in a second rather than after the baseline has trained.
    fn preflight(&self, trains_classifier: bool) -> anyhow::Result<()> {
        let (m, p) = (Path::new("model"), Path::new("file.jsonl"));
        self.classifier().check()?;
        self.baseline(m).check()?;
        for form in self.cfg.generate.forms() {
            self.generate(m, &form, p).check()?;
        }
        self.filter(p, p).check()?;
        self.cringe(1, m, m, &[p.to_path_buf()]).check()?;
        self.cfg.eval.check(m, &self.classifier, p)?;
        // every model directory the loop will write must be free for it (or one of ours)
        let out = &self.cfg.out_dir;
        let models = (0..=self.cfg.rounds).map(|r| out.join(format!("round{r}")).join("model"));
        let classifier = trains_classifier.then(|| self.classifier.clone());
        for dir in classifier.into_iter().chain(models) {
            // a BB1 model directory, or a causal LM's Hugging Face one
            cringe_core::model::model_dir::MODEL_DIR
                .check_replaceable(&dir)
                .or_else(|e| cringe_core::hf::EXPORT_DIR.check_replaceable(&dir).map_err(|_| e))?;
        }
        Ok(())
    }
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
    let reused = args.classifier.clone();
    if let Some(dir) = &reused {
        anyhow::ensure!(dir.is_dir(), "--classifier {}: no such directory", dir.display());
    }
    let classifier = reused.clone().unwrap_or_else(|| out.join("classifier"));
    let stages = Stages { cfg: &cfg, classifier };
    stages.preflight(reused.is_none())?;
    std::fs::create_dir_all(&out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let mut runner = Runner::default();

    if reused.is_none() {
        runner.run(&stages.classifier())?;
    }
    let mut model = out.join("round0").join("model");
    runner.run(&stages.baseline(&model))?;
    let mut rows = vec![evaluate_round(&mut runner, &stages, &model, 0, 0)?];
    write_report(&cfg, &rows, &runner.commands)?;

    let mut generated: Vec<PathBuf> = Vec::new();
    for round in 1..=cfg.rounds {
        let prev_dir = out.join(format!("round{}", round - 1));
        let mut new_examples = 0;
        for form in cfg.generate.forms() {
            let (file, n) = generate_and_filter(&mut runner, &stages, &model, &prev_dir, &form)?;
            generated.extend(file);
            new_examples += n;
        }
        let next = out.join(format!("round{round}")).join("model");
        runner.run(&stages.cringe(round, &model, &next, &generated))?;
        model = next;
        rows.push(evaluate_round(&mut runner, &stages, &model, round, new_examples)?);
        write_report(&cfg, &rows, &runner.commands)?;
    }
    println!("\n{}", markdown_table(&rows));
    println!("report: {}", out.join("report.md").display());
    Ok(rows)
}

/// Generates on the training contexts in `form` with `model`, judges and filters the
/// replies (files in `dir`); returns the filtered file if it is big enough to join the mix,
/// and the examples it adds.
fn generate_and_filter(
    runner: &mut Runner,
    stages: &Stages,
    model: &Path,
    dir: &Path,
    form: &FormArgs,
) -> anyhow::Result<(Option<PathBuf>, usize)> {
    let logs = named_file(dir, "generated_world_logs", &form.name);
    runner.run(&stages.generate(model, form, &logs))?;
    let filtered = named_file(dir, "filtered_world_logs", &form.name);
    let n = 2 * runner.run(&stages.filter(&logs, &filtered))?.kept_each;
    let min = stages.cfg.cringe.min_generated_examples.max(1);
    if n >= min {
        return Ok((Some(filtered), n));
    }
    println!("{}: {n} examples, fewer than {min}: not added to the mix", filtered.display());
    Ok((None, 0))
}

/// Writes report.md, report.json, plot.png and plot.svg into `cfg.out_dir` (atomically).
fn write_report(cfg: &IterateConfig, rows: &[RoundRow], commands: &[String]) -> anyhow::Result<()> {
    let sections = report::example_replies(&cfg.out_dir, rows, cfg.report_examples)?;
    let text = ReportText {
        title: "cringe iterate report",
        table: &markdown_table(rows),
        plot_alt: "safe %, F1 and perplexity by round",
        sections: &sections,
    };
    write_report_files(&cfg.out_dir, &text, &plot::figure(rows)?, &rows, commands)
}

/// Evaluates one round's model (world logs kept in the round's folder).
fn evaluate_round(
    runner: &mut Runner,
    stages: &Stages,
    model: &Path,
    round: usize,
    new_examples: usize,
) -> anyhow::Result<RoundRow> {
    let dir = stages.cfg.out_dir.join(format!("round{round}"));
    let eval = evaluate(runner, &stages.cfg.eval, &stages.classifier, model, &dir)?;
    Ok(RoundRow { round, eval, new_examples })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_configs_pass_the_preflight_check() {
        for name in [
            "configs/iterate-safety-mini.toml",
            "configs/iterate-smollm2.toml",
            "tests/fixtures/iterate-tiny.toml",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
            let cfg = IterateConfig::load(&path).unwrap();
            Stages { cfg: &cfg, classifier: PathBuf::from("c") }
                .preflight(true)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn a_bad_stage_value_fails_the_preflight_check_before_anything_runs() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iterate-tiny.toml");
        let mut cfg = IterateConfig::load(&path).unwrap();
        let bs = cfg.cringe.args.iter().position(|a| a == "-bs").expect("the fixture sets -bs") + 1;
        cfg.cringe.args[bs] = "0".into();
        let e = Stages { cfg: &cfg, classifier: PathBuf::from("c") }
            .preflight(true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad stage command") && e.contains("--batchsize must be at least 1"),
            "{e}"
        );
        let mut cfg = IterateConfig::load(&path).unwrap();
        cfg.generate.args.extend(["--beam-length-penalty".into(), "NaN".into()]);
        let e = Stages { cfg: &cfg, classifier: PathBuf::from("c") }
            .preflight(true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--beam-length-penalty must be a finite number"), "{e}");
    }

    #[test]
    fn a_bad_stage_flag_fails_the_preflight_check() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iterate-tiny.toml");
        let mut cfg = IterateConfig::load(&path).unwrap();
        cfg.cringe.args.push("--num-pos-predictons".into());
        let e = Stages { cfg: &cfg, classifier: PathBuf::from("c") }
            .preflight(true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad stage command") && e.contains("--num-pos-predictons"), "{e}");
    }
}
