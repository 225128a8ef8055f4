#!/usr/bin/env bash
# run.sh -- runs each unit test binary given as an argument and adds up their results.
# A binary that crashes, exits non-zero without failed tests, or ends without its closing
# "N passed, N failed" line counts as one more failure.
set -u
passed=0 failed=0 broken=0
for bin in "$@"; do
  echo "# $bin"
  out=$(mktemp)
  "$bin" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$line" ]; then
    if [ "$rc" -gt 128 ]; then
      echo "not ok - $bin died of signal $((rc - 128)) before its closing line"
    else
      echo "not ok - $bin ended without its closing line (exit $rc)"
    fi
    broken=$((broken + 1))
    continue
  fi
  p=${line%% passed*}
  f=${line#*passed, }
  f=${f%% failed}
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $bin exited with status $rc after its tests passed"
    broken=$((broken + 1))
  fi
done
failed=$((failed + broken))
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
