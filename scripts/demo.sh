#!/usr/bin/env bash
# The main job on the bundled data: trains the `small` preset with the CRINGE loss on CPU and
# shows that the negative responses become less likely while the positive ones become more
# likely. (It becomes the full iterative loop, `cringe iterate` on safety-mini, as those
# capabilities land.)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
cringe() { cargo run --release --locked -q -p cringe-trainer --bin cringe -- "$@"; }
out=${CRINGE_DEMO_DIR:-runs/demo}
mkdir -p "$out"
cringe train -t tests/fixtures/tiny_train.jsonl --preset small --vocab-size 1000 \
  --mf "$out/initial" --max-train-steps 0 --seed 1 -q
cringe train -t tests/fixtures/tiny_train.jsonl --init-model "$out/initial" \
  --mf "$out/cringe" --max-train-steps "${CRINGE_DEMO_STEPS:-150}" --lr 1e-3 --warmup-updates 10 \
  --batchsize 8 --num-pos-predictions 5 --log-every-n-steps 25 --seed 1
echo "model: $out/cringe   per-step metrics: $out/cringe.train.jsonl"
