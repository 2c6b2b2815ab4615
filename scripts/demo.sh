#!/usr/bin/env bash
# The main job on the bundled data: the seed's iterative CRINGE loop on safety-mini with the
# `small` generator on CPU (configs/iterate-safety-mini.toml): safety classifier, an unsafe
# baseline, then rounds of generate -> classify -> filter 50/50 -> CRINGE fine-tune, with a
# round-by-round table of classifier-safe %, F1 and perplexity at the end.
# Environment: CRINGE_DEMO_DIR (output folder, default runs/iterate), CRINGE_DEMO_ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
./scripts/ensure-data.sh
cargo build --release --locked -q -p cringe-trainer --bin cringe
cringe=${CARGO_TARGET_DIR:-target}/release/cringe
args=(iterate --config configs/iterate-safety-mini.toml --out-dir "${CRINGE_DEMO_DIR:-runs/iterate}")
if [ -n "${CRINGE_DEMO_ROUNDS:-}" ]; then args+=(--rounds "$CRINGE_DEMO_ROUNDS"); fi
start=$(date +%s)
"$cringe" "${args[@]}"
echo "loop time: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
