//! The flags of the seed's DIRECTOR classifier command (`parlai train --model
//! transformer/classifier …`) that have no `cringe train` counterpart: the classifier's network
//! (`--reduction-type`, `--output-scaling`, `--n-segments`, `--learn-embeddings`), its text
//! (`--dict-file`, `--dict-lower`, `--history-size`), its classes, and the run's logging,
//! time limit and checkpoints. Each means what it means in ParlAI; the few that describe
//! something a classifier here does not have (a ranker's second encoder, a dictionary's end
//! token, label truncation) are accepted with a one-line note.

use super::args::TrainClassifierArgs;
use crate::args::parse_bool;
use crate::commands::train::parlai_flags::{dict_tokenizer_note, resolve_dict_file};
use clap::{ArgAction, Args, ValueEnum};
use cringe_core::model::classifier::Reduction;
use std::path::PathBuf;

/// `--reduction-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReductionArg {
    /// Mean of the non-pad states.
    Mean,
    /// The first token's state.
    First,
    /// Elementwise max over the non-pad states.
    Max,
}

impl From<ReductionArg> for Reduction {
    fn from(r: ReductionArg) -> Self {
        match r {
            ReductionArg::Mean => Reduction::Mean,
            ReductionArg::First => Reduction::First,
            ReductionArg::Max => Reduction::Max,
        }
    }
}

/// ParlAI's classifier flags.
#[derive(Debug, Clone, Args)]
pub struct ParlaiClassifierFlags {
    /// The ParlAI agent: `transformer/classifier`, what train-classifier trains.
    #[arg(long = "model", short = 'm', value_parser = ["transformer/classifier"], value_name = "AGENT", help_heading = "ParlAI's flags")]
    pub model: Option<String>,

    /// Take --init-model's token embeddings and encoder under a fresh head (what ParlAI does
    /// with a pretrained ranker's context encoder). A BB1 model and a causal LM are always
    /// loaded so; the flag needs an --init-model.
    #[arg(long = "load-from-pretrained-ranker", action = ArgAction::Set, value_parser = parse_bool, value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub load_from_pretrained_ranker: Option<bool>,

    /// The tokenizer: a tokenizer.json, or ParlAI's `<model>.dict` beside a model directory
    /// (that model's tokenizer; with --init-model it must be that model's own).
    #[arg(
        long = "dict-file",
        value_name = "FILE",
        conflicts_with = "tokenizer",
        help_heading = "ParlAI's flags"
    )]
    pub dict_file: Option<PathBuf>,

    /// The kind of tokenizer to train when none is given (`bytelevelbpe`/`gpt2`); with a
    /// tokenizer from --dict-file, --tokenizer or --init-model the file's own kind is used.
    #[arg(long = "dict-tokenizer", value_name = "NAME", help_heading = "ParlAI's flags")]
    pub dict_tokenizer: Option<String>,

    /// Lowercase every text before tokenizing; saved with the classifier, which lowercases
    /// what it judges too.
    #[arg(long = "dict-lower", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub dict_lower: bool,

    /// ParlAI's dictionary end token (the DIRECTOR command's `__start__` matches its pretrained
    /// ranker's dictionary): the tokenizer here has its own, so the flag is noted.
    #[arg(long = "dict-endtoken", value_name = "TOKEN", help_heading = "ParlAI's flags")]
    pub dict_endtoken: Option<String>,

    /// Keep only the last N lines (utterances) of a context the classifier reads (≤ 0: all).
    #[arg(long = "history-size", allow_negative_numbers = true, default_value_t = -1, value_name = "N", help_heading = "ParlAI's flags")]
    pub history_size: i64,

    /// Truncation of labels: a classifier's labels are class names, so the flag is noted.
    #[arg(long = "label-truncate", value_name = "N", help_heading = "ParlAI's flags")]
    pub label_truncate: Option<usize>,

    /// How the encoder's states are pooled into one vector.
    #[arg(long = "reduction-type", value_enum, default_value_t = ReductionArg::Mean, help_heading = "ParlAI's flags")]
    pub reduction_type: ReductionArg,

    /// Multiply the pooled vector by this before the head.
    #[arg(
        long = "output-scaling",
        default_value_t = 1.0,
        value_name = "X",
        help_heading = "ParlAI's flags"
    )]
    pub output_scaling: f64,

    /// Segment embeddings (0: none); the classifier reads one segment, so segment 0's vector
    /// is added to every token.
    #[arg(
        long = "n-segments",
        default_value_t = 0,
        value_name = "N",
        help_heading = "ParlAI's flags"
    )]
    pub n_segments: usize,

    /// Train the token embeddings (false: keep them as initialised or loaded).
    #[arg(long = "learn-embeddings", action = ArgAction::Set, value_parser = parse_bool, default_value = "true", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub learn_embeddings: bool,

    /// A ranker's context/candidate encoder sharing: a classifier has one encoder (noted).
    #[arg(long = "share-encoders", action = ArgAction::Set, value_parser = parse_bool, value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub share_encoders: Option<bool>,

    /// Sharing of input and output embeddings: a classifier's head is not a vocabulary
    /// projection (noted).
    #[arg(long = "share-word-embeddings", action = ArgAction::Set, value_parser = parse_bool, value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub share_word_embeddings: Option<bool>,

    /// The class names in output order: `pos` (safe) and `neg` (unsafe), either order.
    #[arg(long, num_args = 2, default_values = ["pos", "neg"], value_name = "CLASS", help_heading = "ParlAI's flags")]
    pub classes: Vec<String>,

    /// Write the resumable checkpoint after every validation (and at the end).
    #[arg(long = "save-after-valid", action = ArgAction::Set, value_parser = parse_bool, default_value = "false", value_name = "BOOL", help_heading = "ParlAI's flags")]
    pub save_after_valid: bool,

    /// Logging, the time limit and TensorBoard.
    #[command(flatten)]
    pub logging: crate::args::RunLoggingArgs,
}

impl ParlaiClassifierFlags {
    /// Checks the values against the rest of `args` and prints the notes of flags that change
    /// nothing here.
    pub fn check(&self, args: &TrainClassifierArgs) -> anyhow::Result<()> {
        self.logging.check()?;
        let mut sorted = self.classes.clone();
        sorted.sort();
        anyhow::ensure!(
            sorted == ["neg", "pos"],
            "--classes {}: the safety tasks label examples pos and neg; give those two, in the order the head should output them",
            self.classes.join(" ")
        );
        anyhow::ensure!(
            self.output_scaling > 0.0 && self.output_scaling.is_finite(),
            "--output-scaling must be a positive number, got {}",
            self.output_scaling
        );
        anyhow::ensure!(
            self.load_from_pretrained_ranker != Some(true) || args.init_model.is_some(),
            "--load-from-pretrained-ranker true needs an --init-model to take the encoder from"
        );
        let given_tokenizer =
            self.dict_file.is_some() || args.tokenizer.is_some() || args.init_model.is_some();
        dict_tokenizer_note(self.dict_tokenizer.as_deref(), given_tokenizer)?;
        if !args.quiet {
            self.notes(given_tokenizer).iter().for_each(|n| eprintln!("note: {n}"));
        }
        Ok(())
    }

    /// One line for each given flag that changes nothing here.
    fn notes(&self, given_tokenizer: bool) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(m) = &self.model {
            notes.push(format!(
                "--model {m}: the safety classifier, which is what train-classifier trains"
            ));
        }
        if let Ok(Some(note)) = dict_tokenizer_note(self.dict_tokenizer.as_deref(), given_tokenizer)
        {
            notes.push(note);
        }
        if let Some(t) = &self.dict_endtoken {
            notes.push(format!("--dict-endtoken {t}: the tokenizer's own end token is used"));
        }
        if let Some(n) = self.label_truncate {
            notes.push(format!(
                "--label-truncate {n}: a classifier's labels are class names, not text to truncate"
            ));
        }
        if let Some(v) = self.share_encoders {
            notes.push(format!(
                "--share-encoders {v}: a ranker's setting; the classifier has one encoder"
            ));
        }
        if let Some(v) = self.share_word_embeddings {
            notes.push(format!("--share-word-embeddings {v}: the classifier's head is not a vocabulary projection, so there is nothing to share"));
        }
        notes
    }

    /// Refuses the flags that shape the encoder classifier when the classifier is a head on the
    /// causal LM `source` (which reads its last token's state with its own cased tokenizer).
    pub fn check_causal(&self, source: &str) -> anyhow::Result<()> {
        let given: Vec<&str> = [
            (self.dict_file.is_some(), "--dict-file"),
            (self.dict_lower, "--dict-lower true"),
            (self.reduction_type != ReductionArg::Mean, "--reduction-type"),
            (self.output_scaling != 1.0, "--output-scaling"),
            (self.n_segments > 0, "--n-segments"),
            (!self.learn_embeddings, "--learn-embeddings false"),
        ]
        .into_iter()
        .filter_map(|(on, flag)| on.then_some(flag))
        .collect();
        anyhow::ensure!(
            given.is_empty(),
            "{} describe the encoder classifier; {source} is a causal LM whose head reads its last token with the LM's own tokenizer; drop {}",
            given.join(", "),
            if given.len() == 1 { "it" } else { "them" }
        );
        Ok(())
    }

    /// The tokenizer.json `--dict-file` names (ParlAI's `<dir>.dict` → `<dir>/tokenizer.json`).
    pub fn dict_tokenizer_file(&self) -> Option<PathBuf> {
        self.dict_file.as_deref().map(resolve_dict_file)
    }

    /// `text` as the classifier reads it: the last `--history-size` lines of a context.
    pub fn history<'a>(&self, text: &'a str) -> &'a str {
        let Ok(keep) = usize::try_from(self.history_size) else { return text };
        if keep == 0 {
            return text;
        }
        match text.rmatch_indices('\n').nth(keep - 1) {
            Some((i, _)) => &text[i + 1..],
            None => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ParlaiClassifierFlags,
        #[arg(long)]
        tokenizer: Option<PathBuf>,
    }

    fn flags(args: &[&str]) -> ParlaiClassifierFlags {
        Cli::parse_from(std::iter::once("x").chain(args.iter().copied())).flags
    }

    #[test]
    fn history_size_keeps_the_last_lines_of_a_context() {
        let f = flags(&["--history-size", "2"]);
        assert_eq!(f.history("a\nb\nc"), "b\nc");
        assert_eq!(f.history("only"), "only");
        assert_eq!(flags(&[]).history("a\nb\nc"), "a\nb\nc");
        assert_eq!(flags(&["--history-size", "1"]).history("a\nb\nc"), "c");
    }

    #[test]
    fn the_director_commands_notes_name_each_flag_that_changes_nothing() {
        let f = flags(&[
            "--model",
            "transformer/classifier",
            "--dict-tokenizer",
            "bpe",
            "--dict-endtoken",
            "__start__",
            "--label-truncate",
            "72",
            "--share-encoders",
            "False",
            "--share-word-embeddings",
            "False",
        ]);
        let notes = f.notes(true).join("\n");
        for flag in [
            "--model transformer/classifier",
            "--dict-tokenizer bpe",
            "--dict-endtoken __start__",
            "--label-truncate 72",
            "--share-encoders false",
            "--share-word-embeddings false",
        ] {
            assert!(notes.contains(flag), "no note for {flag}:\n{notes}");
        }
        assert!(flags(&[]).notes(false).is_empty());
        assert_eq!(flags(&["--classes", "neg", "pos"]).classes, ["neg", "pos"]);
    }
}
