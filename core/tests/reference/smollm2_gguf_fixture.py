#!/usr/bin/env python3
"""Builds the SmolLM2 GGUF parity fixture (tests in core/tests/gguf.rs).

Reads SmolLM2-135M-Instruct.Q4_1.gguf (from `scripts/ensure-model.sh`) twice, with two
independent readers, and writes what the Rust side must reproduce into
core/tests/fixtures/smollm2_gguf/:

- `tensors.json`: for every tensor, its ggml type, shape and the SHA-256 of its values as
  the `gguf` package's `dequantize` gives them (little-endian f32, the file's row order);
- `tokenizer.json` entries in `expected.json`: token ids of varied texts (digits, whitespace
  runs, CJK, emoji, chat markup) from the tokenizer `transformers` builds from the file;
- `expected.json`: chat-template renderings of several conversations (with and without a
  system message, with and without the generation prompt), and greedy chat replies of
  `generate` (stopping at the end token);
- `logits.safetensors`: for each of several token sequences, the logits `transformers`
  computes (f32), at every position, for a fixed sample of 256 vocabulary ids, plus each
  position's largest logit and its id.

Run from the repository root:
    python3 -m venv .venv && .venv/bin/pip install torch transformers gguf safetensors
    .venv/bin/python core/tests/reference/smollm2_gguf_fixture.py "$(./scripts/ensure-model.sh)"
"""

import hashlib
import json
import sys
from pathlib import Path

import gguf
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "smollm2_gguf"

TEXTS = [
    "Hello, world!",
    "The year 2024 had 366 days; 3.14159 is pi.",
    "   leading spaces, and    runs   of    them\n\n\ttabs\r\nand CRLF  ",
    "日本語のテキストと中文文本",
    "emoji: 🙂🚀👍🏽 and a family 👨‍👩‍👧",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "don't you'll we've I'M",
    "",
]

CONVERSATIONS = [
    ([{"role": "user", "content": "What is the capital of France?"}], True),
    ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}], True),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
      {"role": "user", "content": "Tell me a joke."}], False),
    ([{"role": "user", "content": "Tell me a joke."}], False),
]

REPLY_PROMPTS = [
    "What is the capital of France?",
    "Give me three tips for staying healthy.",
    "How do I boil an egg?",
]

LOGIT_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "Once upon a time",
]


def tensor_hashes(path):
    reader = gguf.GGUFReader(path)
    out = {}
    for t in reader.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype("<f4")
        out[t.name] = dict(type=t.tensor_type.name, shape=list(values.shape),
                           sha256=hashlib.sha256(values.tobytes()).hexdigest())
    return out


def main():
    path = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tensors.json").write_text(json.dumps(tensor_hashes(path), indent=1) + "\n")

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()

    tokens = [dict(text=t, ids=tok.encode(t, add_special_tokens=False)) for t in TEXTS]
    templates = [dict(messages=m, add_generation_prompt=g,
                      text=tok.apply_chat_template(m, tokenize=False, add_generation_prompt=g))
                 for m, g in CONVERSATIONS]
    replies = []
    for p in REPLY_PROMPTS:
        ids = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)["input_ids"]
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=24, do_sample=False, eos_token_id=tok.eos_token_id,
                                 pad_token_id=tok.eos_token_id)
        new = out[0, ids.shape[1]:].tolist()
        replies.append(dict(prompt=p, prompt_ids=ids[0].tolist(), reply_ids=new,
                            reply=tok.decode(new, skip_special_tokens=True)))

    gen = torch.Generator().manual_seed(0)
    sample = torch.randperm(model.config.vocab_size, generator=gen)[:256].sort().values
    tensors = {"vocab_sample": sample.to(torch.int64)}
    sequences = []
    for i, text in enumerate(LOGIT_TEXTS):
        ids = tok.encode(text, add_special_tokens=False)
        sequences.append(ids)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
        tensors[f"logits_{i}"] = logits[:, sample].contiguous()
        tensors[f"max_{i}"] = logits.max(dim=1).values.contiguous()
        tensors[f"argmax_{i}"] = logits.argmax(dim=1).to(torch.int64).contiguous()
    save_file(tensors, str(OUT / "logits.safetensors"))

    expected = dict(tokens=tokens, templates=templates, replies=replies, logit_sequences=sequences,
                    eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    for r in replies:
        print(repr(r["prompt"]), "->", repr(r["reply"]))


if __name__ == "__main__":
    main()
