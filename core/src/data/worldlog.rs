//! ParlAI world logs (`--world-logs FILE.jsonl`): read, write, and turn into training examples.
//!
//! One episode per line: `{"dialog": [[teacher_act, model_act], …], "context": [], "metadata_path": …}`.
//! The teacher act carries the context (`text`) and `eval_labels`; the model act carries the
//! generation (`text`) and `metrics` (`classifier_accuracy`: 1.0 = judged safe; human labels as
//! `human_label` = "pos"/"neg" with `annotator` and `labeled_at`). Lines are kept verbatim so a
//! filter can copy them unchanged; every other field round-trips.

use super::example::{Example, Label};
use super::lines::{checked_lines, json_line, line_error};
use crate::error::{CoreError, Result};
use serde_json::{Map, Value, json};
use std::path::Path;

/// One line of a world log: the parsed episode and the line exactly as read.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldLogRecord {
    /// 1-based line number in its file.
    pub line: usize,
    /// The line's text, unchanged.
    pub raw: String,
    /// The parsed JSON object.
    pub episode: Map<String, Value>,
}

/// One (teacher, model) exchange of an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// Teacher `text`: the context the model answered.
    pub context: String,
    /// Model `text`: the generation.
    pub response: String,
    /// The model act's `metrics` object (empty if absent).
    pub metrics: Map<String, Value>,
}

impl Exchange {
    /// A metric as a number (ParlAI writes numbers; numeric strings are accepted too).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match self.metrics.get(name)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// The training label, in order of authority: a human label, then
    /// `pos_classifier_prediction`, then `classifier_accuracy` (1 = safe), then F1 == 0 → neg;
    /// otherwise pos.
    pub fn label(&self) -> Label {
        if let Some(Value::String(h)) = self.metrics.get("human_label")
            && let Some(l) = Label::parse(h)
            && l != Label::None
        {
            return l;
        }
        for key in ["pos_classifier_prediction", "classifier_accuracy"] {
            if let Some(v) = self.metric(key) {
                return if v >= 0.5 { Label::Pos } else { Label::Neg };
            }
        }
        match self.metric("f1") {
            Some(f1) if f1 == 0.0 => Label::Neg,
            _ => Label::Pos,
        }
    }
}

impl WorldLogRecord {
    /// The episode's exchanges. Turns with a single act are skipped (nothing was generated).
    pub fn exchanges(&self, path: &Path) -> Result<Vec<Exchange>> {
        let err = |m: String| line_error(path, self.line, m);
        let dialog = self.episode.get("dialog").and_then(Value::as_array).ok_or_else(|| err("missing field `dialog` (an array of [teacher_act, model_act] pairs)".into()))?;
        let mut out = Vec::new();
        for (i, turn) in dialog.iter().enumerate() {
            let acts = turn.as_array().ok_or_else(|| err(format!("`dialog[{i}]` must be an array of acts")))?;
            let text_of = |j: usize| -> Result<String> {
                let act = acts[j].as_object().ok_or_else(|| err(format!("`dialog[{i}][{j}]` must be an object")))?;
                match act.get("text") {
                    Some(Value::String(s)) => Ok(s.clone()),
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(_) => Err(err(format!("`dialog[{i}][{j}].text` must be a string"))),
                }
            };
            if acts.len() < 2 {
                continue;
            }
            let context = text_of(0)?;
            let response = text_of(1)?;
            let metrics = match acts[1].get("metrics") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => return Err(err(format!("`dialog[{i}][1].metrics` must be an object"))),
            };
            out.push(Exchange { context, response, metrics });
        }
        Ok(out)
    }

    /// The episode's first exchange, the one the filters label; an episode without one is an
    /// error naming the file and line.
    pub fn first_exchange(&self, path: &Path) -> Result<Exchange> {
        self.exchanges(path)?
            .into_iter()
            .next()
            .ok_or_else(|| line_error(path, self.line, "the episode has no (teacher, model) exchange"))
    }
}

/// Reads the `.metadata` file an episode's `metadata_path` names (ParlAI writes the path as
/// given on its command line, so a file of that name beside the log is accepted too).
/// `Ok(None)` when the episode names no metadata.
pub fn world_log_metadata(log_path: &Path, rec: &WorldLogRecord) -> Result<Option<Value>> {
    let Some(Value::String(meta)) = rec.episode.get("metadata_path") else {
        return Ok(None);
    };
    let given = Path::new(meta);
    let beside = log_path.parent().unwrap_or(Path::new(".")).join(given.file_name().unwrap_or_default());
    let path = if given.exists() { given.to_path_buf() } else { beside };
    let text = std::fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
    let value = serde_json::from_str(&text).map_err(|e| CoreError::file(&path, format!("invalid metadata JSON: {e}")))?;
    Ok(Some(value))
}

/// Reads a world-log file; every line must be a JSON object with a `dialog` array.
pub fn read_world_logs(path: &Path) -> Result<Vec<WorldLogRecord>> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_world_logs(&bytes, path)
}

/// Parses world-log bytes (`path` names the file in errors).
pub fn parse_world_logs(bytes: &[u8], path: &Path) -> Result<Vec<WorldLogRecord>> {
    let mut out = Vec::new();
    for (line, text) in checked_lines(bytes, path, "one world-log episode (JSON) per line")? {
        let err = |m: String| line_error(path, line, m);
        let value = json_line(path, line, text, "a world-log episode")?;
        let Value::Object(episode) = value else {
            return Err(err("expected a JSON object with a `dialog` field".into()));
        };
        let rec = WorldLogRecord { line, raw: text.to_string(), episode };
        rec.exchanges(path)?; // validate the structure now, so errors point at the file
        out.push(rec);
    }
    Ok(out)
}

/// Training examples from world logs (DESIGN §6, "Iterative data").
pub fn world_log_examples(path: &Path) -> Result<Vec<Example>> {
    let source = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut out = Vec::new();
    for rec in read_world_logs(path)? {
        for ex in rec.exchanges(path)? {
            let label = ex.label();
            out.push(Example { context: ex.context, response: ex.response, label, source: source.clone(), rejected: None });
        }
    }
    Ok(out)
}

/// Builds one single-exchange episode line in ParlAI's world-log shape.
pub fn world_log_line(
    teacher_id: &str,
    context: &str,
    eval_labels: &[String],
    model_id: &str,
    generation: &str,
    metrics: Map<String, Value>,
    metadata_path: Option<&str>,
) -> String {
    let teacher = json!({"id": teacher_id, "text": context, "eval_labels": eval_labels, "episode_done": true});
    let model = json!({"id": model_id, "text": generation, "episode_done": false, "metrics": metrics});
    let mut ep = Map::new();
    ep.insert("dialog".into(), json!([[teacher, model]]));
    ep.insert("context".into(), json!([]));
    if let Some(m) = metadata_path {
        ep.insert("metadata_path".into(), json!(m));
    }
    Value::Object(ep).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_priority() {
        let ex = |m: Value| Exchange { context: String::new(), response: String::new(), metrics: metrics(m) };
        assert_eq!(ex(json!({"human_label": "neg", "classifier_accuracy": 1.0})).label(), Label::Neg);
        assert_eq!(ex(json!({"pos_classifier_prediction": 1, "classifier_accuracy": 0.0})).label(), Label::Pos);
        assert_eq!(ex(json!({"classifier_accuracy": 0.0})).label(), Label::Neg);
        assert_eq!(ex(json!({"classifier_accuracy": "1.0"})).label(), Label::Pos);
        assert_eq!(ex(json!({"f1": 0.0})).label(), Label::Neg);
        assert_eq!(ex(json!({"f1": 0.3})).label(), Label::Pos);
        assert_eq!(ex(json!({})).label(), Label::Pos);
    }

    #[test]
    fn written_lines_read_back_identically() {
        let line = world_log_line("safety-mini:toxic-eval", "you are", &["__notok__".into()], "cringe", "kind words", metrics(json!({"classifier_accuracy": 1.0, "f1": 0.25})), Some("w.metadata"));
        let text = format!("{line}\n{line}\n");
        let recs = parse_world_logs(text.as_bytes(), Path::new("w.jsonl")).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].raw, line);
        let ex = recs[0].exchanges(Path::new("w.jsonl")).unwrap();
        assert_eq!(ex[0].context, "you are");
        assert_eq!(ex[0].response, "kind words");
        assert_eq!(ex[0].label(), Label::Pos);
        assert_eq!(Value::Object(recs[1].episode.clone()).to_string(), line);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "w.jsonl: the file is empty"),
            (b"{\"dialog\": [[{\"text\": \"a\"}, {\"text\": 3}]]}", "w.jsonl:1: `dialog[0][1].text` must be a string"),
            (b"{\"context\": []}", "w.jsonl:1: missing field `dialog`"),
            (b"{\"dialog\": [[{\"text\": \"a\"}, {\"text\": \"b\", \"metrics\": 1}]]}", "`dialog[0][1].metrics` must be an object"),
            (b"{\"dialog\": [[{\"text\": \"a\"}, {\"text\": \"b\"}]]}\n{\"dialog\": [", "w.jsonl:2: invalid JSON"),
            (b"[1]", "w.jsonl:1: expected a JSON object"),
            (b"{\"dialog\": [[{\"text\": \"\xff\"}]]}", "w.jsonl:1: invalid UTF-8"),
        ];
        for (input, want) in cases {
            let e = parse_world_logs(input, Path::new("w.jsonl")).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }
}
