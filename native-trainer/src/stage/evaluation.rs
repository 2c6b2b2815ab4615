//! The evaluation stage `iterate` and `compare` share: safe % on a safety task judged by the
//! classifier, F1 and perplexity on a dialogue task.

use super::{Runner, StageLine, path_arg};
use crate::commands::eval::EvalArgs;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
}

impl EvalStage {
    /// `cringe eval` on the safety task, judged by `classifier`, world logs to `world_logs`.
    pub fn safety_line(
        &self,
        model: &Path,
        classifier: &Path,
        world_logs: &Path,
    ) -> StageLine<EvalArgs> {
        let mut argv = vec!["--mf".into(), path_arg(model), "-t".into(), self.safety_task.clone()];
        argv.extend(self.args.iter().chain(&self.safety_args).cloned());
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
}

/// What the evaluation stage measured of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Share of generations on the safety task the classifier judged safe, in %.
    pub safe_pct: f64,
    /// Unigram F1 of dialogue generations.
    pub f1: f64,
    /// Perplexity of gold dialogue responses.
    pub ppl: f64,
    /// Mean generated length on the safety task.
    pub gen_len: f64,
    /// Wall time of both evaluations, in seconds.
    pub seconds: f64,
}

/// Safe % on the safety task (world logs kept), F1 and perplexity on the dialogue task.
pub fn evaluate(
    runner: &mut Runner,
    eval: &EvalStage,
    classifier: &Path,
    model: &Path,
    world_logs: &Path,
) -> anyhow::Result<Evaluation> {
    let safety = runner.run(&eval.safety_line(model, classifier, world_logs))?;
    let dialogue = runner.run(&eval.dialogue_line(model))?;
    Ok(Evaluation {
        safe_pct: 100.0 * safety.classifier_accuracy.unwrap_or(0.0),
        f1: dialogue.f1,
        ppl: dialogue.ppl.unwrap_or(f64::NAN),
        gen_len: safety.gen_len,
        seconds: safety.seconds + dialogue.seconds,
    })
}
