//! The wgpu device against the CPU (built with `--features wgpu`; in CI on lavapipe, Mesa's
//! CPU Vulkan driver, with WGSL shaders): the same few training updates from the same model give
//! the same losses and weights — in f32, and with f16 products (mixed precision, loss scaling)
//! — and greedy evaluation gives the same report; so does a causal LM's training. Compiled GPU
//! kernels and autotune results persist in the kernel cache (`CRINGE_KERNEL_CACHE`), so only
//! the first run of this test pays for compiling them.

mod common;

use common::{cringe_ok as cringe, mean_logprob};
use cringe_core::data::{Label, read_examples_jsonl};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl")
}

fn losses(model: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(format!("{}.train.jsonl", model.display())).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-3)
}

#[test]
fn wgpu_trains_and_evaluates_like_the_cpu() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture();
    let data = data.to_str().unwrap();
    let init = tmp.path().join("init");
    cringe(&[
        "train",
        "-t",
        data,
        "--mf",
        init.to_str().unwrap(),
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
    let mut trained = Vec::new();
    // (device, precision): the f32 CPU run is the reference for both wgpu runs
    for (device, precision) in [("cpu", "f32"), ("wgpu", "f32"), ("wgpu", "f16")] {
        let out = tmp.path().join(format!("{device}-{precision}"));
        let run = cringe(&[
            "train",
            "-t",
            data,
            "--init-model",
            init.to_str().unwrap(),
            "--mf",
            out.to_str().unwrap(),
            "--max-train-steps",
            "3",
            "--lr",
            "3e-3",
            "--batchsize",
            "7",
            "--gradient-clip",
            "1.0",
            "--seed",
            "3",
            "--log-every-n-steps",
            "1",
            "--device",
            device,
            "--precision",
            precision,
        ]);
        let stdout = String::from_utf8_lossy(&run.stdout);
        eprintln!(
            "{device} {precision}: {}",
            stdout
                .lines()
                .filter(|l| l.contains("first update") || l.contains("saved"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        if device == "wgpu" {
            assert!(stdout.contains("first update took"), "{stdout}");
        }
        trained.push(out);
    }
    let cpu = losses(&trained[0]);
    assert_eq!(cpu.len(), 3);
    let examples = read_examples_jsonl(&fixture()).unwrap();
    // f32 on wgpu matches the CPU to 1e-3; f16 products (f32 weights) to 1e-2
    for (run, tol) in [(&trained[1], 1e-3), (&trained[2], 1e-2)] {
        for (step, (c, g)) in cpu.iter().zip(&losses(run)).enumerate() {
            assert!(
                close(*c, *g, tol),
                "{}: step {}: cpu loss {c}, wgpu loss {g}",
                run.display(),
                step + 1
            );
        }
        for label in [Label::Pos, Label::Neg] {
            let (c, g) =
                (mean_logprob(&trained[0], &examples, label), mean_logprob(run, &examples, label));
            assert!(
                close(c, g, tol),
                "{}: {label:?}: cpu-trained {c}, wgpu-trained {g}",
                run.display()
            );
        }
    }

    let mut reports = Vec::new();
    for device in ["cpu", "wgpu"] {
        let out = cringe(&[
            "eval",
            "-t",
            data,
            "--mf",
            trained[0].to_str().unwrap(),
            "--inference",
            "greedy",
            "--num-examples",
            "4",
            "--label-truncate",
            "8",
            "--device",
            device,
            "-q",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        reports.push(v);
    }
    for key in ["f1", "ppl", "token_acc", "gen_len"] {
        let (c, g) = (reports[0][key].as_f64().unwrap(), reports[1][key].as_f64().unwrap());
        assert!(close(c, g, 1e-3), "eval {key}: cpu {c}, wgpu {g}");
    }
}

/// The tiny Llama (grouped-query attention, SmolLM2's vocabulary and chat template) takes the
/// same CRINGE updates on wgpu as on the CPU: flash attention with the causal mask over
/// repeated key/value heads, the fused CRINGE kernel (f32; f16 products are the BB1 test's).
#[test]
fn a_causal_lm_trains_on_wgpu_like_on_the_cpu() {
    let tmp = tempfile::tempdir().unwrap();
    let init = format!("hf:{}", common::causal::tiny_chat_model(tmp.path()).display());
    let mut runs = Vec::new();
    for device in ["cpu", "wgpu"] {
        let out = tmp.path().join(device);
        cringe(&[
            "train",
            "--init-model",
            &init,
            "-t",
            fixture().to_str().unwrap(),
            "--mf",
            out.to_str().unwrap(),
            "--max-train-steps",
            "3",
            "-bs",
            "4",
            "--num-pos-predictions",
            "3",
            "--lr",
            "1e-2",
            "--seed",
            "5",
            "--log-every-n-steps",
            "1",
            "--device",
            device,
            "-q",
        ]);
        runs.push(losses(&out));
    }
    assert_eq!(runs[0].len(), 3);
    for (step, (c, g)) in runs[0].iter().zip(&runs[1]).enumerate() {
        assert!(close(*c, *g, 1e-3), "step {}: cpu loss {c}, wgpu loss {g}", step + 1);
    }
}

/// With only the `wgpu` feature, `--device wgpu` compiles WGSL, which has no bf16 (with
/// `vulkan` compiled in it would be SPIR-V, where the driver decides).
#[cfg(not(feature = "vulkan"))]
#[test]
fn bf16_on_a_wgsl_device_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args([
            "train",
            "-t",
            data.to_str().unwrap(),
            "--mf",
            tmp.path().join("m").to_str().unwrap(),
            "--preset",
            "tiny",
        ])
        .args([
            "--vocab-size",
            "300",
            "--max-train-steps",
            "1",
            "--device",
            "wgpu",
            "--precision",
            "bf16",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--device wgpu cannot compute in bf16") && err.contains("--precision f16"),
        "{err}"
    );
    assert!(!tmp.path().join("m").exists());
}
