#!/usr/bin/env bash
# Builds the browser UI into web-ui/dist (index.html, style.css, pkg/ with the wasm module):
# a wasm32 build of the `cringe-web` crate, then wasm-bindgen. Installs what it needs when
# missing (scripts/ensure-wasm-bindgen.sh): the wasm32 Rust target and wasm-bindgen-cli of
# the exact version in Cargo.lock. Serve the result with `cringe serve-ui`.
#
# CRINGE_WEB_PROFILE=dev builds faster, unoptimised (default: release). CRINGE_CARGO_TIMINGS=1
# also writes cargo's compile-time report (cargo-timings/ in the target folder).
set -euo pipefail
cd "$(dirname "$0")/.."
bindgen=$(./scripts/ensure-wasm-bindgen.sh)
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
profile="${CRINGE_WEB_PROFILE:-release}"
case "$profile" in dev) out_profile=debug ;; *) out_profile="$profile" ;; esac
cargo build -p cringe-web --target wasm32-unknown-unknown --profile "$profile" --locked ${CRINGE_CARGO_TIMINGS:+--timings}
dist=web-ui/dist
rm -rf "$dist.tmp"
mkdir -p "$dist.tmp/pkg"
"$bindgen" --target web --no-typescript --out-dir "$dist.tmp/pkg" \
  "$target_dir/wasm32-unknown-unknown/$out_profile/cringe_web.wasm"
cp web-ui/index.html web-ui/style.css "$dist.tmp/"
rm -rf "$dist"
mv "$dist.tmp" "$dist"
echo "built $dist ($(du -h "$dist/pkg/cringe_web_bg.wasm" | cut -f1) wasm); serve it with: cringe serve-ui"
