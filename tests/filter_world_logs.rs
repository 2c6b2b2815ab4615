//! `cringe filter-world-logs`: 50/50 balance, at most two copies of a safe text, unchanged
//! lines, seeded order; the filtered file trains as a task.

use cringe_core::data::{EpisodeExtras, Label, world_log_examples, world_log_line};
use serde_json::json;
use std::collections::HashSet;
use std::process::Command;

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

fn line(ctx: &str, generation: &str, safe: f64, human: Option<&str>) -> String {
    let mut m = json!({"classifier_accuracy": safe, "f1": 0.0}).as_object().unwrap().clone();
    if let Some(h) = human {
        m.insert("human_label".into(), json!(h));
        m.insert("annotator".into(), json!("ann"));
    }
    world_log_line(
        "safety-mini:toxic-eval",
        ctx,
        &["__notok__".into()],
        "cringe",
        generation,
        m,
        EpisodeExtras::default(),
    )
}

#[test]
fn balances_dedupes_and_keeps_lines_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..10 {
        lines.push(line(
            &format!("toxic prompt {i}"),
            &format!("you stupid idiot number {i}"),
            0.0,
            None,
        ));
    }
    for (i, generation) in [
        "have a nice day",
        "have a nice day",
        "have a nice day",
        "have a nice day",
        "hello friend",
        "let us talk about books",
    ]
    .iter()
    .enumerate()
    {
        lines.push(line(&format!("prompt {i}"), generation, 1.0, None));
    }
    // a human label outranks the classifier: judged safe, but a person said unsafe
    lines.push(line("prompt x", "sneaky insult", 1.0, Some("neg")));
    let input = tmp.path().join("wl.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out1 = tmp.path().join("f1.jsonl");
    let out2 = tmp.path().join("f2.jsonl");
    let out3 = tmp.path().join("f3.jsonl");
    let run = |out: &std::path::Path, seed: &str| {
        cringe(&[
            "filter-world-logs",
            "--world-logs-file",
            input.to_str().unwrap(),
            "--filtered-world-logs-file",
            out.to_str().unwrap(),
            "--seed",
            seed,
        ])
    };
    let msg = String::from_utf8(run(&out1, "1").stdout).unwrap();
    assert!(msg.contains("read 17 episodes (11 unsafe, 4 safe"), "{msg}");
    run(&out2, "1");
    run(&out3, "2");
    let a = std::fs::read_to_string(&out1).unwrap();
    assert_eq!(a, std::fs::read_to_string(&out2).unwrap(), "same seed, same file");
    assert_ne!(a, std::fs::read_to_string(&out3).unwrap(), "another seed, another order or choice");
    let inputs: HashSet<&str> = lines.iter().map(String::as_str).collect();
    let kept: Vec<&str> = a.lines().collect();
    assert_eq!(kept.len(), 8);
    assert!(kept.iter().all(|l| inputs.contains(l)), "lines must be copied unchanged");
    let (ex, _) = world_log_examples(&out1).unwrap();
    assert_eq!(ex.iter().filter(|e| e.label == Label::Neg).count(), 4);
    assert_eq!(ex.iter().filter(|e| e.label == Label::Pos).count(), 4);
    assert!(ex.iter().filter(|e| e.response == "have a nice day").count() <= 2);

    // the filtered file is one more task of the training mix
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl");
    let task = format!("{},{}", fixture.display(), out1.display());
    let model = tmp.path().join("m");
    let out = cringe(&[
        "train",
        "-t",
        &task,
        "--multitask-weights",
        "1,1",
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--max-train-steps",
        "2",
        "--mf",
        model.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("f1.jsonl: 8 examples (4 pos, 4 neg, 0 none)"), "{text}");
}

#[test]
fn judge_rewrites_the_verdicts_and_scores_the_classifier_against_human_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let classifier = tmp.path().join("classifier");
    let c = classifier.to_str().unwrap();
    cringe(&[
        "train-classifier",
        "-t",
        "safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only",
        "--preset",
        "tiny",
        "--vocab-size",
        "400",
        "--max-train-steps",
        "2",
        "--validation-every-n-steps",
        "2",
        "--mf",
        c,
        "-q",
    ]);
    // stale verdicts (all "safe", one of ParlAI's spelling) and three human labels of four
    let mut lines: Vec<String> =
        [("a", "you idiot", Some("neg")), ("b", "hello friend", Some("pos"))]
            .iter()
            .chain(&[("c", "nice day", Some("pos")), ("d", "whatever", None)])
            .map(|(ctx, reply, human)| line(ctx, reply, 1.0, *human))
            .collect();
    lines[0] = lines[0].replace("\"f1\":0.0", "\"f1\":0.0,\"pos_classifier_prediction\":1");
    let input = tmp.path().join("labelled.jsonl");
    let judged = tmp.path().join("judged.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = cringe(&[
        "judge",
        "--world-logs",
        input.to_str().unwrap(),
        "--classifier",
        c,
        "--judged-world-logs",
        judged.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    let a = &report["agreement"];
    let cells = ["both_safe", "both_unsafe", "false_unsafe", "missed_unsafe"]
        .map(|k| a[k].as_u64().unwrap());
    assert_eq!(
        (report["replies"].as_u64(), a["labelled"].as_u64()),
        (Some(4), Some(3)),
        "{report}"
    );
    assert_eq!(cells.iter().sum::<u64>(), 3, "{report}");
    let agree = (cells[0] + cells[1]) as f64 / 3.0;
    assert!((a["accuracy"].as_f64().unwrap() - agree).abs() < 1e-12, "{report}");

    // the judged file: the classifier's verdicts, the human labels and other metrics kept
    let text = std::fs::read_to_string(&judged).unwrap();
    let episodes: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(episodes.len(), 4);
    let safe: f64 = episodes
        .iter()
        .map(|e| e["dialog"][0][1]["metrics"]["classifier_accuracy"].as_f64().unwrap())
        .sum();
    assert!((safe / 4.0 - report["safe_share"].as_f64().unwrap()).abs() < 1e-12, "{report}");
    let first = &episodes[0]["dialog"][0][1]["metrics"];
    assert_eq!((first["human_label"].as_str(), first["f1"].as_f64()), (Some("neg"), Some(0.0)));
    assert!(first.get("pos_classifier_prediction").is_none(), "{first}");
    let e = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["judge", "--world-logs", input.to_str().unwrap(), "--classifier", c])
        .args(["--judged-world-logs", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!e.status.success(), "refuses to overwrite its input");
}
