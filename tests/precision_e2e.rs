//! Mixed precision end to end on the CPU: f16 and bf16 training track the f32 run, f16's loss
//! scale backs off from overflow by skipping updates, and a model that only overflows stops
//! training without ever writing non-finite weights.

mod common;

use common::{cringe_ok as cringe, mean_logprob};
use cringe_core::data::{Label, read_examples_jsonl};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl")
}

fn metrics(model: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(format!("{}.train.jsonl", model.display())).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A freshly initialised tiny model (tokenizer trained on the fixture) in `dir`.
fn init_model(dir: &Path) {
    let data = fixture();
    cringe(&[
        "train",
        "-t",
        data.to_str().unwrap(),
        "--mf",
        dir.to_str().unwrap(),
        "--max-train-steps",
        "0",
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--seed",
        "3",
        "-q",
    ]);
}

fn train(init: &Path, out: &Path, extra: &[&str]) {
    let data = fixture();
    let mut a = vec![
        "train",
        "-t",
        data.to_str().unwrap(),
        "--init-model",
        init.to_str().unwrap(),
        "--mf",
        out.to_str().unwrap(),
        "--max-train-steps",
        "40",
        "--lr",
        "3e-3",
        "--batchsize",
        "7",
        "--gradient-clip",
        "1.0",
        "--seed",
        "3",
        "--log-every-n-steps",
        "10",
        "-q",
    ];
    a.extend(extra);
    cringe(&a);
}

#[test]
fn f16_and_bf16_training_track_the_f32_run() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tmp.path().join("init");
    init_model(&init);
    let examples = read_examples_jsonl(&fixture()).unwrap();
    let runs: Vec<(&str, PathBuf)> =
        ["f32", "f16", "bf16"].iter().map(|p| (*p, tmp.path().join(p))).collect();
    for (p, dir) in &runs {
        train(&init, dir, &["--precision", p]);
    }
    let f32_log = metrics(&runs[0].1);
    assert!(f32_log.iter().all(|r| r.get("loss_scale").is_none()), "an f32 run has no loss scale");
    let (pos_init, neg_init) =
        (mean_logprob(&init, &examples, Label::Pos), mean_logprob(&init, &examples, Label::Neg));
    let (pos32, neg32) = (
        mean_logprob(&runs[0].1, &examples, Label::Pos),
        mean_logprob(&runs[0].1, &examples, Label::Neg),
    );
    for (p, dir) in &runs[1..] {
        let log = metrics(dir);
        assert_eq!(log.len(), f32_log.len());
        for (a, b) in log.iter().zip(&f32_log) {
            let (la, lb) = (a["loss"].as_f64().unwrap(), b["loss"].as_f64().unwrap());
            assert!(la.is_finite(), "{p}: {a}");
            // the per-window training loss stays within 5% of f32's
            assert!((la - lb).abs() <= 0.05 * lb, "{p} step {}: loss {la} vs f32 {lb}", a["step"]);
        }
        let scale = log.last().unwrap()["loss_scale"].as_f64().unwrap();
        assert_eq!(scale, if *p == "f16" { 65536.0 } else { 1.0 }, "{p}");
        let (pos, neg) =
            (mean_logprob(dir, &examples, Label::Pos), mean_logprob(dir, &examples, Label::Neg));
        eprintln!(
            "{p}: pos {pos_init:.3} -> {pos:.3} (f32 {pos32:.3}); neg {neg_init:.3} -> {neg:.3} (f32 {neg32:.3})"
        );
        assert!(
            (pos - pos32).abs() < 0.15 && (neg - neg32).abs() < 0.3,
            "{p} should learn what f32 learns"
        );
        assert!(pos > pos_init + 0.5 && neg < neg_init, "{p} should learn");
    }
}

#[test]
fn f16_overflow_skips_updates_and_backs_the_loss_scale_off() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tmp.path().join("init");
    init_model(&init);
    let out = tmp.path().join("f16");
    // 2^40: scaled gradients overflow f16 (max 65504) until the scale has halved ~20 times
    train(&init, &out, &["--precision", "f16", "--init-loss-scale", "1099511627776"]);
    let log = metrics(&out);
    let last = log.last().unwrap();
    let skipped = last["skipped_updates"].as_u64().unwrap();
    let scale = last["loss_scale"].as_f64().unwrap();
    eprintln!("skipped {skipped} updates; loss scale 2^40 -> {scale}");
    assert!((5..40).contains(&skipped), "{last}");
    assert_eq!(scale, 2f64.powi(40 - skipped as i32), "one halving per skipped update");
    assert!(log.iter().all(|r| r["loss"].as_f64().unwrap().is_finite()));
    let examples = read_examples_jsonl(&fixture()).unwrap();
    assert!(
        mean_logprob(&out, &examples, Label::Pos) > mean_logprob(&init, &examples, Label::Pos),
        "the clean updates still train"
    );
}

#[test]
fn a_model_that_only_overflows_stops_and_is_never_written() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tmp.path().join("init");
    init_model(&init);
    let data = fixture();
    let out = tmp.path().join("out");
    // --init-loss-scale 1e30 overflows f16 on every update: the scaler gives up after 30 in a row
    let run = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args([
            "train",
            "-t",
            data.to_str().unwrap(),
            "--init-model",
            init.to_str().unwrap(),
            "--mf",
            out.to_str().unwrap(),
            "--max-train-steps",
            "40",
            "--precision",
            "f16",
            "--init-loss-scale",
            "1e38",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("30 updates in a row overflowed in f16 (step 30)")
            && err.contains("--precision bf16"),
        "{err}"
    );
    assert!(
        !out.join("model.bpk").exists(),
        "no model may be written from a run that never updated"
    );
}

#[test]
fn the_classifier_trains_in_f16_and_eval_generates_in_bf16() {
    let tmp = tempfile::tempdir().unwrap();
    let mut f1 = Vec::new();
    for p in ["f32", "f16"] {
        let clf = tmp.path().join(format!("clf-{p}"));
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
            "--precision",
            p,
            "-q",
        ]);
        let scores: serde_json::Value =
            serde_json::from_str(String::from_utf8(out.stdout).unwrap().lines().last().unwrap())
                .unwrap();
        f1.push(scores["macro_f1"].as_f64().unwrap());
    }
    eprintln!("classifier macro F1: f32 {:.3}, f16 {:.3}", f1[0], f1[1]);
    assert!((f1[0] - f1[1]).abs() < 0.05, "{f1:?}");

    let init = tmp.path().join("init");
    init_model(&init);
    let data = fixture();
    let mut reports = Vec::new();
    for p in ["f32", "bf16"] {
        let out = cringe(&[
            "eval",
            "-t",
            data.to_str().unwrap(),
            "--mf",
            init.to_str().unwrap(),
            "--inference",
            "greedy",
            "--label-truncate",
            "8",
            "--precision",
            p,
            "-q",
        ]);
        reports.push(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap());
    }
    let (a, b) = (reports[0]["ppl"].as_f64().unwrap(), reports[1]["ppl"].as_f64().unwrap());
    assert!((a - b).abs() < 0.02 * a, "perplexity f32 {a} vs bf16 {b}");
}
