#!/usr/bin/env bash
# Makes sure the web UI can be built: the wasm32 Rust target (rustup) and wasm-bindgen-cli of
# the exact version in Cargo.lock; prints the wasm-bindgen binary to use on stdout (what it
# installs reports on stderr). No registry we reach packages a wasm-bindgen-cli build (npm,
# PyPI and Debian were checked), so it is compiled once with `cargo install` into a tools folder
# next to the build outputs (`$CARGO_TARGET_DIR/tools`, or `CRINGE_TOOLS_DIR`) and reused from
# there, as the build outputs are. One already on PATH at that version is used as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown >&2
fi
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
[ -n "$version" ] || { echo "error: Cargo.lock names no wasm-bindgen version" >&2; exit 1; }
if wasm-bindgen --version 2>/dev/null | grep -qF " $version"; then
  echo wasm-bindgen
  exit 0
fi
tools="${CRINGE_TOOLS_DIR:-$(realpath -m "${CARGO_TARGET_DIR:-target}")/tools}/wasm-bindgen-$version"
if ! "$tools/bin/wasm-bindgen" --version 2>/dev/null | grep -qF " $version"; then
  echo "installing wasm-bindgen-cli $version into $tools (once; reused from there)" >&2
  rm -rf "$tools.tmp"
  # Not --locked: its lock file names a webpki-roots the registry mirror may not carry. Its own
  # temporary build folder: it shares no build outputs with ours.
  env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$version" --bin wasm-bindgen --root "$tools.tmp" --no-track >&2
  rm -rf "$tools"
  mv "$tools.tmp" "$tools"
fi
echo "$tools/bin/wasm-bindgen"
