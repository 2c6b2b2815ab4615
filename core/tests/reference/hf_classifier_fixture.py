#!/usr/bin/env python3
"""Builds the causal sequence-classifier parity fixture (test in core/tests/hf_causal.rs).

For `llama` (grouped-query attention, untied embeddings in the LM it came from) and `qwen2`
(q/k/v biases, tied embeddings) it writes a tiny, randomly initialised
`LlamaForSequenceClassification` / `Qwen2ForSequenceClassification` exactly as `transformers`
saves one (`config.json` with `id2label` pos/neg, `model.safetensors` with `model.*` and
`score.weight`), and `expected.json`: token sequences and the class logits `transformers`
gives them, one at a time and as one right-padded batch (which it pools at each row's last
non-pad token). Every weight is random, the head included.

Run from the repository root:
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch transformers safetensors
    /tmp/tvenv/bin/python core/tests/reference/hf_classifier_fixture.py
"""

import json
import shutil
from pathlib import Path

import torch
from hf_causal_fixture import randomise  # every parameter random, the same way
from transformers import (
    LlamaConfig,
    LlamaForSequenceClassification,
    Qwen2Config,
    Qwen2ForSequenceClassification,
)

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "hf_causal"
COMMON = dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=0,
              num_labels=2, id2label={0: "pos", 1: "neg"}, label2id={"pos": 0, "neg": 1})

FAMILIES = {
    "llama_classifier": (LlamaForSequenceClassification, LlamaConfig(
        **COMMON, intermediate_size=48, num_key_value_heads=2, rms_norm_eps=1e-5,
        rope_theta=10000.0, tie_word_embeddings=False)),
    "qwen2_classifier": (Qwen2ForSequenceClassification, Qwen2Config(
        **COMMON, intermediate_size=48, num_key_value_heads=1, rms_norm_eps=1e-6,
        rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False)),
}

SEQUENCES = [[17, 45, 3, 88, 9, 60], [5, 5, 70, 31, 12, 94, 2, 40, 41, 8, 19], [23], [64, 50]]


def build(name, cls, config, seed):
    gen = torch.Generator().manual_seed(100 + seed)
    model = cls(config).eval()
    randomise(model, gen)
    width = max(len(s) for s in SEQUENCES)
    padded = torch.tensor([s + [0] * (width - len(s)) for s in SEQUENCES])
    with torch.no_grad():
        single = [model(torch.tensor([s])).logits[0].tolist() for s in SEQUENCES]
        batched = model(padded).logits.tolist()
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    expected = dict(sequences=SEQUENCES, logits=single, logits_batched=batched)
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, logits {single[0]}")


def main():
    for seed, (name, (cls, config)) in enumerate(FAMILIES.items()):
        build(name, cls, config, seed)


if __name__ == "__main__":
    main()
