//! The tokenizer a GGUF file describes, rebuilt with `tokenizers`: byte-level BPE
//! (`tokenizer.ggml.model` = `gpt2`) from the file's vocabulary and merges, split before BPE
//! the way the named pre-tokenizer (`tokenizer.ggml.pre`) splits, and the tokens the file
//! marks as control (`<|im_start|>`, …) matched whole as special tokens, as llama.cpp and
//! `transformers` match them.

use super::reader::{GgufFile, Value};
use crate::error::{CoreError, Result};
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

/// Llama 3's split (`llama-bpe`, `llama3`, …), also SmolLM3's.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's and Qwen3's split (digits one at a time).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pre-tokenizer of a `tokenizer.ggml.pre` name.
fn pre_tokenizer(pre: &str) -> std::result::Result<PreTokenizerWrapper, String> {
    let gpt2 = || ByteLevel::new(false, true, true);
    let split = |pattern: &str| -> std::result::Result<PreTokenizerWrapper, String> {
        let split = Split::new(
            SplitPattern::Regex(pattern.into()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())?;
        Ok(Sequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()]).into())
    };
    match pre {
        // GPT-2's regex; SmolLM's vocabularies were learnt with every digit on its own
        "default" | "gpt-2" | "gpt2" => Ok(gpt2().into()),
        "smollm" => Ok(Sequence::new(vec![Digits::new(true).into(), gpt2().into()]).into()),
        "llama3" | "llama-v3" | "llama-bpe" | "smaug-bpe" | "falcon3" | "dbrx" => {
            split(LLAMA3_SPLIT)
        }
        "qwen2" | "deepseek-r1-qwen" | "megrez" => split(QWEN2_SPLIT),
        other => Err(format!(
            "`tokenizer.ggml.pre` is {other:?}; expected one of default, gpt-2, smollm, llama-bpe, qwen2"
        )),
    }
}

fn strings<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    let bad = || CoreError::file(file.path(), format!("`{key}` is not an array of strings"));
    file.get(key)?.as_array().ok_or_else(bad)?.iter().map(|v| v.as_str().ok_or_else(bad)).collect()
}

/// The tokenizer of `file`.
pub fn build(file: &GgufFile) -> Result<Tokenizer> {
    let bad = |m: String| CoreError::file(file.path(), m);
    let model = file.get("tokenizer.ggml.model")?.as_str().unwrap_or_default();
    if model != "gpt2" {
        return Err(bad(format!(
            "`tokenizer.ggml.model` is {model:?}; only byte-level BPE (\"gpt2\") is read"
        )));
    }
    let tokens = strings(file, "tokenizer.ggml.tokens")?;
    let merges = strings(file, "tokenizer.ggml.merges")?
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| {
                bad(format!("merge {i} ({m:?}) is not two tokens separated by a space"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let vocab: tokenizers::models::bpe::Vocab =
        tokens.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| bad(format!("its vocabulary and merges do not make a BPE model: {e}")))?;
    let pre = file.metadata.get("tokenizer.ggml.pre").and_then(Value::as_str).unwrap_or("default");
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer(pre).map_err(bad)?))
        .with_decoder(Some(ByteLevel::default()));
    let types: Vec<i64> = match file.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(v)) => v.iter().map(|t| t.as_u64().map_or(-1, |t| t as i64)).collect(),
        _ => Vec::new(),
    };
    let alphabet = ByteLevel::alphabet();
    let marked = |kind: i64| -> Vec<&str> {
        tokens
            .iter()
            .zip(&types)
            .filter(|(t, k)| **k == kind && t.chars().all(|c| alphabet.contains(&c)))
            .map(|(t, _)| *t)
            .collect()
    };
    let special: Vec<AddedToken> =
        marked(CONTROL).into_iter().map(|t| AddedToken::from(t.to_string(), true)).collect();
    tok.add_special_tokens(&special);
    let user: Vec<AddedToken> = marked(USER_DEFINED)
        .into_iter()
        .map(|t| AddedToken::from(t.to_string(), false).normalized(false))
        .collect();
    tok.add_tokens(&user);
    Ok(tok)
}

/// The chat template the file carries (`tokenizer.chat_template`), if any.
pub fn chat_template(file: &GgufFile) -> Option<String> {
    file.metadata.get("tokenizer.chat_template").and_then(Value::as_str).map(String::from)
}
