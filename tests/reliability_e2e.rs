//! Nothing the user owns is lost, and bad input is refused before any work: each test is one
//! defect found by probing the release binary as a hostile-but-honest user would (see
//! docs/reliability.md), run end to end through `cringe`.

use cringe_core::data::{EpisodeExtras, world_log_line};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn cringe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap()
}

/// Runs `cringe` expecting a failure; returns its (one-line) error.
fn fails(args: &[&str]) -> String {
    let out = cringe(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "cringe {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = err.trim().lines().filter(|l| !l.starts_with("warning:")).collect();
    assert_eq!(lines.len(), 1, "one-line error expected: {err}");
    lines[0].to_string()
}

fn ok(args: &[&str]) -> Output {
    let out = cringe(args);
    assert!(
        out.status.success(),
        "cringe {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `cringe train -t TASK` of the tiny preset for `steps` updates into `mf`, plus `extra` flags.
fn train_tiny(task: &Path, mf: &Path, steps: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "-t",
        p(task),
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--max-train-steps",
        steps,
        "-q",
        "--mf",
        p(mf),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn strs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

#[test]
fn a_directory_or_file_that_is_not_a_model_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture("tiny_train.jsonl");
    let victim = tmp.path().join("important");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("notes.txt"), "my notes").unwrap();
    let e = fails(&strs(&train_tiny(&data, &victim, "2", &[])));
    assert!(
        e.contains(
            "important: holds `notes.txt`, which is not part of a model directory; refusing"
        ),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(victim.join("notes.txt")).unwrap(), "my notes");

    let file = tmp.path().join("report.txt");
    std::fs::write(&file, "keep me").unwrap();
    let e = fails(&strs(&train_tiny(&data, &file, "2", &[])));
    assert!(e.contains("report.txt: exists and is not a directory"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    // a model directory of ours is replaced, and --max-train-steps 0 may not replace it
    let model = tmp.path().join("m");
    ok(&strs(&train_tiny(&data, &model, "2", &[])));
    ok(&strs(&train_tiny(&data, &model, "1", &[])));
    let e = fails(&strs(&train_tiny(&data, &model, "0", &[])));
    assert!(
        e.contains("--max-train-steps 0 would replace this model with an untrained one"),
        "{e}"
    );

    // export --hf over a user's folder, or over a model directory, is refused
    let e = fails(&["export", "--mf", p(&model), "--hf", p(&victim)]);
    assert!(
        e.contains("holds `notes.txt`, which is not part of a Hugging Face checkpoint directory"),
        "{e}"
    );
    let e = fails(&["export", "--mf", p(&model), "--hf", p(&model)]);
    assert!(
        e.contains("holds `config.json`")
            || e.contains("which is not part of a Hugging Face checkpoint directory"),
        "{e}"
    );
    assert!(model.join("model.bpk").is_file(), "the model survives");
    let hf = tmp.path().join("hf");
    ok(&["export", "--mf", p(&model), "--hf", p(&hf)]);
    ok(&["export", "--mf", p(&model), "--hf", p(&hf)]);
    // nothing hidden is left beside them
    let hidden: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

fn episode(generation: &str, metrics: serde_json::Value) -> String {
    world_log_line(
        "t",
        "a toxic prompt",
        &[],
        "m",
        generation,
        metrics.as_object().unwrap().clone(),
        EpisodeExtras::default(),
    )
}

fn filter(input: &Path, output: &Path) -> Vec<String> {
    ["filter-world-logs", "--world-logs-file", p(input), "--filtered-world-logs-file", p(output)]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn world_logs_become_training_data_only_with_a_real_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("wl.jsonl");
    let out = tmp.path().join("filtered.jsonl");
    let good = [
        episode("you idiot", json!({"classifier_accuracy": 0.0})),
        episode("hello there", json!({"classifier_accuracy": 1.0})),
        episode("nice day", json!({"classifier_accuracy": 1.0})),
        episode("go away", json!({"human_label": "neg"})),
    ];
    // a malformed verdict on an unsafe reply is an error naming file:line and field, never "safe"
    for bad in [json!("x"), json!(null), json!([]), json!("inf"), json!(1e308)] {
        let mut lines = good.to_vec();
        lines.insert(1, episode("you are scum", json!({"classifier_accuracy": bad})));
        std::fs::write(&logs, lines.join("\n") + "\n").unwrap();
        let args = filter(&logs, &out);
        let e = fails(&strs(&args));
        assert!(
            e.contains("wl.jsonl:2: `classifier_accuracy` must be a number in [0, 1]"),
            "{bad}: {e}"
        );
        assert!(!out.exists(), "nothing is written on bad input");
        // and the same file is refused as a training task
        let e = fails(&strs(&train_tiny(&logs, &tmp.path().join("m"), "1", &[])));
        assert!(e.contains("wl.jsonl:2: `classifier_accuracy`"), "{e}");
    }
    // episodes without a verdict, or with an empty generation, are left out and reported
    let mut lines = good.to_vec();
    lines.push(episode("no verdict here", json!({"f1": 0.0})));
    lines.push(episode("", json!({"classifier_accuracy": 0.0})));
    std::fs::write(&logs, lines.join("\n") + "\n").unwrap();
    let args = filter(&logs, &out);
    let done = ok(&strs(&args));
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(
        err.contains("left out 2 exchanges of")
            && err.contains("1 without a verdict (line 5), 1 with an empty generation (line 6)"),
        "{err}"
    );
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        said.contains("(2 unsafe, 2 safe after keeping each text at most 2 times, 2 left out)"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 4);

    // nothing balanced is an error, and writes nothing
    let none = tmp.path().join("none.jsonl");
    std::fs::write(
        &none,
        [episode("a", json!({})), episode("b", json!({"f1": 0.0}))].join("\n") + "\n",
    )
    .unwrap();
    let empty_out = tmp.path().join("empty-out.jsonl");
    let args = filter(&none, &empty_out);
    let e = fails(&strs(&args));
    assert!(
        e.contains(
            "no balanced data to write: 0 unsafe and 0 safe episodes with a verdict (of 2 read)"
        ),
        "{e}"
    );
    assert!(!empty_out.exists());

    // the output may not be the input
    let before = std::fs::read(&logs).unwrap();
    let args = filter(&logs, &logs);
    let e = fails(&strs(&args));
    assert!(e.contains("--filtered-world-logs-file is the input file"), "{e}");
    assert_eq!(std::fs::read(&logs).unwrap(), before, "the input is untouched");

    // a `dialog` of the wrong type says so
    std::fs::write(&logs, "{\"dialog\":\"x\"}\n").unwrap();
    let args = filter(&logs, &out);
    let e = fails(&strs(&args));
    assert!(e.contains("wl.jsonl:1: field `dialog` must be an array of [teacher_act, model_act] pairs, got a string"), "{e}");
}

#[test]
fn untrusted_sizes_fail_cleanly_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture("tiny_train.jsonl");
    let cfg_text = std::fs::read_to_string(fixture("tiny-dropout.toml")).unwrap();
    for (field, value, want) in [
        ("embedding_size", "0", "embedding_size must be between 1 and 65536, got 0"),
        ("embedding_size", "1000000", "embedding_size must be between 1 and 65536, got 1000000"),
        ("n_encoder_layers", "0", "n_encoder_layers must be between 1 and 1024, got 0"),
    ] {
        let cfg = tmp.path().join(format!("{field}-{value}.toml"));
        let text: String = cfg_text
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{field} ")) {
                    format!("{field} = {value}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&cfg, text).unwrap();
        let e = fails(&[
            "train",
            "-t",
            p(&data),
            "--model-config",
            p(&cfg),
            "--mf",
            p(&tmp.path().join("m")),
            "-q",
        ]);
        assert!(e.contains(want), "{e}");
    }

    // a model directory whose config.json describes far more than its weights file holds
    let model = tmp.path().join("m");
    ok(&strs(&train_tiny(&data, &model, "1", &[])));
    let cpath = model.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cpath).unwrap()).unwrap();
    let eval =
        ["eval", "--mf", p(&model), "-t", p(&data), "-dt", "train", "--inference", "greedy", "-q"];
    for (size, want) in [
        (1_000_000, "embedding_size must be between 1 and 65536"),
        (32_768, "but model.bpk holds only"),
    ] {
        cfg["embedding_size"] = json!(size);
        cfg["n_heads"] = json!(4);
        std::fs::write(&cpath, cfg.to_string()).unwrap();
        let e = fails(&eval);
        assert!(e.contains(want), "{size}: {e}");
    }
    cfg["embedding_size"] = json!(32);
    std::fs::write(&cpath, cfg.to_string()).unwrap();

    // batch × beam far beyond the machine: the estimate says so, with the flag to lower
    let e = fails(&[
        "eval",
        "--mf",
        p(&model),
        "-t",
        p(&data),
        "-dt",
        "train",
        "--beam-size",
        "1000000",
        "-bs",
        "8",
        "-q",
    ]);
    assert!(
        e.contains("decoding 8 contexts × beam 1000000 at once needs ~")
            && e.ends_with("reduce --beam-size or -bs"),
        "{e}"
    );
    let e = fails(&strs(&train_tiny(&data, &tmp.path().join("m2"), "1", &["-bs", "100000000"])));
    assert!(
        e.contains("training a")
            && e.contains("with batch 100000000 needs ~")
            && e.contains("reduce -bs"),
        "{e}"
    );
}

#[test]
fn silent_accepts_are_errors_or_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture("tiny_train.jsonl");
    let mf = tmp.path().join("m");
    for (flag, value, want) in [
        ("--adam-beta1", "2", "--adam-beta1 must be in [0, 1), got 2"),
        ("--label-truncate", "0", "--label-truncate must be at least 1 token"),
        ("--adam-eps", "0", "--adam-eps must be a positive number"),
    ] {
        let e = fails(&strs(&train_tiny(&data, &mf, "1", &[flag, value])));
        assert!(e.contains(want), "{flag} {value}: {e}");
    }
    assert!(!mf.exists(), "nothing is written for a refused command line");
    ok(&strs(&train_tiny(&data, &mf, "1", &[])));
    let eval = |extra: &[&str]| {
        let mut a = vec!["eval", "--mf", p(&mf), "-t", p(&data), "-dt", "train", "-n", "2", "-q"];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let e = fails(&strs(&eval(&["--beam-length-penalty", "NaN"])));
    assert!(e.contains("--beam-length-penalty must be a finite number, got NaN"), "{e}");
    // --text-truncate above the model's 64 positions is clamped, and said so
    let out = ok(&strs(&eval(&[
        "--text-truncate",
        "500",
        "--label-truncate",
        "16",
        "--inference",
        "greedy",
    ])));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: --text-truncate 500 exceeds the model's 64 positions; using 64"),
        "{err}"
    );

    // eval's world logs may not overwrite one of its tasks
    let task = tmp.path().join("task.jsonl");
    std::fs::copy(&data, &task).unwrap();
    let e = fails(&[
        "eval",
        "--mf",
        p(&mf),
        "-t",
        p(&task),
        "-dt",
        "train",
        "-n",
        "2",
        "--world-logs",
        p(&task),
        "-q",
    ]);
    assert!(e.contains("--world-logs is the input file"), "{e}");
    assert_eq!(std::fs::read(&task).unwrap(), std::fs::read(&data).unwrap());

    // a flag file's text flag given numbers
    let flags = tmp.path().join("run.toml");
    std::fs::write(&flags, "task = [1, 2]\n").unwrap();
    let e = fails(&["train", "--config", p(&flags), "--mf", p(&mf)]);
    assert!(
        e.contains("key `task`: expected a string (or an array of strings), got integer"),
        "{e}"
    );
}
