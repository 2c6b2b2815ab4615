//! The flags of the seed's `parlai train` command that `cringe train` had no name for: each
//! with ParlAI's meaning where it has one here (`--truncate`, `--dict-file`, `--save-after-valid`,
//! `--aggregate-micro`, `--log-every-n-secs`, `-ttim`: [`crate::args::RunLoggingArgs`]), and the few that mean nothing on one
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
    /// cannot be trained here. With a tokenizer given (--dict-file, --tokenizer,
    /// --init-model) the file's own kind is used and the flag is noted.
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

    /// Logging, the time limit and TensorBoard.
    #[command(flatten)]
    pub logging: crate::args::RunLoggingArgs,

    /// Split the model across GPUs (ParlAI's --model-parallel): one device here, so the flag
    /// is accepted and noted.
    #[arg(long = "model-parallel", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub model_parallel: bool,
}

impl ParlaiTrainFlags {
    /// Checks the values and prints the one-line notes of flags that change nothing here;
    /// `loss` is the `--loss` in effect (`--model transformer/generator` must say mle) and
    /// `tokenizer_given` whether --tokenizer or --init-model brings a tokenizer.
    pub fn check(&self, loss: &str, tokenizer_given: bool, quiet: bool) -> anyhow::Result<()> {
        self.logging.check()?;
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
        let tokenizer_given = tokenizer_given || self.dict_file.is_some();
        if let Some(note) = dict_tokenizer_note(self.dict_tokenizer.as_deref(), tokenizer_given)?
            && !quiet
        {
            eprintln!("note: {note}");
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

/// What `--dict-tokenizer NAME` does (`cringe train` and `train-classifier`): with a tokenizer
/// file given (`tokenizer_given`) nothing — the note saying so is returned; for a fresh
/// tokenizer it must name the byte-level BPE trained here, else an error.
pub fn dict_tokenizer_note(
    name: Option<&str>,
    tokenizer_given: bool,
) -> anyhow::Result<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    if tokenizer_given {
        return Ok(Some(format!(
            "--dict-tokenizer {name}: the given tokenizer file says its own kind; nothing is retrained"
        )));
    }
    anyhow::ensure!(
        BYTE_LEVEL_BPE.contains(&name),
        "--dict-tokenizer {name}: a fresh tokenizer here is byte-level BPE ({}); give --dict-file or --tokenizer with a tokenizer.json to use another",
        BYTE_LEVEL_BPE.join(", ")
    );
    Ok(None)
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
            logging: crate::args::RunLoggingArgs {
                aggregate_micro: true,
                log_every_n_secs: 0.0,
                max_train_time: 0.0,
                tensorboard_log: false,
                tensorboard_logdir: None,
            },
            model_parallel: false,
        }
    }

    #[test]
    fn the_seed_commands_agent_and_tokenizer_are_accepted_and_others_are_refused_by_name() {
        let mut f = flags();
        f.model = Some("projects.cringe.cringe_loss:ContrastiveTransformerGeneratorAgent".into());
        f.dict_tokenizer = Some("bytelevelbpe".into());
        f.model_parallel = true;
        f.check("cringe", false, true).unwrap();
        f.model = Some("transformer/generator".into());
        let e = f.check("cringe", false, true).unwrap_err().to_string();
        assert!(e.contains("--loss mle"), "{e}");
        f.check("mle", false, true).unwrap();
        f.model = Some("transformer/ranker".into());
        let e = f.check("cringe", false, true).unwrap_err().to_string();
        assert!(
            e.contains("--model transformer/ranker")
                && e.contains("ContrastiveTransformerGeneratorAgent"),
            "{e}"
        );
        f.model = None;
        f.dict_tokenizer = Some("bpe".into());
        let e = f.check("cringe", false, true).unwrap_err().to_string();
        assert!(e.contains("--dict-tokenizer bpe") && e.contains("bytelevelbpe"), "{e}");
        // a given tokenizer file is used as it is: the flag only gets a note
        f.check("cringe", true, true).unwrap();
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
