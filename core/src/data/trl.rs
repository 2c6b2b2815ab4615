//! Reader for TRL's dataset formats (Hugging Face TRL, the library most people fine-tune chat
//! models with), one JSON object per line, each field a string ("standard") or a list of
//! `{"role", "content"}` messages ("conversational"):
//!
//! - language modelling `{"messages": [...]}`: the last assistant
//!   message is the response, the messages before it the prompt; label `pos`;
//! - prompt–completion `{"prompt", "completion"}`: label `pos`;
//! - unpaired preference `{"prompt", "completion", "label": true|false}` (KTO's format): the
//!   completion is `pos` or `neg` — what the CRINGE loss reads;
//! - preference `{"prompt", "chosen", "rejected"}`: a pair (the chosen response `pos`, the
//!   rejected one its own `neg` row), as our `{"context", "chosen", "rejected"}` files are;
//!   without `prompt` ("implicit prompt") the conversations' shared beginning is the prompt.
//!
//! A conversational prompt keeps its roles ([`Example::turns`]: a system message reaches the
//! chat template as one); its texts joined by `\n` are the example's context. Every problem
//! is reported as `file:line: what was wrong (what was expected)`.

use super::example::{Example, Label};
use super::jsonl::type_name;
use super::lines::{checked_lines, json_line, line_error};
use crate::chat::Message;
use crate::error::{CoreError, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// The fields whose presence on a JSONL file's first line marks it as TRL data.
pub const TRL_FIELDS: [&str; 2] = ["messages", "prompt"];

/// Whether a JSONL file's first object is in one of TRL's formats (a `chosen` without our
/// `context` field counts too: TRL's implicit-prompt preference data).
pub fn is_trl_line(first: &Value) -> bool {
    TRL_FIELDS.iter().any(|f| first.get(f).is_some())
        || (first.get("chosen").is_some() && first.get("context").is_none())
}

/// Reads a TRL-format JSONL file.
pub fn read_trl_jsonl(path: &Path) -> Result<Vec<Example>> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_trl_jsonl(&bytes, path)
}

/// Parses TRL-format JSONL bytes; `path` names the file in errors and is the source.
pub fn parse_trl_jsonl(bytes: &[u8], path: &Path) -> Result<Vec<Example>> {
    let source = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let expected = "one TRL example per line: {\"messages\"}, {\"prompt\", \"completion\"[, \"label\"]} or {[\"prompt\",] \"chosen\", \"rejected\"}";
    let mut out = Vec::new();
    for (line, text) in checked_lines(bytes, path, expected)? {
        let value = json_line(path, line, text, "a JSON object")?;
        let obj = value
            .as_object()
            .ok_or_else(|| line_error(path, line, format!("expected {expected}")))?;
        let mut ex = example(obj).map_err(|m| line_error(path, line, m))?;
        ex.source = source.clone();
        out.push(ex);
    }
    Ok(out)
}

/// One field's value: plain text, or conversation turns.
enum Field {
    Text(String),
    Turns(Vec<Message>),
}

fn example(obj: &Map<String, Value>) -> std::result::Result<Example, String> {
    if let Some(messages) = obj.get("messages") {
        let turns = turns(messages, "messages")?;
        let split = turns.iter().rposition(|m| m.role == "assistant").ok_or(
            "field `messages` has no assistant message (the response to train on)".to_string(),
        )?;
        let (prompt, reply) = (turns[..split].to_vec(), turns[split].content.clone());
        return Ok(build(Field::Turns(prompt), reply, label(obj)?, None));
    }
    if obj.contains_key("chosen") || obj.contains_key("rejected") {
        return preference(obj);
    }
    let prompt = field(obj, "prompt")?;
    let completion = reply(field(obj, "completion")?, "completion")?;
    Ok(build(prompt, completion, label(obj)?, None))
}

/// `{"prompt", "chosen", "rejected"}`, or the implicit-prompt form without `prompt`.
fn preference(obj: &Map<String, Value>) -> std::result::Result<Example, String> {
    let (chosen, rejected) = (field(obj, "chosen")?, field(obj, "rejected")?);
    let (prompt, chosen, rejected) = match obj.get("prompt") {
        Some(_) => (field(obj, "prompt")?, reply(chosen, "chosen")?, reply(rejected, "rejected")?),
        None => implicit_prompt(chosen, rejected)?,
    };
    if chosen == rejected {
        return Err(
            "`chosen` and `rejected` are the same text; a pair needs two different responses"
                .into(),
        );
    }
    Ok(build(prompt, chosen, Label::Pos, Some(rejected)))
}

/// The shared beginning of two conversations (or texts) and what follows it in each: the
/// last assistant message of each conversation, or the rest of each text.
fn implicit_prompt(
    chosen: Field,
    rejected: Field,
) -> std::result::Result<(Field, String, String), String> {
    match (chosen, rejected) {
        (Field::Turns(c), Field::Turns(r)) => {
            let shared = c.iter().zip(&r).take_while(|(a, b)| a == b).count();
            let last = |t: &[Message], name: &str| match t.last() {
                Some(m) if m.role == "assistant" && t.len() > shared => Ok(m.content.clone()),
                _ => Err(format!(
                    "field `{name}` must end with an assistant message after the turns it shares with the other"
                )),
            };
            let (cr, rr) = (last(&c, "chosen")?, last(&r, "rejected")?);
            Ok((Field::Turns(c[..shared.min(c.len() - 1)].to_vec()), cr, rr))
        }
        (Field::Text(c), Field::Text(r)) => {
            let shared: usize = c
                .char_indices()
                .zip(r.chars())
                .take_while(|((_, a), b)| a == b)
                .map(|((_, a), _)| a.len_utf8())
                .sum();
            Ok((Field::Text(c[..shared].to_string()), c[shared..].into(), r[shared..].into()))
        }
        _ => {
            Err("fields `chosen` and `rejected` must both be strings or both be message lists"
                .into())
        }
    }
}

/// The example of a prompt and a reply.
fn build(prompt: Field, response: String, label: Label, rejected: Option<String>) -> Example {
    let (context, turns) = match prompt {
        Field::Text(t) => (t, None),
        Field::Turns(t) => {
            (t.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n"), Some(t))
        }
    };
    Example { context, response, label, source: String::new(), rejected, turns, form: None }
}

/// The optional `label` of unpaired preference data: `true` → pos, `false` → neg.
fn label(obj: &Map<String, Value>) -> std::result::Result<Label, String> {
    match obj.get("label") {
        None | Some(Value::Null) => Ok(Label::Pos),
        Some(Value::Bool(true)) => Ok(Label::Pos),
        Some(Value::Bool(false)) => Ok(Label::Neg),
        Some(other) => {
            Err(format!("field `label` must be true or false, got {}", type_name(other)))
        }
    }
}

/// A required string-or-messages field.
fn field(obj: &Map<String, Value>, name: &str) -> std::result::Result<Field, String> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(Field::Text(s.clone())),
        Some(v @ Value::Array(_)) => Ok(Field::Turns(turns(v, name)?)),
        Some(other) => Err(format!(
            "field `{name}` must be a string or a list of {{\"role\", \"content\"}} messages, got {}",
            type_name(other)
        )),
        None => Err(format!("missing field `{name}` (a string or a list of messages)")),
    }
}

/// A completion's text: the string, or its messages' contents (one assistant turn).
fn reply(f: Field, name: &str) -> std::result::Result<String, String> {
    match f {
        Field::Text(t) => Ok(t),
        Field::Turns(t) if !t.is_empty() => {
            Ok(t.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n"))
        }
        Field::Turns(_) => Err(format!("field `{name}` is an empty message list")),
    }
}

/// A list of `{"role", "content"}` messages.
fn turns(v: &Value, name: &str) -> std::result::Result<Vec<Message>, String> {
    let list = v.as_array().ok_or(format!(
        "field `{name}` must be a list of {{\"role\", \"content\"}} messages, got {}",
        type_name(v)
    ))?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let get = |key: &str| match m.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => {
                    Err(format!("`{name}[{i}].{key}` must be a string, got {}", type_name(other)))
                }
                None => Err(format!("`{name}[{i}]` has no `{key}` (a string)")),
            };
            Ok(Message::new(&get("role")?, get("content")?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Example>> {
        parse_trl_jsonl(s.as_bytes(), Path::new("d/trl.jsonl"))
    }

    #[test]
    fn conversational_language_modelling_keeps_the_roles_of_the_prompt() {
        let ex = parse(r#"{"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello!"}]}"#).unwrap();
        let e = &ex[0];
        assert_eq!(
            (e.context.as_str(), e.response.as_str(), e.label),
            ("Be kind.\nhi", "hello!", Label::Pos)
        );
        let turns = e.turns.as_ref().unwrap();
        assert_eq!(turns[0], Message::new("system", "Be kind."));
        assert_eq!(turns.len(), 2);
        assert_eq!(e.source, "trl.jsonl");
    }

    #[test]
    fn prompt_completion_with_a_label_is_unpaired_feedback() {
        let text = concat!(
            r#"{"prompt": "The sky is", "completion": " blue."}"#,
            "\n",
            r#"{"prompt": [{"role": "user", "content": "insult me"}], "completion": [{"role": "assistant", "content": "you idiot"}], "label": false}"#,
            "\n",
        );
        let ex = parse(text).unwrap();
        assert_eq!(
            (ex[0].context.as_str(), ex[0].response.as_str(), ex[0].label),
            ("The sky is", " blue.", Label::Pos)
        );
        assert!(ex[0].turns.is_none());
        assert_eq!((ex[1].response.as_str(), ex[1].label), ("you idiot", Label::Neg));
        assert_eq!(ex[1].turns.as_ref().unwrap()[0].role, "user");
    }

    #[test]
    fn preference_pairs_explicit_or_implicit_become_chosen_and_rejected() {
        let text = concat!(
            r#"{"prompt": "Q:", "chosen": " yes", "rejected": " no"}"#,
            "\n",
            r#"{"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go away"}]}"#,
            "\n",
            r#"{"chosen": "The sky is blue.", "rejected": "The sky is green."}"#,
            "\n",
        );
        let ex = parse(text).unwrap();
        assert_eq!((ex[0].response.as_str(), ex[0].rejected.as_deref()), (" yes", Some(" no")));
        assert_eq!(ex[1].turns.as_ref().unwrap(), &vec![Message::new("user", "hi")]);
        assert_eq!(
            (ex[1].response.as_str(), ex[1].rejected.as_deref()),
            ("hello", Some("go away"))
        );
        assert_eq!(ex[2].context, "The sky is ");
        assert_eq!((ex[2].response.as_str(), ex[2].rejected.as_deref()), ("blue.", Some("green.")));
        assert!(ex.iter().all(|e| e.label == Label::Pos));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
                ":1: field `messages` has no assistant message",
            ),
            (r#"{"messages": [{"role": "user"}]}"#, "`messages[0]` has no `content`"),
            (r#"{"prompt": "a"}"#, "missing field `completion`"),
            (r#"{"prompt": 3, "completion": "b"}"#, "field `prompt` must be a string or a list"),
            (
                r#"{"prompt": "a", "completion": "b", "label": "yes"}"#,
                "field `label` must be true or false, got a string",
            ),
            (r#"{"prompt": "a", "chosen": "b", "rejected": "b"}"#, "the same text"),
            (
                r#"{"chosen": "b", "rejected": [{"role": "user", "content": "x"}]}"#,
                "both be strings or both be message lists",
            ),
            ("{\"prompt\": \"a\", \"completion\": \"b\"}\n[1]", ":2: expected one TRL example"),
        ];
        for (input, want) in cases {
            let e = parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
            assert!(e.contains("trl.jsonl"), "{e}");
        }
    }
}
