//! End to end: `cringe eval` with the seed's decoding flags writes world logs that read back and
//! a JSON report; `cringe chat` answers each piped line.

mod common;

use common::causal::smollm2;
use cringe_core::data::{read_world_logs, world_log_examples};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn cringe(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cringe {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tiny_model(dir: &Path) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl");
    let model = dir.join("m");
    cringe(&[
        "train",
        "-t",
        fixture.to_str().unwrap(),
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--max-train-steps",
        "5",
        "--mf",
        model.to_str().unwrap(),
        "-q",
    ]);
    model.to_str().unwrap().to_string()
}

#[test]
fn eval_writes_world_logs_and_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let logs = tmp.path().join("wl.jsonl");
    let out = cringe(&[
        "eval",
        "--mf",
        &model,
        "-t",
        "safety-mini:chitchat:mutators=flatten,safety-mini:toxic-eval:mutators=flatten+relabel+neg_only",
        "-dt",
        "valid",
        "--num-examples",
        "700",
        "-bs",
        "64",
        "--inference",
        "beam",
        "--beam-size",
        "3",
        "--beam-min-length",
        "4",
        "--beam-block-ngram",
        "3",
        "--beam-context-block-ngram",
        "3",
        "--beam-block-full-context",
        "true",
        "--label-truncate",
        "12",
        "--world-logs",
        logs.to_str().unwrap(),
        "-q",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(report["exs"], 700);
    for key in ["f1", "ppl", "token_acc", "gen_len", "gen_tokens_per_sec"] {
        assert!(report[key].as_f64().unwrap().is_finite(), "{key}: {report}");
    }
    assert!(report["gen_len"].as_f64().unwrap() >= 5.0, "min length 4 + end token");
    let recs = read_world_logs(&logs).unwrap();
    assert_eq!(recs.len(), 700);
    assert!(!recs[0].first_exchange(&logs).unwrap().response.is_empty());
    // no --classifier: no verdicts, so nothing of these logs becomes training data by a guess
    let (ex, left_out) = world_log_examples(&logs).unwrap();
    assert!(ex.is_empty(), "{} examples labeled without a verdict", ex.len());
    assert_eq!(left_out.len(), 700);
}

#[test]
fn chat_answers_each_line_and_resets() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args([
            "chat",
            "--mf",
            &model,
            "--inference",
            "topk",
            "--topk",
            "5",
            "--label-truncate",
            "8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi there!\nhow are you?\n[DONE]\nwhat do you like?\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("[cringe]: ").count(), 3, "{text}");
    assert!(text.contains("[history cleared]"));
}

#[test]
fn classifier_trains_and_judges_generations_in_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let clf = tmp.path().join("clf");
    let out = cringe(&[
        "train-classifier",
        "-t",
        "safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only",
        "--mf",
        clf.to_str().unwrap(),
        "--preset",
        "tiny",
        "--vocab-size",
        "1000",
        "--max-train-steps",
        "60",
        "--validation-every-n-steps",
        "30",
        "--lr",
        "2e-3",
        "-q",
    ]);
    let scores: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().lines().last().unwrap())
            .unwrap();
    assert_eq!(scores["exs"], 638);
    assert!(
        scores["macro_f1"].as_f64().unwrap() > 0.7,
        "a tiny classifier separates toxic from chit-chat: {scores}"
    );
    assert!(clf.join("classifier.json").exists() && clf.join("model.bpk").exists());

    let logs = tmp.path().join("wl.jsonl");
    let out = cringe(&[
        "eval",
        "--mf",
        &model,
        "-t",
        "safety-mini:toxic-eval:mutators=flatten+relabel+neg_only",
        "-dt",
        "valid",
        "-n",
        "20",
        "--beam-size",
        "2",
        "--label-truncate",
        "8",
        "--eval-classifier-model-file",
        clf.to_str().unwrap(),
        "--world-logs",
        logs.to_str().unwrap(),
        "-q",
    ]);
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().lines().last().unwrap())
            .unwrap();
    let share = report["classifier_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share));
    assert!(report.get("ppl").is_none(), "toxic-eval has no gold responses: {report}");
    let recs = read_world_logs(&logs).unwrap();
    let judged: Vec<f64> = recs
        .iter()
        .map(|r| r.exchanges(&logs).unwrap()[0].metrics["classifier_accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(judged.len(), 20);
    assert!((judged.iter().sum::<f64>() / 20.0 - share).abs() < 1e-9);
}

#[test]
fn chat_with_a_gguf_chat_model_answers_through_its_template_as_transformers_does() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["chat", "--inference", "greedy", "--label-truncate", "24", "--mf"])
        .arg(smollm2())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the second question only makes sense with the first turn kept
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"What is the capital of France?\nAnd of Italy?\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (text, err) =
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "{err}");
    let replies: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("[cringe]: ")).collect();
    // transformers' greedy `generate` on the same template gives this first reply
    // (core/tests/fixtures/smollm2_gguf/expected.json)
    assert_eq!(replies[0], "The capital of France is Paris.", "{text}");
    assert_eq!(replies.len(), 2, "{text}");
    assert!(replies[1].contains("Rome"), "the second reply should use the first turn: {text}");
    assert!(err.contains("loaded") && err.contains("30 layers"), "{err}");
}

#[test]
fn system_prompt_on_a_bb1_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["chat", "--mf", &model, "--system-prompt", "be nice"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--system-prompt needs a causal chat model")
    );
}

#[test]
fn a_gguf_exported_as_a_hugging_face_checkpoint_chats_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("smollm2-hf");
    let gguf = smollm2();
    let out = cringe(&["export", "--mf", gguf.to_str().unwrap(), "--hf", hf.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("llama") && said.contains("with its chat template"), "{said}");
    let chat = |model: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
            .args(["chat", "--inference", "greedy", "--label-truncate", "16", "--mf", model])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"How do I boil an egg?\n").unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    let (a, b) = (chat(gguf.to_str().unwrap()), chat(&format!("hf:{}", hf.display())));
    assert!(a.contains("[cringe]: "), "{a}");
    assert_eq!(a, b);
}
