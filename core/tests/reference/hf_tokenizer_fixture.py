#!/usr/bin/env python3
"""Builds a Hugging Face byte-level BPE tokenizer.json the way Blenderbot's is laid out
(<s>=0, <pad>=1, </s>=2, <unk>=3; ByteLevel pre-tokenizer and decoder) with the Python
`tokenizers` package, plus the ids it gives a few strings. The Rust test
core/tests/hf_tokenizer.rs loads the file and must produce the same ids.

Usage: pip install tokenizers && python3 core/tests/reference/hf_tokenizer_fixture.py
"""
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

CORPUS = [
    "Hello! How are you doing today?",
    "I'm fine, thanks. I love hiking in the mountains.",
    "Do you have any pets? I have two cats and a dog.",
    "That's great, what are their names?",
] * 50
PROBES = ["Hello, how are you?", "cats and dogs", "naïve café 🙂", "  spaces  ", ""]

here = os.path.dirname(__file__)
out_dir = os.path.join(here, "..", "fixtures", "hf_tokenizer")
os.makedirs(out_dir, exist_ok=True)

tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=320,
    special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train_from_iterator(CORPUS, trainer)
tok.save(os.path.join(out_dir, "tokenizer.json"))
expected = {p: tok.encode(p, add_special_tokens=False).ids for p in PROBES}
with open(os.path.join(out_dir, "expected.json"), "w") as f:
    json.dump({"vocab_size": tok.get_vocab_size(), "encodings": expected}, f, ensure_ascii=False, indent=1)
print("wrote", os.path.normpath(out_dir))
