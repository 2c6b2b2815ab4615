#!/usr/bin/env bash
# The main job on the bundled data: trains the `small` generator on CPU with the seed's
# multitask mix of safety-mini (chit-chat 5 : toxic-as-negatives 1 : pretraining 1) and the
# CRINGE loss, logging how the negative responses are pushed away (ppl_ct up) while the
# chit-chat is learnt (ppl_pos down). It becomes the full iterative loop (`cringe iterate`)
# when that lands.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
./scripts/ensure-data.sh
cringe() { cargo run --release --locked -q -p cringe-trainer --bin cringe -- "$@"; }
out=${CRINGE_DEMO_DIR:-runs/demo}
mkdir -p "$out"
cringe dd -t safety-mini:toxic:mutators=flatten+relabel+ltr_empty -n 4 --prepend-classifier-label true --seed 3
cringe train \
  -t safety-mini:chitchat:mutators=flatten,safety-mini:toxic:mutators=flatten+relabel+ltr_empty,safety-mini:pretrain \
  --multitask-weights 5,1,1 --preset small --vocab-size 4000 --mf "$out/cringe" \
  --max-train-steps "${CRINGE_DEMO_STEPS:-120}" --lr 1e-3 --warmup-updates 20 -bs 16 \
  --text-truncate 64 --label-truncate 32 --num-pos-predictions 5 --log-every-n-steps 20 --seed 1
echo "model: $out/cringe   per-step metrics: $out/cringe.train.jsonl"
