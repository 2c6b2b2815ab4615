#!/usr/bin/env python3
"""Builds the causal-LM parity fixture (tests in core/tests/hf_causal.rs).

For each family, `llama` (grouped-query attention, untied output, `llama3` rotary scaling with
all three wavelength bands hit), `qwen2` (q/k/v biases, one key/value head, tied embeddings)
and `qwen3` (q/k RMSNorm, a head size that is not hidden / heads), it writes a tiny, randomly
initialised model exactly as `transformers` saves one (`config.json`,
`generation_config.json`, `model.safetensors`), plus what the Rust side must reproduce:

- `expected.json`: the token sequences, the greedy continuations of `generate` (one prompt
  at a time, and a left-padded batch with an attention mask);
- `expected.safetensors`: the logits of each sequence's full forward pass.

Every weight (norms and biases included) is random, so a wrong name, transposition or
rotary layout cannot pass. The greedy runs are made without end tokens; the saved
generation config then names two (`eos_token_id` [2, 5]) for the loader to collect.

Run from the repository root:
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch transformers safetensors
    /tmp/tvenv/bin/python core/tests/reference/hf_causal_fixture.py
"""

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "hf_causal"
VOCAB = 96
COMMON = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=128, bos_token_id=1, eos_token_id=None, pad_token_id=0)

FAMILIES = {
    "llama": (LlamaForCausalLM, LlamaConfig(
        **COMMON, intermediate_size=48, num_key_value_heads=2, rms_norm_eps=1e-5,
        rope_theta=10000.0, tie_word_embeddings=False,
        # head_dim 8: wavelengths 6.3 (< 8: kept), 63 (between: smoothed), 628 and 6283 (scaled)
        rope_scaling=dict(rope_type="llama3", factor=4.0, low_freq_factor=1.0,
                          high_freq_factor=8.0, original_max_position_embeddings=64))),
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(
        **COMMON, intermediate_size=48, num_key_value_heads=1, rms_norm_eps=1e-6,
        rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False)),
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(
        **COMMON, intermediate_size=40, num_key_value_heads=2, head_dim=12, rms_norm_eps=1e-6,
        rope_theta=1000000.0, tie_word_embeddings=False, attention_bias=False,
        use_sliding_window=False)),
}

SEQUENCES = [[1, 17, 45, 3, 88, 9, 60], [1, 5, 5, 70, 31, 12, 94, 2, 40, 41, 8, 19], [23, 7, 64, 50]]
PROMPTS = [[1, 17, 45, 3, 88], [1, 70, 31]]
NEW_TOKENS = 10


def randomise(model, gen):
    """Every parameter random: linear weights N(0, 0.3²), biases N(0, 0.1²), norm scales
    1 + N(0, 0.1²), embeddings N(0, 0.15²) (small enough that a tied model's logits do not
    just repeat the input token)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name:
                p.copy_(1.0 + 0.1 * noise)
            elif "embed_tokens" in name:
                p.copy_(0.15 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.3 * noise)


def greedy(model, prompts):
    """Greedy continuations of `prompts`, left-padded into one batch with a mask."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS,
                         do_sample=False, eos_token_id=None, pad_token_id=0)
    return out[:, width:].tolist()


def build(name, cls, config, seed):
    gen = torch.Generator().manual_seed(seed)
    model = cls(config).eval()
    randomise(model, gen)
    logits = {}
    with torch.no_grad():
        for i, seq in enumerate(SEQUENCES):
            logits[f"logits_{i}"] = model(torch.tensor([seq])).logits[0].contiguous()
    single = [greedy(model, [p])[0] for p in PROMPTS]
    batched = greedy(model, PROMPTS)
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    model.config.eos_token_id = 2
    model.generation_config.eos_token_id = [2, 5]
    model.save_pretrained(out, safe_serialization=True)
    save_file(logits, str(out / "expected.safetensors"))
    expected = dict(sequences=SEQUENCES, prompts=PROMPTS, greedy=single, greedy_batched=batched,
                    eos_token_ids=[2, 5])
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, greedy {single}")


def main():
    for seed, (name, (cls, config)) in enumerate(FAMILIES.items()):
        build(name, cls, config, seed)


if __name__ == "__main__":
    main()
