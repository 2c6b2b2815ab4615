//! End to end: `cringe train` killed with SIGKILL in the middle of a run, then resumed with
//! `--load-from-checkpoint true`, ends with exactly the weights of a run that was never
//! interrupted (same seed, CPU); Ctrl-C (SIGINT) saves a checkpoint and stops cleanly; a
//! checkpoint trained with other flags is refused with a message naming the flag. Runs that
//! never validate resume exactly too, with every learning-rate schedule and wherever they were
//! killed (a checkpoint saved before the first validation once stored a plateau scale of 0, so
//! every resumed update ran at learning rate 0).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name).display().to_string()
}

/// A tiny model with dropout, CRINGE k=3, accumulation, validation with the plateau schedule
/// and a checkpoint every 3 updates: every piece of state a resume must restore.
fn train_args(model: &Path, steps: usize) -> Vec<String> {
    [
        "train",
        "-t",
        &format!("{},{}", fixture("tiny_train.jsonl"), fixture("tiny_train.jsonl")),
        "--multitask-weights",
        "2,1",
        "--model-config",
        &fixture("tiny-dropout.toml"),
        "--vocab-size",
        "300",
        "--seed",
        "11",
        "--max-train-steps",
        &steps.to_string(),
        "-bs",
        "4",
        "--update-freq",
        "2",
        "--num-pos-predictions",
        "3",
        "--lr",
        "3e-3",
        "--warmup-updates",
        "5",
        "--lr-scheduler-patience",
        "0",
        "--validation-every-n-steps",
        "7",
        "--save-every-n-steps",
        "3",
        "--gradient-clip",
        "1.0",
        "--log-every-n-steps",
        "1",
        "--text-truncate",
        "64",
        "--label-truncate",
        "64",
        "--mf",
        model.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A run that never validates (so the plateau schedule never reacts), with `scheduler`, a
/// checkpoint after every update and the learning rate logged at each.
fn args_without_validation(model: &Path, steps: usize, scheduler: &str) -> Vec<String> {
    [
        "train",
        "-t",
        &fixture("tiny_train.jsonl"),
        "--model-config",
        &fixture("tiny-dropout.toml"),
        "--vocab-size",
        "300",
        "--seed",
        "5",
        "--max-train-steps",
        &steps.to_string(),
        "-bs",
        "4",
        "--lr",
        "3e-3",
        "--warmup-updates",
        "3",
        "--lr-scheduler",
        scheduler,
        "--save-every-n-steps",
        "1",
        "--log-every-n-steps",
        "1",
        "--text-truncate",
        "64",
        "--label-truncate",
        "64",
        "--mf",
        model.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The learning rate of each step in a run's metrics file (the last record of a step wins, as
/// a resumed run logs again the steps after its checkpoint).
fn logged_lrs(model: &Path) -> std::collections::BTreeMap<u64, f64> {
    let log = std::fs::read_to_string(format!("{}.train.jsonl", model.display())).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("split").is_none())
        .map(|v| (v["step"].as_u64().unwrap(), v["lr"].as_f64().unwrap()))
        .collect()
}

fn run_ok(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cringe {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn checkpoint(model: &Path) -> PathBuf {
    PathBuf::from(format!("{}.checkpoint", model.display()))
}

/// The step of the checkpoint on disk, if one is there.
fn checkpoint_step(model: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(checkpoint(model).join("trainer_state.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["step"].as_u64()
}

/// Starts a run and sends `signal` once a checkpoint at `at_step` or later is on disk.
fn start_and_signal(
    args: &[String],
    model: &Path,
    at_step: u64,
    signal: &str,
) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while checkpoint_step(model).is_none_or(|s| s < at_step) {
        assert!(Instant::now() < deadline, "no checkpoint at step {at_step} after 10 minutes");
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}

#[test]
fn sigkill_then_resume_equals_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let steps = 60;
    let straight = tmp.path().join("straight");
    run_ok(&train_args(&straight, steps));

    let resumed = tmp.path().join("resumed");
    let out = start_and_signal(&train_args(&resumed, steps), &resumed, 12, "-KILL");
    assert!(!out.status.success(), "the run should have been killed before finishing");
    let killed_at = checkpoint_step(&resumed).unwrap();
    assert!(killed_at < steps as u64, "killed after the run had finished (step {killed_at})");
    let mut args = train_args(&resumed, steps);
    args.extend(["--load-from-checkpoint".into(), "true".into()]);
    let text = run_ok(&args);
    assert!(text.contains(&format!("resuming from {}", checkpoint(&resumed).display())), "{text}");

    for (what, a, b) in [
        ("final weights (checkpoint)", checkpoint(&straight), checkpoint(&resumed)),
        ("best model", straight.clone(), resumed.clone()),
    ] {
        let (wa, wb) = (common::model_weights(&a), common::model_weights(&b));
        assert!(
            !wa.is_empty() && wa == wb,
            "{what}: resumed (killed at step {killed_at}) differs from the uninterrupted run"
        );
    }
    let sa = std::fs::read_to_string(checkpoint(&straight).join("trainer_state.json")).unwrap();
    let sb = std::fs::read_to_string(checkpoint(&resumed).join("trainer_state.json")).unwrap();
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        // random per run, like the ids inside the weight files
        v.as_object_mut().unwrap().remove("param_ids");
        v
    };
    assert_eq!(strip(&sa), strip(&sb), "trainer state");
    // the metrics file continues where the killed run stopped: every step once, in order
    let log = std::fs::read_to_string(format!("{}.train.jsonl", resumed.display())).unwrap();
    let mut train_steps: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("split").is_none())
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    train_steps.dedup();
    assert_eq!(*train_steps.last().unwrap(), steps as u64);
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_the_run_continues_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    let steps = 400;
    let out = start_and_signal(&train_args(&model, steps), &model, 6, "-INT");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted after step") && err.contains("--load-from-checkpoint true"),
        "{err}"
    );
    let at = checkpoint_step(&model).unwrap();
    assert!((6..steps as u64).contains(&at), "checkpoint at {at}");
    assert!(
        err.contains(&format!("interrupted after step {at}/{steps}")),
        "the checkpoint is the last update: {err}"
    );

    // resuming with a different batch size is refused, naming the flag
    let mut args = train_args(&model, steps);
    let bs = args.iter().position(|a| a == "-bs").unwrap() + 1;
    args[bs] = "5".into();
    args.extend(["--load-from-checkpoint".into(), "true".into()]);
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(&args).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--batchsize 4") && err.contains("this run has 5"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");

    // the same flags continue from the checkpoint (a shorter run: the step count may grow or shrink)
    let mut args = train_args(&model, at as usize + 2);
    args.extend(["--load-from-checkpoint".into(), "true".into()]);
    let text = run_ok(&args);
    assert!(text.contains(&format!("at step {at}/")), "{text}");
    assert_eq!(checkpoint_step(&model), Some(at + 2));
}

#[test]
fn runs_without_validation_resume_exactly_with_every_schedule_wherever_they_were_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let steps = 16;
    for scheduler in ["reduceonplateau", "invsqrt", "linear", "none"] {
        let mut resumes = 0;
        let straight = tmp.path().join(format!("straight-{scheduler}"));
        run_ok(&args_without_validation(&straight, steps, scheduler));
        let want = logged_lrs(&straight);
        assert_eq!(want.len(), steps);
        for kill_at in [1u64, 4, 9] {
            let resumed = tmp.path().join(format!("resumed-{scheduler}-{kill_at}"));
            let out = start_and_signal(
                &args_without_validation(&resumed, steps, scheduler),
                &resumed,
                kill_at,
                "-KILL",
            );
            let killed_at = checkpoint_step(&resumed).unwrap();
            if out.status.success() || killed_at >= steps as u64 {
                continue; // finished before the signal landed: nothing to resume
            }
            let mut args = args_without_validation(&resumed, steps, scheduler);
            args.extend(["--load-from-checkpoint".into(), "true".into()]);
            let text = run_ok(&args);
            assert!(text.contains(&format!("at step {killed_at}/{steps}")), "{text}");
            let got = logged_lrs(&resumed);
            assert_eq!(
                got, want,
                "{scheduler}, killed at step {killed_at}: learning rates differ from the uninterrupted run"
            );
            assert!(
                got.values().take(steps - 1).all(|&lr| lr > 0.0),
                "{scheduler}: a step ran at learning rate 0: {got:?}"
            );
            let (wa, wb) = (common::model_weights(&straight), common::model_weights(&resumed));
            assert!(
                wa == wb,
                "{scheduler}, killed at step {killed_at}: resumed weights differ from the uninterrupted run"
            );
            resumes += 1;
        }
        assert!(
            resumes >= 2,
            "{scheduler}: only {resumes} of the runs were killed before they finished"
        );
    }
}

#[test]
fn a_corrupt_trainer_state_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    run_ok(&args_without_validation(&model, 3, "none"));
    let state_file = checkpoint(&model).join("trainer_state.json");
    let text = std::fs::read_to_string(&state_file).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    state["sampler_draws"] = serde_json::json!(100_000_000_000_000u64);
    std::fs::write(&state_file, state.to_string()).unwrap();
    let mut args = args_without_validation(&model, 6, "none");
    args.extend(["--load-from-checkpoint".into(), "true".into()]);
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(&args).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "trainer_state.json: `sampler_draws` is 100000000000000 but 3 steps of batch 4"
        ) && err.contains("corrupt"),
        "{err}"
    );
    // an older checkpoint's plateau scale of 0 is repaired with a warning, and training goes on
    state["sampler_draws"] = serde_json::json!(12);
    state["plateau"]["scale"] = serde_json::json!(0.0);
    std::fs::write(&state_file, state.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`plateau.scale` is 0"));
    assert!(logged_lrs(&model).values().all(|&lr| lr > 0.0));
}
