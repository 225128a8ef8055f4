#!/usr/bin/env bash
# browser.sh -- the browser part of `make bench`: tests/bench/browser.mjs in headless Chromium
# against BASE_URL, or against an instance of its own (free port, throwaway state) when unset.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [ -z "${BASE_URL:-}" ]; then
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  STATE_DIR=$(mktemp -d /tmp/scadserve-bench-browser.XXXXXX)
  export PORT STATE_DIR
  trap 'bin/scadservectl stop >/dev/null 2>&1 || true; rm -rf "$STATE_DIR"' EXIT
  bin/scadservectl start >/dev/null
  export BASE_URL="http://127.0.0.1:$PORT/"
fi
mkdir -p build/bench
node tests/bench/browser.mjs | tee build/bench/browser-report.txt
node tests/bench/widgets.mjs | tee -a build/bench/browser-report.txt
