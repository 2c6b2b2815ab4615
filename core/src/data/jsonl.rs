//! Reader for JSONL example files: one `{"context", "response", "label"}` object per line.
//!
//! Every problem is reported as `file:line: what was wrong (what was expected)`; no line is
//! ever skipped silently. Only empty lines at the very end of the file are ignored.

use super::example::{Example, Label};
use super::lines::{checked_lines, json_line, line_error};
use crate::error::{CoreError, Result};
use serde_json::Value;
use std::path::Path;

/// Reads a JSONL example file. `label` must be `"pos"`, `"neg"` or `"none"`; `source` is
/// optional (defaults to the file name).
pub fn read_examples_jsonl(path: &Path) -> Result<Vec<Example>> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_examples_jsonl(&bytes, path)
}

/// Parses JSONL bytes; `path` is only used in error messages and as the default source.
pub fn parse_examples_jsonl(bytes: &[u8], path: &Path) -> Result<Vec<Example>> {
    let default_source =
        path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut out = Vec::new();
    for (line, text) in checked_lines(bytes, path, "one JSON object per line")? {
        let err = |message: String| line_error(path, line, message);
        let value = json_line(path, line, text, "a JSON object")?;
        let obj = value.as_object().ok_or_else(|| {
            err("expected a JSON object with fields context, response, label".into())
        })?;
        let string_field = |name: &str| -> Result<String> { string_field(obj, name).map_err(&err) };
        let context = string_field("context")?;
        let response = string_field("response")?;
        let label_text = string_field("label")?;
        let label = Label::parse(&label_text).ok_or_else(|| {
            err(format!("field `label` must be \"pos\", \"neg\" or \"none\", got {label_text:?}"))
        })?;
        let source = match obj.get("source") {
            None | Some(Value::Null) => default_source.clone(),
            Some(_) => string_field("source")?,
        };
        out.push(Example {
            context,
            response,
            label,
            source,
            rejected: None,
            turns: None,
            form: None,
        });
    }
    Ok(out)
}

/// Reads a required string field of a JSON object; the error says what was found instead.
pub fn string_field(
    obj: &serde_json::Map<String, Value>,
    name: &str,
) -> std::result::Result<String, String> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("field `{name}` must be a string, got {}", type_name(other))),
        None => Err(format!("missing field `{name}` (a string)")),
    }
}

/// How a JSON value's type reads in an error message.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::lines::MAX_LINE_BYTES;

    fn parse(s: &[u8]) -> Result<Vec<Example>> {
        parse_examples_jsonl(s, Path::new("d/train.jsonl"))
    }

    #[test]
    fn reads_examples_and_trailing_newlines() {
        let ex = parse(b"{\"context\":\"hi\",\"response\":\"yo\",\"label\":\"pos\"}\n{\"context\":\"a\",\"response\":\"b\",\"label\":\"neg\",\"source\":\"s\"}\n\n").unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].label, Label::Pos);
        assert_eq!(ex[0].source, "train.jsonl");
        assert_eq!(ex[1].source, "s");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"{\"context\":\"a\",\"response\":\"b\",\"label\":\"pos\"}\n{\"context\":\"a\"", "train.jsonl:2: invalid JSON"),
            (b"{\"context\":1,\"response\":\"b\",\"label\":\"pos\"}", ":1: field `context` must be a string, got a number"),
            (b"{\"context\":\"a\",\"label\":\"pos\"}", ":1: missing field `response`"),
            (b"{\"context\":\"a\",\"response\":\"b\",\"label\":\"bad\"}", "\"pos\", \"neg\" or \"none\""),
            (b"{\"context\":\"a\",\"response\":\"b\",\"label\":\"pos\"}\n\n{\"context\":\"a\",\"response\":\"b\",\"label\":\"pos\"}", ":2: empty line"),
            (b"{\"context\":\"\xff\",\"response\":\"b\",\"label\":\"pos\"}", ":1: invalid UTF-8"),
            (b"[1,2]", ":1: expected a JSON object"),
        ];
        for (input, want) in cases {
            let e = parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
            assert!(e.contains("train.jsonl"), "{e}");
        }
        let long = format!(
            "{{\"context\":\"{}\",\"response\":\"b\",\"label\":\"pos\"}}",
            "x".repeat(MAX_LINE_BYTES)
        );
        let e = parse(long.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(":1: line is"), "{e}");
    }
}
