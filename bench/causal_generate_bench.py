#!/usr/bin/env python3
"""Causal-LM generation speed: `cringe eval` on SmolLM2-135M-Instruct vs `transformers` `generate`.

Both sides decode the same model (ours from the GGUF, the reference from `cringe export --hf` of
it: f32, the same weights) on batches of prompts of the same length, in two modes:

- `sample`: top-10 sampling, one sample per prompt (`--inference topk --beam-size 1`;
  `do_sample=True, top_k=10, num_beams=1`);
- `beam`: beam search with 4 beams (`--inference beam --beam-size 4`; `num_beams=4`).

Every reply is exactly `--new-tokens` long on both sides (the end token is forbidden before
that: our `--beam-min-length`, their `min_new_tokens`), so both count the same tokens. Prompts
are plain continuation (`--chat-template none`) of random words, each cut to its last
`--prompt-len` tokens. Our figure is `cringe eval`'s `gen_tokens_per_sec` (time spent in
generation, every batch counted, the first too); theirs is the generated tokens over the time
spent in `generate`, after one untimed warm-up batch. Peak memory is each process's peak RSS.

Usage (needs torch and transformers; the model comes from scripts/ensure-model.sh):
  /tmp/tvenv/bin/python bench/causal_generate_bench.py --cringe target/release/cringe
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

import child_rss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = {"sample": ("topk", 1), "beam": ("beam", 4)}


def prompts_task(path, n, seed=0):
    """A JSONL task of `n` contexts of random words, long enough to be cut to any prompt length."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(2, 9))) for _ in range(3000)]
    contexts = [" ".join(rng.choice(words) for _ in range(200)) for _ in range(n)]
    with open(path, "w") as f:
        for c in contexts:
            f.write(json.dumps({"context": c, "response": "ok", "label": "pos"}) + "\n")
    return contexts


def run_ours(args, gguf, task, mode):
    inference, beam = MODES[mode]
    cmd = [
        args.cringe, "eval", "--mf", gguf, "--chat-template", "none", "-t", task, "--datatype", "train",
        "--batchsize", str(args.batch), "--inference", inference, "--beam-size", str(beam), "--topk", "10",
        "--beam-min-length", str(args.new_tokens), "--label-truncate", str(args.new_tokens),
        "--text-truncate", str(args.prompt_len), "--device", args.device, "--quiet",
    ]
    status, stdout, stderr, peak = child_rss.run(cmd)
    if status != 0:
        sys.exit(f"cringe eval failed:\n{stdout}\n{stderr}")
    report = json.loads(stdout.strip().splitlines()[-1])
    want = args.new_tokens
    if abs(report["gen_len"] - want) > 1:
        sys.exit(f"cringe eval generated {report['gen_len']} tokens per reply, not {want}")
    return {"tokens_per_sec": report["gen_tokens_per_sec"], "gen_len": report["gen_len"],
            "peak_rss_mib": peak}


def load_torch(args, hf_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    return tok, AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()


def run_torch(args, tok, model, contexts, mode):
    import torch

    torch.manual_seed(0)
    rows = [tok(c + "\n")["input_ids"][-args.prompt_len:] for c in contexts]
    _, beam = MODES[mode]
    kw = dict(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, num_beams=beam,
              pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else 0)
    kw.update(dict(do_sample=True, top_k=10, top_p=1.0, temperature=1.0) if mode == "sample" else dict(do_sample=False))
    batches = [rows[i:i + args.batch] for i in range(0, len(rows), args.batch)]
    secs, tokens = 0.0, 0
    with torch.inference_mode():
        for i, b in enumerate([batches[0]] + batches):  # the first is an untimed warm-up
            ids = torch.tensor(b)
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
            dt = time.perf_counter() - t0
            if i > 0:
                secs += dt
                tokens += (out.shape[1] - ids.shape[1]) * ids.shape[0]
    return {"tokens_per_sec": tokens / secs, "torch": torch.__version__,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=sorted(MODES), action="append", help="default: both")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=2, help="timed batches per side")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--device", default="cpu", help="our --device")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch CPU threads")
    ap.add_argument("--cringe", help="the cringe binary (default: build target/release/cringe)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if not args.cringe:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "cringe-trainer"], cwd=ROOT, check=True)
        args.cringe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cringe")
    gguf = subprocess.run([os.path.join(ROOT, "scripts/ensure-model.sh")], capture_output=True, text=True,
                          check=True).stdout.strip()
    results = {"batch": args.batch, "prompt_len": args.prompt_len, "new_tokens": args.new_tokens}
    with tempfile.TemporaryDirectory() as work:
        task = os.path.join(work, "prompts.jsonl")
        contexts = prompts_task(task, args.batch * args.batches)
        hf_dir = os.path.join(work, "smollm2-hf")
        subprocess.run([args.cringe, "export", "--mf", gguf, "--hf", hf_dir], check=True, capture_output=True)
        tok, model = load_torch(args, hf_dir)
        for mode in args.mode or sorted(MODES):
            # the peak RSS of this process (the reference) is over the modes run so far
            ref = run_torch(args, tok, model, contexts, mode)
            ours = run_ours(args, gguf, task, mode)
            results[mode] = {"ours": ours, "torch": ref, "ratio": ours["tokens_per_sec"] / ref["tokens_per_sec"]}
            print(f"SmolLM2-135M-Instruct {mode} ({MODES[mode][1]} beam(s)): batch {args.batch}, "
                  f"{args.prompt_len} prompt + {args.new_tokens} new tokens, {args.batches} batches")
            print(f"  cringe-rs ({args.device}): {ours['tokens_per_sec']:8.1f} tokens/s  peak {ours['peak_rss_mib']:.0f} MiB RSS")
            print(f"  transformers, torch {ref['torch']} (cpu, f32): {ref['tokens_per_sec']:8.1f} tokens/s  "
                  f"peak {ref['peak_rss_mib']:.0f} MiB RSS")
            print(f"  ratio cringe-rs / transformers tokens/s: {results[mode]['ratio']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
