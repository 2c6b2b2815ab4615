//! Tasks: names such as `safety-mini:toxic:mutators=flatten+relabel+ltr_empty`, or a file path,
//! resolved to examples for a datatype (train, valid, test).
//!
//! Built-in tasks live under the datapath (`data/` in the repository):
//! `safety-mini:chitchat`, `safety-mini:toxic`, `safety-mini:toxic-eval` (ParlAI text files)
//! and `safety-mini:pretrain` (JSONL). Any other name is a file: `.txt` is ParlAI text; `.jsonl`
//! is a world log if its first line has a `dialog` field, TRL data if it has `messages` or
//! `prompt` (or `chosen` without `context`), preference pairs if it has `chosen`, else JSONL
//! examples.

use super::example::Example;
use super::jsonl::read_examples_jsonl;
use super::mutators::{Mutator, apply_all};
use super::pairs::read_pairs_jsonl;
use super::parlai_text::{Episode, read_parlai_text};
use super::trl::{is_trl_line, read_trl_jsonl};
use super::worldlog::world_log_examples;
use crate::error::{CoreError, Result};
use std::path::{Path, PathBuf};

/// The built-in tasks and their file stems under `<datapath>/safety-mini/`.
pub const BUILTIN_TASKS: &[(&str, &str)] = &[
    ("safety-mini:chitchat", "chitchat_{dt}.txt"),
    ("safety-mini:toxic", "toxic_{dt}.txt"),
    ("safety-mini:toxic-eval", "toxic-eval_{dt}.txt"),
    ("safety-mini:pretrain", "pretrain_{dt}.jsonl"),
];

/// Which split to read (ParlAI `-dt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    /// Training split.
    Train,
    /// Validation split.
    Valid,
    /// Test split.
    Test,
}

impl Datatype {
    /// Parses `train`, `valid` or `test`; ParlAI suffixes such as `:evalmode` are accepted.
    pub fn parse(s: &str) -> Result<Self> {
        match s.split(':').next().unwrap_or("") {
            "train" => Ok(Datatype::Train),
            "valid" => Ok(Datatype::Valid),
            "test" => Ok(Datatype::Test),
            _ => {
                Err(CoreError::Config(format!("datatype must be train, valid or test, got {s:?}")))
            }
        }
    }

    /// The split's name in file names.
    pub fn name(self) -> &'static str {
        match self {
            Datatype::Train => "train",
            Datatype::Valid => "valid",
            Datatype::Test => "test",
        }
    }
}

/// ParlAI's names of the seed's iterative teacher: it reads the file `jsonfile_datapath` names.
pub const ITERATIVE_TEACHERS: &[&str] = &["iterative", "projects.cringe.teachers:IterativeTeacher"];

/// The teacher options (`:key=value` after the name) a task accepts, as ParlAI spells them.
pub const TASK_OPTIONS: &[&str] =
    &["mutators", "jsonfile_datapath", "eval_classifier_model_file", "include_label_cand_only"];

/// One `-t` entry: a task name or path plus its mutators and teacher options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task name or file path, without the mutators and options.
    pub name: String,
    /// Mutators applied in order after reading.
    pub mutators: Vec<Mutator>,
    /// The file the task reads (ParlAI's `jsonfile_datapath=FILE`, the seed's
    /// IterativeTeacher option), instead of the one its name gives.
    pub jsonfile_datapath: Option<PathBuf>,
    /// The safety classifier that judges generations on this task (ParlAI's
    /// `eval_classifier_model_file=DIR` teacher option; `cringe eval` uses it when
    /// `--eval-classifier-model-file` is not given).
    pub eval_classifier_model_file: Option<PathBuf>,
    /// ParlAI's `include_label_cand_only` teacher option: whether the classifier judges the
    /// reply alone (true, ParlAI's default and this project's) or the context, a newline and
    /// the reply (false).
    pub include_label_cand_only: Option<bool>,
}

impl TaskSpec {
    /// Parses `name[:mutators=a+b][:key=value…]`: the name is everything before the first
    /// `:`-separated part holding `=` (names themselves contain `:`, as in
    /// `safety-mini:toxic`); each later part is a teacher option of [`TASK_OPTIONS`].
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let parts: Vec<&str> = spec.split(':').collect();
        let first_option = parts.iter().position(|p| p.contains('=')).unwrap_or(parts.len());
        let name = parts[..first_option].join(":");
        if name.is_empty() {
            return Err(CoreError::Config(format!("empty task name in {spec:?}")));
        }
        let mut task = Self {
            name,
            mutators: Vec::new(),
            jsonfile_datapath: None,
            eval_classifier_model_file: None,
            include_label_cand_only: None,
        };
        for part in &parts[first_option..] {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                CoreError::Config(format!(
                    "task {spec:?}: {part:?} after the options is not key=value"
                ))
            })?;
            match key {
                "mutators" => task.mutators = Mutator::parse_list(value)?,
                "jsonfile_datapath" => task.jsonfile_datapath = Some(PathBuf::from(value)),
                "eval_classifier_model_file" => {
                    task.eval_classifier_model_file = Some(PathBuf::from(value))
                }
                "include_label_cand_only" => {
                    task.include_label_cand_only = Some(match value.to_ascii_lowercase().as_str() {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => {
                            return Err(CoreError::Config(format!(
                                "task {spec:?}: include_label_cand_only must be true or false, got {value:?}"
                            )));
                        }
                    })
                }
                other => {
                    return Err(CoreError::Config(format!(
                        "task {spec:?}: unknown option {other:?}; expected one of {TASK_OPTIONS:?}"
                    )));
                }
            }
        }
        Ok(task)
    }

    /// Parses a comma-separated `-t` value.
    pub fn parse_list(list: &str) -> Result<Vec<Self>> {
        list.split(',').filter(|s| !s.trim().is_empty()).map(Self::parse).collect()
    }

    /// The file this task reads for `dt`.
    pub fn resolve(&self, datapath: &Path, dt: Datatype) -> Result<PathBuf> {
        if let Some(file) = &self.jsonfile_datapath {
            if !file.exists() {
                return Err(CoreError::file(file, "no such file (the task's jsonfile_datapath)"));
            }
            return Ok(file.clone());
        }
        if ITERATIVE_TEACHERS.contains(&self.name.as_str()) {
            return Err(CoreError::Config(format!(
                "task {}: the iterative teacher reads the world logs that jsonfile_datapath=FILE (or -jfdp FILE) names; none was given",
                self.name
            )));
        }
        if let Some((_, pattern)) = BUILTIN_TASKS.iter().find(|(n, _)| *n == self.name) {
            let path = datapath.join("safety-mini").join(pattern.replace("{dt}", dt.name()));
            if !path.exists() {
                return Err(CoreError::file(
                    &path,
                    "missing; build the benchmark with `python3 data/build_safety_mini.py` or pass --datapath",
                ));
            }
            return Ok(path);
        }
        if self.name.starts_with("safety-mini:") {
            let known: Vec<&str> = BUILTIN_TASKS.iter().map(|(n, _)| *n).collect();
            return Err(CoreError::Config(format!(
                "unknown task {:?}; built-in tasks are {known:?}",
                self.name
            )));
        }
        let path = PathBuf::from(&self.name);
        if !path.exists() {
            return Err(CoreError::file(&path, "no such task file (and not a built-in task name)"));
        }
        Ok(path)
    }

    /// Reads, mutates and flattens the task's examples for `dt`. World-log exchanges without a
    /// verdict or a generation are left out; [`TaskSpec::load_with_notes`] says which.
    pub fn load(&self, datapath: &Path, dt: Datatype) -> Result<Vec<Example>> {
        Ok(self.load_with_notes(datapath, dt)?.0)
    }

    /// [`TaskSpec::load`], with a line for the user about what was left out of the file (if
    /// anything), so a command can report it.
    pub fn load_with_notes(
        &self,
        datapath: &Path,
        dt: Datatype,
    ) -> Result<(Vec<Example>, Option<String>)> {
        let path = self.resolve(datapath, dt)?;
        let builtin = BUILTIN_TASKS.iter().any(|(n, _)| *n == self.name);
        let mut note = None;
        let episodes: Vec<Episode> = match path.extension().and_then(|e| e.to_str()) {
            Some("txt") => read_parlai_text(&path)?,
            Some("jsonl") => match jsonl_kind(&path)? {
                JsonlKind::WorldLog => {
                    let (examples, left_out) = world_log_examples(&path)?;
                    note = left_out.summary(&path);
                    examples
                }
                JsonlKind::Trl => read_trl_jsonl(&path)?,
                JsonlKind::Pairs => read_pairs_jsonl(&path)?,
                JsonlKind::Examples => read_examples_jsonl(&path)?,
            }
            .into_iter()
            .map(|e| vec![e])
            .collect(),
            _ => {
                return Err(CoreError::file(
                    &path,
                    "unknown task file type; expected .txt (ParlAI text) or .jsonl",
                ));
            }
        };
        let mut examples: Vec<Example> =
            apply_all(&self.mutators, episodes).into_iter().flatten().collect();
        if builtin {
            examples.iter_mut().for_each(|e| e.source = self.name.clone());
        }
        Ok((examples, note))
    }
}

/// What a `.jsonl` task file holds, told by its first line's fields.
enum JsonlKind {
    /// ParlAI world logs (`dialog`).
    WorldLog,
    /// TRL's formats (`messages`, `prompt`, or `chosen` without `context`).
    Trl,
    /// Preference pairs (`chosen`).
    Pairs,
    /// Labeled examples (`context`, `response`, `label`).
    Examples,
}

fn jsonl_kind(path: &Path) -> Result<JsonlKind> {
    use std::io::{BufRead, Read};
    let f = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(f);
    // Only look at the first line's start; the real reader reports any problem precisely.
    let _ = reader.by_ref().take(1 << 20).read_line(&mut first);
    let first = serde_json::from_str::<serde_json::Value>(first.trim()).unwrap_or_default();
    Ok(if first.get("dialog").is_some() {
        JsonlKind::WorldLog
    } else if is_trl_line(&first) {
        JsonlKind::Trl
    } else if first.get("chosen").is_some() {
        JsonlKind::Pairs
    } else {
        JsonlKind::Examples
    })
}

/// Where built-in tasks are looked for: `$CRINGE_DATAPATH`, else `./data` if it has the
/// benchmark, else the repository's `data/` this binary was built from.
pub fn default_datapath() -> PathBuf {
    if let Ok(p) = std::env::var("CRINGE_DATAPATH") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("data");
    if local.join("safety-mini").is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_like_the_seed() {
        let t = TaskSpec::parse_list("safety-mini:chitchat:mutators=flatten,safety-mini:toxic:mutators=flatten+relabel+ltr_empty,runs/w.jsonl").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].mutators, vec![Mutator::Flatten]);
        assert_eq!(t[1].name, "safety-mini:toxic");
        assert_eq!(t[1].mutators.len(), 3);
        assert_eq!(t[2].name, "runs/w.jsonl");
        assert!(
            TaskSpec::parse("safety-mini:nope")
                .unwrap()
                .resolve(Path::new("data"), Datatype::Train)
                .unwrap_err()
                .to_string()
                .contains("built-in tasks")
        );
        assert_eq!(Datatype::parse("train:evalmode").unwrap(), Datatype::Train);
        assert!(Datatype::parse("dev").is_err());
    }

    #[test]
    fn the_seed_commands_teacher_options_are_parsed_and_unknown_ones_are_refused() {
        let em = TaskSpec::parse("safety-mini:toxic-eval:mutators=flatten+relabel+neg_only:eval_classifier_model_file=models/safety/eval_model:include_label_cand_only=true").unwrap();
        assert_eq!(em.name, "safety-mini:toxic-eval");
        assert_eq!(em.mutators.len(), 3);
        assert_eq!(em.eval_classifier_model_file, Some(PathBuf::from("models/safety/eval_model")));
        assert_eq!(em.include_label_cand_only, Some(true));
        assert!(TaskSpec::parse("x:include_label_cand_only=maybe").is_err());
        let it = TaskSpec::parse("projects.cringe.teachers:IterativeTeacher:mutators=flatten:jsonfile_datapath=runs/w.jsonl").unwrap();
        assert_eq!(it.name, "projects.cringe.teachers:IterativeTeacher");
        assert_eq!(it.jsonfile_datapath, Some(PathBuf::from("runs/w.jsonl")));
        let e = it.resolve(Path::new("data"), Datatype::Train).unwrap_err().to_string();
        assert!(e.contains("runs/w.jsonl") && e.contains("jsonfile_datapath"), "{e}");
        let e = TaskSpec::parse("iterative").unwrap().resolve(Path::new("data"), Datatype::Train);
        assert!(e.unwrap_err().to_string().contains("-jfdp"));
        let e = TaskSpec::parse("safety-mini:toxic:fancy=1").unwrap_err().to_string();
        assert!(e.contains("unknown option \"fancy\"") && e.contains("jsonfile_datapath"), "{e}");
    }
}
