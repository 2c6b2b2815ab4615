//! End to end: `cringe train` on a small labelled fixture makes the negative responses less
//! likely and the positive ones more likely, and writes a loadable model directory.

mod common;

use burn::tensor::Device;
use common::{cringe_ok as cringe, mean_logprob};
use cringe_core::data::{Label, read_examples_jsonl};
use cringe_core::model::ModelDir;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_train.jsonl")
}

#[test]
fn training_pushes_negatives_down_and_positives_up() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tmp.path().join("init");
    let trained = tmp.path().join("trained");
    let data = fixture();
    let data = data.to_str().unwrap();
    let common = ["--preset", "tiny", "--vocab-size", "300", "--seed", "3", "-q"];
    // zero steps: the initial model, with the tokenizer trained on the fixture
    let mut a = vec!["train", "-t", data, "--mf", init.to_str().unwrap(), "--max-train-steps", "0"];
    a.extend(common);
    cringe(&a);
    cringe(&[
        "train",
        "-t",
        data,
        "--init-model",
        init.to_str().unwrap(),
        "--mf",
        trained.to_str().unwrap(),
        "--max-train-steps",
        "60",
        "--lr",
        "3e-3",
        "--batchsize",
        "7",
        "--update-freq",
        "2",
        "--gradient-clip",
        "1.0",
        "--optimizer",
        "adamw",
        "--seed",
        "3",
        "-q",
    ]);
    let metrics = std::fs::read_to_string(format!("{}.train.jsonl", trained.display())).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(last["step"], 60);
    for key in ["loss", "ce_loss", "ct_loss", "token_acc", "ppl_pos", "ppl_ct", "ct_target_tokens"]
    {
        assert!(last[key].is_number(), "{key} missing from {last}");
    }

    let examples = read_examples_jsonl(&fixture()).unwrap();
    let (neg0, neg1) =
        (mean_logprob(&init, &examples, Label::Neg), mean_logprob(&trained, &examples, Label::Neg));
    let (pos0, pos1) =
        (mean_logprob(&init, &examples, Label::Pos), mean_logprob(&trained, &examples, Label::Pos));
    eprintln!("negative: {neg0:.3} -> {neg1:.3}; positive: {pos0:.3} -> {pos1:.3}");
    assert!(pos1 > pos0 + 0.5, "positive responses should become more likely: {pos0} -> {pos1}");
    assert!(neg1 < neg0, "negative responses should become less likely: {neg0} -> {neg1}");
    assert!(
        pos1 - neg1 > pos0 - neg0 + 1.0,
        "the gap between positives and negatives should widen"
    );
}

#[test]
fn trains_on_the_seed_style_multitask_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    let out = cringe(&[
        "train",
        "-t",
        "safety-mini:chitchat:mutators=flatten,safety-mini:toxic:mutators=flatten+relabel+ltr_empty,safety-mini:pretrain",
        "--multitask-weights",
        "5,1,1",
        "--preset",
        "tiny",
        "--vocab-size",
        "400",
        "--max-train-steps",
        "4",
        "-bs",
        "8",
        "--mf",
        model.to_str().unwrap(),
        "--log-every-n-steps",
        "2",
        "--text-truncate",
        "32",
        "--label-truncate",
        "16",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("safety-mini:toxic:mutators=flatten+relabel+ltr_empty: 5106 examples (2553 pos, 2553 neg, 0 none), weight 1"), "{text}");
    assert!(text.contains("step      4/4"), "{text}");
    assert!(model.join("model.bpk").exists());
}

#[test]
fn validates_keeps_the_best_model_and_the_latest_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    let base = [
        "train",
        "-t",
        "safety-mini:chitchat:mutators=flatten,safety-mini:toxic:mutators=flatten+relabel+ltr_empty",
        "--preset",
        "tiny",
        "--vocab-size",
        "400",
        "--max-train-steps",
        "6",
        "-bs",
        "8",
        "--text-truncate",
        "32",
        "--label-truncate",
        "16",
        "--validation-every-n-steps",
        "3",
        "--validation-max-exs",
        "24",
        "--lr",
        "3e-3",
        "--mf",
        model.to_str().unwrap(),
    ];
    let out = cringe(&base);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("valid       ").count(), 2, "{text}");
    assert!(text.contains("(best, saved)"));
    assert!(model.join("model.bpk").exists());
    assert!(tmp.path().join("m.checkpoint").join("model.bpk").exists());
    let log = std::fs::read_to_string(tmp.path().join("m.train.jsonl")).unwrap();
    let valid: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["split"] == "valid")
        .collect();
    assert_eq!(valid.len(), 2);
    assert!(valid[0]["ppl_pos"].as_f64().unwrap() > 1.0 && valid[1]["step"] == 6);

    let mut bad: Vec<&str> = base.to_vec();
    bad.extend(["--validation-metric", "bleu"]);
    let out = Command::new(env!("CARGO_BIN_EXE_cringe")).args(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown --validation-metric \"bleu\""));
}

/// Replaces every weight with NaN.
struct Poison;

impl burn::module::ModuleMapper for Poison {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::tensor::Tensor<D>>,
    ) -> burn::module::Param<burn::tensor::Tensor<D>> {
        param.map(|t| t.mul_scalar(f32::NAN))
    }
}

#[test]
fn a_non_finite_loss_stops_training_and_keeps_the_last_good_model() {
    use burn::module::Module;
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture();
    let good = tmp.path().join("good");
    cringe(&[
        "train",
        "-t",
        data.to_str().unwrap(),
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--max-train-steps",
        "2",
        "--mf",
        good.to_str().unwrap(),
        "-q",
    ]);
    let before = std::fs::read(good.join("model.bpk")).unwrap();
    let checkpoint = tmp.path().join("good.checkpoint");
    let checkpoint_before = std::fs::read(checkpoint.join("model.bpk")).unwrap();
    // a model whose weights are NaN: its first loss is NaN
    let dev = Device::flex();
    let md = ModelDir::load(&good, &dev).unwrap();
    let poisoned = tmp.path().join("poisoned");
    ModelDir::save(&md.model.map(&mut Poison), &md.tokenizer, &poisoned).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args([
            "train",
            "-t",
            data.to_str().unwrap(),
            "--init-model",
            poisoned.to_str().unwrap(),
            "--mf",
            good.to_str().unwrap(),
            "--max-train-steps",
            "3",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the loss became non-finite at step 1")
            && err.contains("were not overwritten"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(good.join("model.bpk")).unwrap(),
        before,
        "the last good model must be kept"
    );
    assert_eq!(
        std::fs::read(checkpoint.join("model.bpk")).unwrap(),
        checkpoint_before,
        "the last good checkpoint must be kept"
    );
    assert!(err.contains("its last checkpoint"), "{err}");
}
