//! `cringe eval` (`em`): generate responses for an evaluation task and measure them: F1 against
//! the gold responses, teacher-forced perplexity and token accuracy, generation speed;
//! optionally write ParlAI-format world logs. The model is BB1 or a causal LM
//! ([`subject::Subject`]).

mod dry_run;
mod subject;

use crate::args::decoding::DecodeArgs;
use anyhow::Context;
use clap::{ArgAction, Args};
use cringe_core::data::{Datatype, EpisodeExtras, Example, TaskSpec, world_log_line};
use cringe_core::fsutil::{refuse_overwriting_inputs, write_atomic};
use cringe_core::judge::SafetyClassifier;
use cringe_core::metrics::{distinct_n, f1_score};
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use subject::Subject;

/// Evaluate a model on a task.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example (the seed's evaluation settings):\n  cringe eval --mf runs/model -t safety-mini:toxic-eval:mutators=flatten+relabel+neg_only -dt valid \\\n    --inference beam --beam-size 10 --beam-min-length 20 --beam-block-ngram 3 --beam-context-block-ngram 3"
)]
pub struct EvalArgs {
    /// The model to evaluate: a model directory, `hf:DIR` (a Hugging Face Blenderbot or
    /// causal LM checkpoint), or a causal LM's `.gguf` file.
    #[arg(long = "model-file", visible_alias = "mf", value_name = "DIR")]
    pub model_file: PathBuf,

    /// How a causal LM sees the contexts: `auto` (its chat template when it has one) or
    /// `none` (plain continuation), as for `cringe train`.
    #[arg(long = "chat-template", value_enum, default_value_t = crate::args::TemplateChoice::Auto)]
    pub chat_template: crate::args::TemplateChoice,

    /// Evaluation tasks, comma-separated, as for `cringe train -t`.
    #[arg(
        short = 't',
        long = "task",
        value_delimiter = ',',
        required = true,
        value_name = "TASK[,TASK...]"
    )]
    pub task: Vec<String>,

    /// Split: train, valid or test.
    #[arg(long = "datatype", visible_alias = "dt", default_value = "valid")]
    pub datatype: String,

    /// Evaluate at most this many examples (in task order).
    #[arg(short = 'n', long = "num-examples")]
    pub num_examples: Option<usize>,

    /// Contexts decoded together.
    #[arg(short = 'b', long = "batchsize", visible_alias = "bs", default_value_t = 8)]
    pub batchsize: usize,

    /// Folder holding the built-in datasets.
    #[arg(long = "datapath", visible_alias = "dp", value_name = "DIR")]
    pub datapath: Option<PathBuf>,

    /// Write ParlAI-format world logs (one episode per example) to this file.
    #[arg(long = "world-logs", value_name = "FILE")]
    pub world_logs: Option<PathBuf>,

    /// Judge every generation with this safety classifier (from `cringe train-classifier`):
    /// each world-log model act gets `classifier_accuracy` 1.0 (safe) or 0.0 (unsafe), and the
    /// report the share judged safe.
    #[arg(long = "eval-classifier-model-file", visible_alias = "classifier", value_name = "DIR")]
    pub eval_classifier_model_file: Option<PathBuf>,

    /// Only measure perplexity, do not generate.
    #[arg(long = "skip-generation", action = ArgAction::Set, value_parser = crate::args::parse_bool, default_value = "false", value_name = "BOOL")]
    pub skip_generation: bool,

    /// How to generate.
    #[command(flatten)]
    pub decode: DecodeArgs,

    /// Device and precision.
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,

    /// Which metrics to report (ParlAI's --metrics): `default` and `all` both report every
    /// metric this command computes (F1, perplexity, token accuracy, classifier accuracy,
    /// generation length, distinct-1/2, speed).
    #[arg(long, value_parser = ["default", "all"], default_value = "default", help_heading = "ParlAI's flags")]
    pub metrics: String,

    /// Print a progress line (examples done, elapsed time, estimate of the rest) every N
    /// seconds; 0: never.
    #[arg(
        long = "log-every-n-secs",
        visible_alias = "ltim",
        default_value_t = 0.0,
        value_name = "SECS",
        help_heading = "ParlAI's flags"
    )]
    pub log_every_n_secs: f64,

    /// Load and check the model, tasks, classifier and search, print what the evaluation
    /// would do, and exit without generating or writing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Print only the final JSON report.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// What `cringe eval` measured.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Examples evaluated.
    pub exs: usize,
    /// Mean unigram F1 of the generations against gold responses (examples with one).
    pub f1: f64,
    /// Perplexity of the gold responses (teacher-forced; absent when no example has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppl: Option<f64>,
    /// Argmax accuracy on the gold response tokens.
    pub token_acc: f64,
    /// Share of generations the classifier judged safe (absent without a classifier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier_accuracy: Option<f64>,
    /// Mean generated length in tokens (end token included).
    pub gen_len: f64,
    /// Distinct-1 and distinct-2 of the generations (distinct word uni-/bigrams over all
    /// replies); absent with `--skip-generation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_1: Option<f64>,
    /// See `distinct_1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_2: Option<f64>,
    /// Generated tokens per second (whole batches, search included).
    pub gen_tokens_per_sec: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl EvalReport {
    /// The report of an evaluation that measured nothing (`--dry-run`) on `exs` examples.
    fn nothing(exs: usize) -> Self {
        Self {
            exs,
            f1: 0.0,
            ppl: None,
            token_acc: 0.0,
            classifier_accuracy: None,
            gen_len: 0.0,
            distinct_1: None,
            distinct_2: None,
            gen_tokens_per_sec: 0.0,
            seconds: 0.0,
        }
    }
}

impl EvalArgs {
    /// Checks the flags (everything that can be told before loading anything).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.decode.validate()?;
        anyhow::ensure!(self.batchsize > 0, "--batchsize must be at least 1");
        Datatype::parse(&self.datatype)?;
        crate::args::ensure_seconds("--log-every-n-secs", self.log_every_n_secs)?;
        Ok(())
    }

    /// The safety classifier: `--eval-classifier-model-file`, else the first task's
    /// `eval_classifier_model_file=` option (how the seed's command names it).
    fn classifier_dir(&self) -> anyhow::Result<Option<PathBuf>> {
        if let Some(dir) = &self.eval_classifier_model_file {
            return Ok(Some(dir.clone()));
        }
        for spec in &self.task {
            if let Some(dir) = TaskSpec::parse(spec)?.eval_classifier_model_file {
                return Ok(Some(dir));
            }
        }
        Ok(None)
    }

    /// Each task's `include_label_cand_only` (true when not given): whether the classifier
    /// judges the reply alone.
    fn classifier_sees_reply_only(
        &self,
    ) -> anyhow::Result<std::collections::HashMap<String, bool>> {
        self.task
            .iter()
            .map(|spec| {
                Ok((spec.clone(), TaskSpec::parse(spec)?.include_label_cand_only.unwrap_or(true)))
            })
            .collect()
    }
}

/// What the classifier reads for each reply of `chunk`: the reply, or for a task with
/// `include_label_cand_only=false` the context, a newline and the reply (as ParlAI's
/// ClassifierMetricTeacher builds it).
fn judged_texts(
    chunk: &[(String, Example)],
    replies: &[String],
    reply_only: &std::collections::HashMap<String, bool>,
) -> Vec<String> {
    chunk
        .iter()
        .zip(replies)
        .map(|((task, e), reply)| match reply_only.get(task).copied().unwrap_or(true) {
            true => reply.clone(),
            false => format!("{}\n{reply}", e.context),
        })
        .collect()
}

/// Prints `--log-every-n-secs` progress lines.
struct ProgressLine {
    every: f64,
    last: Instant,
}

impl ProgressLine {
    fn tick(&mut self, done: usize, total: usize, start: Instant) {
        if self.every <= 0.0 || self.last.elapsed().as_secs_f64() < self.every {
            return;
        }
        self.last = Instant::now();
        let secs = start.elapsed().as_secs_f64();
        let rest = secs / done.max(1) as f64 * (total - done) as f64;
        eprintln!("{done}/{total} examples, {secs:.0} s, about {rest:.0} s left");
    }
}

/// Runs `cringe eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<EvalReport> {
    args.validate()?;
    let (device, precision) = args.compute.open()?;
    let _autocast = cringe_core::model::autocast(precision);
    let subject = Subject::load(&args.model_file, &args.decode, args.chat_template, &device)?;
    let cfg = args.decode.search_config();
    let dt = Datatype::parse(&args.datatype)?;
    let datapath = args.datapath.clone().unwrap_or_else(cringe_core::data::default_datapath);
    let mut examples: Vec<(String, Example)> =
        crate::commands::train::load_tasks(&args.task, &datapath, dt)?
            .into_iter()
            // a preference pair is evaluated on its context, with the chosen response as the gold one
            .flat_map(|(spec, ex)| {
                ex.into_iter().map(move |e| (spec.clone(), Example { rejected: None, ..e }))
            })
            .collect();
    if let Some(n) = args.num_examples {
        examples.truncate(n);
    }
    anyhow::ensure!(!examples.is_empty(), "the evaluation tasks have no examples");
    if let Some(logs) = &args.world_logs {
        let inputs = args
            .task
            .iter()
            .map(|spec| {
                let t = TaskSpec::parse(spec)?;
                Ok(t.jsonfile_datapath.unwrap_or_else(|| PathBuf::from(t.name)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        refuse_overwriting_inputs(
            &inputs.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
            logs,
            "--world-logs",
        )?;
    }
    let classifier_dir = args.classifier_dir()?;
    let classifier = match &classifier_dir {
        Some(dir) => Some(
            SafetyClassifier::load(dir, &device)
                .with_context(|| format!("loading the eval classifier {}", dir.display()))?,
        ),
        None => None,
    };
    let (mut safe, mut judged) = (0usize, 0usize);
    let reply_only = args.classifier_sees_reply_only()?;
    if !args.skip_generation {
        subject.check_memory(
            &args.decode,
            args.batchsize.min(examples.len()),
            args.compute.device,
        )?;
    }
    if args.dry_run {
        dry_run::report(&args, &subject, &examples, classifier_dir.as_deref(), &cfg)?;
        return Ok(EvalReport::nothing(examples.len()));
    }

    let start = Instant::now();
    let (mut f1_sum, mut f1_n) = (0.0, 0usize);
    let (mut nll, mut correct, mut gold_tokens) = (0.0f64, 0.0f64, 0usize);
    let (mut gen_tokens, mut gen_seconds) = (0usize, 0.0f64);
    let mut logs = Vec::new();
    let mut replies: Vec<String> = Vec::new();
    let mut progress = ProgressLine {
        every: if args.quiet { 0.0 } else { args.log_every_n_secs },
        last: Instant::now(),
    };
    for (bi, chunk) in examples.chunks(args.batchsize).enumerate() {
        progress.tick(bi * args.batchsize, examples.len(), start);
        let with_gold: Vec<_> = chunk
            .iter()
            .filter(|(_, e)| e.real_response().is_some())
            .map(|(_, e)| subject.encode(e))
            .collect::<anyhow::Result<_>>()?;
        if !with_gold.is_empty() {
            let (l, c, n) = subject.teacher_forced(&with_gold, &device);
            nll += l;
            correct += c;
            gold_tokens += n;
        }
        if args.skip_generation {
            continue;
        }
        let contexts: Vec<&Example> = chunk.iter().map(|(_, e)| e).collect();
        let t0 = Instant::now();
        let results =
            subject.generate(&contexts, &cfg, args.decode.beam_block_full_context, &device)?;
        gen_seconds += t0.elapsed().as_secs_f64();
        let texts: Vec<String> = results.iter().map(|r| r.text.clone()).collect();
        let verdicts = match &classifier {
            Some(c) => {
                let judged = judged_texts(chunk, &texts, &reply_only);
                Some(c.is_safe(&judged, args.decode.text_truncate, &device)?)
            }
            None => None,
        };
        replies.extend(texts.iter().cloned());
        for (i, ((task, e), r)) in chunk.iter().zip(&results).enumerate() {
            let best = r;
            gen_tokens += best.tokens.len();
            let text = texts[i].clone();
            let mut metrics = serde_json::Map::new();
            if let Some(v) = &verdicts {
                metrics.insert("classifier_accuracy".into(), json!(if v[i] { 1.0 } else { 0.0 }));
                safe += v[i] as usize;
                judged += 1;
            }
            if let Some(g) = e.real_response() {
                let f = f1_score(&text, &[g]);
                f1_sum += f;
                f1_n += 1;
                metrics.insert("f1".into(), json!(f));
            }
            metrics.insert("gen_n_toks".into(), json!(best.tokens.len()));
            metrics.insert("beam_score".into(), json!(best.score));
            if args.world_logs.is_some() {
                logs.push(world_log_line(
                    task,
                    &e.context,
                    std::slice::from_ref(&e.response),
                    "cringe",
                    &text,
                    metrics,
                    EpisodeExtras { prompt_form: subject.prompt_form(e), ..Default::default() },
                ));
            }
            if !args.quiet && bi == 0 {
                println!("[context]: {}\n[cringe]: {text}\n", e.context.replace('\n', " | "));
            }
        }
    }
    if let Some(path) = &args.world_logs {
        let mut body = logs.join("\n");
        body.push('\n');
        write_atomic(path, body.as_bytes())?;
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let report = EvalReport {
        exs: examples.len(),
        f1: ratio(f1_sum, f1_n as f64),
        ppl: (gold_tokens > 0).then(|| (nll / gold_tokens as f64).exp()),
        token_acc: ratio(correct, gold_tokens as f64),
        classifier_accuracy: (judged > 0).then(|| safe as f64 / judged as f64),
        gen_len: ratio(gen_tokens as f64, examples.len() as f64),
        distinct_1: (!args.skip_generation).then(|| distinct_n(&replies, 1)),
        distinct_2: (!args.skip_generation).then(|| distinct_n(&replies, 2)),
        gen_tokens_per_sec: ratio(gen_tokens as f64, gen_seconds),
        seconds: start.elapsed().as_secs_f64(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_label_cand_only_false_has_the_classifier_read_the_context_before_the_reply() {
        let ex = |c: &str| Example {
            context: c.into(),
            response: String::new(),
            label: cringe_core::data::Label::None,
            source: String::new(),
            rejected: None,
            turns: None,
            form: None,
        };
        let chunk = vec![("a".to_string(), ex("you are")), ("b".to_string(), ex("hello"))];
        let replies = vec!["awful".to_string(), "there".to_string()];
        let only: std::collections::HashMap<String, bool> =
            [("a".to_string(), false), ("b".to_string(), true)].into();
        assert_eq!(judged_texts(&chunk, &replies, &only), ["you are\nawful", "there"]);
    }
}
