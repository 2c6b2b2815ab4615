#!/usr/bin/env bash
# Runs every test: unit tests, PyTorch/transformers-parity tests, end-to-end CLI tests, the
# web UI in headless Chromium, and the wgpu device and GPU kernels on lavapipe. Needs only the
# Rust toolchain: what else it needs (chromium, Node.js + playwright-core, the wasm32 target,
# wasm-bindgen-cli, Mesa's Vulkan drivers; python3 + pip only if the bundled data is missing)
# is installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
./scripts/ensure-data.sh
./scripts/ensure-browser.sh
start=$(date +%s)
./scripts/build-web.sh
echo "web UI: $(( $(date +%s) - start ))s"
cargo build --tests --locked
echo "build: $(( $(date +%s) - start ))s"
cargo test --locked
echo "build + tests: $(( $(date +%s) - start ))s"
# The GPU path (--features wgpu, WGSL shaders) on lavapipe, Mesa's CPU Vulkan driver: the
# device against the CPU, and the hand-written kernels of shaders/ against plain-Rust references
# and against the core's tensor-op versions. Compiled kernels and autotune results persist
# next to the build outputs, so only a cold cache pays for compiling them. One cargo call, so
# that Burn is built once with one feature set.
./scripts/ensure-vulkan.sh
# absolute: the tests run in their package folders, where a relative path would land
export CRINGE_KERNEL_CACHE="${CRINGE_KERNEL_CACHE:-$(realpath -m "${CARGO_TARGET_DIR:-target}")/kernel-cache}"
cargo test --locked -p cringe-trainer -p cringe-shaders --features cringe-trainer/wgpu \
    --test wgpu_e2e --test shader_parity --test cringe_kernel --test flash_attention
echo "wgpu build + tests: $(( $(date +%s) - start ))s"
