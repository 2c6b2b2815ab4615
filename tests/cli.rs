//! `cringe` command-line behaviour: help text documents every option, and bad input gives a
//! one-line error that names the file, line and field.

use std::path::Path;
use std::process::Command;

fn cringe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap()
}

#[test]
fn train_help_documents_every_option() {
    let out = cringe(&["train", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--task",
        "--multitask-weights",
        "--datapath",
        "--model-file",
        "--init-model",
        "--preset",
        "--model-config",
        "--tokenizer",
        "--vocab-size",
        "--lr",
        "--warmup-updates",
        "--optimizer",
        "--weight-decay",
        "--gradient-clip",
        "--update-freq",
        "--adam-beta1",
        "--adam-beta2",
        "--adam-eps",
        "--batchsize",
        "--max-train-steps",
        "--num-epochs",
        "--text-truncate",
        "--label-truncate",
        "--ct-loss-weight",
        "--num-pos-predictions",
        "--detach-positives-during-ct",
        "--train-ct-on-positive-examples",
        "--train-ce-on-positive-examples",
        "--ct-exclude-eos",
        "--seed",
        "--log-every-n-steps",
        "--save-every-n-steps",
        "--validation-every-n-steps",
        "--validation-max-exs",
        "--validation-metric",
        "--validation-metric-mode",
        "--metrics-file",
        "--device",
        "--quiet",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    // every option line carries a description
    let options = help.split("Example:").next().unwrap();
    // option lines are indented by at most 6 spaces; their description follows on the same
    // line or on the next, more deeply indented, line
    let lines: Vec<&str> = options.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    for (i, line) in lines.iter().enumerate() {
        if !(line.trim_start().starts_with('-') && indent(line) <= 6) {
            continue;
        }
        let same_line = line.trim().split("  ").filter(|s| !s.trim().is_empty()).count() >= 2;
        let next_line = lines.get(i + 1).is_some_and(|n| indent(n) > 6 && !n.trim().is_empty());
        assert!(same_line || next_line, "undocumented: {line}");
    }
}

#[test]
fn malformed_training_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"context\":\"a\",\"response\":\"b\",\"label\":\"pos\"}\n{\"context\":\"a\",\"response\":7,\"label\":\"neg\"}\n").unwrap();
    let out = cringe(&[
        "train",
        "-t",
        bad.to_str().unwrap(),
        "--mf",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.jsonl:2:") && err.contains("`response`") && err.contains("string"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one-line error expected: {err}");
    assert!(!Path::new(&dir.path().join("m")).exists(), "no model may be written on bad input");
}

#[test]
fn bad_flag_values_are_rejected_clearly() {
    let out = cringe(&["train", "-t", "x.jsonl", "--mf", "m", "--ct-exclude-eos", "maybe"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected true or false"));
    let out = cringe(&["train", "-t", "missing.jsonl", "--mf", "m"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
    let out = cringe(&["train", "-t", "x.jsonl", "--mf", "m", "--preset", "huge"]);
    assert!(!out.status.success());
}

#[test]
fn display_data_shows_labelled_examples_with_parlai_flags() {
    let out = cringe(&[
        "dd",
        "-t",
        "safety-mini:toxic:mutators=flatten+relabel+ltr_empty",
        "-dt",
        "valid",
        "-n",
        "6",
        "--prepend-classifier-label",
        "true",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("- - - NEW EPISODE: safety-mini:toxic").count(), 6);
    assert!(text.contains("[neg] ") && text.contains("[pos] "), "{text}");
    assert!(text.contains("valid split"));
    let out = cringe(&["dd", "-t", "safety-mini:toxic:mutators=flatten+shout"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown mutator \"shout\""));
    let out =
        cringe(&["dd", "-t", "safety-mini:chitchat,safety-mini:toxic", "--multitask-weights", "5"]);
    assert!(!out.status.success());
}

#[test]
fn eval_and_chat_take_the_seed_decoding_flags() {
    for cmd in ["eval", "chat"] {
        let out = cringe(&[cmd, "--help"]);
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        for flag in [
            "--inference",
            "--beam-size",
            "--beam-min-length",
            "--beam-block-ngram",
            "--beam-context-block-ngram",
            "--beam-block-full-context",
            "--beam-length-penalty",
            "--topk",
            "--topp",
            "--temperature",
            "--label-truncate",
        ] {
            assert!(help.contains(flag), "{cmd} --help lacks {flag}");
        }
    }
    // flag values are checked before anything is loaded (the same check `iterate` runs on each
    // stage before the first one), then the model
    let out = cringe(&[
        "eval",
        "--mf",
        "nowhere",
        "-t",
        "safety-mini:chitchat",
        "--topp",
        "1.5",
        "--inference",
        "nucleus",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--topp must be in (0, 1], got 1.5"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cringe(&[
        "eval",
        "--mf",
        "nowhere",
        "-t",
        "safety-mini:chitchat",
        "--topp",
        "0.9",
        "--inference",
        "nucleus",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"), "then a missing model");
}
