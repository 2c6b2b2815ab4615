//! `cringe compare`: the paper-style comparison of losses. One baseline and one safety
//! classifier; preference pairs sampled from the baseline and judged by the classifier; then
//! every selected method (`mle`, `unlikelihood`, `cringe`, `pairwise-cringe`, times any
//! `--sweep`) fine-tuned from the same baseline on the same data with the same budget, and
//! evaluated on the same held-out contexts. Writes a table (classifier-safe %, F1, perplexity,
//! wall time), the rows as JSON and a safe-% vs F1 plot, updated after every run.
//!
//! Every stage is an ordinary `cringe` command line (recorded in the report), run in-process.

mod config;
mod report;

pub use config::{CompareConfig, RunSpec, Sweep, reads_flag};
pub use report::{CompareRow, markdown_table};

use crate::commands::eval::EvalArgs;
use crate::commands::make_pairs::MakePairsArgs;
use crate::commands::train::TrainArgs;
use crate::commands::train_classifier::TrainClassifierArgs;
use crate::stage::{Runner, StageLine, evaluate, path_arg, training_line};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Compare losses on the same data and budget.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  cringe compare --config configs/compare-safety-mini.toml --sweep ct_loss_weight=0.5,1,2"
)]
pub struct CompareArgs {
    /// The comparison's TOML config (see configs/compare-safety-mini.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Sweep a `cringe train` flag over values, e.g. `ct_loss_weight=0.5,1,2` (repeatable; replaces
    /// the config's [sweep]). Methods that do not read the flag run once.
    #[arg(long = "sweep", value_name = "FLAG=V1,V2,...")]
    pub sweep: Vec<String>,
    /// Fine-tune every method once per seed (comma-separated) and report mean ± standard
    /// deviation, instead of the config's `seeds`.
    #[arg(long, value_delimiter = ',', value_name = "SEED[,SEED...]")]
    pub seeds: Vec<u64>,
    /// Only these methods (comma-separated), instead of the config's.
    #[arg(long, value_delimiter = ',', value_name = "LOSS[,LOSS...]")]
    pub methods: Vec<String>,
    /// Use this baseline model directory instead of training one.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Use this safety classifier directory instead of training one.
    #[arg(long, value_name = "DIR")]
    pub classifier: Option<PathBuf>,
    /// Override the output folder.
    #[arg(long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The stage command lines (shared by the run and the preflight check).
struct Stages<'a> {
    cfg: &'a CompareConfig,
    sweeps: &'a [Sweep],
}

impl Stages<'_> {
    fn classifier(&self, dir: &Path) -> StageLine<TrainClassifierArgs> {
        training_line(&self.cfg.classifier.args, dir, self.cfg.seed).with(["-q".into()])
    }

    fn baseline(&self, dir: &Path) -> StageLine<TrainArgs> {
        training_line(&self.cfg.baseline.args, dir, self.cfg.seed)
    }

    fn sample(
        &self,
        model: &Path,
        classifier: &Path,
        logs: &Path,
        sample: usize,
    ) -> StageLine<EvalArgs> {
        let p = &self.cfg.pairs;
        StageLine::new(vec!["--mf".into(), path_arg(model), "-t".into(), p.task.clone()])
            .with(p.args.clone())
            .with(["--seed".into(), (self.cfg.seed * 1000 + sample as u64).to_string()])
            .with([
                "--eval-classifier-model-file".into(),
                path_arg(classifier),
                "--world-logs".into(),
                path_arg(logs),
                "-q".into(),
            ])
    }

    fn make_pairs(&self, logs: &[PathBuf], pairs: &Path) -> StageLine<MakePairsArgs> {
        let list = logs.iter().map(|p| path_arg(p)).collect::<Vec<_>>().join(",");
        StageLine::new(vec![
            "--world-logs".into(),
            list,
            "--pairs-file".into(),
            path_arg(pairs),
            "--max-pairs-per-context".into(),
            self.cfg.pairs.max_pairs_per_context.to_string(),
            "--seed".into(),
            self.cfg.seed.to_string(),
        ])
    }

    /// One method's fine-tuning from `baseline` on the shared tasks plus `pairs` (if any).
    fn finetune(
        &self,
        run: &RunSpec,
        seed: u64,
        baseline: &Path,
        pairs: Option<&Path>,
        dir: &Path,
    ) -> StageLine<TrainArgs> {
        let f = &self.cfg.finetune;
        let (mut tasks, mut weights) = (f.tasks.clone(), f.multitask_weights.clone());
        if let Some(p) = pairs {
            tasks.push_str(&format!(",{}", path_arg(p)));
            weights.push_str(&format!(",{}", f.pairs_weight));
        }
        let mut argv = vec![
            "-t".into(),
            tasks,
            "--multitask-weights".into(),
            weights,
            "--init-model".into(),
            path_arg(baseline),
        ];
        argv.extend(f.args.clone());
        argv.extend(self.cfg.method_args.get(run.loss.name()).cloned().unwrap_or_default());
        argv.extend(["--loss".into(), run.loss.name().into()]);
        for (flag, value) in &run.settings {
            argv.extend([format!("--{flag}"), value.clone()]);
        }
        argv.extend(["--mf".into(), path_arg(dir), "--seed".into(), seed.to_string()]);
        StageLine::new(argv)
    }

    /// Parses every stage's command line (and checks that a swept flag is not also fixed in the
    /// config) before anything runs.
    fn preflight(&self, runs: &[RunSpec]) -> anyhow::Result<()> {
        let (m, p) = (Path::new("model"), Path::new("file.jsonl"));
        // flags compare sets itself: a second value would be a clap error that hides the reason
        let own = [
            ("-t", "[finetune] tasks"),
            ("--task", "[finetune] tasks"),
            ("--multitask-weights", "[finetune] multitask_weights"),
            ("--mtw", "[finetune] multitask_weights"),
            ("--init-model", "the baseline"),
            ("--loss", "`methods`"),
            ("--mf", "out_dir"),
            ("--model-file", "out_dir"),
            ("--seed", "`seeds`"),
        ];
        // whether [finetune] args or any [method_args] set `flag` (as `--flag v` or `--flag=v`)
        let config_sets = |flag: &str| {
            let with_value = format!("{flag}=");
            self.cfg
                .finetune
                .args
                .iter()
                .chain(self.cfg.method_args.values().flatten())
                .any(|a| a == flag || a.starts_with(&with_value))
        };
        if let Some((flag, by)) = own.iter().find(|(f, _)| config_sets(f)) {
            anyhow::bail!(
                "[finetune] args and [method_args] must not set {flag}: compare sets it from {by}"
            );
        }
        for sw in self.sweeps {
            let flag = format!("--{}", sw.flag);
            anyhow::ensure!(
                !config_sets(&flag),
                "the swept flag {flag} is also set in [finetune] args or [method_args]; remove it there"
            );
        }
        self.classifier(m).check()?;
        self.baseline(m).check()?;
        self.sample(m, m, p, 1).check()?;
        self.make_pairs(&[p.to_path_buf()], p).check()?;
        self.cfg.eval.check(m, m, p)?;
        for run in runs {
            self.finetune(run, 1, m, Some(p), m).check()?;
        }
        Ok(())
    }
}

/// Runs the comparison; returns the baseline row then one row per run.
pub fn run(args: CompareArgs) -> anyhow::Result<Vec<CompareRow>> {
    let mut cfg = CompareConfig::load(&args.config)?;
    if let Some(d) = args.out_dir {
        cfg.out_dir = d;
    }
    if !args.seeds.is_empty() {
        cfg.seeds = args.seeds.clone();
    }
    if !args.methods.is_empty() {
        cfg.methods = args.methods.clone();
    }
    if let Some(b) = args.baseline {
        cfg.baseline.model = Some(b);
    }
    if let Some(c) = args.classifier {
        cfg.classifier.model = Some(c);
    }
    let sweeps = if args.sweep.is_empty() {
        cfg.sweeps()?
    } else {
        args.sweep.iter().map(|s| Sweep::parse(s)).collect::<anyhow::Result<_>>()?
    };
    let runs = cfg.runs(&sweeps)?;
    let stages = Stages { cfg: &cfg, sweeps: &sweeps };
    stages.preflight(&runs)?;
    let out = cfg.out_dir.clone();
    std::fs::create_dir_all(&out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    println!(
        "comparing {} runs × {} seeds: {}",
        runs.len(),
        cfg.finetune_seeds().len(),
        runs.iter().map(RunSpec::name).collect::<Vec<_>>().join(", ")
    );
    let mut runner = Runner::default();
    let started = Instant::now();

    let classifier = match &cfg.classifier.model {
        Some(dir) => dir.clone(),
        None => {
            let dir = out.join("classifier");
            runner.run(&stages.classifier(&dir))?;
            dir
        }
    };
    let (baseline, baseline_train_secs) = match &cfg.baseline.model {
        Some(dir) => (dir.clone(), None),
        None => {
            let dir = out.join("baseline").join("model");
            let summary = runner.run(&stages.baseline(&dir))?;
            (dir, Some(summary.seconds))
        }
    };
    let e = evaluate(&mut runner, &cfg.eval, &classifier, &baseline, &out.join("baseline"))?;
    let mut rows = vec![CompareRow::new("baseline", "-", None, &e, baseline_train_secs)];
    report::write_report(&out, &rows, &runner.commands)?;

    // preference pairs: the baseline's replies sampled several times, judged by the classifier
    let pairs_dir = out.join("pairs");
    let logs: Vec<PathBuf> =
        (1..=cfg.pairs.samples).map(|i| pairs_dir.join(format!("samples{i}.jsonl"))).collect();
    for (i, log) in logs.iter().enumerate() {
        runner.run(&stages.sample(&baseline, &classifier, log, i + 1))?;
    }
    let pairs_file = out.join("pairs.jsonl");
    let n_pairs = runner.run(&stages.make_pairs(&logs, &pairs_file))?.pairs;
    if n_pairs == 0 {
        eprintln!(
            "warning: no preference pairs; every method trains on [finetune] tasks only, and pairwise-cringe equals cringe"
        );
    }
    let pairs = (n_pairs > 0).then_some(pairs_file.as_path());

    let seeds = cfg.finetune_seeds();
    for run in &runs {
        for &seed in &seeds {
            let name =
                if seeds.len() > 1 { format!("{}_seed={seed}", run.name()) } else { run.name() };
            let dir = out.join("runs").join(name);
            let summary =
                runner.run(&stages.finetune(run, seed, &baseline, pairs, &dir.join("model")))?;
            let e = evaluate(&mut runner, &cfg.eval, &classifier, &dir.join("model"), &dir)?;
            rows.push(CompareRow::new(
                run.loss.name(),
                &run.settings_text(),
                Some(seed),
                &e,
                Some(summary.seconds),
            ));
            report::write_report(&out, &rows, &runner.commands)?;
        }
    }
    println!("\n{}", markdown_table(&rows));
    println!(
        "{n_pairs} preference pairs; whole comparison {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!("report: {}", out.join("report.md").display());
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load() -> CompareConfig {
        CompareConfig::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/compare-safety-mini.toml"),
        )
        .unwrap()
    }

    #[test]
    fn the_bundled_configs_pass_the_preflight_check() {
        for name in [
            "configs/compare-safety-mini.toml",
            "configs/compare-smollm2.toml",
            "tests/fixtures/compare-tiny.toml",
        ] {
            let cfg =
                CompareConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name))
                    .unwrap();
            let sweeps = [Sweep::parse("ct_loss_weight=0.5,1").unwrap()];
            let stages = Stages { cfg: &cfg, sweeps: &sweeps };
            stages.preflight(&cfg.runs(&sweeps).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn a_swept_flag_fixed_in_the_config_is_refused() {
        let mut cfg = load();
        cfg.finetune.args.extend(["--ct-loss-weight".into(), "3".into()]);
        let sweeps = [Sweep::parse("ct_loss_weight=0.5,1").unwrap()];
        let e = Stages { cfg: &cfg, sweeps: &sweeps }.preflight(&[]).unwrap_err().to_string();
        assert!(e.contains("--ct-loss-weight") && e.contains("remove it there"), "{e}");
    }

    #[test]
    fn flags_compare_sets_itself_are_refused_in_the_config() {
        let mut cfg = load();
        cfg.method_args.insert("cringe".into(), vec!["--seed".into(), "5".into()]);
        let e = Stages { cfg: &cfg, sweeps: &[] }.preflight(&[]).unwrap_err().to_string();
        assert!(e.contains("must not set --seed") && e.contains("`seeds`"), "{e}");
    }

    #[test]
    fn each_run_trains_with_its_loss_and_settings_from_the_baseline() {
        let cfg = load();
        let sweeps = [Sweep::parse("ct_loss_weight=2").unwrap()];
        let stages = Stages { cfg: &cfg, sweeps: &sweeps };
        let run = RunSpec {
            loss: cringe_core::loss::LossKind::Unlikelihood,
            settings: vec![("ct-loss-weight".into(), "2".into())],
        };
        let a = stages
            .finetune(&run, 7, Path::new("base"), Some(Path::new("p.jsonl")), Path::new("out"))
            .parse()
            .unwrap();
        assert_eq!(a.seed, 7);
        assert_eq!(a.loss, cringe_core::loss::LossKind::Unlikelihood);
        assert_eq!(a.ct_loss_weight, 2.0);
        assert_eq!(a.init_model.as_deref(), Some(Path::new("base")));
        assert_eq!(a.task.last().map(String::as_str), Some("p.jsonl"));
    }
}
