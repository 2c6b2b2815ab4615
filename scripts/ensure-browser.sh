#!/usr/bin/env bash
# Makes sure the browser tests can run: Debian's chromium (headless, WebGPU via SwiftShader),
# Node.js with npm (apt-get when missing), and playwright-core (npm ci in tests/browser, from
# its committed lock file). Playwright drives the system chromium; it downloads no browser.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing ${need[*]} (apt-get)"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
