//! Byte-level BPE tokenizer (through Hugging Face `tokenizers`) with ParlAI's special tokens.
//!
//! A [`CringeTokenizer`] wraps a `tokenizer.json` and knows the ids of the four special tokens
//! the model needs: pad (`__null__`, id 0 when we train the vocabulary), `__start__`, `__end__`
//! and `__unk__`. Tokenizers trained here put them at ids 0–3; a Hugging Face `tokenizer.json`
//! that uses `<pad>`, `<s>`, `</s>`, `<unk>` instead is understood as well.

use crate::error::{CoreError, Result};
use crate::fsutil::write_atomic;
use std::path::Path;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// ParlAI's padding token (id 0 in vocabularies trained here).
pub const NULL_TOKEN: &str = "__null__";
/// ParlAI's start-of-decoding token.
pub const START_TOKEN: &str = "__start__";
/// ParlAI's end-of-utterance token.
pub const END_TOKEN: &str = "__end__";
/// ParlAI's unknown token.
pub const UNK_TOKEN: &str = "__unk__";

/// Names accepted for each special token, ParlAI's first, then Hugging Face's.
const PAD_NAMES: &[&str] = &[NULL_TOKEN, "<pad>"];
const START_NAMES: &[&str] = &[START_TOKEN, "<s>", "<|startoftext|>"];
const END_NAMES: &[&str] = &[END_TOKEN, "</s>", "<|endoftext|>"];
const UNK_NAMES: &[&str] = &[UNK_TOKEN, "<unk>"];

/// Ids of the special tokens the model and decoder rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    /// Padding id; padded positions get no loss and no attention.
    pub pad: u32,
    /// First decoder input of every response.
    pub start: u32,
    /// End of a response (and of the context, ParlAI's `--history-add-global-end-token end`).
    pub end: u32,
    /// Unknown token (byte-level BPE never needs it, but HF vocabularies carry one).
    pub unk: u32,
}

/// A byte-level BPE tokenizer plus the ids of its special tokens.
#[derive(Clone, Debug)]
pub struct CringeTokenizer {
    inner: Tokenizer,
    special: SpecialIds,
}

/// Parses a Hugging Face `tokenizer.json` without trusting it: the `tokenizers` crate panics on
/// some malformed files (0.22.2: a syntax error or a bad `\u` escape inside `decoder` hits an
/// `expect`; found by the fuzzing campaign, inputs in `fuzz/regressions/tokenizer_json/`), so
/// the JSON is parsed in full first, and the parse runs under `catch_unwind` as a last guard.
pub fn parse_tokenizer_json(bytes: &[u8]) -> Result<Tokenizer> {
    // a full parse (ignoring values would skip checking string escapes, another such panic)
    serde_json::from_slice::<serde_json::Value>(bytes)
        .map_err(|e| CoreError::Tokenizer(format!("not valid JSON: {e}")))?;
    match std::panic::catch_unwind(|| Tokenizer::from_bytes(bytes)) {
        Ok(parsed) => parsed.map_err(|e| CoreError::Tokenizer(e.to_string())),
        Err(_) => Err(CoreError::Tokenizer(
            "malformed tokenizer (the tokenizers crate could not read it)".into(),
        )),
    }
}

impl CringeTokenizer {
    /// Trains a byte-level BPE vocabulary of (at most) `vocab_size` entries on `texts`.
    ///
    /// The special tokens take ids 0–3 (`__null__`, `__start__`, `__end__`, `__unk__`), and all
    /// 256 byte symbols are always in the vocabulary, so any UTF-8 text can be encoded.
    pub fn train<I, S>(texts: I, vocab_size: usize) -> Result<Self>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let min = 4 + 256;
        if vocab_size < min {
            return Err(CoreError::Config(format!(
                "vocab_size {vocab_size} is too small: byte-level BPE needs at least {min} (4 specials + 256 bytes)"
            )));
        }
        let specials = [NULL_TOKEN, START_TOKEN, END_TOKEN, UNK_TOKEN]
            .iter()
            .map(|t| AddedToken::from(*t, true))
            .collect();
        let trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        let mut trainer: TrainerWrapper = trainer.into();
        let byte_level = ByteLevel::default().add_prefix_space(false);
        let mut tok = Tokenizer::new(BPE::default());
        tok.with_pre_tokenizer(Some(byte_level))
            .with_decoder(Some(byte_level))
            .with_post_processor(Some(byte_level));
        tok.train(&mut trainer, texts).map_err(|e| CoreError::Tokenizer(e.to_string()))?;
        Self::from_tokenizer(tok)
    }

    /// Wraps an already-built tokenizer, finding its special tokens by name.
    pub fn from_tokenizer(inner: Tokenizer) -> Result<Self> {
        let find = |names: &[&str]| -> Result<u32> {
            names.iter().find_map(|n| inner.token_to_id(n)).ok_or_else(|| {
                CoreError::Tokenizer(format!(
                    "the vocabulary has none of the tokens {names:?}; a CRINGE tokenizer needs pad, start, end and unk tokens"
                ))
            })
        };
        let special = SpecialIds {
            pad: find(PAD_NAMES)?,
            start: find(START_NAMES)?,
            end: find(END_NAMES)?,
            unk: find(UNK_NAMES)?,
        };
        Ok(Self { inner, special })
    }

    /// Wraps an already-built tokenizer with the given special ids (a checkpoint's config
    /// decides them); each must be an id of the vocabulary.
    pub fn with_special_ids(inner: Tokenizer, special: SpecialIds) -> Result<Self> {
        let size = inner.get_vocab_size(true) as u32;
        for (name, id) in [
            ("pad", special.pad),
            ("start", special.start),
            ("end", special.end),
            ("unk", special.unk),
        ] {
            if id >= size {
                return Err(CoreError::Tokenizer(format!(
                    "the {name} id {id} is outside the vocabulary of {size} tokens"
                )));
            }
        }
        Ok(Self { inner, special })
    }

    /// The same tokenizer with the pad, start and end ids a model was built with.
    pub fn with_model_ids(self, pad: usize, start: usize, end: usize) -> Result<Self> {
        let special = SpecialIds {
            pad: pad as u32,
            start: start as u32,
            end: end as u32,
            unk: self.special.unk,
        };
        Self::with_special_ids(self.inner, special)
    }

    /// The wrapped Hugging Face tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Parses a `tokenizer.json` (ours or Hugging Face's) from memory.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_tokenizer(parse_tokenizer_json(bytes)?)
    }

    /// Loads a `tokenizer.json` file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
        Self::from_json_bytes(&bytes).map_err(|e| CoreError::file(path, e.to_string()))
    }

    /// Serialises to the `tokenizer.json` format.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(|e| CoreError::Tokenizer(e.to_string()))
    }

    /// Saves to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_json()?.as_bytes())
    }

    /// The special token ids.
    pub fn special(&self) -> SpecialIds {
        self.special
    }

    /// Whether `other` maps every token to the same id (added tokens included) and has the
    /// same special ids: a model's embedding table reads either the same way.
    pub fn same_vocabulary(&self, other: &Self) -> bool {
        self.special == other.special && self.inner.get_vocab(true) == other.inner.get_vocab(true)
    }

    /// Number of ids the model must be able to produce (vocabulary plus added tokens).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Encodes text to ids, without adding any special token.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc =
            self.inner.encode(text, false).map_err(|e| CoreError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Decodes ids to text exactly (special tokens are kept as their text).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| CoreError::Tokenizer(e.to_string()))
    }

    /// Decodes a generated response: drops pad/start tokens and stops at the first end token.
    pub fn decode_response(&self, ids: &[u32]) -> Result<String> {
        let s = self.special;
        let body: Vec<u32> = ids
            .iter()
            .copied()
            .take_while(|&t| t != s.end)
            .filter(|&t| t != s.pad && t != s.start)
            .collect();
        self.decode(&body)
    }

    /// The text of one token id, if it exists.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn corpus() -> Vec<String> {
        let base = [
            "hello how are you today?",
            "i am fine thank you, and you?",
            "what do you like to do for fun?",
            "i like hiking and reading books about history.",
            "that sounds lovely! do you have a favourite book?",
        ];
        base.iter().cycle().take(200).map(|s| s.to_string()).collect()
    }

    #[test]
    fn trained_vocab_has_parlai_specials_first() {
        let tok = CringeTokenizer::train(corpus().into_iter(), 400).unwrap();
        assert_eq!(tok.special(), SpecialIds { pad: 0, start: 1, end: 2, unk: 3 });
        assert!(tok.vocab_size() <= 400 && tok.vocab_size() > 260, "{}", tok.vocab_size());
        // Merges were learnt: a frequent word is shorter than its byte count.
        assert!(tok.encode("hello").unwrap().len() < 5);
    }

    #[test]
    fn round_trips_arbitrary_utf8() {
        let tok = CringeTokenizer::train(corpus().into_iter(), 400).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pool: Vec<char> =
            "aZ 09\n\t__end__<s>éß漢字🙂\u{200d}\u{0}\u{ffff}!?.,".chars().collect();
        for _ in 0..500 {
            let len = rng.random_range(0..40);
            let s: String = (0..len)
                .map(|_| {
                    if rng.random_bool(0.3) {
                        // any scalar value, not just the pool
                        loop {
                            if let Some(c) = char::from_u32(rng.random_range(0..0x11000)) {
                                break c;
                            }
                        }
                    } else {
                        pool[rng.random_range(0..pool.len())]
                    }
                })
                .collect();
            let ids = tok.encode(&s).unwrap();
            assert_eq!(tok.decode(&ids).unwrap(), s, "ids {ids:?}");
        }
    }

    #[test]
    fn save_load_round_trip_and_decode_response() {
        let dir = tempfile::tempdir().unwrap();
        let tok = CringeTokenizer::train(corpus().into_iter(), 300).unwrap();
        let p = dir.path().join("tokenizer.json");
        tok.save(&p).unwrap();
        let back = CringeTokenizer::load(&p).unwrap();
        assert_eq!(back.special(), tok.special());
        let ids = tok.encode("how are you").unwrap();
        assert_eq!(back.encode("how are you").unwrap(), ids);
        let mut generated = vec![tok.special().start];
        generated.extend(&ids);
        generated.push(tok.special().end);
        generated.extend(&ids);
        assert_eq!(back.decode_response(&generated).unwrap(), "how are you");
    }

    #[test]
    fn too_small_vocab_is_a_clear_error() {
        let err = CringeTokenizer::train(corpus().into_iter(), 100).unwrap_err();
        assert!(err.to_string().contains("at least 260"), "{err}");
    }

    #[test]
    fn missing_specials_is_a_clear_error() {
        let json = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
            "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
            "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
            "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"vocab":{"a":0},"merges":[]}}"#;
        let err = CringeTokenizer::from_json_bytes(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("pad, start, end and unk"), "{err}");
    }
}
