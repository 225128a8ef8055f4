#!/usr/bin/env bash
# run.sh -- builds each libFuzzer harness (tests/fuzz/fuzz_*.c) with clang and its sanitizers
# and runs it for a time box. A harness passes when it found no crash, leak, timeout or
# out-of-memory. Crash inputs are kept in build/fuzz/artifacts/.
#
#   FUZZ_SECONDS   time per harness (default 20)
#   FUZZ_TARGETS   harnesses to run, e.g. "fuzz_req" (default all)
#   CLANG          compiler (default clang, else clang-14)
set -u
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-20}
cc=${CLANG:-$(command -v clang || command -v clang-14)}
out=build/fuzz
pkgs="fcgi jansson uuid sqlite3 libcrypto"

# The fcgi/ sources each harness links: only the pure modules it reaches.
declare -A sources=(
  [fuzz_req]="fcgi/req.c fcgi/text.c fcgi/err.c fcgi/format.c fcgi/key.c"
  [fuzz_classify]="fcgi/classify.c fcgi/redact.c fcgi/text.c fcgi/err.c fcgi/format.c"
)

if [ -z "$cc" ]; then
  echo "fuzz: no clang found (set CLANG)"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
if ! flags=$(pkg-config --cflags --libs $pkgs); then
  echo "fuzz: pkg-config does not know $pkgs"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

targets=${FUZZ_TARGETS:-$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)}
mkdir -p "$out/artifacts"
passed=0 failed=0
for t in $targets; do
  src=${sources[$t]:-}
  if [ -z "$src" ]; then
    echo "not ok - $t: no source list in tests/fuzz/run.sh"
    failed=$((failed + 1))
    continue
  fi
  echo "# $t: building"
  # shellcheck disable=SC2086
  if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Ifcgi \
      -o "$out/$t" "tests/fuzz/$t.c" $src $flags -lm; then
    echo "not ok - $t: does not build"
    failed=$((failed + 1))
    continue
  fi
  # New inputs go to build/, the checked-in seeds stay as they are.
  work="$out/corpus/$t"
  mkdir -p "$work"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  log="$out/$t.log"
  echo "# $t: running for ${seconds}s"
  "$out/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "${dict[@]}" \
      "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "ok - $t (${runs:-?} runs, no crash)"
    passed=$((passed + 1))
  else
    # What broke, where (the first frames of the report), and the input that did it.
    grep -m 1 -E 'broken: |runtime error|ERROR: (AddressSanitizer|LeakSanitizer)|ERROR: libFuzzer' "$log"
    grep -E '^ +#[0-9]+ .* (/|fcgi/|tests/)' "$log" | grep -v -E 'libFuzzer|fuzzer::|libc|sanitizer|^ +#[0-9]+ 0x[0-9a-f]+ +\(' | head -n 6
    grep -E 'Test unit written to' "$log" | tail -n 1 | sed 's/.*Test unit written to/  input:/'
    echo "not ok - $t (exit $rc; full log in $log)"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
