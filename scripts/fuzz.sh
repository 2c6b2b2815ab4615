#!/usr/bin/env bash
# Runs the fuzzing campaign: each target of native-trainer/src/fuzz_targets.rs (or the ones
# named) under libFuzzer for RUNS executions (default 1,000,000), starting from fuzz/corpus/TARGET
# and merging what it learns back into it (minimised). A crash stops that target and leaves the
# input in fuzz/artifacts/; copy it to fuzz/regressions/TARGET/ with the fix, so the test suite
# replays it forever. Stable Rust: the coverage instrumentation is LLVM's sanitizer-coverage,
# switched on by flags (what cargo-fuzz passes), and libFuzzer is built by libfuzzer-sys (C++).
#
#   scripts/fuzz.sh                      # every target, 1M runs each
#   RUNS=200000 scripts/fuzz.sh world_logs safetensors_header
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-1000000}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
command -v c++ >/dev/null || { echo "error: libFuzzer needs a C++ compiler (apt-get install g++)" >&2; exit 1; }
# an explicit --target keeps the flags off build scripts and proc macros (as cargo-fuzz does)
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --manifest-path fuzz/Cargo.toml --release --locked --target "$host" --target-dir "$target_dir"
bin="$target_dir/$host/release/cringe-fuzz"
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && { echo "built $bin"; exit 0; }
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/corpus)
fi
mkdir -p fuzz/artifacts
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  start=$(date +%s)
  echo "== $t: $runs runs"
  CRINGE_FUZZ_TARGET="$t" "$bin" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t-" -print_final_stats=1 "$work" "fuzz/corpus/$t" 2>"fuzz/artifacts/$t.log" \
    || { echo "$t: crashed or failed, see fuzz/artifacts/$t.log"; tail -n 30 "fuzz/artifacts/$t.log"; exit 1; }
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "fuzz/artifacts/$t.log" || true
  # keep a minimal corpus that covers everything found
  merged=$(mktemp -d)
  CRINGE_FUZZ_TARGET="$t" "$bin" -merge=1 "$merged" "fuzz/corpus/$t" "$work" 2>/dev/null
  rm -rf "fuzz/corpus/$t" && mv "$merged" "fuzz/corpus/$t" && rm -rf "$work"
  echo "$t: $(ls "fuzz/corpus/$t" | wc -l) corpus inputs, $(( $(date +%s) - start )) s"
done
