#!/usr/bin/env bash
# run.sh -- runs every integration test file in turn and adds up their results.
set -u
cd "$(dirname "$0")"
passed=0 failed=0 broken=0
for t in ${INTEGRATION_TESTS:-test_*.sh}; do
  echo "# $t"
  out=$(mktemp)
  bash "$t" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "not ok - $t ended without its closing line (exit $rc)"
    broken=$((broken + 1))
  else
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && broken=$((broken + 1))
  fi
  rm -f "$out"
done
failed=$((failed + broken))
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
