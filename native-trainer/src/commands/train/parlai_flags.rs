//! The flags of the seed's `parlai train` command that `cringe train` had no name for: each
//! with ParlAI's meaning where it has one here (`--truncate`, `--dict-file`, `--save-after-valid`,
//! `--aggregate-micro`, `--log-every-n-secs`, `-ttim`), and the few that mean nothing on one
//! device and one trainer (`--model-parallel`, `--model`) accepted with a one-line note — so a
//! ParlAI user's command line runs as written, and never has a flag silently dropped.

use crate::args::parse_bool;
use clap::{ArgAction, Args};
use std::path::{Path, PathBuf};

/// ParlAI agent names `--model` accepts, and what `cringe train` does for each.
const AGENTS: &[(&str, &str)] = &[
    (
        "projects.cringe.cringe_loss:ContrastiveTransformerGeneratorAgent",
        "the CRINGE generator, which is what cringe train trains (--loss cringe)",
    ),
    ("transformer/generator", "ParlAI's generator trained with MLE (--loss mle)"),
];

/// ParlAI's `--dict-tokenizer` values that name the tokenizer this trainer builds.
const BYTE_LEVEL_BPE: &[&str] = &["bytelevelbpe", "gpt2", "slow_bytelevel_bpe"];

/// The ParlAI-only flags of `cringe train`.
#[derive(Debug, Clone, Args)]
pub struct ParlaiTrainFlags {
    /// Default of --text-truncate and --label-truncate where those are not given (ParlAI's
    /// --truncate).
    #[arg(long, value_name = "N", help_heading = "ParlAI's flags")]
    pub truncate: Option<usize>,

    /// The ParlAI agent (`projects.cringe.cringe_loss:ContrastiveTransformerGeneratorAgent`, or
    /// `transformer/generator` with --loss mle): accepted so the seed's command runs; the
    /// trainer is always this one.
    #[arg(long = "model", short = 'm', value_name = "AGENT", help_heading = "ParlAI's flags")]
    pub model: Option<String>,

    /// The tokenizer: a tokenizer.json, or ParlAI's `<model>.dict` beside a model directory
    /// (that model's tokenizer). With --init-model it must be that model's own tokenizer.
    #[arg(long = "dict-file", value_name = "FILE", help_heading = "ParlAI's flags")]
    pub dict_file: Option<PathBuf>,

    /// Which tokenizer to train when none is given: `bytelevelbpe` (also `gpt2`), the
    /// byte-level BPE this trainer builds; ParlAI's other tokenizers (bpe, re, split, spm)
    /// are not available here.
    #[arg(long = "dict-tokenizer", value_name = "NAME", help_heading = "ParlAI's flags")]
    pub dict_tokenizer: Option<String>,

    /// ParlAI's `end` appends the end token to every context: this trainer always does (it is
    /// how its models read a context), so `end` is the only value.
    #[arg(long = "history-add-global-end-token", value_parser = ["end"], value_name = "end", help_heading = "ParlAI's flags")]
    pub history_add_global_end_token: Option<String>,

    /// Write the resumable checkpoint after every validation (ParlAI's --save-after-valid);
    /// false: only every --save-every-n-steps/-secs, on Ctrl-C and at the end. The best model
    /// is written to --model-file after a better validation either way.
    #[arg(long = "save-after-valid", action = ArgAction::Set, value_parser = parse_bool, default_value = "true", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub save_after_valid: bool,

    /// How validation metrics of several tasks combine: true (micro) pools every task's tokens;
    /// false (macro) averages the per-task metrics, each task counting the same. ParlAI's
    /// default is macro; this trainer's default stays micro, as before.
    #[arg(long = "aggregate-micro", action = ArgAction::Set, value_parser = parse_bool, default_value = "true", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub aggregate_micro: bool,

    /// Also write a metrics line every N seconds (beside --log-every-n-steps).
    #[arg(
        long = "log-every-n-secs",
        visible_alias = "ltim",
        default_value_t = 0.0,
        value_name = "SECS",
        help_heading = "ParlAI's flags"
    )]
    pub log_every_n_secs: f64,

    /// Stop after this many seconds of training, counted over resumes (ParlAI -ttim),
    /// validating and saving as at the last update; 0: no limit.
    #[arg(
        long = "max-train-time",
        visible_alias = "ttim",
        default_value_t = 0.0,
        value_name = "SECS",
        help_heading = "ParlAI's flags"
    )]
    pub max_train_time: f64,

    /// Also write the metrics as TensorBoard event files (`train/<metric>` every logged step,
    /// `valid/<metric>` every validation), in --tensorboard-logdir.
    #[arg(long = "tensorboard-log", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub tensorboard_log: bool,

    /// Where --tensorboard-log writes (default: <model-file>.tensorboard).
    #[arg(long = "tensorboard-logdir", value_name = "DIR", help_heading = "ParlAI's flags")]
    pub tensorboard_logdir: Option<PathBuf>,

    /// Split the model across GPUs (ParlAI's --model-parallel): one device here, so the flag
    /// is accepted and noted.
    #[arg(long = "model-parallel", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub model_parallel: bool,
}

impl ParlaiTrainFlags {
    /// Checks the values and prints the one-line notes of flags that change nothing here;
    /// `loss` is the `--loss` in effect (`--model transformer/generator` must say mle).
    pub fn check(&self, loss: &str, quiet: bool) -> anyhow::Result<()> {
        crate::args::ensure_seconds("--log-every-n-secs", self.log_every_n_secs)?;
        crate::args::ensure_seconds("--max-train-time", self.max_train_time)?;
        if let Some(t) = self.truncate {
            anyhow::ensure!(t > 0, "--truncate must be at least 1 token");
        }
        if let Some(agent) = &self.model {
            let (_, meaning) = AGENTS.iter().find(|(name, _)| name == agent).ok_or_else(|| {
                let names: Vec<&str> = AGENTS.iter().map(|(n, _)| *n).collect();
                anyhow::anyhow!("--model {agent}: not an agent cringe train stands in for; expected one of {names:?}")
            })?;
            anyhow::ensure!(
                agent != "transformer/generator" || loss == "mle",
                "--model transformer/generator trains with MLE; add --loss mle (the default here is cringe)"
            );
            if !quiet {
                eprintln!("note: --model {agent}: {meaning}");
            }
        }
        if let Some(name) = &self.dict_tokenizer {
            anyhow::ensure!(
                BYTE_LEVEL_BPE.contains(&name.as_str()),
                "--dict-tokenizer {name}: only byte-level BPE ({}) is available here; give --dict-file with a tokenizer.json to use another tokenizer",
                BYTE_LEVEL_BPE.join(", ")
            );
        }
        if self.model_parallel && !quiet {
            eprintln!(
                "note: --model-parallel true: cringe train runs on one device (--device); the model is not split, nothing changes"
            );
        }
        Ok(())
    }

    /// The tokenizer.json `--dict-file` names: the file itself, or for ParlAI's `<dir>.dict`
    /// spelling (the dictionary beside a model file) the tokenizer of model directory `<dir>`.
    pub fn dict_tokenizer_file(&self) -> Option<PathBuf> {
        let path = self.dict_file.as_deref()?;
        Some(resolve_dict_file(path))
    }
}

/// `--dict-file`'s tokenizer file: `DIR.dict` where `DIR` is a directory → `DIR/tokenizer.json`;
/// a directory → its tokenizer.json; anything else as given.
pub fn resolve_dict_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.join("tokenizer.json");
    }
    if path.extension().is_some_and(|e| e == "dict") && !path.exists() {
        let model = path.with_extension("");
        if model.is_dir() {
            return model.join("tokenizer.json");
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> ParlaiTrainFlags {
        ParlaiTrainFlags {
            truncate: None,
            model: None,
            dict_file: None,
            dict_tokenizer: None,
            history_add_global_end_token: None,
            save_after_valid: true,
            aggregate_micro: true,
            log_every_n_secs: 0.0,
            max_train_time: 0.0,
            model_parallel: false,
            tensorboard_log: false,
            tensorboard_logdir: None,
        }
    }

    #[test]
    fn the_seed_commands_agent_and_tokenizer_are_accepted_and_others_are_refused_by_name() {
        let mut f = flags();
        f.model = Some("projects.cringe.cringe_loss:ContrastiveTransformerGeneratorAgent".into());
        f.dict_tokenizer = Some("bytelevelbpe".into());
        f.model_parallel = true;
        f.check("cringe", true).unwrap();
        f.model = Some("transformer/generator".into());
        let e = f.check("cringe", true).unwrap_err().to_string();
        assert!(e.contains("--loss mle"), "{e}");
        f.check("mle", true).unwrap();
        f.model = Some("transformer/ranker".into());
        let e = f.check("cringe", true).unwrap_err().to_string();
        assert!(
            e.contains("--model transformer/ranker")
                && e.contains("ContrastiveTransformerGeneratorAgent"),
            "{e}"
        );
        f.model = None;
        f.dict_tokenizer = Some("bpe".into());
        let e = f.check("cringe", true).unwrap_err().to_string();
        assert!(e.contains("--dict-tokenizer bpe") && e.contains("bytelevelbpe"), "{e}");
    }

    #[test]
    fn a_parlai_dict_file_beside_a_model_directory_means_its_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        assert_eq!(resolve_dict_file(&dir.path().join("model.dict")), model.join("tokenizer.json"));
        assert_eq!(resolve_dict_file(&model), model.join("tokenizer.json"));
        let plain = dir.path().join("tok.json");
        assert_eq!(resolve_dict_file(&plain), plain);
    }
}
