//! Hugging Face sequence-classification checkpoints of the causal families
//! (`LlamaForSequenceClassification`, `Qwen2ForSequenceClassification`,
//! `Qwen3ForSequenceClassification`) ⇄ [`CausalClassifier`]: the causal LM's `config.json`
//! with that architecture and the classes as `id2label`, the backbone's tensors under
//! `model.*` and the head as `score.weight`. What `cringe train-classifier --init-model`
//! writes, and what `transformers` loads with `AutoModelForSequenceClassification`.

use super::causal::{config_json, read_config};
use super::names::Layout;
use super::weights::{WeightFiles, load_params, refuse_unused, write_params};
use crate::error::{CoreError, Result};
use crate::model::causal::{CausalClassifier, Family};
use burn::tensor::Device;
use serde_json::{Value, json};
use std::path::Path;

/// The architecture name of a classifier on `family`'s backbone.
pub fn class_name(family: Family) -> &'static str {
    match family {
        Family::Llama => "LlamaForSequenceClassification",
        Family::Qwen2 => "Qwen2ForSequenceClassification",
        Family::Qwen3 => "Qwen3ForSequenceClassification",
    }
}

/// Whether the parsed `config.json` names a sequence-classification architecture.
pub fn is_classifier(config: &Value) -> bool {
    config["architectures"].as_array().is_some_and(|a| {
        a.iter().any(|n| n.as_str().is_some_and(|n| n.ends_with("ForSequenceClassification")))
    })
}

/// The checkpoint name and layout of the classifier's parameter at `path`: the path itself,
/// linear weights (the projections and the head) transposed.
fn classifier_name(path: &str) -> Option<(String, Layout)> {
    let linear = path.ends_with("_proj.weight") || path == "score.weight";
    Some((path.to_string(), if linear { Layout::Transposed } else { Layout::Same }))
}

/// The classifier's `config.json`: the backbone's, with the classification architecture, the
/// classes, and a pad token (`transformers` finds each row's last token by it; the first end
/// token when the model names none).
pub fn classifier_config_json(model: &CausalClassifier) -> Value {
    let cfg = model.config();
    let mut v = config_json(cfg);
    let classes = model.classes();
    v["architectures"] = json!([class_name(cfg.family)]);
    v["id2label"] = classes.iter().enumerate().map(|(i, c)| (i.to_string(), json!(c))).collect();
    v["label2id"] = classes.iter().enumerate().map(|(i, c)| (c.clone(), json!(i))).collect();
    v["pad_token_id"] = json!(cfg.pad_token_id.or(cfg.eos_token_ids.first().copied()));
    v
}

/// The classes of a classifier's `config.json` at `path`, in id order: every id from 0 up
/// must be named, and there must be at least two.
fn read_classes(path: &Path, config: &Value) -> Result<Vec<String>> {
    let map = config["id2label"].as_object().ok_or_else(|| {
        CoreError::file(
            path,
            "field `id2label` is missing; expected {\"0\": \"pos\", \"1\": \"neg\"}",
        )
    })?;
    let classes: Vec<String> = (0..map.len())
        .map(|i| {
            map.get(&i.to_string()).and_then(Value::as_str).map(String::from).ok_or_else(|| {
                CoreError::file(path, format!("field `id2label` names no class for id {i}"))
            })
        })
        .collect::<Result<_>>()?;
    if classes.len() < 2 {
        return Err(CoreError::file(path, "field `id2label` must name at least two classes"));
    }
    Ok(classes)
}

/// Loads the classifier checkpoint in `dir` onto `device`, checking every name and shape.
pub fn load_classifier(dir: &Path, device: &Device) -> Result<CausalClassifier> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
    let config: Value = serde_json::from_str(&text)
        .map_err(|e| CoreError::file(&path, format!("not valid JSON: {e}")))?;
    if !is_classifier(&config) {
        return Err(CoreError::file(
            &path,
            "is not a sequence classifier (expected `architectures` [\"LlamaForSequenceClassification\"] or a Qwen2/Qwen3 one)",
        ));
    }
    let classes = read_classes(&path, &config)?;
    let cfg = read_config(dir)?;
    let files = WeightFiles::open(dir)?;
    let fresh = CausalClassifier::new(&cfg, classes, device);
    let (model, used) = load_params(fresh, &files, &classifier_name, &[])?;
    refuse_unused(&files, files.names(), &used, class_name(cfg.family))?;
    Ok(model)
}

/// Writes the classifier's parameters as a `model.safetensors` (f32).
pub fn write_safetensors(model: &CausalClassifier, out: &mut dyn std::io::Write) -> Result<()> {
    write_params(model, &classifier_name, &[], out)
}
