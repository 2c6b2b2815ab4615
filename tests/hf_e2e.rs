//! End to end with Hugging Face checkpoints: fine-tune the fixture Blenderbot models with
//! `cringe train --init-model hf:DIR`, evaluate one with `--mf hf:DIR`, export the result with
//! `cringe export --hf`, and load the export back with the same outputs.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cringe_core::hf;
use cringe_core::model::ModelDir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn hf_fixture(arch: &str) -> PathBuf {
    root().join("core/tests/fixtures/hf_blenderbot").join(arch)
}

fn cringe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = cringe(args);
    assert!(
        out.status.success(),
        "cringe {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn logits(md: &ModelDir, device: &Device) -> Vec<f32> {
    let tok = &md.tokenizer;
    let sp = tok.special();
    let mut ctx = tok.encode("do you like pizza?").unwrap();
    ctx.push(sp.end);
    let mut dec = vec![sp.start];
    dec.extend(tok.encode("yes, a lot").unwrap());
    let row = |v: Vec<u32>| {
        let n = v.len();
        Tensor::<2, Int>::from_data(
            TensorData::new(v.into_iter().map(i64::from).collect::<Vec<_>>(), [1, n]),
            device,
        )
    };
    md.model.forward(row(ctx), row(dec)).try_to_vec_as::<f32>().unwrap()
}

fn tensor(path: &Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor(name).unwrap().data().to_vec()
}

#[test]
fn fine_tune_hf_checkpoints_then_export_them_for_transformers() {
    let data = root().join("tests/fixtures/tiny_train.jsonl");
    let dev = Device::flex();
    for arch in ["blenderbot", "blenderbot_small"] {
        let tmp = tempfile::tempdir().unwrap();
        let model = tmp.path().join("model");
        let exported = tmp.path().join("model-hf");
        let init = format!("hf:{}", hf_fixture(arch).display());
        ok(&[
            "train",
            "-t",
            data.to_str().unwrap(),
            "--init-model",
            &init,
            "--mf",
            model.to_str().unwrap(),
            "--max-train-steps",
            "12",
            "--lr",
            "1e-3",
            "-bs",
            "4",
            "--seed",
            "5",
            "-q",
        ]);
        let metrics = std::fs::read_to_string(format!("{}.train.jsonl", model.display())).unwrap();
        let losses: Vec<f64> = metrics
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["loss"].as_f64())
            .collect();
        assert!(
            losses.len() >= 2 && losses.last() < losses.first(),
            "{arch}: loss did not fall: {losses:?}"
        );

        let said =
            ok(&["export", "--mf", model.to_str().unwrap(), "--hf", exported.to_str().unwrap()]);
        let model_type = if arch == "blenderbot" { "(blenderbot," } else { "(blenderbot-small," };
        assert!(said.contains(model_type) && !said.contains("warning"), "{said}");
        let trained = ModelDir::load(&model, &dev).unwrap();
        let back = hf::load(&exported, &dev).unwrap();
        assert_eq!(logits(&back, &dev), logits(&trained, &dev), "{arch}");
        assert_ne!(
            logits(&trained, &dev),
            logits(&hf::load(&hf_fixture(arch), &dev).unwrap(), &dev),
            "{arch}: training changed nothing"
        );
        // transformers keeps final_logits_bias fixed; so does training here.
        let bias = |dir: &Path| tensor(&dir.join("model.safetensors"), "final_logits_bias");
        assert_eq!(bias(&exported), bias(&hf_fixture(arch)), "{arch}");
        // Weights trained here differ from the checkpoint's.
        let w = |dir: &Path| {
            tensor(&dir.join("model.safetensors"), "model.decoder.layers.0.fc1.weight")
        };
        assert_ne!(w(&exported), w(&hf_fixture(arch)));
    }
}

#[test]
fn eval_reads_hf_checkpoints_and_bad_ones_fail_in_one_line() {
    let data = root().join("tests/fixtures/tiny_train.jsonl");
    let init = format!("hf:{}", hf_fixture("blenderbot").display());
    let said = ok(&[
        "eval",
        "--mf",
        &init,
        "-t",
        data.to_str().unwrap(),
        "-dt",
        "train",
        "--inference",
        "greedy",
        "--beam-min-length",
        "1",
        "--num-examples",
        "4",
    ]);
    assert!(said.contains("ppl"), "{said}");

    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    let out = cringe(&[
        "train",
        "-t",
        data.to_str().unwrap(),
        "--init-model",
        &format!("hf:{}", missing.display()),
        "--mf",
        tmp.path().join("m").to_str().unwrap(),
        "-q",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nowhere") && err.contains("not a directory"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
