//! Fault injection: `cringe train` killed (SIGKILL) at random moments — mid-update and
//! mid-save — a hundred times, and a save that runs out of disk. Whatever is left on disk
//! loads, and resuming from it ends with exactly the weights of a run that was never
//! interrupted; a full disk leaves the previous model byte-identical with a one-line error.
//! Figures in docs/reliability.md.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name).display().to_string()
}

/// A tiny run that checkpoints after every update, so kills land in saves as often as in updates.
fn train_args(model: &Path, steps: usize) -> Vec<String> {
    [
        "train",
        "-t",
        &fixture("tiny_train.jsonl"),
        "--model-config",
        &fixture("tiny-dropout.toml"),
        "--vocab-size",
        "300",
        "--seed",
        "9",
        "--max-train-steps",
        &steps.to_string(),
        "-bs",
        "4",
        "--lr",
        "3e-3",
        "--save-every-n-steps",
        "1",
        "--text-truncate",
        "64",
        "--label-truncate",
        "64",
        "-q",
        "--mf",
        model.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap()
}

fn checkpoint(model: &Path) -> PathBuf {
    PathBuf::from(format!("{}.checkpoint", model.display()))
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// SplitMix64: the kill delays, reproducible from the seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn a_hundred_sigkills_lose_nothing_and_every_resume_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let steps = 6;
    let straight = tmp.path().join("straight");
    // The kill delays span a warm run: the quickest of three (the first one also pays for
    // loading a freshly built binary from disk, up to ten times a warm run's time).
    let mut run_time = Duration::MAX;
    for i in 0..3 {
        let start = Instant::now();
        let out = if i == 0 { straight.clone() } else { tmp.path().join(format!("warm{i}")) };
        assert!(run(&train_args(&out, steps)).status.success());
        run_time = run_time.min(start.elapsed());
    }
    let want = common::model_weights(&checkpoint(&straight));
    let (mut trials, mut killed, mut mid_run) = (0, 0, 0);
    let mut rng = 20_261_201u64;
    while trials < 100 {
        trials += 1;
        let dir = tmp.path().join(format!("t{trials}"));
        std::fs::create_dir(&dir).unwrap();
        let model = dir.join("m");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
            .args(train_args(&model, steps))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // anywhere from process start to the end of the run
        let delay = Duration::from_micros(next(&mut rng) % (run_time.as_micros() as u64 + 1));
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let status = child.wait().unwrap();
        if !status.success() && checkpoint(&model).exists() {
            mid_run += 1;
        }
        // whatever is on disk loads (a model directory only appears complete)
        if model.exists() {
            common::model_weights(&model);
        }
        let mut args = train_args(&model, steps);
        args.extend(["--load-from-checkpoint".into(), "true".into()]);
        let out = run(&args);
        assert!(
            out.status.success(),
            "trial {trials}: resume failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = common::model_weights(&checkpoint(&model));
        assert!(
            got == want,
            "trial {trials} (killed after {delay:?}): resumed weights differ from the uninterrupted run"
        );
        assert_eq!(common::model_weights(&model), want, "trial {trials}: the final model");
        // the next save cleaned up whatever the killed one left
        assert_eq!(names(&dir), ["m", "m.checkpoint", "m.train.jsonl"], "trial {trials}");
    }
    println!(
        "{trials} trials, {killed} killed ({mid_run} after a checkpoint was on disk); a run takes {run_time:?}; every resume exact"
    );
    assert!(killed >= 50, "only {killed} of {trials} runs were killed before they finished");
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_the_previous_model_byte_identical_and_says_so_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1200k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "this test mounts a 1.2 MB tmpfs and needs root (CI runs as root)");
    let _disk = Tmpfs(mnt.clone());
    let model = mnt.join("m");
    let first = run(&train_args(&model, 1));
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        names(dir).into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap())).collect()
    };
    let (before_model, before_ckpt) = (snapshot(&model), snapshot(&checkpoint(&model)));
    // a second save needs room for a second copy, which the disk does not have
    let out = run(&train_args(&model, 2));
    assert!(!out.status.success(), "the save should have run out of space");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    assert!(snapshot(&model) == before_model, "the previous model changed");
    assert!(snapshot(&checkpoint(&model)) == before_ckpt, "the previous checkpoint changed");
    assert_eq!(
        names(&mnt),
        ["m", "m.checkpoint", "m.train.jsonl"],
        "a half-written copy was left on the full disk"
    );
}
