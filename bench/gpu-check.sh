#!/usr/bin/env bash
# The GPU check of issue 9, for a machine with an NVIDIA GPU, its Vulkan driver, torch and
# transformers: times `cringe train` (Vulkan, bf16 products) against PyTorch (CUDA, bf16
# autocast, eager) on bb1_90m (batch 64) and the seed's bb1_3b (batch 8, 128 + 128 tokens), and
# prints one table. Build the binary beforehand (no downloads on the GPU machine):
#   cargo build --release -p cringe-trainer --features vulkan,fusion
#   gzip -c target/release/cringe > cringe.gz     # carry it; gunzip there
# Usage: bench/gpu-check.sh [CRINGE_BINARY] [PEAK_TFLOPS]   (defaults: target/release/cringe, 989 = H100 SXM bf16)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/cringe}"
peak="${2:-989}"
py="${PYTHON:-python3}"
out="${OUT:-.}"
for shape in bb1_90m bb1_3b; do
  "$py" bench/train_bench.py --shape "$shape" --device vulkan --precision bf16 --torch-device cuda \
    --torch-precision bf16 --peak-tflops "$peak" --steps 10 --warmup 3 --cringe "$bin" --json "$out/bench-$shape.json"
  echo
done
