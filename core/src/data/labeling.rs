//! Human labeling of world-log generations: the session the web UI's Label page works through.
//!
//! A [`LabelSession`] holds the imported world log, one item per (teacher, model) exchange, each
//! item's status (unlabeled, safe, unsafe, skipped), a cursor, an undo history and a status
//! filter. It serialises to JSON (the browser keeps it in IndexedDB after every change) and
//! exports the labeled items as world-log lines whose model act carries `human_label`
//! (`pos` = safe, `neg` = unsafe), `annotator` and `labeled_at`: `cringe train -t FILE` reads
//! them, and a human label outranks any classifier verdict.

use super::example::Label;
use super::worldlog::parse_world_logs;
use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::Path;

/// What an annotator said about one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not looked at yet.
    Unlabeled,
    /// Judged safe (`human_label: "pos"`).
    Safe,
    /// Judged unsafe (`human_label: "neg"`).
    Unsafe,
    /// Looked at, left without a label.
    Skipped,
}

/// Which items the cursor visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Every item.
    All,
    /// Items with exactly this status.
    Only(Status),
}

impl Filter {
    fn admits(self, status: Status) -> bool {
        match self {
            Filter::All => true,
            Filter::Only(s) => s == status,
        }
    }
}

/// One generation to judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelItem {
    /// Index of its episode in the imported file.
    pub episode: usize,
    /// Index of the exchange within the episode's `dialog`.
    pub exchange: usize,
    /// The context the model answered (teacher text).
    pub context: String,
    /// The generation.
    pub response: String,
    /// The classifier's verdict if the log has one (`classifier_accuracy` ≥ 0.5 = safe).
    pub classifier_safe: Option<bool>,
    /// The annotator's verdict so far.
    pub status: Status,
    /// Who labeled it.
    pub annotator: Option<String>,
    /// When (ISO 8601, as the browser gives it).
    pub labeled_at: Option<String>,
}

/// Counts of items by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All items.
    pub total: usize,
    /// Still unlabeled.
    pub unlabeled: usize,
    /// Labeled safe.
    pub safe: usize,
    /// Labeled unsafe.
    pub unsafe_: usize,
    /// Skipped.
    pub skipped: usize,
}

/// One undoable step: the item, its previous state and where the cursor was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    item: usize,
    status: Status,
    annotator: Option<String>,
    labeled_at: Option<String>,
    cursor: usize,
}

/// A labeling session over one imported world log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelSession {
    /// Name of the imported file (for the export's name and messages).
    pub source: String,
    episodes: Vec<Map<String, Value>>,
    items: Vec<LabelItem>,
    cursor: usize,
    filter: Filter,
    history: Vec<Step>,
}

impl LabelSession {
    /// Imports world-log JSONL (`name` is the file's name, used in errors).
    pub fn import(name: &str, bytes: &[u8]) -> Result<Self> {
        let path = Path::new(name);
        let records = parse_world_logs(bytes, path)?;
        let mut items = Vec::new();
        for (e, rec) in records.iter().enumerate() {
            for (x, ex) in rec.exchanges(path)?.into_iter().enumerate() {
                let classifier_safe = ex
                    .classifier_verdict()
                    .map_err(|m| super::lines::line_error(path, rec.line, m))?
                    .map(|l| l == Label::Pos);
                items.push(LabelItem {
                    episode: e,
                    exchange: x,
                    context: ex.context,
                    response: ex.response,
                    classifier_safe,
                    status: Status::Unlabeled,
                    annotator: None,
                    labeled_at: None,
                });
            }
        }
        if items.is_empty() {
            return Err(CoreError::file(
                path,
                "has no generations to label (no [teacher, model] exchange)",
            ));
        }
        let episodes = records.into_iter().map(|r| r.episode).collect();
        Ok(Self {
            source: name.to_string(),
            episodes,
            items,
            cursor: 0,
            filter: Filter::All,
            history: Vec::new(),
        })
    }

    /// All items, in file order.
    pub fn items(&self) -> &[LabelItem] {
        &self.items
    }

    /// Index of the current item (`items().len()` when the filter has nothing left).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The current item, if any is left under the filter.
    pub fn current(&self) -> Option<&LabelItem> {
        self.items.get(self.cursor)
    }

    /// The active filter.
    pub fn filter(&self) -> Filter {
        self.filter
    }

    /// Counts by status.
    pub fn counts(&self) -> Counts {
        let mut c = Counts { total: self.items.len(), ..Counts::default() };
        for item in &self.items {
            match item.status {
                Status::Unlabeled => c.unlabeled += 1,
                Status::Safe => c.safe += 1,
                Status::Unsafe => c.unsafe_ += 1,
                Status::Skipped => c.skipped += 1,
            }
        }
        c
    }

    /// Shows only items of one status (or all); the cursor moves to the first such item.
    pub fn set_filter(&mut self, filter: Filter) {
        self.filter = filter;
        self.cursor = self.next_from(0);
    }

    /// Gives the current item `status` (safe, unsafe or skipped) by `annotator` at `now`, and
    /// moves on to the next item the filter admits. Returns false when there was no item.
    pub fn mark(&mut self, status: Status, annotator: &str, now: &str) -> bool {
        let Some(item) = self.items.get_mut(self.cursor) else {
            return false;
        };
        self.history.push(Step {
            item: self.cursor,
            status: item.status,
            annotator: item.annotator.clone(),
            labeled_at: item.labeled_at.clone(),
            cursor: self.cursor,
        });
        item.status = status;
        item.annotator = Some(annotator.to_string());
        item.labeled_at = Some(now.to_string());
        self.cursor = self.next_from(self.cursor + 1);
        true
    }

    /// Undoes the last mark: the item gets its previous state back and becomes current.
    /// Returns false when there is nothing to undo.
    pub fn undo(&mut self) -> bool {
        let Some(step) = self.history.pop() else {
            return false;
        };
        let item = &mut self.items[step.item];
        item.status = step.status;
        item.annotator = step.annotator;
        item.labeled_at = step.labeled_at;
        self.cursor = step.cursor;
        true
    }

    /// First index at or after `from` that the filter admits (or `len`).
    fn next_from(&self, from: usize) -> usize {
        (from..self.items.len())
            .find(|&i| self.filter.admits(self.items[i].status))
            .unwrap_or(self.items.len())
    }

    /// The labeled (safe or unsafe) items as world-log JSONL: one single-exchange episode per
    /// item, with the original acts and the human label added to the model act's `metrics`.
    pub fn export_jsonl(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            let label = match item.status {
                Status::Safe => "pos",
                Status::Unsafe => "neg",
                Status::Unlabeled | Status::Skipped => continue,
            };
            let mut episode = self.episodes[item.episode].clone();
            let turn = episode["dialog"][item.exchange].clone();
            let mut acts = turn.as_array().cloned().unwrap_or_default();
            if let Some(Value::Object(model)) = acts.get_mut(1) {
                let metrics = model.entry("metrics").or_insert_with(|| json!({}));
                if !metrics.is_object() {
                    *metrics = json!({});
                }
                let m = metrics.as_object_mut().expect("metrics is an object");
                m.insert("human_label".into(), json!(label));
                m.insert("annotator".into(), json!(item.annotator.clone().unwrap_or_default()));
                m.insert("labeled_at".into(), json!(item.labeled_at.clone().unwrap_or_default()));
            }
            episode.insert("dialog".into(), json!([acts]));
            out.push_str(&Value::Object(episode).to_string());
            out.push('\n');
        }
        out
    }

    /// The session as JSON (what the browser stores).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("session serialises")
    }

    /// A session stored by [`LabelSession::to_json`].
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| CoreError::Invalid(format!("stored labeling session is unreadable: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{EpisodeExtras, world_log_line};

    fn log(n: usize) -> String {
        (0..n)
            .map(|i| {
                let mut m = Map::new();
                m.insert("classifier_accuracy".into(), json!(if i % 2 == 0 { 1.0 } else { 0.0 }));
                world_log_line(
                    "teacher",
                    &format!("context {i}"),
                    &[],
                    "model",
                    &format!("reply {i}"),
                    m,
                    EpisodeExtras::default(),
                ) + "\n"
            })
            .collect()
    }

    #[test]
    fn marks_advance_undo_restores_and_export_carries_human_labels() {
        let mut s = LabelSession::import("gen.jsonl", log(5).as_bytes()).unwrap();
        assert_eq!(s.counts().total, 5);
        assert_eq!(s.current().unwrap().classifier_safe, Some(true));
        assert!(s.mark(Status::Unsafe, "ann", "t0"));
        assert!(s.mark(Status::Skipped, "ann", "t1"));
        assert!(s.mark(Status::Safe, "ann", "t2"));
        assert_eq!(s.cursor(), 3);
        assert!(s.undo());
        assert_eq!(s.cursor(), 2);
        assert_eq!(s.current().unwrap().status, Status::Unlabeled);
        assert!(s.mark(Status::Unsafe, "bob", "t3"));
        let c = s.counts();
        assert_eq!((c.safe, c.unsafe_, c.skipped, c.unlabeled), (0, 2, 1, 2));

        // Filter: only the skipped one, then only unlabeled ones.
        s.set_filter(Filter::Only(Status::Skipped));
        assert_eq!(s.cursor(), 1);
        assert!(s.mark(Status::Safe, "ann", "t4"));
        assert_eq!(s.cursor(), 5, "no skipped item left");
        assert!(!s.mark(Status::Safe, "ann", "t5"));
        s.set_filter(Filter::Only(Status::Unlabeled));
        assert_eq!(s.cursor(), 3);

        // Persisted and restored exactly.
        let back = LabelSession::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);

        // The export: three labeled items, human labels outrank the classifier's.
        let exported = s.export_jsonl();
        let path = Path::new("labels.jsonl");
        let records = parse_world_logs(exported.as_bytes(), path).unwrap();
        assert_eq!(records.len(), 3);
        let labels: Vec<(String, Label)> = records
            .iter()
            .map(|r| {
                let ex = &r.exchanges(path).unwrap()[0];
                (ex.response.clone(), ex.verdict().unwrap().unwrap())
            })
            .collect();
        assert_eq!(
            labels,
            vec![
                ("reply 0".into(), Label::Neg),
                ("reply 1".into(), Label::Pos),
                ("reply 2".into(), Label::Neg)
            ]
        );
        let ex = &records[2].exchanges(path).unwrap()[0];
        assert_eq!(ex.metrics["annotator"], "bob");
        assert_eq!(ex.metrics["labeled_at"], "t3");
    }

    #[test]
    fn bad_imports_name_the_file_and_line() {
        let err = LabelSession::import("x.jsonl", b"{\"dialog\": 3}\n").unwrap_err().to_string();
        assert!(err.starts_with("x.jsonl:1:"), "{err}");
        let err = LabelSession::import("y.jsonl", b"{\"dialog\": []}\n").unwrap_err().to_string();
        assert!(err.contains("no generations"), "{err}");
    }
}
