//! Reader for ParlAI's text format (`parlai dd` / `ParlAIDialogTeacher` files).
//!
//! One message per line, tab-separated `key:value` fields: `text:…<TAB>labels:…<TAB>episode_done:True`.
//! In values `\n` and `\t` are escaped newlines and tabs, `|` separates several labels and
//! `__PIPE__` is a literal `|`. A message with `episode_done:True` ends its episode.

use super::example::{Example, Label};
use super::lines::{checked_lines, line_error};
use crate::error::{CoreError, Result};
use std::path::Path;

/// A dialogue episode: its turns in order.
pub type Episode = Vec<Example>;

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParlaiMessage {
    /// The `text` field.
    pub text: String,
    /// The `labels` (or, if absent, `eval_labels`) field, split on `|`.
    pub labels: Vec<String>,
    /// Whether this message ends its episode.
    pub episode_done: bool,
}

fn unescape(v: &str) -> String {
    v.replace("\\n", "\n").replace("\\t", "\t").replace("__PIPE__", "|")
}

/// Parses one line of the format.
pub fn parse_message(line: &str) -> std::result::Result<ParlaiMessage, String> {
    let mut msg = ParlaiMessage::default();
    let mut eval_labels = None;
    let mut seen_text = false;
    for (i, field) in line.split('\t').enumerate() {
        if field.is_empty() {
            continue;
        }
        let (key, value) = field
            .split_once(':')
            .ok_or_else(|| format!("field {} ({:?}) is not key:value", i + 1, truncate(field)))?;
        match key {
            "text" => {
                msg.text = unescape(value);
                seen_text = true;
            }
            "labels" => msg.labels = value.split('|').map(unescape).collect(),
            "eval_labels" => eval_labels = Some(value.split('|').map(unescape).collect()),
            "episode_done" => {
                msg.episode_done = match value {
                    "True" | "true" => true,
                    "False" | "false" => false,
                    other => {
                        return Err(format!(
                            "episode_done must be True or False, got {:?}",
                            truncate(other)
                        ));
                    }
                }
            }
            _ => {} // other ParlAI fields (id, label_candidates, reward, …) are kept out of examples
        }
    }
    if !seen_text && msg.labels.is_empty() && eval_labels.is_none() {
        return Err("expected at least a text:… or labels:… field".into());
    }
    if msg.labels.is_empty() {
        msg.labels = eval_labels.unwrap_or_default();
    }
    Ok(msg)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Reads a ParlAI text file into episodes. Each message becomes an example whose context is
/// its text and whose response is its first label (`""` if it has none), label `none`
/// (mutators such as `relabel` assign pos/neg).
pub fn read_parlai_text(path: &Path) -> Result<Vec<Episode>> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_parlai_text(&bytes, path)
}

/// Parses ParlAI text bytes; `path` names the file in errors and is the examples' source.
pub fn parse_parlai_text(bytes: &[u8], path: &Path) -> Result<Vec<Episode>> {
    let source = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut episodes = Vec::new();
    let mut current = Vec::new();
    for (line, text) in checked_lines(bytes, path, "ParlAI text lines (text:…<TAB>labels:…)")? {
        if text.trim().is_empty() {
            return Err(line_error(path, line, "empty line; expected text:…<TAB>labels:…"));
        }
        let msg = parse_message(text).map_err(|m| line_error(path, line, m))?;
        current.push(Example {
            context: msg.text,
            response: msg.labels.into_iter().next().unwrap_or_default(),
            label: Label::None,
            source: source.clone(),
            rejected: None,
            turns: None,
            form: None,
        });
        if msg.episode_done {
            episodes.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        episodes.push(current);
    }
    Ok(episodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_episodes_and_unescapes() {
        let text = b"text:hi\\nthere\tlabels:yo|hey\tepisode_done:False\ntext:a __PIPE__ b\tlabels:c\\td\tepisode_done:True\ntext:x\teval_labels:y\tepisode_done:True\n";
        let eps = parse_parlai_text(text, Path::new("f.txt")).unwrap();
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0].len(), 2);
        assert_eq!(eps[0][0].context, "hi\nthere");
        assert_eq!(eps[0][0].response, "yo");
        assert_eq!(eps[0][1].context, "a | b");
        assert_eq!(eps[0][1].response, "c\td");
        assert_eq!(eps[1][0].response, "y");
        assert_eq!(eps[1][0].source, "f.txt");
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "f.txt: the file is empty"),
            (b"text:a\tepisode_done:True\nnonsense", "f.txt:2: field 1"),
            (b"text:a\tepisode_done:maybe", "f.txt:1: episode_done must be True or False"),
            (b"text:\xff\xfe", "f.txt:1: invalid UTF-8"),
            (b"text:a\n\ntext:b", "f.txt:2: empty line"),
            (b"id:x\tepisode_done:True", "f.txt:1: expected at least a text"),
        ];
        for (input, want) in cases {
            let e = parse_parlai_text(input, Path::new("f.txt")).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
        let long = format!("text:{}", "x".repeat(crate::data::lines::MAX_LINE_BYTES));
        let e = parse_parlai_text(long.as_bytes(), Path::new("f.txt")).unwrap_err().to_string();
        assert!(e.contains("f.txt:1: line is"), "{e}");
    }
}
