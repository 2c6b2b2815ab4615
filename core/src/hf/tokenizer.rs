//! Tokenizers of Hugging Face Blenderbot checkpoints, and the tokenizer files of an export.
//!
//! A checkpoint directory may carry a `tokenizer.json` (used as is), or only `vocab.json` and
//! `merges.txt`, which are rebuilt here:
//! - `blenderbot`: byte-level BPE with a prefix space (as `BlenderbotTokenizer`);
//! - `blenderbot-small`: `BlenderbotSmallTokenizer`'s lower-cased, punctuation-split BPE whose
//!   vocabulary marks word-internal pieces with `@@`. It is expressed with `tokenizers`' BPE and
//!   an end-of-word suffix: a vocabulary entry `x@@` is the piece `x` inside a word, and `x`
//!   is `x</w>` at a word's end.
//!
//! The pad, start and end ids always come from `config.json`.

use super::config::Architecture;
use crate::error::{CoreError, Result};
use crate::model::GeneratorConfig;
use crate::tokenizer::{CringeTokenizer, SpecialIds};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use tokenizers::decoders::bpe::BPEDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::{Lowercase, NormalizerWrapper, Replace, Sequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::processors::sequence::Sequence as ProcessorSequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// `BlenderbotSmallTokenizer`'s end-of-word marker inside its BPE.
const END_OF_WORD: &str = "</w>";

/// Loads the tokenizer of the checkpoint in `dir`, with the special ids of `cfg`.
pub fn load_tokenizer(
    dir: &Path,
    arch: Architecture,
    cfg: &GeneratorConfig,
) -> Result<CringeTokenizer> {
    let settings = TokenizerSettings::read(dir)?;
    let json_path = dir.join("tokenizer.json");
    let (vocab_path, merges_path) = (dir.join("vocab.json"), dir.join("merges.txt"));
    let (inner, source) = if json_path.is_file() {
        let bytes = std::fs::read(&json_path).map_err(|e| CoreError::io(&json_path, e))?;
        let t = crate::tokenizer::parse_tokenizer_json(&bytes)
            .map_err(|e| CoreError::file(&json_path, e.to_string()))?;
        (t, json_path)
    } else if vocab_path.is_file() && merges_path.is_file() {
        let vocab = read_vocab(&vocab_path)?;
        let merges = read_merges(&merges_path)?;
        let t = match arch {
            Architecture::Blenderbot => byte_level(vocab, merges, &settings),
            Architecture::BlenderbotSmall => subword(vocab, merges, &settings),
        }
        .map_err(|e| CoreError::file(&vocab_path, e.to_string()))?;
        (t, vocab_path)
    } else {
        return Err(CoreError::file(
            dir,
            "has no tokenizer: expected tokenizer.json, or vocab.json and merges.txt",
        ));
    };
    let unk_name = settings.unk.clone().unwrap_or_else(|| "<unk>".into());
    let unk = [unk_name.as_str(), "<unk>", "__unk__"]
        .iter()
        .find_map(|n| inner.token_to_id(n))
        .ok_or_else(|| {
            CoreError::file(&source, format!("the vocabulary has no unknown token ({unk_name:?})"))
        })?;
    let special = SpecialIds {
        pad: cfg.pad_id as u32,
        start: cfg.start_id as u32,
        end: cfg.end_id as u32,
        unk,
    };
    CringeTokenizer::with_special_ids(inner, special)
        .map_err(|e| CoreError::file(&source, e.to_string()))
}

/// What `tokenizer_config.json` says (absent file: the Blenderbot defaults).
#[derive(Debug, Default)]
struct TokenizerSettings {
    specials: Vec<String>,
    unk: Option<String>,
    add_prefix_space: Option<bool>,
}

impl TokenizerSettings {
    fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer_config.json");
        if !path.is_file() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| CoreError::file(&path, e.to_string()))?;
        // A token is a string or (older files) an object with a `content` field.
        let token = |key: &str| match &v[key] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        let specials = ["bos_token", "eos_token", "pad_token", "unk_token", "mask_token"]
            .iter()
            .filter_map(|k| token(k))
            .collect();
        Ok(Self {
            specials,
            unk: token("unk_token"),
            add_prefix_space: v["add_prefix_space"].as_bool(),
        })
    }
}

fn read_vocab(path: &Path) -> Result<HashMap<String, u32>> {
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| CoreError::file(path, format!("expected a JSON object of token → id: {e}")))
}

fn read_merges(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
    let mut merges = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || (i == 0 && line.starts_with("#version")) {
            continue;
        }
        let (a, b) = line
            .split_once(' ')
            .filter(|(_, b)| !b.is_empty() && !b.contains(' '))
            .ok_or_else(|| CoreError::Parse {
                path: path.into(),
                line: i + 1,
                message: format!("expected two pieces separated by one space, got {line:?}"),
            })?;
        merges.push((a.to_string(), b.to_string()));
    }
    Ok(merges)
}

fn add_specials(t: &mut Tokenizer, settings: &TokenizerSettings, vocab: &HashMap<String, u32>) {
    let specials: Vec<AddedToken> = settings
        .specials
        .iter()
        .chain(
            ["__null__", "__start__", "__end__", "__unk__", "<s>", "</s>", "<pad>", "<unk>"]
                .map(String::from)
                .iter(),
        )
        .filter(|s| vocab.contains_key(*s))
        .map(|s| AddedToken::from(s.clone(), true))
        .collect();
    t.add_special_tokens(&specials);
}

/// `BlenderbotTokenizer` from its vocabulary and merges.
fn byte_level(
    vocab: HashMap<String, u32>,
    merges: Vec<(String, String)>,
    s: &TokenizerSettings,
) -> tokenizers::Result<Tokenizer> {
    let bpe = BPE::builder()
        .vocab_and_merges(vocab.clone().into_iter().collect::<Vocab>(), merges)
        .build()?;
    let mut t = Tokenizer::new(bpe);
    t.with_pre_tokenizer(Some(
        ByteLevel::default().add_prefix_space(s.add_prefix_space.unwrap_or(true)),
    ))
    .with_decoder(Some(ByteLevel::default()));
    add_specials(&mut t, s, &vocab);
    Ok(t)
}

/// `BlenderbotSmallTokenizer` from its `@@` vocabulary and merges.
fn subword(
    vocab: HashMap<String, u32>,
    merges: Vec<(String, String)>,
    s: &TokenizerSettings,
) -> tokenizers::Result<Tokenizer> {
    let is_special =
        |t: &str| s.specials.iter().any(|x| x == t) || (t.starts_with("__") && t.ends_with("__"));
    let mut pieces: HashMap<String, u32> = HashMap::new();
    let mut by_id: Vec<(&String, &u32)> = vocab.iter().collect();
    by_id.sort_by_key(|(_, id)| **id);
    for (token, &id) in by_id {
        let piece = if is_special(token) {
            token.clone()
        } else if let Some(inner) = token.strip_suffix("@@") {
            inner.to_string()
        } else {
            format!("{token}{END_OF_WORD}")
        };
        pieces.entry(piece).or_insert(id);
    }
    // The Python tokenizer may merge into pieces it then maps to unknown; `tokenizers` needs
    // every merge in the vocabulary, so such merges are left out (the piece stays unknown).
    let merges: Vec<(String, String)> = merges
        .into_iter()
        .filter(|(a, b)| {
            pieces.contains_key(a)
                && pieces.contains_key(b)
                && pieces.contains_key(&format!("{a}{b}"))
        })
        .collect();
    let unk = s.unk.clone().unwrap_or_else(|| "__unk__".into());
    let mut builder = BPE::builder()
        .vocab_and_merges(pieces.into_iter().collect::<Vocab>(), merges)
        .end_of_word_suffix(END_OF_WORD.into());
    if vocab.contains_key(&unk) {
        builder = builder.unk_token(unk);
    }
    let mut t = Tokenizer::new(builder.build()?);
    let mut steps: Vec<NormalizerWrapper> = vec![Lowercase.into()];
    for c in [".", ",", "!", "?", "(", ")"] {
        steps.push(Replace::new(c, format!(" {c}"))?.into());
    }
    steps.push(Replace::new("'", " ' ")?.into());
    steps.push(Replace::new("\n", " __newln__ ")?.into());
    t.with_normalizer(Some(Sequence::new(steps)))
        .with_pre_tokenizer(Some(WhitespaceSplit))
        .with_decoder(Some(BPEDecoder::new(END_OF_WORD.into())));
    add_specials(&mut t, s, &vocab);
    Ok(t)
}

/// The tokenizer files of an export: `tokenizer.json` (whose post-processor appends the end
/// token, as training here does to every context), `tokenizer_config.json` and
/// `special_tokens_map.json`, so `AutoTokenizer` loads it.
pub fn export_files(
    tokenizer: &CringeTokenizer,
    cfg: &GeneratorConfig,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let sp = tokenizer.special();
    let name = |id: u32| {
        tokenizer
            .id_to_token(id)
            .ok_or_else(|| CoreError::Tokenizer(format!("special id {id} has no token")))
    };
    let (pad, start, end, unk) = (name(sp.pad)?, name(sp.start)?, name(sp.end)?, name(sp.unk)?);
    let mut inner = tokenizer.inner().clone();
    let mut builder = TemplateProcessing::builder();
    builder.try_single(format!("$A {end}").as_str()).map_err(CoreError::Tokenizer)?;
    builder.try_pair(format!("$A {end} $B {end}").as_str()).map_err(CoreError::Tokenizer)?;
    builder.special_tokens(vec![(end.clone(), sp.end)]);
    let template = builder.build().map_err(|e| CoreError::Tokenizer(e.to_string()))?;
    // A byte-level tokenizer keeps its offset-trimming post-processor before the template.
    let mut processors: Vec<PostProcessorWrapper> = inner
        .get_post_processor()
        .filter(|p| matches!(p, PostProcessorWrapper::ByteLevel(_)))
        .cloned()
        .into_iter()
        .collect();
    processors.push(template.into());
    inner.with_post_processor(Some(ProcessorSequence::new(processors)));
    let json = inner.to_string(true).map_err(|e| CoreError::Tokenizer(e.to_string()))?;
    let specials =
        json!({ "pad_token": pad, "bos_token": start, "eos_token": end, "unk_token": unk });
    let mut config = specials.clone();
    config["tokenizer_class"] = json!("PreTrainedTokenizerFast");
    config["model_max_length"] = json!(cfg.n_positions);
    let pretty =
        |v: &Value| (serde_json::to_string_pretty(v).expect("json serialises") + "\n").into_bytes();
    Ok(vec![
        ("tokenizer.json", json.into_bytes()),
        ("tokenizer_config.json", pretty(&config)),
        ("special_tokens_map.json", pretty(&specials)),
    ])
}
