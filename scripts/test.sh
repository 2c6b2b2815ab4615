#!/usr/bin/env bash
# Runs every test: unit tests, PyTorch/transformers-parity tests, end-to-end CLI tests, the
# web UI in headless Chromium, and the wgpu device and GPU kernels on lavapipe (Mesa's CPU
# Vulkan driver, WGSL shaders). Needs only the Rust toolchain: what else it needs (chromium,
# Node.js + playwright-core, the wasm32 target, wasm-bindgen-cli, Mesa's Vulkan drivers;
# python3 + pip only if the bundled data is missing) is installed when missing.
#
# Why one cargo call with `--features cringe-trainer/wgpu`: Burn is compiled once for every
# native test. The CPU tests still run on the CPU device (`--device cpu` is the default, and
# the wgpu backend is only started by a test that asks for it); the user's default build stays
# CPU-only. Compiled kernels, autotune results and Mesa's shader cache are kept next to the
# build outputs, so only a cold cache pays for compiling GPU kernels.
#
# Ends with a table of how long each stage and the slowest test binaries took.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
log=$(mktemp "${TMPDIR:-/tmp}/cringe-test.XXXXXX")
stages=()
start=$(date +%s)

report() {
  local rc=$?
  local total=$(( $(date +%s) - start ))
  echo
  printf '%-44s %9s\n' "stage" "time"
  for row in "${stages[@]}"; do printf '%-44s %9s\n' "${row%%|*}" "${row##*|}"; done
  printf '%-44s %9s\n' "total" "$(mmss "$total")"
  # cargo prints, per test binary, "Running <what> (<path>)" and then "... finished in Ns"
  awk '/^ *Running .*\(/ { what = $0; sub(/.*\//, "", what); sub(/-[0-9a-f]+\)$/, "", what) }
       /^ *Doc-tests / { what = "doc-tests " $2 }
       /finished in [0-9.]+s/ { t = $NF; sub(/s$/, "", t); printf "%8.1f s  %s\n", t, what }' "$log" \
    | sort -rn | head -8 | sed '1i slowest test binaries:'
  [ "$rc" = 0 ] || echo "FAILED (exit $rc) in: ${current:-setup}"
  rm -f "$log"
}
trap report EXIT

mmss() { printf '%d min %02d s' $(( $1 / 60 )) $(( $1 % 60 )); }

# stage NAME COMMAND...: runs COMMAND, its output also going to the log, and records its time.
stage() {
  local name=$1 t0
  shift
  current=$name
  t0=$(date +%s)
  "$@" 2>&1 | tee -a "$log"
  stages+=("$name|$(mmss $(( $(date +%s) - t0 )))")
  current=""
}

stage "setup (data, chromium, node, vulkan)" bash -c './scripts/ensure-data.sh && ./scripts/ensure-browser.sh && ./scripts/ensure-vulkan.sh'
stage "wasm32 target, wasm-bindgen-cli" ./scripts/ensure-wasm-bindgen.sh
stage "web UI (wasm32 release build)" ./scripts/build-web.sh

export CRINGE_KERNEL_CACHE="${CRINGE_KERNEL_CACHE:-$target_dir/kernel-cache}"
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$target_dir/mesa-shader-cache}"
tests=(--locked --workspace --exclude cringe-web --features cringe-trainer/wgpu)
stage "native build (CPU + wgpu, every test)" cargo build --tests "${tests[@]}"
stage "tests (CPU, browser, wgpu on lavapipe)" cargo test "${tests[@]}"
