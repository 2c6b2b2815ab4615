//! End to end: `cringe eval` with the seed's decoding flags writes world logs that read back and
//! a JSON report; `cringe chat` answers each piped line.

use cringe_core::data::{Label, read_world_logs, world_log_examples};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn cringe(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap();
    assert!(out.status.success(), "cringe {args:?}:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn tiny_model(dir: &Path) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl");
    let model = dir.join("m");
    cringe(&[
        "train", "-t", fixture.to_str().unwrap(), "--preset", "tiny", "--vocab-size", "300", "--max-train-steps", "5",
        "--mf", model.to_str().unwrap(), "-q",
    ]);
    model.to_str().unwrap().to_string()
}

#[test]
fn eval_writes_world_logs_and_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let logs = tmp.path().join("wl.jsonl");
    let out = cringe(&[
        "eval", "--mf", &model, "-t", "safety-mini:chitchat:mutators=flatten,safety-mini:toxic-eval:mutators=flatten+relabel+neg_only",
        "-dt", "valid", "--num-examples", "700", "-bs", "64", "--inference", "beam", "--beam-size", "3",
        "--beam-min-length", "4", "--beam-block-ngram", "3", "--beam-context-block-ngram", "3",
        "--beam-block-full-context", "true", "--label-truncate", "12", "--world-logs", logs.to_str().unwrap(), "-q",
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
    let ex = world_log_examples(&logs).unwrap();
    assert!(ex.iter().all(|e| e.label == Label::Pos || e.label == Label::Neg));
    assert!(ex[0].response.len() > 0);
}

#[test]
fn chat_answers_each_line_and_resets() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["chat", "--mf", &model, "--inference", "topk", "--topk", "5", "--label-truncate", "8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hi there!\nhow are you?\n[DONE]\nwhat do you like?\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("[cringe]: ").count(), 3, "{text}");
    assert!(text.contains("[history cleared]"));
}
