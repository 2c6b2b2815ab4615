//! Flag groups more than one subcommand takes, declared once and flattened into each
//! (`#[command(flatten)]`), and the value parsers they share: where and in what precision a
//! command computes ([`ComputeArgs`]: train, train-classifier, eval, chat), decoding
//! ([`DecodeArgs`]: eval, chat), and ParlAI's spellings of flags and booleans.

pub mod compute;
pub mod decoding;
pub mod model_shape;
pub mod parlai;
pub mod precision;
pub mod run_logging;

pub use compute::ComputeArgs;
pub use decoding::{DecodeArgs, InferenceKind};
pub use model_shape::ModelShapeArgs;
pub use precision::PrecisionArgs;
pub use run_logging::RunLoggingArgs;

/// `--chat-template` values: how a causal LM sees examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplateChoice {
    /// The model's chat template when it has one (context → user turns, response →
    /// assistant turn), else plain continuation.
    Auto,
    /// Plain continuation (a base LM): the context's text, a newline, the response.
    None,
}

impl TemplateChoice {
    /// The form examples take for a model that has (`has_template`) a chat template or not.
    pub fn form(self, has_template: bool) -> cringe_core::data::PromptForm {
        use cringe_core::data::PromptForm;
        match (self, has_template) {
            (TemplateChoice::Auto, true) => PromptForm::Chat,
            _ => PromptForm::Continuation,
        }
    }
}

/// Parses ParlAI-style booleans: true/false, True/False, 1/0, yes/no.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected true or false, got {s:?}")),
    }
}

/// Fails unless `secs` (the value of `flag`) is a finite, non-negative number of seconds.
pub fn ensure_seconds(flag: &str, secs: f64) -> anyhow::Result<()> {
    anyhow::ensure!(
        secs >= 0.0 && secs.is_finite(),
        "{flag} must be a non-negative number of seconds, got {secs}"
    );
    Ok(())
}
