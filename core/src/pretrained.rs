//! A pretrained causal LM with what it takes to talk to it: the model, its tokenizer, its
//! chat template and its end tokens, from a GGUF file (`gguf:PATH` or a path ending in
//! `.gguf`) or a Hugging Face directory (`hf:DIR`, or a plain `DIR` as `cringe train` writes
//! one, whose `config.json` is `llama`, `qwen2` or `qwen3`, with `tokenizer.json` and
//! `tokenizer_config.json`).

use crate::chat::ChatTemplate;
use crate::data::CausalText;
use crate::error::{CoreError, Result};
use crate::fsutil::{FileContent, write_dir_atomic_streamed};
use crate::hf::HF_PREFIX;
use crate::model::causal::{CausalConfig, CausalLm};
use crate::tokenizer::parse_tokenizer_json;
use burn::tensor::Device;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// A causal LM ready to chat or train.
pub struct Pretrained {
    /// The model.
    pub model: CausalLm,
    /// Its tokenizer, chat template (base models often have none) and end tokens.
    pub text: CausalText,
}

pub use crate::model_cache::model_cache;

/// The Hugging Face directory `spec` names, if it is `hf:DIR` or a plain `DIR` (what
/// `cringe train` writes for a causal LM) with a causal `config.json`.
fn causal_hf_dir(spec: &Path) -> Option<PathBuf> {
    let spec = crate::model_cache::expand(spec);
    let text = spec.to_str()?;
    let dir = PathBuf::from(text.strip_prefix(HF_PREFIX).unwrap_or(text));
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    crate::hf::causal::is_causal_config(&text).then_some(dir)
}

/// Whether `spec` (a `--model-file` / `--init-model` value) names a causal LM.
pub fn is_causal(spec: &Path) -> bool {
    crate::gguf::gguf_path(spec).is_some() || causal_hf_dir(spec).is_some()
}

/// Loads the causal LM `spec` names onto `device`.
pub fn load(spec: &Path, device: &Device) -> Result<Pretrained> {
    let expanded = crate::model_cache::expand(spec);
    if crate::model_cache::is_cached_spec(spec)
        && !crate::gguf::gguf_path(&expanded).unwrap_or(expanded.clone()).exists()
        && causal_hf_dir(spec).is_none()
    {
        return Err(CoreError::file(
            &expanded,
            format!(
                "{} names a model in the cache, which does not have it (scripts/ensure-model.sh downloads SmolLM2-135M-Instruct there)",
                spec.display()
            ),
        ));
    }
    if let Some(path) = crate::gguf::gguf_path(spec) {
        let (source, cfg) = crate::gguf::open(&path)?;
        let model = crate::gguf::load_weights(&source, &cfg, device)?;
        let tokenizer = crate::gguf::tokenizer::build(source.file())?;
        let template = match crate::gguf::tokenizer::chat_template(source.file()) {
            Some(source) => Some(template_with_tokens(&source, &tokenizer, model.config(), &path)?),
            None => None,
        };
        return Pretrained::new(model, tokenizer, template);
    }
    let dir = causal_hf_dir(spec).ok_or_else(|| {
        CoreError::file(spec, "is not a causal LM (expected a .gguf file or hf:DIR of a llama, qwen2 or qwen3 checkpoint)")
    })?;
    let model = crate::hf::causal::load_model(&dir, device)?;
    let (tokenizer, template) = hf_tokenizer(&dir, model.config())?;
    Pretrained::new(model, tokenizer, template)
}

/// The tokenizer and chat template (if any) of the Hugging Face directory `dir` of a model
/// of `cfg`, found as `transformers` finds them: `tokenizer.json`; the template from
/// `chat_template.jinja` (what `save_pretrained` writes since transformers 4.50), else
/// `tokenizer_config.json`'s `chat_template`; the template's `bos_token` and `eos_token` from
/// `tokenizer_config.json` (or, without one, the config's token ids).
pub fn hf_tokenizer(dir: &Path, cfg: &CausalConfig) -> Result<(Tokenizer, Option<ChatTemplate>)> {
    let tok_path = dir.join("tokenizer.json");
    let bytes = std::fs::read(&tok_path).map_err(|e| CoreError::io(&tok_path, e))?;
    let tokenizer =
        parse_tokenizer_json(&bytes).map_err(|e| CoreError::file(&tok_path, e.to_string()))?;
    let config_path = dir.join("tokenizer_config.json");
    let config: Option<serde_json::Value> = match std::fs::read_to_string(&config_path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| CoreError::file(&config_path, format!("not valid JSON: {e}")))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CoreError::io(&config_path, e)),
    };
    let jinja_path = dir.join("chat_template.jinja");
    let (source, source_path) = match std::fs::read_to_string(&jinja_path) {
        Ok(text) => (Some(text), jinja_path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (config.as_ref().and_then(chat_template_of), config_path.clone())
        }
        Err(e) => return Err(CoreError::io(&jinja_path, e)),
    };
    let Some(source) = source else { return Ok((tokenizer, None)) };
    let template = match &config {
        Some(c) => ChatTemplate::new(
            &source,
            special_token(c, "bos_token", &config_path)?,
            special_token(c, "eos_token", &config_path)?,
        )
        .map_err(|e| CoreError::file(&source_path, e.to_string()))?,
        None => template_with_tokens(&source, &tokenizer, cfg, &source_path)?,
    };
    Ok((tokenizer, Some(template)))
}

/// `tokenizer_config.json`'s `chat_template`: a string, or a list of named templates of
/// which `default` is the one `apply_chat_template` uses.
fn chat_template_of(config: &serde_json::Value) -> Option<String> {
    match &config["chat_template"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(list) => list
            .iter()
            .find(|t| t["name"] == "default")
            .and_then(|t| t["template"].as_str())
            .map(String::from),
        _ => None,
    }
}

/// A special token of `tokenizer_config.json`: a string, an added-token object
/// (`{"content": …}`), or absent / null.
fn special_token(config: &serde_json::Value, field: &str, path: &Path) -> Result<Option<String>> {
    match &config[field] {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Object(o) => match o.get("content") {
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(CoreError::file(
                path,
                format!("{field}: an added token needs a \"content\" string"),
            )),
        },
        other => {
            Err(CoreError::file(path, format!("{field}: expected a token string, found {other}")))
        }
    }
}

/// A template whose special tokens are named by the config's ids (a GGUF's, or a directory's
/// without `tokenizer_config.json`).
fn template_with_tokens(
    source: &str,
    tokenizer: &Tokenizer,
    cfg: &CausalConfig,
    path: &Path,
) -> Result<ChatTemplate> {
    let name = |id: Option<u32>| id.and_then(|i| tokenizer.id_to_token(i));
    ChatTemplate::new(source, name(cfg.bos_token_id), name(cfg.eos_token_ids.first().copied()))
        .map_err(|e| CoreError::file(path, e.to_string()))
}

impl Pretrained {
    /// The model with its tokenizer and template, in chat form when it has a template.
    pub fn new(
        model: CausalLm,
        tokenizer: Tokenizer,
        template: Option<ChatTemplate>,
    ) -> Result<Self> {
        let text = causal_text(model.config(), tokenizer, template)?;
        Ok(Self { model, text })
    }

    /// The tokens that end a reply.
    pub fn eos_ids(&self) -> &[u32] {
        &self.model.config().eos_token_ids
    }
}

/// The text side of a model of `cfg` with `tokenizer` and `template`, in chat form when it
/// has a template.
pub fn causal_text(
    cfg: &CausalConfig,
    tokenizer: Tokenizer,
    template: Option<ChatTemplate>,
) -> Result<CausalText> {
    CausalText::new(
        tokenizer,
        template,
        cfg.eos_token_ids.clone(),
        cfg.bos_token_id,
        cfg.max_position_embeddings,
    )
}

impl Pretrained {
    /// Writes the model as a Hugging Face checkpoint directory that `transformers` loads with
    /// `AutoModelForCausalLM` and `AutoTokenizer` (chat template included), replacing one
    /// this tool wrote before atomically: `config.json`, `generation_config.json`,
    /// `model.safetensors` (f32), `tokenizer.json`, `tokenizer_config.json`.
    pub fn export_hf(&self, dir: &Path) -> Result<()> {
        export_hf(&self.model, &self.text, dir, &[])
    }
}

/// Writes `model` and `text` as a Hugging Face checkpoint directory (see
/// [`Pretrained::export_hf`]), with `extra` files (name, bytes) in the same atomic swap — how a
/// training checkpoint keeps its optimizer and trainer state consistent with its weights.
pub fn export_hf(
    model: &CausalLm,
    text: &CausalText,
    dir: &Path,
    extra: &[(&str, &[u8])],
) -> Result<()> {
    let cfg = model.config();
    let config = crate::hf::causal::config_json(cfg);
    let weights = |out: &mut dyn std::io::Write| crate::hf::causal::write_safetensors(model, out);
    write_hf_dir(dir, cfg, &config, text, &weights, extra)
}

/// Writes a Hugging Face directory of a model of `cfg`: `config` as `config.json`, the end
/// tokens as `generation_config.json`, the weights `weights` writes, `text`'s tokenizer and
/// chat template, and `extra`, in one atomic swap.
pub fn write_hf_dir(
    dir: &Path,
    cfg: &CausalConfig,
    config: &serde_json::Value,
    text: &CausalText,
    weights: &dyn Fn(&mut dyn std::io::Write) -> Result<()>,
    extra: &[(&str, &[u8])],
) -> Result<()> {
    let config = serde_json::to_string_pretty(config).expect("config serialises");
    let generation = serde_json::to_string_pretty(&serde_json::json!({
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": cfg.eos_token_ids,
        "pad_token_id": cfg.pad_token_id,
    }))
    .expect("generation config serialises");
    let tokenizer = text
        .tokenizer
        .to_string(false)
        .map_err(|e| CoreError::Tokenizer(format!("writing tokenizer.json: {e}")))?;
    let token = |id: Option<u32>| id.and_then(|i| text.tokenizer.id_to_token(i));
    // the template's own special tokens, so it renders as it did here
    let (bos, eos) = match &text.template {
        Some(t) => (t.special_tokens().0.map(String::from), t.special_tokens().1.map(String::from)),
        None => (token(cfg.bos_token_id), token(cfg.eos_token_ids.first().copied())),
    };
    let tokenizer_config = serde_json::to_string_pretty(&serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": text.template.as_ref().map(ChatTemplate::source),
        "bos_token": bos,
        "eos_token": eos,
        "pad_token": token(cfg.pad_token_id),
        "add_bos_token": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": cfg.max_position_embeddings,
    }))
    .expect("tokenizer config serialises");
    let mut files: Vec<(&str, FileContent)> = vec![
        ("config.json", FileContent::Bytes(config.as_bytes())),
        ("generation_config.json", FileContent::Bytes(generation.as_bytes())),
        (crate::hf::weights::WEIGHTS_FILE, FileContent::Writer(weights)),
        ("tokenizer.json", FileContent::Bytes(tokenizer.as_bytes())),
        ("tokenizer_config.json", FileContent::Bytes(tokenizer_config.as_bytes())),
    ];
    files.extend(extra.iter().map(|&(name, bytes)| (name, FileContent::Bytes(bytes))));
    write_dir_atomic_streamed(dir, &crate::hf::EXPORT_DIR, &files)
}
