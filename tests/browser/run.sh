#!/usr/bin/env bash
# run.sh -- the browser tests: headless Chromium (playwright-core) against a running scadserve.
# With BASE_URL set, tests that instance; otherwise starts one on a free port with a throwaway
# state directory and stops it afterwards. Needs static/node_modules (make build runs npm ci).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "browser tests: ${CHROMIUM:-/usr/bin/chromium} missing (apt-get install chromium)" >&2; exit 1; }
[ -d static/node_modules/playwright-core ] || { echo "browser tests: static/node_modules missing: run make build" >&2; exit 1; }

if [ -z "${BASE_URL:-}" ]; then
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  STATE_DIR=$(mktemp -d /tmp/scadserve-browser.XXXXXX)
  export PORT STATE_DIR
  trap 'bin/scadservectl stop >/dev/null 2>&1 || true; rm -rf "$STATE_DIR"' EXIT
  bin/scadservectl start >/dev/null
  export BASE_URL="http://127.0.0.1:$PORT/"
fi

node --test --test-concurrency=1 tests/browser/
