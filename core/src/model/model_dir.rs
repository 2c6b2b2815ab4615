//! Model directories: weights + config + tokenizer, written atomically, loaded bit-identically.
//!
//! Layout of a model directory:
//! - `config.json` — the [`GeneratorConfig`];
//! - `model.bpk` — the weights (Burn's burnpack format, f32, exact);
//! - `tokenizer.json` — the [`CringeTokenizer`].
//!
//! Saving writes a sibling temporary directory and swaps it in with renames, so an
//! interrupted save never leaves a half-written model where a good one was.

use super::classifier::{Classifier, ClassifierConfig};
use super::config::GeneratorConfig;
use super::generator::Generator;
use crate::error::{CoreError, Result};
use crate::fsutil::{DirKind, write_dir_atomic};
use crate::tokenizer::CringeTokenizer;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use std::path::Path;

/// File names inside a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// Weights file name.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// Tokenizer file name.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The validation scores `cringe train-classifier` writes beside the best classifier.
pub const VALID_SCORES_FILE: &str = "valid_scores.json";

/// Model, classifier and checkpoint directories (a checkpoint adds the trainer's
/// `optimizer.bpk` and `trainer_state.json`; a classifier its validation scores): the only
/// directories `--mf` and the other model-writing flags replace.
pub const MODEL_DIR: DirKind = DirKind {
    what: "model directory",
    files: &[
        CONFIG_FILE,
        CLASSIFIER_CONFIG_FILE,
        WEIGHTS_FILE,
        TOKENIZER_FILE,
        "optimizer.bpk",
        "trainer_state.json",
        VALID_SCORES_FILE,
    ],
    signature: &[WEIGHTS_FILE],
};

/// A loaded model directory.
pub struct ModelDir {
    /// The generator with its weights.
    pub model: Generator,
    /// The tokenizer it was trained with.
    pub tokenizer: CringeTokenizer,
}

impl ModelDir {
    /// Saves `model` and `tokenizer` to `dir`, replacing any model already there atomically.
    pub fn save(model: &Generator, tokenizer: &CringeTokenizer, dir: &Path) -> Result<()> {
        Self::save_with_extra_files(model, tokenizer, dir, &[])
    }

    /// Like [`ModelDir::save`], with more files (name, bytes) written into the directory in the
    /// same atomic swap — how a training checkpoint keeps its optimizer and trainer state
    /// consistent with its weights.
    pub fn save_with_extra_files(
        model: &Generator,
        tokenizer: &CringeTokenizer,
        dir: &Path,
        extra: &[(&str, &[u8])],
    ) -> Result<()> {
        let config = serde_json::to_string_pretty(model.config()).expect("config serialises");
        save_model_files(dir, CONFIG_FILE, config, model.clone(), tokenizer, extra)
    }

    /// Loads a model directory onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        if !dir.is_dir() {
            return Err(CoreError::file(
                dir,
                "is not a model directory (expected config.json, model.bpk, tokenizer.json)",
            ));
        }
        Self::load_config(dir)?; // a broken config is reported before anything else is read
        let (config, weights, tokenizer) = read_dir_files(dir, CONFIG_FILE)?;
        Self::from_bytes(dir, &config, weights, &tokenizer, device)
    }

    /// Builds a model from the contents of its three files (how the browser loads one it
    /// fetched); `dir` names the model in error messages.
    pub fn from_bytes(
        dir: &Path,
        config: &[u8],
        weights: Vec<u8>,
        tokenizer: &[u8],
        device: &Device,
    ) -> Result<Self> {
        let cpath = dir.join(CONFIG_FILE);
        let config: GeneratorConfig =
            serde_json::from_slice(config).map_err(|e| CoreError::file(&cpath, e.to_string()))?;
        config.validate().map_err(|e| CoreError::file(&cpath, e.to_string()))?;
        let tpath = dir.join(TOKENIZER_FILE);
        let tokenizer = CringeTokenizer::from_json_bytes(tokenizer)
            .and_then(|t| t.with_model_ids(config.pad_id, config.start_id, config.end_id))
            .map_err(|e| CoreError::file(&tpath, e.to_string()))?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(CoreError::file(
                dir,
                format!(
                    "tokenizer has {} tokens but the model only {} embeddings",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            ));
        }
        check_weight_bytes(dir, config.num_params_u64(), weights.len())?;
        let model = weights_from_bytes(
            &dir.join(WEIGHTS_FILE),
            weights,
            Generator::new(&config, device),
            CONFIG_FILE,
        )?;
        Ok(Self { model, tokenizer })
    }

    /// Reads just the config of a model directory.
    pub fn load_config(dir: &Path) -> Result<GeneratorConfig> {
        let cpath = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cpath).map_err(|e| CoreError::io(&cpath, e))?;
        let config: GeneratorConfig =
            serde_json::from_str(&text).map_err(|e| CoreError::file(&cpath, e.to_string()))?;
        config.validate().map_err(|e| CoreError::file(&cpath, e.to_string()))?;
        Ok(config)
    }
}

/// Writes config, weights and tokenizer into a sibling temporary directory, then swaps it in
/// with renames.
fn save_model_files<M: Module>(
    dir: &Path,
    config_name: &str,
    config: String,
    model: M,
    tokenizer: &CringeTokenizer,
    extra: &[(&str, &[u8])],
) -> Result<()> {
    let weights = model
        .into_record()
        .into_bytes()
        .map_err(|e| CoreError::file(dir, format!("cannot serialise weights: {e}")))?;
    let tokenizer = tokenizer.to_json()?;
    let mut files: Vec<(&str, &[u8])> = vec![
        (config_name, config.as_bytes()),
        (WEIGHTS_FILE, &weights),
        (TOKENIZER_FILE, tokenizer.as_bytes()),
    ];
    files.extend_from_slice(extra);
    write_dir_atomic(dir, &MODEL_DIR, &files)
}

/// The bytes of a directory's config file (`config_name`), weights and tokenizer.
fn read_dir_files(dir: &Path, config_name: &str) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| CoreError::io(&path, e))
    };
    Ok((read(config_name)?, read(WEIGHTS_FILE)?, read(TOKENIZER_FILE)?))
}

/// Refuses a config that describes more parameters than its weights file can hold (f32, four
/// bytes each), before anything of that size is allocated.
fn check_weight_bytes(dir: &Path, params: u64, bytes: usize) -> Result<()> {
    if (bytes as u64) < params * 4 {
        return Err(CoreError::file(
            dir,
            format!(
                "its config describes {params} parameters ({} bytes in f32), but {WEIGHTS_FILE} holds only {bytes} bytes",
                params * 4
            ),
        ));
    }
    Ok(())
}

/// Loads burnpack `bytes` (read from `wpath`) into `model`.
fn weights_from_bytes<M: Module>(
    wpath: &Path,
    bytes: Vec<u8>,
    model: M,
    config_name: &str,
) -> Result<M> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| CoreError::file(wpath, format!("unreadable weights: {e}")))?;
    model
        .try_load_record(record)
        .map_err(|e| CoreError::file(wpath, format!("weights do not fit {config_name}: {e}")))
}

/// Config file of a classifier directory.
pub const CLASSIFIER_CONFIG_FILE: &str = "classifier.json";

/// A loaded classifier directory (`classifier.json`, `model.bpk`, `tokenizer.json`).
pub struct ClassifierDir {
    /// The classifier with its weights.
    pub model: Classifier,
    /// Its tokenizer.
    pub tokenizer: CringeTokenizer,
}

impl ClassifierDir {
    /// Saves atomically, like [`ModelDir::save`].
    pub fn save(model: &Classifier, tokenizer: &CringeTokenizer, dir: &Path) -> Result<()> {
        Self::save_with_extra_files(model, tokenizer, dir, &[])
    }

    /// Like [`ClassifierDir::save`], with more files in the same atomic swap (a training
    /// checkpoint's optimizer and trainer state), as [`ModelDir::save_with_extra_files`].
    pub fn save_with_extra_files(
        model: &Classifier,
        tokenizer: &CringeTokenizer,
        dir: &Path,
        extra: &[(&str, &[u8])],
    ) -> Result<()> {
        let config = serde_json::to_string_pretty(model.config()).expect("config serialises");
        save_model_files(dir, CLASSIFIER_CONFIG_FILE, config, model.clone(), tokenizer, extra)
    }

    /// The tokens the classifier reads for `text` (lowercased first when it was trained so).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(&self.model.config().normalize(text))
    }

    /// Loads a classifier directory onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let cpath = dir.join(CLASSIFIER_CONFIG_FILE);
        if !cpath.is_file() {
            return Err(CoreError::file(
                dir,
                "is not a classifier directory (expected classifier.json, model.bpk, tokenizer.json)",
            ));
        }
        let (config, weights, tokenizer) = read_dir_files(dir, CLASSIFIER_CONFIG_FILE)?;
        Self::from_bytes(dir, &config, weights, &tokenizer, device)
    }

    /// Builds a classifier from the contents of its three files (how the browser loads one);
    /// `dir` names it in error messages.
    pub fn from_bytes(
        dir: &Path,
        config: &[u8],
        weights: Vec<u8>,
        tokenizer: &[u8],
        device: &Device,
    ) -> Result<Self> {
        let cpath = dir.join(CLASSIFIER_CONFIG_FILE);
        let config: ClassifierConfig =
            serde_json::from_slice(config).map_err(|e| CoreError::file(&cpath, e.to_string()))?;
        config.validate().map_err(|e| CoreError::file(&cpath, e.to_string()))?;
        let tpath = dir.join(TOKENIZER_FILE);
        let tokenizer = CringeTokenizer::from_json_bytes(tokenizer)
            .map_err(|e| CoreError::file(&tpath, e.to_string()))?;
        check_weight_bytes(dir, config.encoder.encoder_num_params() as u64, weights.len())?;
        let model = weights_from_bytes(
            &dir.join(WEIGHTS_FILE),
            weights,
            Classifier::new(&config, device),
            CLASSIFIER_CONFIG_FILE,
        )?;
        Ok(Self { model, tokenizer })
    }
}
