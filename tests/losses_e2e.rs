//! End to end: `cringe train --loss mle|unlikelihood|pairwise-cringe` from the same initial
//! model on the same fixture; `cringe make-pairs` from world logs; the errors users meet first.

mod common;

use common::{cringe_ok as ok, mean_logprob};
use cringe_core::data::{
    EpisodeExtras, Example, Label, pair_line, read_examples_jsonl, world_log_line,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl")
}

fn cringe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap()
}

/// The initial model (tokenizer trained on the fixture, zero steps).
fn init_model(tmp: &Path) -> PathBuf {
    let dir = tmp.join("init");
    ok(&[
        "train",
        "-t",
        fixture().to_str().unwrap(),
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
    dir
}

fn train(init: &Path, task: &Path, loss: &str, out: &Path) {
    ok(&[
        "train",
        "-t",
        task.to_str().unwrap(),
        "--init-model",
        init.to_str().unwrap(),
        "--mf",
        out.to_str().unwrap(),
        "--loss",
        loss,
        "--max-train-steps",
        "40",
        "--lr",
        "3e-3",
        "--batchsize",
        "7",
        "--gradient-clip",
        "1.0",
        "--num-pos-predictions",
        "3",
        "--seed",
        "3",
        "-q",
    ]);
}

fn last_metrics(model: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{}.train.jsonl", model.display())).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn every_loss_trains_and_only_the_negative_losses_push_negatives_down() {
    let tmp = tempfile::tempdir().unwrap();
    let examples = read_examples_jsonl(&fixture()).unwrap();
    // Start from a model that has learnt the negatives too (all relabelled positive): the
    // unlikelihood gradient is p(token)·…, so it only has work to do where negatives are likely.
    let all_pos = tmp.path().join("all_pos.jsonl");
    std::fs::write(
        &all_pos,
        std::fs::read_to_string(fixture()).unwrap().replace("\"neg\"", "\"pos\""),
    )
    .unwrap();
    let init = tmp.path().join("learnt");
    train(&init_model(tmp.path()), &all_pos, "mle", &init);
    let (pos0, neg0) =
        (mean_logprob(&init, &examples, Label::Pos), mean_logprob(&init, &examples, Label::Neg));
    assert!(neg0 > -2.5, "the starting model finds the negatives likely: {neg0}");

    let mle = tmp.path().join("mle");
    train(&init, &fixture(), "mle", &mle);
    let m = last_metrics(&mle);
    assert_eq!(m["ct_target_tokens"], 0.0, "mle drops the negatives: {m}");
    let (pos_mle, neg_mle) =
        (mean_logprob(&mle, &examples, Label::Pos), mean_logprob(&mle, &examples, Label::Neg));
    assert!(pos_mle > pos0 - 0.3, "mle keeps the positives likely: {pos0} -> {pos_mle}");

    let ul = tmp.path().join("ul");
    train(&init, &fixture(), "unlikelihood", &ul);
    assert!(last_metrics(&ul)["ct_target_tokens"].as_f64().unwrap() > 0.0);
    let (pos_ul, neg_ul) =
        (mean_logprob(&ul, &examples, Label::Pos), mean_logprob(&ul, &examples, Label::Neg));
    eprintln!(
        "init pos {pos0:.3} neg {neg0:.3}; mle pos {pos_mle:.3} neg {neg_mle:.3}; unlikelihood pos {pos_ul:.3} neg {neg_ul:.3}"
    );
    assert!(pos_ul > pos0 - 0.5, "unlikelihood keeps the positives likely: {pos0} -> {pos_ul}");
    assert!(
        neg_ul < neg_mle - 1.0,
        "unlikelihood makes negatives less likely than mle does: {neg_mle} vs {neg_ul}"
    );
}

#[test]
fn pairwise_cringe_trains_on_pairs_and_separates_chosen_from_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let init = init_model(tmp.path());
    let examples = read_examples_jsonl(&fixture()).unwrap();
    // every context with a positive and a negative response makes a pair
    let mut lines = Vec::new();
    for p in examples.iter().filter(|e| e.label == Label::Pos) {
        if let Some(n) = examples.iter().find(|e| e.label == Label::Neg && e.context == p.context) {
            lines.push(pair_line(&p.context, &p.response, &n.response, None));
        }
    }
    assert_eq!(lines.len(), 3);
    let pairs = tmp.path().join("pairs.jsonl");
    std::fs::write(&pairs, lines.join("\n") + "\n").unwrap();
    let model = tmp.path().join("pw");
    let out = ok(&[
        "train",
        "-t",
        pairs.to_str().unwrap(),
        "--init-model",
        init.to_str().unwrap(),
        "--mf",
        model.to_str().unwrap(),
        "--loss",
        "pairwise-cringe",
        "--max-train-steps",
        "30",
        "--lr",
        "3e-3",
        "--batchsize",
        "3",
        "--num-pos-predictions",
        "3",
        "--seed",
        "3",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("with the pairwise-cringe loss")
            && stdout.contains("3 of the pos are pairs"),
        "{stdout}"
    );
    let m = last_metrics(&model);
    assert!(
        m["ct_target_tokens"].as_f64().unwrap() > 0.0,
        "the rejected replies get the CT term: {m}"
    );
    let chosen: Vec<Example> = read_examples_jsonl(&fixture())
        .unwrap()
        .into_iter()
        .filter(|e| lines.iter().any(|l| l.contains(&e.response)))
        .collect();
    let gap = |dir: &Path| {
        mean_logprob(dir, &chosen, Label::Pos) - mean_logprob(dir, &chosen, Label::Neg)
    };
    let (g0, g1) = (gap(&init), gap(&model));
    assert!(g1 > g0 + 1.0, "chosen replies should pull away from rejected ones: gap {g0} -> {g1}");
}

#[test]
fn make_pairs_pairs_safe_and_unsafe_replies_of_the_same_context() {
    let tmp = tempfile::tempdir().unwrap();
    let line = |ctx: &str, reply: &str, safe: bool| {
        let mut m = serde_json::Map::new();
        m.insert("classifier_accuracy".into(), serde_json::json!(if safe { 1.0 } else { 0.0 }));
        world_log_line("t", ctx, &[], "cringe", reply, m, EpisodeExtras::default())
    };
    let a = tmp.path().join("a.jsonl");
    let b = tmp.path().join("b.jsonl");
    std::fs::write(
        &a,
        [line("c1", "nice", true), line("c2", "rude", false), line("c3", "fine", true)].join("\n")
            + "\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        [line("c1", "awful", false), line("c2", "rude", false), line("c3", "fine", true)]
            .join("\n")
            + "\n",
    )
    .unwrap();
    let pairs = tmp.path().join("pairs.jsonl");
    let out = ok(&[
        "make-pairs",
        "--world-logs",
        &format!("{},{}", a.display(), b.display()),
        "--pairs-file",
        pairs.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("read 6 generations over 3 contexts; 1 contexts have both")
    );
    let text = std::fs::read_to_string(&pairs).unwrap();
    assert_eq!(text, pair_line("c1", "nice", "awful", None) + "\n");
    // the pairs file is a task every loss reads
    let ex = cringe_core::data::read_pairs_jsonl(&pairs).unwrap();
    assert_eq!((ex[0].response.as_str(), ex[0].rejected.as_deref()), ("nice", Some("awful")));
}

#[test]
fn bad_loss_flags_and_data_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let mf = tmp.path().join("m");
    let base = [
        "train",
        "-t",
        "",
        "--mf",
        mf.to_str().unwrap(),
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--max-train-steps",
        "1",
        "-q",
    ];
    let with = |task: &str, extra: &[&str]| {
        let mut a: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        a[2] = task.to_string();
        a.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = cringe(&args);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let data = fixture();
    let e = with(data.to_str().unwrap(), &["--loss", "dpo"]);
    assert!(e.contains("unknown loss \"dpo\"") && e.contains("pairwise-cringe"), "{e}");
    let e = with(&format!("{}:mutators=neg_only", data.display()), &["--loss", "mle"]);
    assert!(e.contains("has only negative examples") && e.contains("--loss mle"), "{e}");
    let e =
        with(data.to_str().unwrap(), &["--loss", "pairwise-cringe", "--pairwise-temperature", "0"]);
    assert!(e.contains("--pairwise-temperature must be a positive number"), "{e}");
    let bad = tmp.path().join("bad_pairs.jsonl");
    std::fs::write(&bad, "{\"context\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n{\"context\":\"a\",\"chosen\":\"b\"}\n").unwrap();
    let e = with(bad.to_str().unwrap(), &["--loss", "pairwise-cringe"]);
    assert!(e.contains("bad_pairs.jsonl:2: missing field `rejected`"), "{e}");
}

#[test]
fn compare_runs_every_method_from_one_baseline_and_writes_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/compare-tiny.toml");
    let out_dir = tmp.path().join("cmp");
    let out = ok(&[
        "compare",
        "--config",
        cfg.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--sweep",
        "ct_loss_weight=0.5,2",
        "--seeds",
        "3,4",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let rows = report.as_array().unwrap();
    // baseline + 2 seeds × (mle + 2 × (unlikelihood, cringe, pairwise-cringe))
    assert_eq!(rows.len(), 15, "{stdout}");
    assert_eq!(rows[0]["method"], "baseline");
    for r in rows {
        assert!((0.0..=100.0).contains(&r["safe_pct"].as_f64().unwrap()));
        assert!(r["ppl"].as_f64().unwrap() > 1.0);
    }
    assert!(rows.iter().any(|r| r["method"] == "cringe" && r["settings"] == "ct-loss-weight=2"));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "| mle | - | 2 |",
        "| pairwise-cringe | ct-loss-weight=0.5 | 2 |",
        " ± ",
        "cringe make-pairs",
        "--loss unlikelihood --ct-loss-weight 2",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    // every run starts from the same baseline
    let baseline = out_dir.join("baseline/model");
    assert_eq!(md.matches(&format!("--init-model {}", baseline.display())).count(), 14, "{md}");
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ")).count(),
        9,
        "header + baseline + 7 method lines:\n{md}"
    );
    // a run is reproducible: the same seed gives the same numbers in a second comparison that
    // reuses the baseline and the classifier
    let again = tmp.path().join("again");
    ok(&[
        "compare",
        "--config",
        cfg.to_str().unwrap(),
        "--out-dir",
        again.to_str().unwrap(),
        "--methods",
        "cringe",
        "--seeds",
        "4",
        "--sweep",
        "ct_loss_weight=2",
        "--baseline",
        baseline.to_str().unwrap(),
        "--classifier",
        out_dir.join("classifier").to_str().unwrap(),
    ]);
    let rows2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("report.json")).unwrap()).unwrap();
    let rows2 = rows2.as_array().unwrap();
    assert_eq!(rows2.len(), 2);
    assert_eq!(
        rows2[0]["train_secs"],
        serde_json::Value::Null,
        "a reused baseline has no training time"
    );
    let pick = |rows: &[serde_json::Value]| {
        rows.iter()
            .find(|r| {
                r["method"] == "cringe" && r["seed"] == 4 && r["settings"] == "ct-loss-weight=2"
            })
            .cloned()
            .unwrap()
    };
    let (a, b) = (pick(rows), pick(rows2));
    for key in ["safe_pct", "f1", "ppl", "gen_len"] {
        assert_eq!(a[key], b[key], "{key} differs between two identical runs");
    }
    let png = std::fs::read(out_dir.join("plot.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2000);
}
