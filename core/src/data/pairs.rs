//! Reader and writer for preference pairs: JSONL lines `{"context", "chosen", "rejected"}`
//! (the format of the pairwise CRINGE loss; `cringe make-pairs` writes it).
//!
//! Each pair becomes one [`Example`] whose `response` is the chosen reply (label `pos`) and whose
//! `rejected` holds the other; batches give the rejected reply its own row, labelled negative,
//! so the binary losses (CRINGE, unlikelihood) see the same pair as a positive and a negative.

use super::causal_text::PromptForm;
use super::example::{Example, Label};
use super::jsonl::string_field;
use super::lines::{checked_lines, json_line, line_error};
use crate::error::{CoreError, Result};
use serde_json::json;
use std::path::Path;

/// Reads a pairs file.
pub fn read_pairs_jsonl(path: &Path) -> Result<Vec<Example>> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_pairs_jsonl(&bytes, path)
}

/// Parses pairs from JSONL bytes; `path` names the file in errors and is the default source.
pub fn parse_pairs_jsonl(bytes: &[u8], path: &Path) -> Result<Vec<Example>> {
    let source = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut out = Vec::new();
    for (line, text) in
        checked_lines(bytes, path, "one {\"context\", \"chosen\", \"rejected\"} object per line")?
    {
        let err = |message: String| line_error(path, line, message);
        let value = json_line(path, line, text, "a JSON object")?;
        let obj = value.as_object().ok_or_else(|| {
            err("expected a JSON object with fields context, chosen, rejected".into())
        })?;
        let field = |name: &str| string_field(obj, name).map_err(&err);
        let (context, chosen, rejected) = (field("context")?, field("chosen")?, field("rejected")?);
        let form = PromptForm::from_field(obj.get("prompt_form"))
            .map_err(|m| err(format!("`prompt_form` {m}")))?;
        if chosen == rejected {
            return Err(err(
                "`chosen` and `rejected` are the same text; a pair needs two different responses"
                    .into(),
            ));
        }
        out.push(Example {
            context,
            response: chosen,
            label: Label::Pos,
            source: source.clone(),
            rejected: Some(rejected),
            turns: None,
            form,
        });
    }
    Ok(out)
}

/// One pairs-file line (without the newline); `form` records how a causal LM was given the
/// context when the replies were generated (`prompt_form`, as in world logs).
pub fn pair_line(context: &str, chosen: &str, rejected: &str, form: Option<PromptForm>) -> String {
    let mut line = json!({ "context": context, "chosen": chosen, "rejected": rejected });
    if let Some(f) = form {
        line["prompt_form"] = json!(f.name());
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_pair_line_writes() {
        let text = format!(
            "{}\n{}\n",
            pair_line("hi\nthere", "hello!", "go away", None),
            pair_line("", "a", "b", Some(PromptForm::Continuation))
        );
        let ex = parse_pairs_jsonl(text.as_bytes(), Path::new("d/p.jsonl")).unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(
            (ex[0].context.as_str(), ex[0].response.as_str(), ex[0].label),
            ("hi\nthere", "hello!", Label::Pos)
        );
        assert_eq!(ex[0].rejected.as_deref(), Some("go away"));
        assert_eq!(ex[1].source, "p.jsonl");
        assert_eq!((ex[0].form, ex[1].form), (None, Some(PromptForm::Continuation)));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases: &[(&str, &str)] = &[
            ("{\"context\":\"a\",\"chosen\":\"b\"}", "p.jsonl:1: missing field `rejected`"),
            (
                "{\"context\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n{\"context\":\"a\",\"chosen\":2,\"rejected\":\"c\"}",
                "p.jsonl:2: field `chosen` must be a string, got a number",
            ),
            (
                "{\"context\":\"a\",\"chosen\":\"b\",\"rejected\":\"b\"}",
                "p.jsonl:1: `chosen` and `rejected` are the same",
            ),
            ("[]", "p.jsonl:1: expected a JSON object"),
        ];
        for (input, want) in cases {
            let e = parse_pairs_jsonl(input.as_bytes(), Path::new("d/p.jsonl"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }
}
