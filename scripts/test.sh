#!/usr/bin/env bash
# Runs every test: unit tests, PyTorch/transformers-parity tests, end-to-end CLI tests, and the
# web UI in headless Chromium. Needs only the Rust toolchain: what else it needs (chromium,
# Node.js + playwright-core, the wasm32 target, wasm-bindgen-cli; python3 + pip only if the
# bundled data is missing) is installed when missing.
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
