//! A Hugging Face `tokenizer.json` (Blenderbot layout: `<s>`, `<pad>`, `</s>`, `<unk>`) made by
//! the Python `tokenizers` package loads, maps its special tokens, and encodes exactly as it
//! does in Python (`core/tests/reference/hf_tokenizer_fixture.py`).

use cringe_core::tokenizer::{CringeTokenizer, SpecialIds};
use std::path::Path;

#[test]
fn hf_tokenizer_json_loads_and_encodes_like_python() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_tokenizer");
    let tok = CringeTokenizer::load(&dir.join("tokenizer.json")).unwrap();
    assert_eq!(tok.special(), SpecialIds { pad: 1, start: 0, end: 2, unk: 3 });
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(tok.vocab_size() as u64, expected["vocab_size"].as_u64().unwrap());
    for (text, ids) in expected["encodings"].as_object().unwrap() {
        let want: Vec<u32> =
            ids.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        assert_eq!(tok.encode(text).unwrap(), want, "{text:?}");
        assert_eq!(tok.decode(&want).unwrap(), *text);
    }
}
