//! Causal-LM helpers: the fixtures, SmolLM2's GGUF from the model cache, and a tiny chat model
//! built from it.

use burn::tensor::Device;
use cringe_core::model::causal::{CausalConfig, CausalLm};
use cringe_core::pretrained::Pretrained;
use std::path::{Path, PathBuf};

/// A file of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

/// SmolLM2-135M-Instruct's GGUF from the model cache (`scripts/ensure-model.sh`, which the
/// test command runs), or `$CRINGE_SMOLLM2_GGUF`.
pub fn smollm2() -> PathBuf {
    let path = std::env::var_os("CRINGE_SMOLLM2_GGUF").map(PathBuf::from).unwrap_or_else(|| {
        cringe_core::pretrained::model_cache().join("SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    assert!(path.is_file(), "{} is missing: run scripts/ensure-model.sh", path.display());
    path
}

/// A randomly initialised tiny Llama with SmolLM2's tokenizer, chat template and end token,
/// written to `dir` as a Hugging Face checkpoint.
pub fn tiny_chat_model(dir: &Path) -> PathBuf {
    let device = Device::flex();
    let (source, real) = cringe_core::gguf::open(&smollm2()).unwrap();
    let tokenizer = cringe_core::gguf::tokenizer::build(source.file()).unwrap();
    let template_source = cringe_core::gguf::tokenizer::chat_template(source.file()).unwrap();
    let cfg = CausalConfig {
        bos_token_id: real.bos_token_id,
        eos_token_ids: real.eos_token_ids.clone(),
        pad_token_id: real.pad_token_id,
        ..CausalConfig::tiny(real.vocab_size)
    };
    let name = |id: Option<u32>| id.and_then(|i| tokenizer.id_to_token(i));
    let template = cringe_core::chat::ChatTemplate::new(
        &template_source,
        name(cfg.bos_token_id),
        name(cfg.eos_token_ids.first().copied()),
    )
    .unwrap();
    let lm = Pretrained::new(CausalLm::new(&cfg, &device), tokenizer, Some(template)).unwrap();
    let out = dir.join("tiny-llama");
    lm.export_hf(&out).unwrap();
    out
}
