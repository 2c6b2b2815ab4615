#!/usr/bin/env python3
"""Builds the ggml block-type fixture (core/tests/gguf.rs): for every type the GGUF reader
decodes, a few blocks of random bytes (their f16 scale fields set to finite random values) and
the values the `gguf` package's `dequantize` gives them, as f32 bit patterns, so the Rust
decoder is checked bit for bit on every type, also those SmolLM2's file does not use
(Q4_0, Q4_K, Q5_K, Q6_K, F16, BF16).

Run from the repository root:
    python3 -m venv .venv && .venv/bin/pip install gguf numpy
    .venv/bin/python core/tests/reference/gguf_blocks_fixture.py
"""

import json
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "gguf_blocks.json"
# byte offsets of the f16 fields of one block
HALF_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q8_0: [0], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
BLOCKS = {T.Q4_0: 4, T.Q4_1: 4, T.Q8_0: 4, T.Q4_K: 2, T.Q5_K: 2, T.Q6_K: 2, T.F16: 64, T.BF16: 64}


def main():
    rng = np.random.default_rng(7)
    out = {}
    for kind, n in BLOCKS.items():
        _, size = GGML_QUANT_SIZES[kind]
        raw = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
        for off in HALF_FIELDS.get(kind, []):
            raw[:, off:off + 2] = rng.normal(0, 0.05, n).astype(np.float16).view(np.uint8).reshape(n, 2)
        if kind == T.F16:
            raw = rng.normal(0, 1, n).astype(np.float16).view(np.uint8).reshape(n, 2)
        if kind == T.BF16:
            raw = (rng.normal(0, 1, n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(n, 2)
        values = dequantize(raw, kind).astype("<f4").reshape(-1)
        out[kind.name] = dict(ggml_type=int(kind), bytes=raw.tobytes().hex(),
                              bits=[int(b) for b in values.view(np.uint32)])
    OUT.write_text(json.dumps(out) + "\n")
    print({k: len(v["bits"]) for k, v in out.items()})


if __name__ == "__main__":
    main()
