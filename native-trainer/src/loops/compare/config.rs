//! The `cringe compare` configuration (TOML) and the list of runs it expands to: every method,
//! times every combination of swept flag values that method uses.

use crate::stage::EvalStage;
use cringe_core::loss::LossKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    /// Folder for the models, pairs, world logs and the report.
    pub out_dir: PathBuf,
    /// Seed passed to every stage.
    #[serde(default)]
    pub seed: u64,
    /// Fine-tuning seeds: each method runs once per seed (data order, dropout, CRINGE
    /// candidates) and the table shows mean ± standard deviation. Default: `[seed]`.
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Losses to compare (`mle`, `unlikelihood`, `cringe`, `pairwise-cringe`).
    pub methods: Vec<String>,
    /// Flag values to sweep: `ct_loss_weight = [0.5, 1, 2]` (any `cringe train` flag).
    #[serde(default)]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
    /// The baseline every method starts from.
    pub baseline: ModelStage,
    /// The safety classifier that judges generations.
    pub classifier: ModelStage,
    /// Preference pairs sampled from the baseline and judged by the classifier.
    pub pairs: PairsStage,
    /// The fine-tuning every method gets: same data, same budget.
    pub finetune: FinetuneStage,
    /// Extra `cringe train` arguments of one method (e.g. `cringe = ["--num-pos-predictions", "5"]`).
    #[serde(default)]
    pub method_args: BTreeMap<String, Vec<String>>,
    /// Evaluation of every model.
    pub eval: EvalStage,
}

/// A model that is either trained with `args` or, when `model` is set, reused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelStage {
    /// Training arguments (without the model file); unused when `model` is set.
    #[serde(default)]
    pub args: Vec<String>,
    /// An existing model directory to use instead of training one.
    #[serde(default)]
    pub model: Option<PathBuf>,
}

/// How the preference pairs are made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairsStage {
    /// Contexts to sample replies for.
    pub task: String,
    /// Samples per context (one `cringe eval` per sample, seeds 1..=samples).
    pub samples: usize,
    /// At most this many pairs per context.
    #[serde(default = "one")]
    pub max_pairs_per_context: usize,
    /// `cringe eval` arguments (datatype, number of contexts, sampling settings).
    pub args: Vec<String>,
}

fn one() -> usize {
    1
}

/// The fine-tuning stage shared by every method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneStage {
    /// Tasks (comma-separated, as for `-t`); the pairs file is added to them.
    pub tasks: String,
    /// Their multitask weights.
    pub multitask_weights: String,
    /// The pairs file's weight.
    pub pairs_weight: u32,
    /// Other `cringe train` arguments: the budget (steps, batch size, learning rate, …).
    pub args: Vec<String>,
}

/// Flags that only some losses read; a sweep over one of them runs the other losses once.
const LOSS_FLAGS: &[(&str, &[LossKind])] = &[
    ("ct-loss-weight", &[LossKind::Unlikelihood, LossKind::Cringe, LossKind::PairwiseCringe]),
    ("num-pos-predictions", &[LossKind::Cringe, LossKind::PairwiseCringe]),
    ("detach-positives-during-ct", &[LossKind::Cringe, LossKind::PairwiseCringe]),
    ("train-ct-on-positive-examples", &[LossKind::Cringe, LossKind::PairwiseCringe]),
    ("ct-exclude-eos", &[LossKind::Cringe, LossKind::PairwiseCringe]),
    ("pairwise-margin", &[LossKind::PairwiseCringe]),
    ("pairwise-temperature", &[LossKind::PairwiseCringe]),
];

/// Whether `loss` reads the `cringe train` flag `flag` (without dashes).
pub fn reads_flag(loss: LossKind, flag: &str) -> bool {
    LOSS_FLAGS.iter().find(|(f, _)| *f == flag).is_none_or(|(_, losses)| losses.contains(&loss))
}

/// One swept flag: its name (as on the command line, without dashes) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Flag name, e.g. `ct-loss-weight`.
    pub flag: String,
    /// Values, as written.
    pub values: Vec<String>,
}

impl Sweep {
    /// Parses `ct_loss_weight=0.5,1,2` (underscores or dashes).
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--sweep {s:?}: expected FLAG=V1,V2,… (e.g. ct_loss_weight=0.5,1,2)")
        })?;
        Self::new(k, v.split(',').map(str::to_string).collect())
    }

    fn new(key: &str, values: Vec<String>) -> anyhow::Result<Self> {
        let flag = key.trim().trim_start_matches("--").replace('_', "-");
        anyhow::ensure!(!flag.is_empty(), "sweep: empty flag name");
        let values: Vec<String> = values.into_iter().map(|v| v.trim().to_string()).collect();
        anyhow::ensure!(
            !values.is_empty() && values.iter().all(|v| !v.is_empty()),
            "sweep {flag}: empty value in the list"
        );
        anyhow::ensure!(flag != "loss", "sweep: the loss is chosen by `methods`, not swept");
        Ok(Self { flag, values })
    }
}

/// One fine-tuning run of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The loss.
    pub loss: LossKind,
    /// (flag, value) of the swept flags this run sets.
    pub settings: Vec<(String, String)>,
}

impl RunSpec {
    /// A folder-safe name such as `cringe_ct-loss-weight=0.5`.
    pub fn name(&self) -> String {
        let mut name = self.loss.name().to_string();
        for (f, v) in &self.settings {
            name.push_str(&format!("_{f}={v}"));
        }
        name
    }

    /// The settings for the table, e.g. `ct-loss-weight=0.5`, or `-`.
    pub fn settings_text(&self) -> String {
        if self.settings.is_empty() {
            return "-".into();
        }
        self.settings.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(" ")
    }
}

impl CompareConfig {
    /// Loads and checks a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::from_toml(&text, path)
    }

    /// Parses a config's text (`path` names it in errors).
    pub fn from_toml(text: &str, path: &Path) -> anyhow::Result<Self> {
        let cfg: Self =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        anyhow::ensure!(!cfg.methods.is_empty(), "{}: `methods` is empty", path.display());
        for m in cfg.methods.iter().chain(cfg.method_args.keys()) {
            LossKind::parse(m).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        anyhow::ensure!(
            cfg.pairs.samples >= 2,
            "{}: pairs.samples must be at least 2 (a pair needs two replies)",
            path.display()
        );
        Ok(cfg)
    }

    /// The fine-tuning seeds in effect.
    pub fn finetune_seeds(&self) -> Vec<u64> {
        if self.seeds.is_empty() { vec![self.seed] } else { self.seeds.clone() }
    }

    /// The config's own sweeps (`[sweep]`).
    pub fn sweeps(&self) -> anyhow::Result<Vec<Sweep>> {
        self.sweep
            .iter()
            .map(|(k, vals)| {
                let values = vals
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                    .collect();
                Sweep::new(k, values)
            })
            .collect()
    }

    /// Every run: each method times the combinations of the sweeps it reads.
    pub fn runs(&self, sweeps: &[Sweep]) -> anyhow::Result<Vec<RunSpec>> {
        let mut runs = Vec::new();
        for m in &self.methods {
            let loss = LossKind::parse(m)?;
            let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
            for sw in sweeps.iter().filter(|sw| reads_flag(loss, &sw.flag)) {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        sw.values
                            .iter()
                            .map(move |v| [c.clone(), vec![(sw.flag.clone(), v.clone())]].concat())
                    })
                    .collect();
            }
            runs.extend(combos.into_iter().map(|settings| RunSpec { loss, settings }));
        }
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(methods: &[&str]) -> CompareConfig {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/compare-safety-mini.toml");
        let mut c = CompareConfig::load(&path).unwrap();
        c.methods = methods.iter().map(|m| m.to_string()).collect();
        c
    }

    #[test]
    fn a_sweep_multiplies_only_the_methods_that_read_the_flag() {
        let c = cfg(&["mle", "unlikelihood", "cringe", "pairwise-cringe"]);
        let sweeps = [
            Sweep::parse("ct_loss_weight=0.5,1,2").unwrap(),
            Sweep::parse("pairwise-temperature=1,5").unwrap(),
        ];
        let runs = c.runs(&sweeps).unwrap();
        let names: Vec<String> = runs.iter().map(RunSpec::name).collect();
        assert_eq!(runs.iter().filter(|r| r.loss == LossKind::Mle).count(), 1, "{names:?}");
        assert_eq!(
            runs.iter().filter(|r| r.loss == LossKind::Unlikelihood).count(),
            3,
            "{names:?}"
        );
        assert_eq!(runs.iter().filter(|r| r.loss == LossKind::Cringe).count(), 3, "{names:?}");
        assert_eq!(
            runs.iter().filter(|r| r.loss == LossKind::PairwiseCringe).count(),
            6,
            "{names:?}"
        );
        assert!(
            names.contains(&"pairwise-cringe_ct-loss-weight=2_pairwise-temperature=5".to_string()),
            "{names:?}"
        );
        assert_eq!(runs[0].settings_text(), "-");
    }

    #[test]
    fn the_config_sweep_table_reads_numbers_and_strings() {
        let mut c = cfg(&["mle", "cringe"]);
        c.sweep = toml::from_str(
            "ct_loss_weight = [0.5, 2]\ndetach_positives_during_ct = [\"true\", \"false\"]",
        )
        .unwrap();
        let sweeps = c.sweeps().unwrap();
        let names: Vec<String> = c.runs(&sweeps).unwrap().iter().map(RunSpec::name).collect();
        assert_eq!(names.len(), 1 + 4, "{names:?}");
        assert!(
            names
                .contains(&"cringe_ct-loss-weight=0.5_detach-positives-during-ct=true".to_string()),
            "{names:?}"
        );
    }

    #[test]
    fn bad_sweeps_and_methods_are_explained() {
        assert!(Sweep::parse("ct_loss_weight").unwrap_err().to_string().contains("FLAG=V1,V2"));
        assert!(Sweep::parse("lr=1e-4,").unwrap_err().to_string().contains("empty value"));
        assert!(Sweep::parse("loss=mle,cringe").unwrap_err().to_string().contains("methods"));
        let mut c = cfg(&["dpo"]);
        c.methods = vec!["dpo".into()];
        assert!(c.runs(&[]).unwrap_err().to_string().contains("unknown loss \"dpo\""));
    }
}
