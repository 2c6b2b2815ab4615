//! Hugging Face Blenderbot checkpoints: load them into the generator, export to them.
//!
//! A checkpoint directory as `transformers` writes it: `config.json` (`model_type`
//! `blenderbot` or `blenderbot-small`), `model.safetensors` (or shards with an index), and the
//! tokenizer files. Loading maps names and layouts ([`names`]), checks every shape, and
//! refuses tensors it has no place for; exporting writes the same layout back, so a model
//! fine-tuned here loads with `AutoModelForSeq2SeqLM.from_pretrained`.
//!
//! Command-line tools mark such a directory with the [`HF_PREFIX`]: `--init-model hf:DIR`.

pub mod causal;
pub mod causal_classifier;
pub mod config;
pub mod names;
pub mod safetensors;
pub mod tokenizer;
pub mod weights;

pub use config::Architecture;

use crate::error::{CoreError, Result};
use crate::fsutil::{DirKind, FileContent, write_dir_atomic_streamed};
use crate::model::{Generator, ModelDir};
use crate::tokenizer::CringeTokenizer;
use burn::tensor::Device;
use std::path::Path;

/// Prefix that marks a Hugging Face checkpoint directory where a model directory is expected.
pub const HF_PREFIX: &str = "hf:";

/// The directories `cringe export --hf` writes, and the only ones it replaces.
pub const EXPORT_DIR: DirKind = DirKind {
    what: "Hugging Face checkpoint directory",
    files: &[
        "config.json",
        "generation_config.json",
        weights::WEIGHTS_FILE,
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        // a causal LM's training checkpoint is such a directory plus the trainer's state
        "optimizer.bpk",
        "trainer_state.json",
        // a sequence classifier's validation scores (`cringe train-classifier`)
        crate::model::model_dir::VALID_SCORES_FILE,
    ],
    signature: &[weights::WEIGHTS_FILE],
};

/// Loads the Hugging Face Blenderbot checkpoint in `dir` onto `device`.
pub fn load(dir: &Path, device: &Device) -> Result<ModelDir> {
    if !dir.is_dir() {
        return Err(CoreError::file(
            dir,
            "is not a directory (expected a Hugging Face checkpoint directory)",
        ));
    }
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(CoreError::file(
            dir,
            "has no config.json: not a Hugging Face checkpoint directory",
        ));
    }
    let (cfg, arch) = config::read_config(&config_path)?;
    let files = weights::WeightFiles::open(dir)?;
    // checked before the model is allocated: a config that describes more parameters than the
    // files hold (at least one byte each) is corrupt, however large it says the model is
    if files.data_bytes() < cfg.num_params_u64() {
        return Err(CoreError::file(
            &config_path,
            format!(
                "describes {} parameters, but the weight files hold only {} bytes",
                cfg.num_params(),
                files.data_bytes()
            ),
        ));
    }
    let model = weights::load_into(Generator::new(&cfg, device), &files)?;
    drop(files);
    let tokenizer = tokenizer::load_tokenizer(dir, arch, &cfg)?;
    if tokenizer.vocab_size() > cfg.vocab_size {
        return Err(CoreError::file(
            dir,
            format!(
                "the tokenizer has {} tokens but config.json only {} embeddings",
                tokenizer.vocab_size(),
                cfg.vocab_size
            ),
        ));
    }
    Ok(ModelDir { model, tokenizer })
}

/// The config of the model [`load_model`] would load from `spec`, read without its weights.
pub fn load_model_config(spec: &Path) -> Result<crate::model::GeneratorConfig> {
    match spec.to_str().and_then(|s| s.strip_prefix(HF_PREFIX)) {
        Some(dir) => Ok(config::read_config(&Path::new(dir).join("config.json"))?.0),
        None => ModelDir::load_config(spec),
    }
}

/// Loads `spec`: `hf:DIR` is a Hugging Face checkpoint ([`load`]), anything else a model
/// directory written here ([`ModelDir::load`]).
pub fn load_model(spec: &Path, device: &Device) -> Result<ModelDir> {
    match spec.to_str().and_then(|s| s.strip_prefix(HF_PREFIX)) {
        Some(dir) => load(Path::new(dir), device),
        None => ModelDir::load(spec, device),
    }
}

/// Writes `model` and `tokenizer` to `dir` as a Hugging Face checkpoint (replacing any
/// directory there atomically): `config.json`, `generation_config.json`, `model.safetensors`
/// (f32) and the tokenizer files. Returns the caveat of [`config::export_caveat`], if any.
pub fn export(
    model: &Generator,
    tokenizer: &CringeTokenizer,
    dir: &Path,
) -> Result<Option<String>> {
    let cfg = model.config();
    let config = config::write_config(cfg)?;
    let generation = config::write_generation_config(cfg);
    let tokenizer_files = tokenizer::export_files(tokenizer, cfg)?;
    let write_weights = |out: &mut dyn std::io::Write| weights::write_safetensors(model, out);
    let mut files: Vec<(&str, FileContent)> = vec![
        ("config.json", FileContent::Bytes(config.as_bytes())),
        ("generation_config.json", FileContent::Bytes(generation.as_bytes())),
        (weights::WEIGHTS_FILE, FileContent::Writer(&write_weights)),
    ];
    files.extend(tokenizer_files.iter().map(|(n, b)| (*n, FileContent::Bytes(b))));
    write_dir_atomic_streamed(dir, &EXPORT_DIR, &files)?;
    Ok(config::export_caveat(cfg))
}
