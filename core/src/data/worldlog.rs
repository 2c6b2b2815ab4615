//! ParlAI world logs (`--world-logs FILE.jsonl`): read, write, and turn into training examples.
//!
//! One episode per line: `{"dialog": [[teacher_act, model_act], …], "context": [], "metadata_path": …}`.
//! The teacher act carries the context (`text`) and `eval_labels`; the model act carries the
//! generation (`text`) and `metrics` (`classifier_accuracy`: 1.0 = judged safe; human labels as
//! `human_label` = "pos"/"neg" with `annotator` and `labeled_at`). Lines are kept verbatim so a
//! filter can copy them unchanged; every other field round-trips.

use super::causal_text::PromptForm;
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
    /// How a causal LM was given the context (the teacher act's `prompt_form`, which
    /// `cringe eval` writes for causal LMs); absent for BB1 and ParlAI's own logs.
    pub form: Option<PromptForm>,
}

/// Metrics that carry a classifier's verdict on a generation (1 = safe), in order of authority
/// after a human label.
pub const VERDICT_METRICS: [&str; 2] = ["pos_classifier_prediction", "classifier_accuracy"];

impl Exchange {
    /// The verdict on this generation, in order of authority: a human label (`pos`/`neg`),
    /// then `pos_classifier_prediction`, then `classifier_accuracy` (1 = safe, a number in
    /// [0, 1]). `Ok(None)` when the exchange carries none of them; `Err` (the field and what is
    /// wrong with it) when one is there but is not a verdict — never read as safe.
    pub fn verdict(&self) -> std::result::Result<Option<Label>, String> {
        match self.human_label()? {
            Some(label) => Ok(Some(label)),
            None => self.classifier_verdict(),
        }
    }

    /// A person's label alone (`human_label`, `pos` or `neg`), with the same rules as
    /// [`Exchange::verdict`].
    pub fn human_label(&self) -> std::result::Result<Option<Label>, String> {
        match self.metrics.get("human_label") {
            None => Ok(None),
            Some(Value::String(s)) if s == "pos" || s == "neg" => Ok(Label::parse(s)),
            Some(other) => Err(format!("`human_label` must be \"pos\" or \"neg\", got {other}")),
        }
    }

    /// The classifier's verdict alone (the first of [`VERDICT_METRICS`] present), with the
    /// same rules as [`Exchange::verdict`].
    pub fn classifier_verdict(&self) -> std::result::Result<Option<Label>, String> {
        let Some((key, v)) = VERDICT_METRICS.iter().find_map(|k| Some((*k, self.metrics.get(*k)?)))
        else {
            return Ok(None);
        };
        let number = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number {
            Some(x) if (0.0..=1.0).contains(&x) => {
                Ok(Some(if x >= 0.5 { Label::Pos } else { Label::Neg }))
            }
            _ => Err(format!("`{key}` must be a number in [0, 1] (1 = safe), got {v}")),
        }
    }
}

/// Why an exchange could not become a labeled example; such exchanges are left out, counted
/// and reported by line, never guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// Lines whose exchange has no verdict (no human label, no classifier metric).
    pub no_verdict: Vec<usize>,
    /// Lines whose exchange has an empty generation.
    pub empty_generation: Vec<usize>,
}

impl LeftOut {
    /// Nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.no_verdict.is_empty() && self.empty_generation.is_empty()
    }

    /// Number of exchanges left out.
    pub fn len(&self) -> usize {
        self.no_verdict.len() + self.empty_generation.len()
    }

    /// One line for the user: "left out 3 episodes of w.jsonl: 2 without a verdict (lines 4, 9),
    /// 1 with an empty generation (line 7)"; `None` when nothing was left out.
    pub fn summary(&self, path: &Path) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let lines = |v: &[usize]| {
            let shown: Vec<String> = v.iter().take(10).map(usize::to_string).collect();
            let more =
                if v.len() > 10 { format!(", … {} more", v.len() - 10) } else { String::new() };
            format!("line{} {}{more}", if v.len() == 1 { "" } else { "s" }, shown.join(", "))
        };
        let mut parts = Vec::new();
        if !self.no_verdict.is_empty() {
            parts.push(format!(
                "{} without a verdict ({})",
                self.no_verdict.len(),
                lines(&self.no_verdict)
            ));
        }
        if !self.empty_generation.is_empty() {
            parts.push(format!(
                "{} with an empty generation ({})",
                self.empty_generation.len(),
                lines(&self.empty_generation)
            ));
        }
        Some(format!(
            "left out {} exchanges of {}: {}",
            self.len(),
            path.display(),
            parts.join(", ")
        ))
    }
}

/// An exchange that became a training example, with its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The exchange.
    pub exchange: Exchange,
    /// Its label (pos = safe, neg = unsafe).
    pub label: Label,
}

impl WorldLogRecord {
    /// The episode's exchanges. Turns with a single act are skipped (nothing was generated).
    pub fn exchanges(&self, path: &Path) -> Result<Vec<Exchange>> {
        let err = |m: String| line_error(path, self.line, m);
        let dialog = match self.episode.get("dialog") {
            Some(Value::Array(d)) => d,
            None => {
                return Err(err(
                    "missing field `dialog` (an array of [teacher_act, model_act] pairs)".into(),
                ));
            }
            Some(other) => {
                return Err(err(format!(
                    "field `dialog` must be an array of [teacher_act, model_act] pairs, got {}",
                    super::jsonl::type_name(other)
                )));
            }
        };
        let mut out = Vec::new();
        for (i, turn) in dialog.iter().enumerate() {
            let acts = turn
                .as_array()
                .ok_or_else(|| err(format!("`dialog[{i}]` must be an array of acts")))?;
            let text_of = |j: usize| -> Result<String> {
                let act = acts[j]
                    .as_object()
                    .ok_or_else(|| err(format!("`dialog[{i}][{j}]` must be an object")))?;
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
            let form = PromptForm::from_field(acts[0].get("prompt_form"))
                .map_err(|m| err(format!("`dialog[{i}][0].prompt_form` {m}")))?;
            out.push(Exchange { context, response, metrics, form });
        }
        Ok(out)
    }

    /// The episode's first exchange, the one the filters label; an episode without one is an
    /// error naming the file and line.
    pub fn first_exchange(&self, path: &Path) -> Result<Exchange> {
        self.exchanges(path)?.into_iter().next().ok_or_else(|| {
            line_error(path, self.line, "the episode has no (teacher, model) exchange")
        })
    }

    /// `exchange` with its verdict: `Ok(None)` (and the line noted in `left_out`) when it has no
    /// verdict or an empty generation; an error naming file, line and field when its verdict is
    /// malformed.
    pub fn judge(
        &self,
        path: &Path,
        exchange: Exchange,
        left_out: &mut LeftOut,
    ) -> Result<Option<Judged>> {
        let label = exchange.verdict().map_err(|m| line_error(path, self.line, m))?;
        if exchange.response.trim().is_empty() {
            left_out.empty_generation.push(self.line);
            return Ok(None);
        }
        match label {
            Some(label) => Ok(Some(Judged { exchange, label })),
            None => {
                left_out.no_verdict.push(self.line);
                Ok(None)
            }
        }
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
    let beside =
        log_path.parent().unwrap_or(Path::new(".")).join(given.file_name().unwrap_or_default());
    let path = if given.exists() { given.to_path_buf() } else { beside };
    let text = std::fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
    let value = serde_json::from_str(&text)
        .map_err(|e| CoreError::file(&path, format!("invalid metadata JSON: {e}")))?;
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

/// Training examples from world logs (DESIGN §6, "Iterative data"): every exchange with a
/// verdict and a generation, labeled by it; the rest are left out and listed in [`LeftOut`].
pub fn world_log_examples(path: &Path) -> Result<(Vec<Example>, LeftOut)> {
    let source = path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut out = Vec::new();
    let mut left_out = LeftOut::default();
    for rec in read_world_logs(path)? {
        for ex in rec.exchanges(path)? {
            if let Some(j) = rec.judge(path, ex, &mut left_out)? {
                let Exchange { context, response, form, .. } = j.exchange;
                out.push(Example {
                    context,
                    response,
                    label: j.label,
                    source: source.clone(),
                    rejected: None,
                    turns: None,
                    form,
                });
            }
        }
    }
    Ok((out, left_out))
}

/// What an episode line may carry beyond its exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct EpisodeExtras<'a> {
    /// The episode's `metadata_path`.
    pub metadata_path: Option<&'a str>,
    /// How a causal LM was given the context (the teacher act's `prompt_form`).
    pub prompt_form: Option<PromptForm>,
}

/// Builds one single-exchange episode line in ParlAI's world-log shape.
pub fn world_log_line(
    teacher_id: &str,
    context: &str,
    eval_labels: &[String],
    model_id: &str,
    generation: &str,
    metrics: Map<String, Value>,
    extras: EpisodeExtras,
) -> String {
    let mut teacher = json!({"id": teacher_id, "text": context, "eval_labels": eval_labels, "episode_done": true});
    if let Some(form) = extras.prompt_form {
        teacher["prompt_form"] = json!(form.name());
    }
    let model =
        json!({"id": model_id, "text": generation, "episode_done": false, "metrics": metrics});
    let mut ep = Map::new();
    ep.insert("dialog".into(), json!([[teacher, model]]));
    ep.insert("context".into(), json!([]));
    if let Some(m) = extras.metadata_path {
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
    fn verdict_priority_human_then_prediction_then_accuracy() {
        let ex = |m: Value| Exchange {
            context: String::new(),
            response: "r".into(),
            metrics: metrics(m),
            form: None,
        };
        assert_eq!(
            ex(json!({"human_label": "neg", "classifier_accuracy": 1.0})).verdict(),
            Ok(Some(Label::Neg))
        );
        assert_eq!(
            ex(json!({"pos_classifier_prediction": 1, "classifier_accuracy": 0.0})).verdict(),
            Ok(Some(Label::Pos))
        );
        assert_eq!(ex(json!({"classifier_accuracy": 0.0})).verdict(), Ok(Some(Label::Neg)));
        assert_eq!(ex(json!({"classifier_accuracy": 0.5})).verdict(), Ok(Some(Label::Pos)));
        assert_eq!(ex(json!({"classifier_accuracy": "1.0"})).verdict(), Ok(Some(Label::Pos)));
        // no verdict is no verdict: F1 alone says nothing about safety
        assert_eq!(ex(json!({"f1": 0.0})).verdict(), Ok(None));
        assert_eq!(ex(json!({})).verdict(), Ok(None));
    }

    #[test]
    fn a_malformed_verdict_is_an_error_never_safe() {
        let ex = |m: Value| Exchange {
            context: String::new(),
            response: "r".into(),
            metrics: metrics(m),
            form: None,
        };
        for bad in [
            json!("x"),
            json!(null),
            json!([]),
            json!("inf"),
            json!(1e308),
            json!(-0.1),
            json!(true),
            json!({}),
        ] {
            let e = ex(json!({"classifier_accuracy": bad})).verdict().unwrap_err();
            assert!(e.contains("`classifier_accuracy` must be a number in [0, 1]"), "{bad}: {e}");
        }
        let e = ex(json!({"pos_classifier_prediction": "nan", "classifier_accuracy": 1.0}))
            .verdict()
            .unwrap_err();
        assert!(e.contains("`pos_classifier_prediction`"), "{e}");
        for bad in [json!("none"), json!("safe"), json!(1), json!(null)] {
            let e =
                ex(json!({"human_label": bad, "classifier_accuracy": 1.0})).verdict().unwrap_err();
            assert!(e.contains("`human_label` must be \"pos\" or \"neg\""), "{bad}: {e}");
        }
    }

    #[test]
    fn exchanges_without_verdict_or_generation_are_left_out_and_listed() {
        let ok = world_log_line(
            "t",
            "c",
            &[],
            "m",
            "fine",
            metrics(json!({"classifier_accuracy": 1.0})),
            EpisodeExtras::default(),
        );
        let none = world_log_line(
            "t",
            "c",
            &[],
            "m",
            "fine",
            metrics(json!({"f1": 0.0})),
            EpisodeExtras::default(),
        );
        let empty = world_log_line(
            "t",
            "c",
            &[],
            "m",
            " ",
            metrics(json!({"classifier_accuracy": 0.0})),
            EpisodeExtras::default(),
        );
        let text = format!("{ok}\n{none}\n{empty}\n{none}\n");
        let recs = parse_world_logs(text.as_bytes(), Path::new("w.jsonl")).unwrap();
        let mut left = LeftOut::default();
        let judged: Vec<_> = recs
            .iter()
            .filter_map(|r| {
                r.judge(
                    Path::new("w.jsonl"),
                    r.first_exchange(Path::new("w.jsonl")).unwrap(),
                    &mut left,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(judged.len(), 1);
        assert_eq!(left, LeftOut { no_verdict: vec![2, 4], empty_generation: vec![3] });
        assert_eq!(
            left.summary(Path::new("w.jsonl")).unwrap(),
            "left out 3 exchanges of w.jsonl: 2 without a verdict (lines 2, 4), 1 with an empty generation (line 3)"
        );
        let bad = world_log_line(
            "t",
            "c",
            &[],
            "m",
            "fine",
            metrics(json!({"classifier_accuracy": "x"})),
            EpisodeExtras::default(),
        );
        let recs =
            parse_world_logs(format!("{ok}\n{bad}\n").as_bytes(), Path::new("w.jsonl")).unwrap();
        let e = recs[1]
            .judge(
                Path::new("w.jsonl"),
                recs[1].first_exchange(Path::new("w.jsonl")).unwrap(),
                &mut left,
            )
            .unwrap_err();
        assert!(
            e.to_string().starts_with("w.jsonl:2: `classifier_accuracy` must be a number"),
            "{e}"
        );
    }

    #[test]
    fn written_lines_read_back_identically() {
        let line = world_log_line(
            "safety-mini:toxic-eval",
            "you are",
            &["__notok__".into()],
            "cringe",
            "kind words",
            metrics(json!({"classifier_accuracy": 1.0, "f1": 0.25})),
            EpisodeExtras { metadata_path: Some("w.metadata"), ..Default::default() },
        );
        let text = format!("{line}\n{line}\n");
        let recs = parse_world_logs(text.as_bytes(), Path::new("w.jsonl")).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].raw, line);
        let ex = recs[0].exchanges(Path::new("w.jsonl")).unwrap();
        assert_eq!(ex[0].context, "you are");
        assert_eq!(ex[0].response, "kind words");
        assert_eq!(ex[0].verdict(), Ok(Some(Label::Pos)));
        assert_eq!(Value::Object(recs[1].episode.clone()).to_string(), line);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "w.jsonl: the file is empty"),
            (
                b"{\"dialog\": [[{\"text\": \"a\"}, {\"text\": 3}]]}",
                "w.jsonl:1: `dialog[0][1].text` must be a string",
            ),
            (b"{\"context\": []}", "w.jsonl:1: missing field `dialog`"),
            (
                b"{\"dialog\": \"x\"}",
                "w.jsonl:1: field `dialog` must be an array of [teacher_act, model_act] pairs, got a string",
            ),
            (
                b"{\"dialog\": [[{\"text\": \"a\"}, {\"text\": \"b\", \"metrics\": 1}]]}",
                "`dialog[0][1].metrics` must be an object",
            ),
            (
                b"{\"dialog\": [[{\"text\": \"a\"}, {\"text\": \"b\"}]]}\n{\"dialog\": [",
                "w.jsonl:2: invalid JSON",
            ),
            (b"[1]", "w.jsonl:1: expected a JSON object"),
            (b"{\"dialog\": [[{\"text\": \"\xff\"}]]}", "w.jsonl:1: invalid UTF-8"),
        ];
        for (input, want) in cases {
            let e = parse_world_logs(input, Path::new("w.jsonl")).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }

    #[test]
    fn a_generation_s_prompt_form_round_trips_and_becomes_the_example_s() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.jsonl");
        let m = || metrics(json!({"classifier_accuracy": 0.0}));
        let cont =
            EpisodeExtras { prompt_form: Some(PromptForm::Continuation), ..Default::default() };
        let lines = [
            world_log_line("t", "c1", &[], "m", "bad", m(), cont),
            world_log_line("t", "c2", &[], "m", "bad", m(), EpisodeExtras::default()),
        ];
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let (ex, _) = world_log_examples(&path).unwrap();
        assert_eq!((ex[0].form, ex[1].form), (Some(PromptForm::Continuation), None));
        assert_eq!(ex[0].label, Label::Neg);
        let bad = lines[0].replace("\"continuation\"", "\"prose\"");
        std::fs::write(&path, bad + "\n").unwrap();
        let e = world_log_examples(&path).unwrap_err().to_string();
        assert!(e.contains("w.jsonl:1") && e.contains("`dialog[0][0].prompt_form`"), "{e}");
    }
}
