//! End to end: causal LMs through the training commands. A tiny Llama with SmolLM2's
//! tokenizer and chat template, saved as a Hugging Face directory, is fine-tuned with CRINGE
//! on JSONL examples: the positives' likelihood rises and the negatives' falls; the output is a
//! Hugging Face directory that `cringe chat` talks to and `cringe eval` measures; a run killed
//! between checkpoints and resumed ends with the weights of one that never stopped;
//! `--chat-template none` trains plain continuation; `iterate` and `compare` run their loops
//! from it as shipped. SmolLM2-135M-Instruct itself, from its GGUF, takes CRINGE updates on
//! TRL-format data and chats afterwards.

mod common;

use burn::tensor::Device;
use burn::tensor::activation::log_softmax;
use common::causal::{fixture, smollm2, tiny_chat_model};
use common::cringe_ok;
use cringe_core::data::{CausalBatch, Label, read_examples_jsonl};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn train_args(init: &str, model_file: &Path, steps: usize) -> Vec<String> {
    train_args_on("tiny_train.jsonl", init, model_file, steps)
}

/// `cringe train` from `init` on the fixture `task` with CRINGE (k = 3), a checkpoint every 3
/// updates.
fn train_args_on(task: &str, init: &str, model_file: &Path, steps: usize) -> Vec<String> {
    [
        "train",
        "--init-model",
        init,
        "-t",
        fixture(task).to_str().unwrap(),
        "--max-train-steps",
        &steps.to_string(),
        "-bs",
        "4",
        "--num-pos-predictions",
        "3",
        "--lr",
        "1e-2",
        "--seed",
        "5",
        "--save-every-n-steps",
        "3",
        "--log-every-n-steps",
        "1",
        "--mf",
        model_file.to_str().unwrap(),
        "-q",
    ]
    .map(String::from)
    .to_vec()
}

fn run(args: &[String]) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    cringe_ok(&refs);
}

/// Mean per-token log-probability, under the causal LM in `dir`, of the fixture's responses
/// with `label`, encoded as the trainer encodes them (chat turns).
fn mean_logprob(dir: &Path, label: Label) -> f64 {
    let device = Device::flex();
    let lm = cringe_core::pretrained::load(dir, &device).unwrap();
    let examples = read_examples_jsonl(&fixture("tiny_train.jsonl")).unwrap();
    let items: Vec<_> = examples
        .iter()
        .filter(|e| e.label == label)
        .map(|e| lm.text.encode_example(e).unwrap())
        .collect();
    let batch = CausalBatch::collate(&items, &device);
    let n = batch.target_tokens();
    let (logits, target_rows) = lm.model.target_logits(&batch, &device);
    let targets = target_rows.pack_ids(batch.targets).reshape([n, 1]);
    let sum: f32 = log_softmax(logits, 1).gather(1, targets).sum().into_scalar();
    sum as f64 / n as f64
}

/// The tensors of a Hugging Face directory's `model.safetensors`, by name.
fn weights(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> =
        st.tensors().into_iter().map(|(name, t)| (name, t.data().to_vec())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn chat(model: &Path, input: &str) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["chat", "--inference", "greedy", "--label-truncate", "12", "--mf"])
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

#[test]
fn cringe_on_a_causal_lm_raises_the_positives_lowers_the_negatives_and_saves_a_chat_model() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tiny_chat_model(tmp.path());
    let out = tmp.path().join("tuned");
    let init_spec = format!("hf:{}", init.display());
    run(&train_args(&init_spec, &out, 12));
    let (pos0, neg0) = (mean_logprob(&init, Label::Pos), mean_logprob(&init, Label::Neg));
    let (pos1, neg1) = (mean_logprob(&out, Label::Pos), mean_logprob(&out, Label::Neg));
    assert!(pos1 > pos0 + 1.0, "positives: {pos0:.3} → {pos1:.3}");
    assert!(neg1 < pos1 - 1.0, "negatives should fall behind: pos {pos1:.3}, neg {neg1:.3}");
    assert!(neg1 - neg0 < pos1 - pos0, "neg {neg0:.3} → {neg1:.3}, pos {pos0:.3} → {pos1:.3}");
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(config.contains("\"model_type\": \"llama\""), "{config}");
    let tok = std::fs::read_to_string(out.join("tokenizer_config.json")).unwrap();
    assert!(tok.contains("im_start"), "the chat template is kept: {tok}");
    let log = std::fs::read_to_string(format!("{}.train.jsonl", out.display())).unwrap();
    assert_eq!(log.lines().count(), 12, "{log}");
    let (text, err) = chat(&out, "hi there!\n");
    assert!(err.contains("loaded"), "{err}");
    assert_eq!(text.lines().filter(|l| l.starts_with("[cringe]: ")).count(), 1, "{text}");
}

#[test]
fn a_causal_run_resumed_from_its_checkpoint_ends_with_the_weights_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let init = format!("hf:{}", tiny_chat_model(tmp.path()).display());
    let whole = tmp.path().join("whole");
    run(&train_args(&init, &whole, 6));
    let parts = tmp.path().join("parts");
    run(&train_args(&init, &parts, 3));
    let ckpt = tmp.path().join("parts.checkpoint");
    let state = std::fs::read_to_string(ckpt.join("trainer_state.json")).unwrap();
    assert!(state.contains("\"param_ids\""), "{state}");
    let mut resumed = train_args(&init, &parts, 6);
    resumed.extend(["--load-from-checkpoint", "true"].map(String::from));
    run(&resumed);
    assert!(weights(&whole) == weights(&parts), "the resumed run's weights differ");
}

#[test]
fn chat_template_none_trains_plain_continuation() {
    let tmp = tempfile::tempdir().unwrap();
    let init = format!("hf:{}", tiny_chat_model(tmp.path()).display());
    let out = tmp.path().join("base");
    let mut args = train_args(&init, &out, 2);
    args.retain(|a| a != "-q");
    args.extend(["--chat-template", "none"].map(String::from));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = String::from_utf8_lossy(&cringe_ok(&refs).stderr).to_string();
    assert!(err.contains("plain continuation"), "{err}");
}

#[test]
fn smollm2_from_its_gguf_takes_cringe_updates_on_trl_data_and_still_chats() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("smollm2-cringe");
    let gguf = smollm2();
    let mut args = train_args_on("tiny_trl.jsonl", gguf.to_str().unwrap(), &out, 2);
    args.retain(|a| a != "-q");
    let lr = args.iter().position(|a| a == "1e-2").unwrap();
    args[lr] = "1e-5".into();
    let bs = args.iter().position(|a| a == "4").unwrap();
    args[bs] = "2".into();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = String::from_utf8_lossy(&cringe_ok(&refs).stdout).to_string();
    // the TRL file: 2 conversations, 4 prompt-completions (1 labelled false), 2 pairs
    assert!(said.contains("8 examples (7 pos, 1 neg, 0 none; 2 of the pos are pairs"), "{said}");
    let (text, _) = chat(&out, "What is the capital of France?\n");
    let reply = text.lines().find_map(|l| l.strip_prefix("[cringe]: ")).unwrap_or_default();
    assert!(reply.contains("Paris"), "two small updates keep what it knows: {text}");
}

#[test]
fn eval_on_a_causal_lm_reports_the_perplexity_its_logits_give_and_generates_replies() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tiny_chat_model(tmp.path());
    let out = tmp.path().join("tuned");
    run(&train_args(&format!("hf:{}", init.display()), &out, 6));
    let task = format!("{}:mutators=pos_only", fixture("tiny_train.jsonl").display());
    let logs = tmp.path().join("logs.jsonl");
    let said = cringe_ok(&[
        "eval",
        "--mf",
        out.to_str().unwrap(),
        "-t",
        &task,
        "--inference",
        "greedy",
        "--label-truncate",
        "32",
        "--world-logs",
        logs.to_str().unwrap(),
        "-q",
    ]);
    let stdout = String::from_utf8_lossy(&said.stdout).to_string();
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let ppl = report["ppl"].as_f64().unwrap();
    let expected = (-mean_logprob(&out, Label::Pos)).exp();
    assert!((ppl / expected - 1.0).abs() < 1e-4, "eval ppl {ppl}, from the logits {expected}");
    assert_eq!(report["exs"], 8);
    let gen_len = report["gen_len"].as_f64().unwrap();
    assert!(gen_len > 0.0 && gen_len <= 32.0, "{report}");
    assert_eq!(std::fs::read_to_string(&logs).unwrap().lines().count(), 8);
}

/// The loop fixture `name` with its `[baseline]` replaced by the causal LM `init` as it is
/// (no training), written beside it.
fn causal_loop_config(name: &str, init: &Path, dir: &Path) -> PathBuf {
    let fixture_cfg = std::fs::read_to_string(fixture(name)).unwrap();
    let baseline = format!(
        "[baseline]\nargs = [\"-t\", \"safety-mini:chitchat:mutators=flatten\", \"--init-model\", \"hf:{}\", \"--max-train-steps\", \"0\", \"-q\"]\n\n",
        init.display()
    );
    let start = fixture_cfg.find("[baseline]").unwrap();
    let end = start + fixture_cfg[start..].find("\n[").unwrap() + 1;
    let path = dir.join(name);
    std::fs::write(&path, format!("{}{baseline}{}", &fixture_cfg[..start], &fixture_cfg[end..]))
        .unwrap();
    path
}

/// Runs `cringe <command>` on the loop fixture `config` from a tiny chat model as shipped;
/// its report and out dir.
fn causal_loop(command: &str, config: &str, tmp: &Path) -> (serde_json::Value, PathBuf) {
    let init = tiny_chat_model(tmp);
    let cfg_path = causal_loop_config(config, &init, tmp);
    let out_dir = tmp.join(command);
    cringe_ok(&[
        command,
        "--config",
        cfg_path.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
    ]);
    let report = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    (serde_json::from_str(&report).unwrap(), out_dir)
}

#[test]
fn iterate_runs_the_loop_from_a_causal_lm_as_shipped() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, out_dir) = causal_loop("iterate", "iterate-tiny.toml", tmp.path());
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 2, "baseline + 1 round: {report}");
    for r in rows {
        assert!((0.0..=100.0).contains(&r["safe_pct"].as_f64().unwrap()), "{r}");
        assert!(r["ppl"].as_f64().unwrap() > 1.0, "{r}");
    }
    for f in ["round0/model/model.safetensors", "round1/model/model.safetensors"] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let config = std::fs::read_to_string(out_dir.join("round1/model/config.json")).unwrap();
    assert!(config.contains("llama"), "round 1 is the causal LM fine-tuned: {config}");
}

#[test]
fn iterate_generates_trains_and_evaluates_a_causal_lm_in_both_prompt_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, out_dir) = causal_loop("iterate", "iterate-tiny-forms.toml", tmp.path());
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 2, "baseline + 1 round: {report}");
    for r in rows {
        let forms: Vec<&str> =
            r["forms"].as_array().unwrap().iter().map(|f| f["form"].as_str().unwrap()).collect();
        assert_eq!(forms, ["continuation", "chat"], "{r}");
        for f in r["forms"].as_array().unwrap() {
            assert_eq!(f["contexts"], 16, "{f}");
            assert!((0.0..=1.0).contains(&f["distinct_2"].as_f64().unwrap()), "{f}");
        }
        let ppl = &r["perplexity"][0];
        assert_eq!(
            (ppl["name"].as_str(), ppl["examples"].as_u64()),
            (Some("safe responses"), Some(8))
        );
        assert!(ppl["ppl"].as_f64().unwrap() > 1.0, "{r}");
    }
    // each form's generations are judged, filtered and recorded with the form they were made in
    for (form, template) in [("continuation", "continuation"), ("chat", "chat")] {
        let logs = out_dir.join(format!("round0/generated_world_logs.{form}.jsonl"));
        let text = std::fs::read_to_string(&logs).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["dialog"][0][0]["prompt_form"], template, "{}", logs.display());
        let eval = out_dir.join(format!("round1/eval_world_logs.{form}.jsonl"));
        assert!(eval.is_file(), "{} missing", eval.display());
    }
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for text in [
        "safe % (continuation)",
        "safe % (chat)",
        "ppl (safe responses)",
        "distinct-2",
        "Sample sizes: safe %, distinct-n and length over 16 held-out contexts in each form",
        "## Example replies",
        "### continuation form",
        "- CRINGE round 1: ",
    ] {
        assert!(md.contains(text), "{text:?} missing from report.md:\n{md}");
    }
}

#[test]
fn compare_fine_tunes_every_method_from_a_causal_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, _) = causal_loop("compare", "compare-tiny.toml", tmp.path());
    let methods: Vec<&str> =
        report.as_array().unwrap().iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["baseline", "mle", "unlikelihood", "cringe", "pairwise-cringe"]);
    for r in report.as_array().unwrap() {
        assert!(r["ppl"].as_f64().unwrap() > 1.0, "{r}");
    }
}

#[test]
fn a_classifier_head_on_a_causal_backbone_trains_saves_for_transformers_and_judges_in_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let init = tiny_chat_model(tmp.path());
    let clf = tmp.path().join("clf");
    let said = cringe_ok(&[
        "train-classifier",
        "-t",
        "safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only",
        "--init-model",
        &format!("hf:{}", init.display()),
        "--mf",
        clf.to_str().unwrap(),
        "--max-train-steps",
        "40",
        "--validation-every-n-steps",
        "20",
        "--lr",
        "3e-3",
        "-b",
        "16",
        "-q",
    ]);
    let stdout = String::from_utf8_lossy(&said.stdout).to_string();
    let scores: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(scores["exs"], 638);
    assert!(
        scores["macro_f1"].as_f64().unwrap() > 0.6,
        "the head learns to tell toxic from chit-chat: {scores}"
    );
    let config = std::fs::read_to_string(clf.join("config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["architectures"][0], "LlamaForSequenceClassification");
    assert_eq!(config["id2label"], serde_json::json!({"0": "pos", "1": "neg"}));
    assert!(!cringe_core::pretrained::is_causal(&clf), "a classifier is not a language model");
    let names: Vec<String> = weights(&clf).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"score.weight".to_string()) && !names.iter().any(|n| n == "lm_head.weight")
    );

    // eval judges a causal LM's generations with it
    let logs = tmp.path().join("wl.jsonl");
    let said = cringe_ok(&[
        "eval",
        "--mf",
        init.to_str().unwrap(),
        "-t",
        "safety-mini:toxic-eval:mutators=flatten+relabel+neg_only",
        "-n",
        "6",
        "--inference",
        "greedy",
        "--label-truncate",
        "6",
        "--eval-classifier-model-file",
        clf.to_str().unwrap(),
        "--world-logs",
        logs.to_str().unwrap(),
        "-q",
    ]);
    let stdout = String::from_utf8_lossy(&said.stdout).to_string();
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let share = report["classifier_accuracy"].as_f64().unwrap();
    let recs = cringe_core::data::read_world_logs(&logs).unwrap();
    let judged: Vec<f64> = recs
        .iter()
        .map(|r| r.exchanges(&logs).unwrap()[0].metrics["classifier_accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(judged.len(), 6);
    assert!((judged.iter().sum::<f64>() / 6.0 - share).abs() < 1e-9, "report vs world logs");
}
