#!/usr/bin/env bash
# The GPU check of issue 9, for a machine with an NVIDIA GPU, its Vulkan driver, torch and
# transformers: times `cringe train` (Vulkan, bf16 products) against PyTorch (CUDA, bf16
# autocast, eager) on bb1_90m (batch 64) and the seed's bb1_3b (batch 8, 128 + 128 tokens), then
# profiles a few CRINGE steps of bb1_90m kernel by kernel (CubeCL's profiling logger,
# bench/kernel_profile.py) to show which kernel to speed up next. Prints one block per shape and
# the kernel table; with $OUT set, the JSON results, logs and the kernel table land there.
# Build the binary beforehand (no downloads on the GPU machine):
#   cargo build --release -p cringe-trainer --features vulkan,fusion
#   gzip -c target/release/cringe > cringe.gz     # carry it; gunzip there
# Usage: bench/gpu-check.sh [CRINGE_BINARY] [PEAK_TFLOPS]   (defaults: target/release/cringe, 989 = H100/H200 SXM bf16)
# Environment: GPU_CHECK_SHAPES (default "bb1_90m bb1_3b"), GPU_CHECK_SECONDS (a deadline for the
# whole check, default 1200: each shape gets what is left, so a slow shape cannot eat the profile),
# GPU_CHECK_PROFILE=0 skips the profile.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/cringe}"
peak="${2:-989}"
py="${PYTHON:-python3}"
out="${OUT:-.}"
deadline=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-1200} ))
left() { echo $(( deadline - $(date +%s) )); }
status=0
for shape in ${GPU_CHECK_SHAPES:-bb1_90m bb1_3b}; do
  if [ "$(left)" -lt 30 ]; then echo "skipped $shape: under 30 s left of GPU_CHECK_SECONDS"; status=1; continue; fi
  timeout "$(left)" "$py" bench/train_bench.py --shape "$shape" --device vulkan --precision bf16 --torch-device cuda \
    --torch-precision bf16 --peak-tflops "$peak" --steps 10 --warmup 3 --cringe "$bin" --json "$out/bench-$shape.json" \
    2>&1 | tee "$out/bench-$shape.log" || { echo "bench $shape failed or ran out of time (exit $?)"; status=1; }
  echo
done
if [ "${GPU_CHECK_PROFILE:-1}" != 0 ] && [ "$(left)" -gt 30 ]; then
  # CubeCL reads cubecl.toml from the working directory; a scratch one keeps the repo's untouched
  work=$(mktemp -d); root=$PWD; abs_bin=$(realpath "$bin")
  printf '[profiling.logger]\nlevel = "basic"\nfile = "%s/cubecl-profile.log"\nappend = false\n' "$work" > "$work/cubecl.toml"
  (cd "$work" && timeout "$(left)" "$py" "$root/bench/train_bench.py" --shape bb1_90m --device vulkan --precision bf16 \
    --steps 3 --warmup 1 --skip-torch --only-cringe --cringe "$abs_bin" > "$work/profiled-run.log" 2>&1) \
    || echo "profiled run failed or ran out of time (its kernel table covers what ran)"
  "$py" bench/kernel_profile.py "$work/cubecl-profile.log" --top 25 --json "$out/kernels-bb1_90m.json" \
    | tee "$out/kernels-bb1_90m.txt" || status=1
  gzip -c "$work/cubecl-profile.log" > "$out/cubecl-profile.log.gz" 2>/dev/null || true
fi
exit $status
