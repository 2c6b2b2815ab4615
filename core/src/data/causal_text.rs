//! Examples as token sequences for a causal LM: what the model reads (the prompt) and what it
//! is trained to write (the target), the counterpart of [`Batcher`](super::Batcher)'s
//! encoding for the BB1 generator.
//!
//! Two forms. A chat model sees each example as a conversation: the context's turns (the
//! example's role-tagged turns where the data has them, else its lines, the last one the
//! user's, alternating back to the first) rendered with the model's
//! own chat template and its generation prompt, and the response as the assistant's turn —
//! the tokens the template writes for that turn up to and including its end token, which is
//! what the model itself generates. A base LM (`--chat-template none`, or a model without a
//! template) sees plain continuation: the context's text and a newline, then the response
//! and the first end token. The loss is on the target tokens only.
//!
//! Truncation follows ParlAI: the prompt keeps its last `text_truncate` tokens, the target its
//! first `label_truncate`; together they are capped at the model's positions, the prompt
//! giving way first.

use super::batcher::{EncodedExample, TruncationConfig};
use super::example::Example;
use crate::chat::{ChatTemplate, Message};
use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

/// How examples become prompts: through the chat template, or as plain text continuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptForm {
    /// The model's chat template (context → user turns, response → assistant turn).
    Chat,
    /// Plain continuation: the context's text, a newline, the response.
    Continuation,
}

impl PromptForm {
    /// The name on the command line (`--chat-template auto|none` picks between them).
    pub fn name(self) -> &'static str {
        match self {
            PromptForm::Chat => "chat",
            PromptForm::Continuation => "continuation",
        }
    }

    /// Parses [`PromptForm::name`]'s spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "chat" => Some(PromptForm::Chat),
            "continuation" => Some(PromptForm::Continuation),
            _ => None,
        }
    }

    /// The form a JSON line's optional `prompt_form` field records (absent or null: none);
    /// `Err` says what is wrong with it, for the caller to place.
    pub fn from_field(
        value: Option<&serde_json::Value>,
    ) -> std::result::Result<Option<Self>, String> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(f)) if Self::parse(f).is_some() => Ok(Self::parse(f)),
            Some(other) => Err(format!("must be \"chat\" or \"continuation\", got {other}")),
        }
    }
}

/// A causal LM's tokenizer, chat template and end tokens, and how examples are encoded.
#[derive(Debug, Clone)]
pub struct CausalText {
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// The chat template, if the model has one.
    pub template: Option<ChatTemplate>,
    /// The tokens that end a reply (the first is appended to continuation targets).
    pub eos_ids: Vec<u32>,
    /// The token a continuation prompt with no context starts with (BOS, else the first eos).
    pub start_id: u32,
    form: PromptForm,
    trunc: TruncationConfig,
    max_positions: usize,
}

impl CausalText {
    /// The text side of a model with `max_positions` positions, in chat form when it has a
    /// template; no truncation beyond the model's positions.
    pub fn new(
        tokenizer: Tokenizer,
        template: Option<ChatTemplate>,
        eos_ids: Vec<u32>,
        bos_id: Option<u32>,
        max_positions: usize,
    ) -> Result<Self> {
        let first_eos = *eos_ids.first().ok_or_else(|| {
            CoreError::Config(
                "the model names no end token (eos_token_id); a reply would never end".into(),
            )
        })?;
        let form = if template.is_some() { PromptForm::Chat } else { PromptForm::Continuation };
        let trunc =
            TruncationConfig { text_truncate: max_positions, label_truncate: max_positions };
        Ok(Self {
            tokenizer,
            template,
            eos_ids,
            start_id: bos_id.unwrap_or(first_eos),
            form,
            trunc,
            max_positions: max_positions.max(2),
        })
    }

    /// The same text side with truncation `trunc` (each length at least 1).
    pub fn with_truncation(mut self, trunc: TruncationConfig) -> Self {
        self.trunc = TruncationConfig {
            text_truncate: trunc.text_truncate.max(1),
            label_truncate: trunc.label_truncate.max(1),
        };
        self
    }

    /// The same text side in `form`; chat form needs a chat template.
    pub fn with_form(mut self, form: PromptForm) -> Result<Self> {
        if form == PromptForm::Chat && self.template.is_none() {
            return Err(CoreError::Config(
                "the model has no chat template; use --chat-template none for plain continuation"
                    .into(),
            ));
        }
        self.form = form;
        Ok(self)
    }

    /// The form examples are encoded in.
    pub fn form(&self) -> PromptForm {
        self.form
    }

    /// Token ids of `text` (special tokens written in the text are matched whole; no BOS is
    /// added, as `apply_chat_template` adds none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc =
            self.tokenizer.encode(text, false).map_err(|e| CoreError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| CoreError::Tokenizer(e.to_string()))
    }

    /// The prompt for the model's next turn in `messages`: the chat template with the
    /// generation prompt, or, for a model without one, the turns' text one per line.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<Vec<u32>> {
        self.encode(&self.prompt_text(messages, self.form)?)
    }

    /// The form `ex` is read in: its own where it names one (a generation recorded in a world
    /// log), else this text side's.
    pub fn form_of(&self, ex: &Example) -> Result<PromptForm> {
        match ex.form {
            Some(PromptForm::Chat) if self.template.is_none() => Err(CoreError::Config(format!(
                "an example from {:?} was generated in chat form, but the model has no chat template",
                ex.source
            ))),
            Some(form) => Ok(form),
            None => Ok(self.form),
        }
    }

    fn prompt_text(&self, messages: &[Message], form: PromptForm) -> Result<String> {
        match (&self.template, form) {
            (Some(t), PromptForm::Chat) => t.render(messages, true),
            _ => Ok(messages.iter().map(|m| format!("{}\n", m.content)).collect()),
        }
    }

    /// The prompt the model replies to for `ex` in generation: its conversation truncated from
    /// the left to `text_truncate` tokens and to one position short of the model's, so the
    /// reply has room; unlike [`CausalText::encode_example`]'s prompt it does not depend on the
    /// gold response's length.
    pub fn generation_prompt(&self, ex: &Example) -> Result<Vec<u32>> {
        let mut ids = self.encode_prompt(&example_turns(ex), self.form_of(ex)?)?;
        keep_last(&mut ids, self.max_positions - 1);
        Ok(ids)
    }

    /// The prompt ids for a conversation, truncated from the left.
    fn encode_prompt(&self, turns: &[Message], form: PromptForm) -> Result<Vec<u32>> {
        let mut ids = self.encode(&self.prompt_text(turns, form)?)?;
        if ids.is_empty() {
            ids.push(self.start_id);
        }
        keep_last(&mut ids, self.trunc.text_truncate);
        Ok(ids)
    }

    /// Tokenises one example: its prompt and target (and a pair's rejected target).
    pub fn encode_example(&self, ex: &Example) -> Result<EncodedExample> {
        let (turns, form) = (example_turns(ex), self.form_of(ex)?);
        let mut context = self.encode_prompt(&turns, form)?;
        let mut target = self.encode_target(&turns, &ex.response, form)?;
        let mut rejected =
            ex.rejected.as_deref().map(|r| self.encode_target(&turns, r, form)).transpose()?;
        let longest = rejected.as_ref().map_or(target.len(), |r| r.len().max(target.len()));
        // the input is prompt + target minus its last token, within the model's positions
        let room = self.max_positions + 1;
        target.truncate(room - 1);
        if let Some(r) = &mut rejected {
            r.truncate(room - 1);
        }
        keep_last(&mut context, room.saturating_sub(longest.min(room - 1)).max(1));
        Ok(EncodedExample { context, target, label: ex.label, rejected })
    }

    /// The target of `response` after `turns`: the assistant turn's tokens up to its end
    /// token (chat), or the response and the first end token (continuation); right-truncated.
    fn encode_target(
        &self,
        turns: &[Message],
        response: &str,
        form: PromptForm,
    ) -> Result<Vec<u32>> {
        let mut ids = match (&self.template, form) {
            (Some(t), PromptForm::Chat) => self.assistant_turn(t, turns, response)?,
            _ => {
                let mut ids = self.encode(response)?;
                ids.push(self.eos_ids[0]);
                ids
            }
        };
        ids.truncate(self.trunc.label_truncate);
        Ok(ids)
    }

    /// What `template` writes for the assistant's `response` after `turns` beyond the
    /// generation prompt, cut after its first end token. A template whose full conversation
    /// does not start with its generation prompt gets the response and the first end token.
    fn assistant_turn(
        &self,
        template: &ChatTemplate,
        turns: &[Message],
        response: &str,
    ) -> Result<Vec<u32>> {
        let prompt = template.render(turns, true)?;
        let mut all = turns.to_vec();
        all.push(Message::new("assistant", response));
        let full = template.render(&all, false)?;
        let mut ids = match full.strip_prefix(prompt.as_str()) {
            Some(turn) => self.encode(turn)?,
            None => self.encode(response)?,
        };
        match ids.iter().position(|id| self.eos_ids.contains(id)) {
            Some(end) => ids.truncate(end + 1),
            None => ids.push(self.eos_ids[0]),
        }
        Ok(ids)
    }
}

/// The conversation of an example's context: its role-tagged turns where the data has them,
/// else [`context_turns`].
fn example_turns(ex: &Example) -> Vec<Message> {
    ex.turns.clone().unwrap_or_else(|| context_turns(&ex.context))
}

/// The conversation of a context: its lines as turns, the last one the user's and the roles
/// alternating back from it (ParlAI's history convention); an empty context is one empty
/// user turn.
pub fn context_turns(context: &str) -> Vec<Message> {
    let lines: Vec<&str> = context.split('\n').collect();
    let n = lines.len();
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            Message::new(if (n - 1 - i).is_multiple_of(2) { "user" } else { "assistant" }, line)
        })
        .collect()
}

/// Keeps the last `n` of `ids`.
fn keep_last(ids: &mut Vec<u32>, n: usize) {
    if ids.len() > n {
        ids.drain(..ids.len() - n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Label;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /// A word-level tokenizer: `<|im_start|>` 0, `<|im_end|>` 1, then the words.
    fn text(max_positions: usize) -> CausalText {
        let words = ["[UNK]", "user", "assistant", "hello", "there", "hi", "friend", "system"];
        let mut vocab = serde_json::json!({"<|im_start|>": 0, "<|im_end|>": 1});
        for (i, w) in words.iter().enumerate() {
            vocab[*w] = serde_json::json!(i + 2);
        }
        let special = |id: u32, content: &str| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        };
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [special(0, "<|im_start|>"), special(1, "<|im_end|>")],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
        });
        let tokenizer =
            crate::tokenizer::parse_tokenizer_json(json.to_string().as_bytes()).unwrap();
        let template = ChatTemplate::new(CHATML, None, Some("<|im_end|>".into())).unwrap();
        CausalText::new(tokenizer, Some(template), vec![1], None, max_positions).unwrap()
    }

    fn example(context: &str, response: &str) -> Example {
        Example {
            context: context.into(),
            response: response.into(),
            label: Label::Pos,
            source: String::new(),
            rejected: Some("hello".into()),
            turns: None,
            form: None,
        }
    }

    #[test]
    fn a_chat_example_is_the_generation_prompt_then_the_assistant_turn_to_its_end_token() {
        let t = text(64);
        assert_eq!(t.form(), PromptForm::Chat);
        let e = t.encode_example(&example("hello there", "hi friend")).unwrap();
        // <|im_start|> user hello there <|im_end|> <|im_start|> assistant
        assert_eq!(e.context, vec![0, 3, 5, 6, 1, 0, 4]);
        assert_eq!(e.target, vec![7, 8, 1], "hi friend <|im_end|>, the newline after it dropped");
        assert_eq!(e.rejected, Some(vec![5, 1]));
        assert_eq!(e.context, t.chat_prompt(&context_turns("hello there")).unwrap());
    }

    #[test]
    fn continuation_is_the_context_then_the_response_and_the_end_token() {
        let t = text(64).with_form(PromptForm::Continuation).unwrap();
        let e = t.encode_example(&example("hello there", "hi friend")).unwrap();
        assert_eq!((e.context, e.target), (vec![5, 6], vec![7, 8, 1]));
        let empty = t.encode_example(&example("", "hi")).unwrap();
        assert_eq!(empty.context, vec![1], "an empty prompt starts from the start token");
    }

    #[test]
    fn an_example_s_own_form_overrides_the_text_side_s() {
        let chat = text(64);
        let cont = text(64).with_form(PromptForm::Continuation).unwrap();
        let as_cont =
            Example { form: Some(PromptForm::Continuation), ..example("hello there", "hi") };
        let as_chat = Example { form: Some(PromptForm::Chat), ..example("hello there", "hi") };
        assert_eq!(chat.encode_example(&as_cont).unwrap().context, vec![5, 6]);
        assert_eq!(chat.generation_prompt(&as_cont).unwrap(), vec![5, 6]);
        assert_eq!(cont.encode_example(&as_chat).unwrap().context, vec![0, 3, 5, 6, 1, 0, 4]);
        let mut bare = cont;
        bare.template = None;
        let e = bare.encode_example(&as_chat).unwrap_err().to_string();
        assert!(e.contains("chat form") && e.contains("no chat template"), "{e}");
    }

    #[test]
    fn chat_form_needs_a_template() {
        let mut t = text(64);
        t.template = None;
        let e = t.with_form(PromptForm::Chat).unwrap_err().to_string();
        assert!(e.contains("--chat-template none"), "{e}");
    }

    #[test]
    fn prompts_keep_their_end_targets_their_start_and_both_fit_the_positions() {
        let trunc = TruncationConfig { text_truncate: 3, label_truncate: 2 };
        let t = text(64).with_truncation(trunc);
        let e = t.encode_example(&example("hello there", "hi friend")).unwrap();
        assert_eq!((e.context, e.target), (vec![1, 0, 4], vec![7, 8]));
        // 4 positions: the input (prompt + target − 1) must fit, the prompt giving way
        let e = text(4).encode_example(&example("hello there", "hi friend")).unwrap();
        assert_eq!((e.context, e.target), (vec![0, 4], vec![7, 8, 1]));
    }

    #[test]
    fn a_generation_prompt_leaves_the_reply_a_position_whatever_the_gold_response() {
        let t = text(64);
        let ex = example("hello there", "hi friend");
        assert_eq!(t.generation_prompt(&ex).unwrap(), t.encode_example(&ex).unwrap().context);
        // 4 positions: the training prompt gives way to the 3-token target, the generation
        // prompt keeps 3 tokens whatever the response is
        let short = text(4);
        assert_eq!(short.encode_example(&ex).unwrap().context, vec![0, 4]);
        assert_eq!(short.generation_prompt(&ex).unwrap(), vec![1, 0, 4]);
        let long = example("hello there", "hi friend hi friend hi friend");
        assert_eq!(short.generation_prompt(&long).unwrap(), vec![1, 0, 4]);
    }

    #[test]
    fn a_context_s_last_line_is_the_user_s_turn() {
        let roles: Vec<String> = context_turns("a\nb\nc")
            .into_iter()
            .map(|m| format!("{}:{}", m.role, m.content))
            .collect();
        assert_eq!(roles, ["user:a", "assistant:b", "user:c"]);
        assert_eq!(context_turns("")[0], Message::new("user", ""));
    }
}
