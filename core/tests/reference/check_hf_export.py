#!/usr/bin/env python3
"""Checks that `cringe export --hf` output loads in `transformers` and computes what the
original checkpoint computed (a manual check; the Rust tests cover the same ground without
Python by comparing exported tensors and configs with the fixture's).

    for a in blenderbot blenderbot_small; do
      cringe export --mf hf:core/tests/fixtures/hf_blenderbot/$a --hf /tmp/hx/$a
    done
    /tmp/tvenv/bin/python core/tests/reference/check_hf_export.py /tmp/hx

For each architecture it loads the export with AutoModelForSeq2SeqLM and AutoTokenizer,
checks the tokenizer encodes the fixture contexts to the fixture's ids plus the end token
(the export's tokenizer appends it, as training here does), and prints the largest
difference between the export's logits and the logits transformers computed for the
original checkpoint (expected.safetensors).
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hf_blenderbot"


def check(export_dir: Path, arch: str) -> float:
    model = AutoModelForSeq2SeqLM.from_pretrained(export_dir).eval()
    tok = AutoTokenizer.from_pretrained(export_dir)
    exp = json.loads((FIXTURES / arch / "expected.json").read_text())
    pad, end = exp["special"]["pad"], exp["special"]["end"]
    for text, ids in zip(exp["contexts"], exp["context_ids"]):
        got = tok(text)["input_ids"]
        assert got == ids + [end], f"{arch}: {text!r} encodes to {got}, expected {ids + [end]}"
    ctx = exp["context_ids"]
    width = max(map(len, ctx))
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in ctx])
    with torch.no_grad():
        logits = model(
            input_ids=input_ids,
            attention_mask=(input_ids != pad).long(),
            decoder_input_ids=torch.tensor(exp["decoder_input_ids"]),
        ).logits
    reference = load_file(str(FIXTURES / arch / "expected.safetensors"))["logits"]
    return (logits - reference).abs().max().item()


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for arch in ["blenderbot", "blenderbot_small"]:
        diff = check(root / arch, arch)
        print(f"{arch}: tokenizer ok, max |logit difference| = {diff:.3g}")
        assert diff < 1e-4
