#!/usr/bin/env python3
"""Training speed: `cringe train` vs a PyTorch reference on the same shapes, side by side.

Our side is the real trainer (`cringe train`, Adam, gradient clip 10, the CRINGE loss or MLE)
on a synthetic task whose every context and response is truncated to exactly the shape's
lengths, so every batch has the same token count. The reference is Hugging Face
`BlenderbotForConditionalGeneration` (pre-norm presets) or `BlenderbotSmallForConditionalGeneration`
(`bb1_90m`, post-norm) of the same shape, eager, with this file's own CRINGE loss (the paper's
algorithm: top-(k+1) predictions without the target, one sampled candidate, two-way cross-entropy
against the negative token), Adam and the same clip; f32, or bf16 autocast (`--torch-precision`).

Prints tokens/s (context + label tokens) of each side and the ratio, peak memory, the
CRINGE-step / MLE-step time ratio of our trainer, and the MFU of both when `--peak-tflops` is
given, counted (`step_flops`: matmul and attention FLOPs of the encoder on the context and the
decoder on the labels, × 3 for the backward pass) and by the common 6 × parameters × tokens
(which overcounts an encoder-decoder); H100 SXM dense bf16: 989, PCIe: 756.

Shapes: `small` (CPU: batch 16, 64 + 64 tokens), `bb1_90m` (batch 64, 128 + 128) and `bb1_3b`
(the seed's command: batch 8, 128 + 128). Vocabulary 8008 (BlenderBot's byte-level BPE).

Usage (needs torch and transformers):
  python3 -m venv .venv && .venv/bin/pip install torch transformers
  .venv/bin/python bench/train_bench.py --shape small                       # CPU, this machine
  .venv/bin/python bench/train_bench.py --shape bb1_90m --device vulkan --precision bf16 \
      --torch-device cuda --torch-precision bf16 --peak-tflops 989 --cringe target/release/cringe
"""
import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 8008
# name: (batch, context tokens, label tokens)
SHAPES = {"small": (16, 64, 64), "bb1_90m": (64, 128, 128), "bb1_3b": (8, 128, 128)}
# the presets of core/src/model/config.rs: d, ffn, encoder layers, decoder layers, heads, positions, prenorm
PRESETS = {
    "small": (256, 1024, 2, 4, 4, 128, True),
    "bb1_90m": (512, 2048, 8, 8, 16, 512, False),
    "bb1_3b": (2560, 10240, 2, 24, 32, 128, True),
}
NUM_POS_PREDICTIONS = 5
CT_LOSS_WEIGHT = 1.0
CLIP = 10.0
LR = 5e-5


def step_flops(shape):
    """Training FLOPs of one step (forward + backward = 3 × forward, 2 FLOPs per multiply-add):
    the encoder's layers on the context tokens, the decoder's layers and the output projection
    on the label tokens, and the attention products (self-attention over the context, causal
    self-attention and cross-attention for the labels). Layer norms and softmax are left out."""
    batch, s, t = SHAPES[shape]
    d, ffn, n_enc, n_dec, _, _, _ = PRESETS[shape]
    enc_layer = 4 * d * d + 2 * d * ffn
    dec_layer = 8 * d * d + 2 * d * ffn
    matmul_macs = batch * (n_enc * enc_layer * s + n_dec * dec_layer * t + VOCAB * d * t)
    attn_macs = batch * (n_enc * 2 * s * s * d + n_dec * (2 * t * t * d + 2 * t * s * d))
    return 3 * 2 * (matmul_macs + attn_macs)


def synthetic_task(path, n, ctx_len, label_len, seed=0):
    """A JSONL task of `n` examples (alternately pos and neg) whose texts are long enough that
    truncation leaves exactly `ctx_len` / `label_len` tokens."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(2, 9))) for _ in range(3000)]
    with open(path, "w") as f:
        for i in range(n):
            ctx = " ".join(rng.choice(words) for _ in range(ctx_len * 2))
            resp = " ".join(rng.choice(words) for _ in range(label_len * 2))
            f.write(json.dumps({"context": ctx, "response": resp, "label": "pos" if i % 2 == 0 else "neg"}) + "\n")


def run_ours(args, loss, task, workdir, kernels=True):
    """Trains with `cringe train` and returns per-step seconds after warm-up, tokens per step,
    the first step's seconds, peak device MiB (GPU) and the peak RSS of the process (MiB).
    `kernels=False` turns off the hand-written GPU kernels (flash attention, fused CRINGE)."""
    batch, ctx, lab = SHAPES[args.shape]
    mf = os.path.join(workdir, f"model-{loss}{'' if kernels else '-tensor-ops'}")
    steps = args.warmup + args.steps
    cmd = [
        args.cringe, "train", "-t", task, "--mf", mf, "--preset", args.shape, "--vocab-size", str(VOCAB),
        "--batchsize", str(batch), "--text-truncate", str(ctx), "--label-truncate", str(lab),
        "--max-train-steps", str(steps), "--log-every-n-steps", "1", "--optimizer", "adam", "--lr", str(LR),
        "--gradient-clip", str(CLIP), "--loss", loss, "--num-pos-predictions", str(NUM_POS_PREDICTIONS),
        "--ct-loss-weight", str(CT_LOSS_WEIGHT), "--device", args.device, "--precision", args.precision, "--seed", "0",
    ]
    env = dict(os.environ, CRINGE_FUSED_KERNELS="1" if kernels else "0")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"cringe train failed:\n{out.stdout}\n{out.stderr}")
    # the largest finished child so far (for the second run: the larger of the two runs)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    recs = [json.loads(l) for l in open(mf + ".train.jsonl") if '"split"' not in l]
    per_step_tokens = batch * (ctx + lab)
    secs = [per_step_tokens / r["tokens_per_sec"] for r in recs]
    peak = max((r.get("peak_device_mib") or 0.0) for r in recs) or None
    return {
        "step_seconds": statistics.median(secs[args.warmup:]),
        "first_step_seconds": secs[0],
        "tokens_per_step": per_step_tokens,
        "peak_device_mib": peak,
        "peak_rss_mib": rss / 1024.0,
    }


def cringe_loss(logits, targets, is_pos, pad_id):
    """The CRINGE loss on a batch: token cross-entropy on positive examples plus
    CT_LOSS_WEIGHT × the contrastive term on every token of negative examples, averaged over
    the scored tokens (the reduction our trainer uses)."""
    import torch
    import torch.nn.functional as F

    b, t, v = logits.shape
    flat = logits.reshape(b * t, v).float()
    tgt = targets.reshape(b * t)
    real = tgt != pad_id
    pos = is_pos.repeat_interleave(t) & real
    neg = (~is_pos).repeat_interleave(t) & real
    ce = F.cross_entropy(flat, tgt, reduction="none")
    # top-(k+1) predictions; the target among them is masked out, else the (k+1)-th is dropped
    vals, idx = flat.topk(NUM_POS_PREDICTIONS + 1, dim=-1)
    hit = idx == tgt[:, None]
    drop_last = ~hit.any(dim=-1)
    hit[:, -1] |= drop_last
    vals = vals.masked_fill(hit, float("-inf"))
    choice = torch.multinomial(F.softmax(vals.detach(), dim=-1), 1).squeeze(1)
    pos_logit = vals.gather(1, choice[:, None]).squeeze(1)
    neg_logit = flat.gather(1, tgt[:, None]).squeeze(1)
    ct = F.cross_entropy(torch.stack([pos_logit, neg_logit], dim=1), torch.zeros_like(tgt), reduction="none")
    scored = (pos | neg).sum().clamp(min=1)
    return ((ce * pos).sum() + CT_LOSS_WEIGHT * (ct * neg).sum()) / scored


def run_torch(args, loss_kind):
    import torch
    import torch.nn.functional as F
    from transformers import (BlenderbotConfig, BlenderbotForConditionalGeneration, BlenderbotSmallConfig,
                              BlenderbotSmallForConditionalGeneration)

    torch.manual_seed(0)
    if args.torch_device == "cpu":
        torch.set_num_threads(args.threads)
    dev = torch.device(args.torch_device)
    batch, ctx, lab = SHAPES[args.shape]
    d, ffn, n_enc, n_dec, heads, npos, prenorm = PRESETS[args.shape]
    common = dict(
        vocab_size=VOCAB, max_position_embeddings=npos, encoder_layers=n_enc, decoder_layers=n_dec,
        encoder_attention_heads=heads, decoder_attention_heads=heads, d_model=d, encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn, activation_function="gelu", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1, scale_embedding=True,
    )
    if prenorm:
        model = BlenderbotForConditionalGeneration(BlenderbotConfig(**common))
    else:
        model = BlenderbotSmallForConditionalGeneration(BlenderbotSmallConfig(**common))
    model.to(dev).train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(0)
    ids = lambda n: torch.randint(4, VOCAB, (batch, n), generator=gen)
    batches = []
    for i in range(4):
        c, y = ids(ctx), ids(lab)
        dec_in = torch.cat([torch.ones(batch, 1, dtype=torch.long), y[:, :-1]], dim=1)
        is_pos = torch.arange(batch) % 2 == 0
        batches.append(tuple(x.to(dev) for x in (c, dec_in, y, is_pos)))
    autocast = args.torch_precision == "bf16"
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(args.warmup + args.steps):
        c, dec_in, y, is_pos = batches[step % len(batches)]
        sync()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=c, decoder_input_ids=dec_in).logits
        if loss_kind == "cringe":
            loss = cringe_loss(logits, y, is_pos, 0)
        else:
            # MLE: every row counts as positive (our trainer drops negatives for mle)
            loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        sync()
        times.append(time.perf_counter() - t0)
        if not math.isfinite(loss.item()):
            sys.exit(f"the PyTorch reference's loss became {loss.item()} at step {step}")
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
    return {
        "step_seconds": statistics.median(times[args.warmup:]),
        "tokens_per_step": batch * (ctx + lab),
        "peak_device_mib": peak,
        # this Python process (interpreter and imports included)
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "params": params,
        "torch": torch.__version__,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="small")
    ap.add_argument("--device", default="cpu", help="our --device (cpu, wgpu, vulkan, metal)")
    ap.add_argument("--precision", default="f32", choices=["f32", "f16", "bf16"], help="our --precision")
    ap.add_argument("--torch-device", default="cpu", help="cpu or cuda")
    ap.add_argument("--torch-precision", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch CPU threads")
    ap.add_argument("--cringe", help="the cringe binary (default: build target/release/cringe with --device's feature)")
    ap.add_argument("--peak-tflops", type=float, help="the card's peak for MFU (H100 SXM dense bf16: 989)")
    ap.add_argument("--skip-torch", action="store_true", help="time only our trainer")
    ap.add_argument("--only-cringe", action="store_true",
                    help="run our trainer once, CRINGE with the kernels on (no MLE or tensor-op runs): for profiling")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if not args.cringe:
        feature = args.device.split(":")[0]
        build = ["cargo", "build", "--release", "-q", "-p", "cringe-trainer"]
        if feature != "cpu":
            build += ["--features", feature]
        subprocess.run(build, cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        args.cringe = os.path.join(target, "release", "cringe")

    batch, ctx, lab = SHAPES[args.shape]
    results = {"shape": args.shape, "batch": batch, "context": ctx, "label": lab}
    with tempfile.TemporaryDirectory() as work:
        task = os.path.join(work, "task.jsonl")
        synthetic_task(task, max(64, batch * 4), ctx, lab)
        results["ours_cringe"] = run_ours(args, "cringe", task, work)
        if not args.only_cringe:
            results["ours_mle"] = run_ours(args, "mle", task, work)
        if args.device != "cpu" and not args.only_cringe:
            results["ours_cringe_tensor_ops"] = run_ours(args, "cringe", task, work, kernels=False)
    if not args.skip_torch:
        results["torch_cringe"] = run_torch(args, "cringe")

    tok = lambda r: r["tokens_per_step"] / r["step_seconds"]
    ours = results["ours_cringe"]
    print(f"shape {args.shape}: batch {batch} x ({ctx} context + {lab} label) tokens, vocabulary {VOCAB}, "
          f"{args.warmup} warm-up + {args.steps} timed steps")
    print(f"cringe-rs  ({args.device}, {args.precision}): {tok(ours):10.0f} tokens/s  {ours['step_seconds'] * 1e3:8.1f} ms/step  "
          f"first step {ours['first_step_seconds']:.1f}s  peak {fmt_mib(ours)}")
    if "ours_mle" in results:
        mle = results["ours_mle"]
        ratio = ours["step_seconds"] / mle["step_seconds"]
        results["cringe_over_mle_step"] = ratio
        print(f"cringe-rs  MLE step {mle['step_seconds'] * 1e3:.1f} ms; CRINGE step / MLE step = {ratio:.3f}")
    if "ours_cringe_tensor_ops" in results:
        off = results["ours_cringe_tensor_ops"]
        results["kernels_speedup"] = off["step_seconds"] / ours["step_seconds"]
        print(f"cringe-rs  without the shaders/ kernels (CRINGE_FUSED_KERNELS=0): {off['step_seconds'] * 1e3:.1f} ms/step, "
              f"peak {fmt_mib(off)}; the kernels make the step {results['kernels_speedup']:.2f}x as fast")
    if "torch_cringe" in results:
        t = results["torch_cringe"]
        print(f"PyTorch {t['torch']} ({args.torch_device}, {args.torch_precision}, eager): {tok(t):10.0f} tokens/s  "
              f"{t['step_seconds'] * 1e3:8.1f} ms/step  peak {fmt_mib(t)}")
        results["ratio"] = tok(ours) / tok(t)
        print(f"ratio cringe-rs / PyTorch tokens/s: {results['ratio']:.2f}x")
    if args.peak_tflops:
        flops = step_flops(args.shape)
        params = results["torch_cringe"]["params"] if "torch_cringe" in results else None
        for name, r in [("cringe-rs", ours), ("PyTorch", results.get("torch_cringe"))]:
            if r:
                peak = args.peak_tflops * 1e12
                mfu = flops / r["step_seconds"] / peak
                results[f"mfu_{name}"] = mfu
                line = f"{name} MFU: {100 * mfu:.1f}% counted ({flops / 1e12:.2f} TFLOP/step)"
                if params:
                    # the common 6 x parameters x tokens convention (overcounts an encoder-decoder)
                    six_n = 6 * params * tok(r) / peak
                    results[f"mfu_6n_{name}"] = six_n
                    line += f", {100 * six_n:.1f}% by 6·N·tokens"
                print(f"{line}, of {args.peak_tflops} TFLOP/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def fmt_mib(r):
    if r.get("peak_device_mib"):
        return f"{r['peak_device_mib']:.0f} MiB device"
    if r.get("peak_rss_mib"):
        return f"{r['peak_rss_mib']:.0f} MiB RSS"
    return "n/a (CPU)"


if __name__ == "__main__":
    sys.exit(main())
