//! End to end: `cringe train` killed with SIGKILL in the middle of a run, then resumed with
//! `--load-from-checkpoint true`, ends with exactly the weights of a run that was never
//! interrupted (same seed, CPU); Ctrl-C (SIGINT) saves a checkpoint and stops cleanly; a
//! checkpoint trained with other flags is refused with a message naming the flag.

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
        "train", "-t", &format!("{},{}", fixture("tiny_train.jsonl"), fixture("tiny_train.jsonl")), "--multitask-weights", "2,1",
        "--model-config", &fixture("tiny-dropout.toml"), "--vocab-size", "300", "--seed", "11",
        "--max-train-steps", &steps.to_string(), "-bs", "4", "--update-freq", "2", "--num-pos-predictions", "3",
        "--lr", "3e-3", "--warmup-updates", "5", "--lr-scheduler-patience", "0", "--validation-every-n-steps", "7",
        "--save-every-n-steps", "3", "--gradient-clip", "1.0", "--log-every-n-steps", "1", "--mf", model.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// All weights of a model directory, in parameter order (burnpack files also hold the random
/// parameter ids, so files of two runs differ even when their weights are equal).
fn weights(dir: &Path) -> Vec<Vec<f32>> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let md = cringe_core::model::ModelDir::load(dir, &burn::tensor::Device::default()).unwrap();
    let mut c = Collect(Vec::new());
    md.model.visit(&mut c);
    c.0
}

fn run_ok(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap();
    assert!(out.status.success(), "cringe {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
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
fn start_and_signal(args: &[String], model: &Path, at_step: u64, signal: &str) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
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
        let (wa, wb) = (weights(&a), weights(&b));
        assert!(!wa.is_empty() && wa == wb, "{what}: resumed (killed at step {killed_at}) differs from the uninterrupted run");
    }
    let sa = std::fs::read_to_string(checkpoint(&straight).join("trainer_state.json")).unwrap();
    let sb = std::fs::read_to_string(checkpoint(&resumed).join("trainer_state.json")).unwrap();
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
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
    assert!(err.contains("interrupted after step") && err.contains("--load-from-checkpoint true"), "{err}");
    let at = checkpoint_step(&model).unwrap();
    assert!((6..steps as u64).contains(&at), "checkpoint at {at}");
    assert!(err.contains(&format!("interrupted after step {at}/{steps}")), "the checkpoint is the last update: {err}");

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
