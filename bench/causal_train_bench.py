#!/usr/bin/env python3
"""Causal-LM training speed: `cringe train` on SmolLM2-135M-Instruct vs `transformers`, side by side.

Our side is the real trainer (`cringe train --init-model <the GGUF>`, Adam, gradient clip 10,
the CRINGE loss) on a synthetic plain-continuation task (`--chat-template none`) whose every
prompt and response is truncated to exactly the shape's lengths, so every row is
`prompt + response` tokens and every batch has the same token count. The reference is
`transformers`' `LlamaForCausalLM` loaded from `cringe export --hf` of the same GGUF (f32, the
same weights), eager, fed random token rows of the same shape, with the CRINGE loss of
bench/train_bench.py on the response positions, Adam and the same clip; f32, or bf16 autocast
(`--torch-precision`).

Prints tokens/s (prompt + response tokens) of each side, their ratio, and the peak memory of
each process (RSS on the CPU, device memory on a GPU).

Shapes: `cpu` (batch 8, 64 + 64 tokens: what this 2-core machine trains in minutes) and
`paper` (batch 8, 128 + 128, the issue's 8 × 256).

Usage (needs torch and transformers; the model comes from scripts/ensure-model.sh):
  python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch transformers
  /tmp/tvenv/bin/python bench/causal_train_bench.py --shape cpu --steps 3
"""
import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import child_rss
from train_bench import CLIP, NUM_POS_PREDICTIONS, CT_LOSS_WEIGHT, cringe_loss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"cpu": (8, 64, 64), "paper": (8, 128, 128)}
LR = 1e-5


def synthetic_task(path, n, seed=0):
    """A JSONL task of `n` examples (alternately pos and neg) of random words, long enough that
    truncation leaves exactly the shape's prompt and response lengths (a word is ≥ 1 token)."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(2, 9))) for _ in range(3000)]
    with open(path, "w") as f:
        for i in range(n):
            ctx = " ".join(rng.choice(words) for _ in range(300))
            resp = " ".join(rng.choice(words) for _ in range(300))
            f.write(json.dumps({"context": ctx, "response": resp, "label": "pos" if i % 2 == 0 else "neg"}) + "\n")


def run_ours(args, gguf, task, workdir):
    """Trains with `cringe train`; per-step seconds after warm-up and the peak RSS (MiB)."""
    batch, prompt, resp = SHAPES[args.shape]
    mf = os.path.join(workdir, "smollm2-cringe")
    cmd = [
        args.cringe, "train", "--init-model", gguf, "--chat-template", "none", "-t", task, "--mf", mf,
        "--batchsize", str(batch), "--text-truncate", str(prompt), "--label-truncate", str(resp),
        "--max-train-steps", str(args.warmup + args.steps), "--log-every-n-steps", "1", "--optimizer", "adam",
        "--lr", str(LR), "--gradient-clip", str(CLIP), "--loss", "cringe",
        "--num-pos-predictions", str(NUM_POS_PREDICTIONS), "--ct-loss-weight", str(CT_LOSS_WEIGHT),
        "--device", args.device, "--precision", args.precision, "--seed", "0",
    ]
    status, stdout, stderr, peak_rss = child_rss.run(cmd)
    if status != 0:
        sys.exit(f"cringe train failed:\n{stdout}\n{stderr}")
    recs = [json.loads(l) for l in open(mf + ".train.jsonl") if '"split"' not in l]
    tokens = batch * (prompt + resp)
    secs = [tokens / r["tokens_per_sec"] for r in recs]
    peak = max((r.get("peak_device_mib") or 0.0) for r in recs) or None
    return {
        "step_seconds": statistics.median(secs[args.warmup:]),
        "tokens_per_step": tokens,
        "peak_device_mib": peak,
        "peak_rss_mib": peak_rss,
    }


def run_torch(args, hf_dir):
    """The same shape through `transformers` with the CRINGE loss on the response positions."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    if args.torch_device == "cpu":
        torch.set_num_threads(args.threads)
    dev = torch.device(args.torch_device)
    batch, prompt, resp = SHAPES[args.shape]
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        rows = torch.randint(100, vocab, (batch, prompt + resp), generator=gen)
        is_pos = torch.arange(batch) % 2 == 0
        batches.append((rows[:, :-1].to(dev), rows[:, prompt:].to(dev), is_pos.to(dev)))
    autocast = args.torch_precision == "bf16"
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    for step in range(args.warmup + args.steps):
        inputs, targets, is_pos = batches[step % len(batches)]
        sync()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=inputs).logits[:, prompt - 1:]
        loss = cringe_loss(logits, targets, is_pos, -1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        sync()
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
    return {
        "step_seconds": statistics.median(times[args.warmup:]),
        "tokens_per_step": batch * (prompt + resp),
        "peak_device_mib": peak,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "torch": torch.__version__,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="cpu")
    ap.add_argument("--device", default="cpu", help="our --device")
    ap.add_argument("--precision", default="f32", choices=["f32", "f16", "bf16"], help="our --precision")
    ap.add_argument("--torch-device", default="cpu")
    ap.add_argument("--torch-precision", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed first steps")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch CPU threads")
    ap.add_argument("--cringe", help="the cringe binary (default: build target/release/cringe)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    if not args.cringe:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "cringe-trainer"], cwd=ROOT, check=True)
        args.cringe = os.path.join(target, "release", "cringe")
    gguf = subprocess.run([os.path.join(ROOT, "scripts/ensure-model.sh")], capture_output=True, text=True,
                          check=True).stdout.strip()
    batch, prompt, resp = SHAPES[args.shape]
    results = {"shape": args.shape, "batch": batch, "prompt": prompt, "response": resp}
    with tempfile.TemporaryDirectory() as work:
        task = os.path.join(work, "task.jsonl")
        synthetic_task(task, max(64, batch * 4))
        # the reference first: its peak RSS is this process's; ours is measured by child_rss
        hf_dir = os.path.join(work, "smollm2-hf")
        subprocess.run([args.cringe, "export", "--mf", gguf, "--hf", hf_dir], check=True, capture_output=True)
        results["torch"] = run_torch(args, hf_dir)
        results["ours"] = run_ours(args, gguf, task, work)
    tok = lambda r: r["tokens_per_step"] / r["step_seconds"]
    ours, ref = results["ours"], results["torch"]
    print(f"SmolLM2-135M-Instruct, CRINGE (k = {NUM_POS_PREDICTIONS}): batch {batch} x ({prompt} prompt + {resp} response) "
          f"tokens, {args.warmup} warm-up + {args.steps} timed steps")
    print(f"cringe-rs ({args.device}, {args.precision}): {tok(ours):8.1f} tokens/s  {ours['step_seconds']:7.2f} s/step  "
          f"peak {ours['peak_rss_mib']:.0f} MiB RSS")
    print(f"transformers, torch {ref['torch']} ({args.torch_device}, {args.torch_precision}, eager): {tok(ref):8.1f} tokens/s  "
          f"{ref['step_seconds']:7.2f} s/step  peak {ref['peak_rss_mib']:.0f} MiB RSS")
    results["ratio"] = tok(ours) / tok(ref)
    results["memory_ratio"] = ours["peak_rss_mib"] / ref["peak_rss_mib"]
    print(f"ratio cringe-rs / transformers tokens/s: {results['ratio']:.2f}x; peak memory {results['memory_ratio']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
