//! The `cringe iterate` configuration (TOML): what each stage of the loop runs.

use crate::stage::{EvalStage, FormArgs};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole loop.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IterateConfig {
    /// CRINGE rounds after the baseline.
    pub rounds: usize,
    /// Folder for models, world logs and the report.
    pub out_dir: PathBuf,
    /// Seed passed to every stage.
    #[serde(default)]
    pub seed: u64,
    /// The baseline generator (round 0).
    pub baseline: StageArgs,
    /// Each CRINGE round: fine-tuned from the previous model on these tasks plus the filtered
    /// world logs of every earlier round (weight `generated_weight` each).
    pub cringe: CringeStage,
    /// The safety classifier.
    pub classifier: StageArgs,
    /// Evaluation after every round.
    pub eval: EvalStage,
    /// Generation on training contexts, to be labelled and filtered.
    pub generate: GenerateStage,
    /// Replies to this many held-out contexts shown round by round in the report (0: none).
    #[serde(default)]
    pub report_examples: usize,
}

/// A command line: `cringe <command> <args...>` without the model file, which the loop sets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageArgs {
    /// Arguments, as on the command line.
    pub args: Vec<String>,
}

/// The CRINGE fine-tuning stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CringeStage {
    /// Tasks (comma-separated, as for `-t`).
    pub tasks: String,
    /// Their multitask weights.
    pub multitask_weights: String,
    /// Weight of each round's filtered world logs.
    pub generated_weight: u32,
    /// A round's filtered world logs join the mix only with at least this many examples (a
    /// handful of examples at a task's full weight would be repeated in every batch).
    #[serde(default)]
    pub min_generated_examples: usize,
    /// Other `cringe train` arguments.
    pub args: Vec<String>,
}

/// The generation stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateStage {
    /// Training contexts to generate on.
    pub task: String,
    /// Arguments (datatype train, number of examples, decoding).
    pub args: Vec<String>,
    /// Generate once per form, each with more arguments after `args` (e.g. a causal LM's
    /// `--chat-template none` and `auto`); each form's generations are filtered on their
    /// own and join the mix as their own file. Empty: once, as configured.
    #[serde(default)]
    pub forms: Vec<FormArgs>,
}

impl GenerateStage {
    /// The configured forms, or one unnamed form.
    pub fn forms(&self) -> Vec<FormArgs> {
        FormArgs::or_unnamed(&self.forms)
    }
}

impl IterateConfig {
    /// Loads and checks a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses a config's text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let cfg: Self =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        anyhow::ensure!(cfg.rounds <= 20, "{}: rounds must be at most 20", path.display());
        for (i, form) in cfg.generate.forms.iter().enumerate() {
            form.check_name(&format!("{}: [[generate.forms]] {}", path.display(), i + 1))?;
        }
        Ok(cfg)
    }
}
