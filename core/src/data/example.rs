//! One training example: a context, a response, and whether the response is good.

use serde::{Deserialize, Serialize};

/// Whether a response is one to imitate, one to avoid, or ordinary unlabeled data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// A good response: trained with cross-entropy.
    Pos,
    /// A response not to produce: trained with the CRINGE contrastive term.
    Neg,
    /// Unlabeled data (e.g. pretraining text): always cross-entropy.
    None,
}

/// Example label values as they appear in the per-token label tensor the batcher builds and
/// the losses read.
pub mod label_id {
    /// Unlabeled example (ordinary LM data).
    pub const NONE: i64 = -1;
    /// Negative example: what not to say.
    pub const NEG: i64 = 0;
    /// Positive example.
    pub const POS: i64 = 1;
}

impl Label {
    /// The per-token label id ([`label_id`]: `-1` none, `0` neg, `1` pos).
    pub fn id(self) -> i64 {
        match self {
            Label::None => label_id::NONE,
            Label::Neg => label_id::NEG,
            Label::Pos => label_id::POS,
        }
    }

    /// Parses `pos`, `neg` or `none` (the JSONL spelling).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pos" => Some(Label::Pos),
            "neg" => Some(Label::Neg),
            "none" => Some(Label::None),
            _ => None,
        }
    }
}

/// ParlAI's safety class labels, which safety-classification data carries as its response.
pub const SAFETY_CLASS_LABELS: [&str; 2] = ["__ok__", "__notok__"];

/// A (context, response, label) triple, plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The dialogue history, turns joined by `\n`.
    pub context: String,
    /// The response to learn from.
    pub response: String,
    /// Whether the response is good, bad or unlabeled.
    pub label: Label,
    /// The task or file it came from.
    #[serde(default)]
    pub source: String,
    /// For a preference pair (`{context, chosen, rejected}`): the rejected response; `response`
    /// is then the chosen one and `label` is [`Label::Pos`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// The context as role-tagged chat turns, where the data has them (TRL's conversational
    /// formats, a system message included); `context` is then their texts joined by `\n`. A
    /// chat model's prompt is rendered from these; without them, from `context`'s lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<Vec<crate::chat::Message>>,
    /// How a causal LM reads this example when it must be a particular one: a generation
    /// recorded in a world log is trained in the form it was generated in (a continuation of
    /// raw text, or a chat reply), whatever `--chat-template` says for the other examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<super::causal_text::PromptForm>,
}

impl Example {
    /// The response, unless it is empty or only a safety class label (`__ok__`/`__notok__`).
    pub fn real_response(&self) -> Option<&str> {
        let r = self.response.trim();
        (!r.is_empty() && !SAFETY_CLASS_LABELS.contains(&r)).then_some(self.response.as_str())
    }
}
