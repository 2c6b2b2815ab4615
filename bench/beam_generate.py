#!/usr/bin/env python3
"""Beam-10 generation speed: cringe-rs vs Hugging Face transformers `generate`, side by side.

Both sides get the same random prompts and a randomly initialised model of the same shape (the
`small` preset: d=256, 2 encoder / 4 decoder layers, 4 heads, ffn 1024, 128 positions,
pre-layer-norm, vocabulary 8000 — a BlenderbotForConditionalGeneration on the PyTorch side),
and decode with num_beams=10, min_length=20, no_repeat_ngram_size=3, at most 40 new tokens.
Prints tokens/s of each and the ratio cringe-rs / transformers.

Usage (needs torch and transformers; not part of CI):
  python3 -m venv .venv && .venv/bin/pip install torch transformers
  .venv/bin/python bench/beam_generate.py [--prompts 32] [--threads 2]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import torch
from transformers import BlenderbotConfig, BlenderbotForConditionalGeneration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=24)
    ap.add_argument("--batchsize", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--max-new-tokens", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    vocab = 8000
    rng = random.Random(0)
    prompts = [[rng.randrange(4, vocab) for _ in range(args.prompt_len - 1)] + [2] for _ in range(args.prompts)]

    # ---- cringe-rs ----
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "cringe-bench"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(prompts, f)
        path = f.name
    out = subprocess.run(
        [os.path.join(target, "release", "beam-bench"), "--prompts", path, "--beam", "10", "--min-length", "20",
         "--max-length", str(args.max_new_tokens), "--block-ngram", "3", "--batchsize", str(args.batchsize)],
        check=True, capture_output=True, text=True,
    )
    ours = json.loads(out.stdout.strip().splitlines()[-1])

    # ---- transformers ----
    torch.manual_seed(0)
    cfg = BlenderbotConfig(
        vocab_size=vocab, max_position_embeddings=128, encoder_layers=2, decoder_layers=4,
        encoder_attention_heads=4, decoder_attention_heads=4, d_model=256, encoder_ffn_dim=1024,
        decoder_ffn_dim=1024, activation_function="gelu", scale_embedding=True, dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1, forced_bos_token_id=None,
    )
    model = BlenderbotForConditionalGeneration(cfg).eval()
    kw = dict(num_beams=10, min_length=20, no_repeat_ngram_size=3, max_new_tokens=args.max_new_tokens, do_sample=False)
    batches = [prompts[i : i + args.batchsize] for i in range(0, len(prompts), args.batchsize)]
    with torch.inference_mode():
        model.generate(torch.tensor(batches[0]), **kw)  # warm-up
        start = time.perf_counter()
        tokens = 0
        for b in batches:
            out = model.generate(torch.tensor(b), **kw)
            tokens += int((out[:, 1:] != cfg.pad_token_id).sum())
        secs = time.perf_counter() - start
    theirs = {"tokens": tokens, "seconds": secs, "tokens_per_sec": tokens / secs}

    print(f"threads={args.threads} prompts={len(prompts)} batch={args.batchsize} beam=10 min_length=20 no_repeat_ngram=3")
    print(f"cringe-rs     {ours['tokens_per_sec']:9.1f} tokens/s  ({ours['tokens']} tokens in {ours['seconds']:.2f}s)")
    print(f"transformers  {theirs['tokens_per_sec']:9.1f} tokens/s  ({theirs['tokens']} tokens in {theirs['seconds']:.2f}s, torch {torch.__version__})")
    print(f"ratio cringe-rs / transformers: {ours['tokens_per_sec'] / theirs['tokens_per_sec']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
