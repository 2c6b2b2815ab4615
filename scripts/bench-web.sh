#!/usr/bin/env bash
# Browser benchmark: gzipped wasm size and generation tokens/s on WebGPU vs the CPU path, in
# headless Chromium, printed as a ratio (tests/browser/bench.mjs).
#
#   ./scripts/bench-web.sh [MODEL_DIR] [TOKENS]
#
# MODEL_DIR defaults to an untrained `small` model made on the spot; TOKENS to 32.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-browser.sh
./scripts/build-web.sh >/dev/null
cargo build --release --locked -p cringe-trainer >/dev/null
cringe="${CARGO_TARGET_DIR:-target}/release/cringe"
tmp=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
model="${1:-}"
if [ -z "$model" ]; then
  model="$tmp/small"
  "$cringe" train -t tests/fixtures/tiny_train.jsonl --preset small --vocab-size 400 --max-train-steps 0 -q --mf "$model" >/dev/null
fi
"$cringe" serve-ui --port 0 --model "bench=$model" > "$tmp/serve.log" &
server=$!
for _ in $(seq 50); do grep -q "serving" "$tmp/serve.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.* at \(http[^ ]*\).*/\1/p' "$tmp/serve.log" | head -1)
node tests/browser/bench.mjs "$url" web-ui/dist "${2:-32}"
