//! The evaluation stage `iterate` and `compare` share: safe % on a safety task judged by the
//! classifier (once per prompt form where the config names several — a causal LM continuing
//! raw text and answering in its chat template are two different safety questions), F1 and
//! perplexity on a dialogue task, perplexity on more held-out tasks, and the diversity and
//! length of the replies, each with its sample size.

use super::{Runner, StageLine, path_arg};
use crate::commands::eval::EvalArgs;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The evaluation stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalStage {
    /// Toxic contexts whose generations the classifier judges (safe %).
    pub safety_task: String,
    /// Dialogue whose gold responses give F1 and perplexity.
    pub dialogue_task: String,
    /// Arguments shared by both evaluations (datatype, number of examples, decoding).
    pub args: Vec<String>,
    /// More arguments for the safety evaluation only (e.g. its decoding), after `args`.
    #[serde(default)]
    pub safety_args: Vec<String>,
    /// More arguments for the dialogue evaluation only, after `args`.
    #[serde(default)]
    pub dialogue_args: Vec<String>,
    /// The safety evaluation once per form, each with more arguments after `safety_args`
    /// (e.g. `--chat-template none` and `auto`); empty: once, as configured.
    #[serde(default)]
    pub safety_forms: Vec<FormArgs>,
    /// Perplexity-only evaluations on more held-out tasks (e.g. safe responses to toxic
    /// contexts), each after `args`.
    #[serde(default)]
    pub perplexity: Vec<PerplexityTask>,
}

/// A named variant of a stage: its name and the arguments it adds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormArgs {
    /// Its name in the report and in file names (letters, digits, `-`, `_`).
    pub name: String,
    /// Arguments added for it.
    #[serde(default)]
    pub args: Vec<String>,
}

/// A held-out task whose gold responses' perplexity is measured (no generation).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerplexityTask {
    /// Its name in the report.
    pub name: String,
    /// The task, as for `-t`.
    pub task: String,
    /// Arguments after the stage's shared `args`.
    #[serde(default)]
    pub args: Vec<String>,
}

impl FormArgs {
    /// `forms`, or one unnamed form that adds nothing when the config names none.
    pub fn or_unnamed(forms: &[FormArgs]) -> Vec<FormArgs> {
        if forms.is_empty() {
            vec![FormArgs { name: String::new(), args: Vec::new() }]
        } else {
            forms.to_vec()
        }
    }

    /// Checks the name can be part of a file name.
    pub fn check_name(&self, field: &str) -> anyhow::Result<()> {
        let ok = !self.name.is_empty()
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        anyhow::ensure!(
            ok,
            "{field}: name {:?} must be letters, digits, '-' or '_' (it names files)",
            self.name
        );
        Ok(())
    }
}

impl EvalStage {
    /// The safety evaluation's forms: the configured ones, or one unnamed form.
    pub fn forms(&self) -> Vec<FormArgs> {
        FormArgs::or_unnamed(&self.safety_forms)
    }

    /// The world-log file of the form named `form` in `dir`: `eval_world_logs.jsonl`, or
    /// `eval_world_logs.<form>.jsonl` with several forms.
    pub fn world_logs(dir: &Path, form: &str) -> PathBuf {
        named_file(dir, "eval_world_logs", form)
    }

    /// `cringe eval` on the safety task in `form`, judged by `classifier`, world logs to
    /// `world_logs`.
    pub fn safety_line(
        &self,
        model: &Path,
        classifier: &Path,
        form: &FormArgs,
        world_logs: &Path,
    ) -> StageLine<EvalArgs> {
        let mut argv = vec!["--mf".into(), path_arg(model), "-t".into(), self.safety_task.clone()];
        argv.extend(self.args.iter().chain(&self.safety_args).chain(&form.args).cloned());
        argv.extend([
            "--eval-classifier-model-file".into(),
            path_arg(classifier),
            "--world-logs".into(),
            path_arg(world_logs),
            "-q".into(),
        ]);
        StageLine::new(argv)
    }

    /// `cringe eval` on the dialogue task.
    pub fn dialogue_line(&self, model: &Path) -> StageLine<EvalArgs> {
        let mut argv =
            vec!["--mf".into(), path_arg(model), "-t".into(), self.dialogue_task.clone()];
        argv.extend(self.args.iter().chain(&self.dialogue_args).cloned());
        argv.push("-q".into());
        StageLine::new(argv)
    }

    /// `cringe eval --skip-generation true` on one perplexity task.
    pub fn perplexity_line(&self, model: &Path, task: &PerplexityTask) -> StageLine<EvalArgs> {
        let mut argv = vec!["--mf".into(), path_arg(model), "-t".into(), task.task.clone()];
        argv.extend(self.args.iter().chain(&task.args).cloned());
        argv.extend(["--skip-generation".into(), "true".into(), "-q".into()]);
        StageLine::new(argv)
    }

    /// Every line of the stage, for the preflight check.
    pub fn check(&self, model: &Path, classifier: &Path, logs: &Path) -> anyhow::Result<()> {
        for (i, form) in self.safety_forms.iter().enumerate() {
            form.check_name(&format!("[[eval.safety_forms]] {}", i + 1))?;
        }
        for form in self.forms() {
            self.safety_line(model, classifier, &form, logs).check()?;
        }
        self.dialogue_line(model).check()?;
        for task in &self.perplexity {
            self.perplexity_line(model, task).check()?;
        }
        Ok(())
    }
}

/// `<stem>.jsonl` in `dir`, or `<stem>.<name>.jsonl` for a named variant.
pub fn named_file(dir: &Path, stem: &str, name: &str) -> PathBuf {
    if name.is_empty() {
        dir.join(format!("{stem}.jsonl"))
    } else {
        dir.join(format!("{stem}.{name}.jsonl"))
    }
}

/// One form's safety evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormScore {
    /// The form's name (empty when the config names none).
    pub form: String,
    /// Share of replies the classifier judged safe, in %.
    pub safe_pct: f64,
    /// Mean reply length in tokens.
    pub gen_len: f64,
    /// Distinct-1 of the replies.
    pub distinct_1: f64,
    /// Distinct-2 of the replies.
    pub distinct_2: f64,
    /// Contexts evaluated.
    pub contexts: usize,
}

/// A perplexity-only task's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPerplexity {
    /// The task's name in the config.
    pub name: String,
    /// Perplexity of its gold responses.
    pub ppl: f64,
    /// Examples measured.
    pub examples: usize,
}

/// What the evaluation stage measured of one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// Share of safety-task generations the classifier judged safe, in % (the mean over the
    /// forms, which have the same contexts).
    pub safe_pct: f64,
    /// Unigram F1 of dialogue generations.
    pub f1: f64,
    /// Perplexity of gold dialogue responses.
    pub ppl: f64,
    /// Mean generated length on the safety task (mean over the forms).
    pub gen_len: f64,
    /// Distinct-2 of the safety-task replies (mean over the forms).
    pub distinct_2: f64,
    /// Each form's safety evaluation.
    pub forms: Vec<FormScore>,
    /// Dialogue examples behind F1 and perplexity.
    pub dialogue_examples: usize,
    /// The perplexity-only tasks.
    pub perplexity: Vec<TaskPerplexity>,
    /// Wall time of the evaluations, in seconds.
    pub seconds: f64,
}

/// Every evaluation of the stage on `model`; the safety world logs go into `dir`.
pub fn evaluate(
    runner: &mut Runner,
    eval: &EvalStage,
    classifier: &Path,
    model: &Path,
    dir: &Path,
) -> anyhow::Result<Evaluation> {
    let mut forms = Vec::new();
    let mut seconds = 0.0;
    for form in eval.forms() {
        let logs = EvalStage::world_logs(dir, &form.name);
        let r = runner.run(&eval.safety_line(model, classifier, &form, &logs))?;
        seconds += r.seconds;
        forms.push(FormScore {
            form: form.name.clone(),
            safe_pct: 100.0 * r.classifier_accuracy.unwrap_or(0.0),
            gen_len: r.gen_len,
            distinct_1: r.distinct_1.unwrap_or(0.0),
            distinct_2: r.distinct_2.unwrap_or(0.0),
            contexts: r.exs,
        });
    }
    let dialogue = runner.run(&eval.dialogue_line(model))?;
    seconds += dialogue.seconds;
    let mut perplexity = Vec::new();
    for task in &eval.perplexity {
        let r = runner.run(&eval.perplexity_line(model, task))?;
        seconds += r.seconds;
        perplexity.push(TaskPerplexity {
            name: task.name.clone(),
            ppl: r.ppl.unwrap_or(f64::NAN),
            examples: r.exs,
        });
    }
    let mean = |f: fn(&FormScore) -> f64| forms.iter().map(f).sum::<f64>() / forms.len() as f64;
    Ok(Evaluation {
        safe_pct: mean(|f| f.safe_pct),
        f1: dialogue.f1,
        ppl: dialogue.ppl.unwrap_or(f64::NAN),
        gen_len: mean(|f| f.gen_len),
        distinct_2: mean(|f| f.distinct_2),
        forms,
        dialogue_examples: dialogue.exs,
        perplexity,
        seconds,
    })
}
