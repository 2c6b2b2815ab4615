//! The web UI in real headless Chromium (Debian's `chromium`, driven by playwright-core from
//! `tests/browser/`): label 20 world-log generations by keyboard, reload mid-way, undo,
//! filter, export — then `cringe train` consumes the exported file; and generate with a served
//! model on WebGPU (SwiftShader) and on the CPU fallback (load, shader warm-up, streamed reply,
//! tokens/s, stop). Screenshots of each
//! step are kept in `target/tmp/browser-e2e/`.
//!
//! Needs the built UI (`scripts/build-web.sh`), Chromium and `npm ci` in `tests/browser`;
//! `scripts/test.sh` provides all three.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Kills the UI server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cringe serve-ui` on a free port (serving `models` as NAME=DIR; an entry starting
/// with `--` is passed as is) and returns it with its URL.
fn serve_ui(models: &[String]) -> (Server, String) {
    let dist = root().join("web-ui/dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} is not built: run ./scripts/build-web.sh (./scripts/test.sh does)",
        dist.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["serve-ui", "--port", "0", "--dir"])
        .arg(&dist)
        .args(models.iter().flat_map(|m| match m.starts_with("--") {
            true => vec![m.as_str()],
            false => vec!["--model", m.as_str()],
        }))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep reading what else it prints, so it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line.split(" at ").nth(1).expect("serve-ui prints its address").trim().to_string();
    (Server(child), url)
}

fn node_script(script: &str, args: &[&str]) -> String {
    let dir = root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {} (./scripts/test.sh does)",
        dir.display()
    );
    // A temporary folder of its own, to check that the script leaves no Chromium profile behind.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-tmp-{script}-{call}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .env("TMPDIR", &tmp)
        .output()
        .expect("node is installed");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("cringe-chromium-"))
        .collect();
    assert!(
        left.is_empty(),
        "{script} left its Chromium profile behind in {}: {left:?}",
        tmp.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn label_twenty_items_by_keyboard_reload_undo_export_then_train_on_them() {
    let (_server, url) = serve_ui(&[]);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-e2e");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let worldlog = root().join("tests/fixtures/label-worldlog.jsonl");
    let said =
        node_script("label.mjs", &[&url, worldlog.to_str().unwrap(), artifacts.to_str().unwrap()]);
    let summary: serde_json::Value =
        serde_json::from_str(said.trim().lines().last().unwrap()).unwrap();
    assert_eq!(summary["afterReload"], 10, "{said}");
    for shot in ["label-imported", "label-before-reload", "label-filter-unsafe", "label-exported"] {
        assert!(artifacts.join(format!("{shot}.png")).is_file(), "missing screenshot {shot}");
    }

    // The script judged item i safe (i % 3 == 0), unsafe (i % 3 == 1) or skipped, for i < 20.
    let exported = artifacts.join("labels.jsonl");
    let path = exported.as_path();
    let records = cringe_core::data::read_world_logs(path).unwrap();
    let mut seen = Vec::new();
    for rec in &records {
        let ex = &rec.exchanges(path).unwrap()[0];
        let i: usize =
            ex.response.rsplit_once('(').unwrap().1.trim_end_matches(')').parse().unwrap();
        let want = if i.is_multiple_of(3) { "pos" } else { "neg" };
        assert!(i < 20 && i % 3 != 2, "item {i} was not labeled but was exported");
        assert_eq!(ex.metrics["human_label"], want, "item {i}");
        assert_eq!(ex.metrics["annotator"], "e2e-annotator");
        assert!(ex.metrics["labeled_at"].as_str().unwrap().starts_with("20"), "ISO time");
        seen.push(i);
    }
    assert_eq!(seen, (0..20).filter(|i| i % 3 != 2).collect::<Vec<_>>());

    // `cringe train` reads the export as a task: human labels decide pos/neg.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args([
            "train",
            "-t",
            exported.to_str().unwrap(),
            "--preset",
            "tiny",
            "--vocab-size",
            "300",
        ])
        .args(["--max-train-steps", "2", "--mf", tmp.path().join("m").to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("14 examples (7 pos, 7 neg, 0 none)"), "{stdout}");
}

/// An untrained `small` model: slow enough in the browser that Stop lands mid-reply, and it
/// rarely ends a reply before the length limit.
fn small_model(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let model = dir.join("small");
    let data = root().join("tests/fixtures/tiny_train.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["train", "-t", data.to_str().unwrap(), "--preset", "small", "--vocab-size", "400"])
        .args(["--max-train-steps", "0", "-q", "--mf", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    model
}

/// Generates with `mode` (`gpu`: WebGPU, `cpu`: the `?device=cpu` fallback) and checks the
/// page: device shown, model ready, a streamed reply with tokens/s, Stop ending a reply early.
fn generate_on(mode: &str, device_text: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let model = small_model(tmp.path());
    let (_server, url) = serve_ui(&[format!("small={}", model.display())]);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-e2e");
    std::fs::create_dir_all(&artifacts).unwrap();
    let said = node_script("generate.mjs", &[&url, artifacts.to_str().unwrap(), mode]);
    let summary: serde_json::Value =
        serde_json::from_str(said.trim().lines().last().unwrap()).unwrap();
    assert!(summary["device"].as_str().unwrap().contains(device_text), "{said}");
    assert!(summary["loadStatus"].as_str().unwrap().contains("ready"), "{said}");
    assert!(summary["full"].as_u64().unwrap() > summary["stopped"].as_u64().unwrap(), "{said}");
    for shot in ["loaded", "reply", "stopped"] {
        let file = artifacts.join(format!("generate-{mode}-{shot}.png"));
        assert!(file.is_file(), "missing screenshot {}", file.display());
    }
}

#[test]
fn generate_on_webgpu_streams_a_reply_and_stop_ends_it() {
    generate_on("gpu", "WebGPU");
}

#[test]
fn generate_on_the_cpu_fallback_streams_a_reply_and_stop_ends_it() {
    generate_on("cpu", "CPU (WebAssembly)");
}

#[test]
fn compare_answers_one_prompt_with_two_models_and_judges_both() {
    let tmp = tempfile::tempdir().unwrap();
    let baseline = small_model(&tmp.path().join("a"));
    let cringe = small_model(&tmp.path().join("b"));
    let classifier = tmp.path().join("classifier");
    let out = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["train-classifier", "-t"])
        .arg("safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only")
        .args(["--preset", "tiny", "--vocab-size", "400", "--max-train-steps", "5", "--validation-every-n-steps", "5", "-q"])
        .arg("--mf")
        .arg(&classifier)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_server, url) = serve_ui(&[
        format!("baseline={}", baseline.display()),
        format!("cringe={}", cringe.display()),
        format!("--classifier={}", classifier.display()),
    ]);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-e2e");
    std::fs::create_dir_all(&artifacts).unwrap();
    let said = node_script("compare.mjs", &[&url, artifacts.to_str().unwrap()]);
    let summary: serde_json::Value =
        serde_json::from_str(said.trim().lines().last().unwrap()).unwrap();
    assert!(summary["status"].as_str().unwrap().contains("baseline vs cringe"), "{said}");
    assert!(summary["status"].as_str().unwrap().contains("with the classifier"), "{said}");
    let names: Vec<&str> =
        summary["sides"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["baseline", "cringe"]);
    assert!(artifacts.join("compare.png").is_file());
}
