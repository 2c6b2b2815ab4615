#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, PyTorch-parity tests, end-to-end CLI tests.
# Needs only the Rust toolchain (and, only if the bundled data is missing, python3 + pip).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
./scripts/ensure-data.sh
start=$(date +%s)
cargo build --workspace --tests --locked
echo "build: $(( $(date +%s) - start ))s"
cargo test --workspace --locked
echo "build + tests: $(( $(date +%s) - start ))s"
