#!/usr/bin/env bash
# test_faults.sh -- a renderer that hangs, crashes, floods, overflows or leaves processes
# behind (a stand-in: the real OpenSCAD cannot do these on demand), plus the real OpenSCAD
# running out of memory. Each answers its documented error, caches nothing, leaves nothing.
. "$(dirname "$0")/lib.sh"

inst_start "${STANDIN_ENV[@]}" SCADSERVE_TIMEOUT=4 SCADSERVE_OUTPUT_MAX=1M \
  SCADSERVE_MEMORY_MAX=256M || { echo "test_faults: 0 passed, 1 failed"; exit 1; }

# fault NAME STATUS TYPE: the answer to a model asking for that fault, and what must follow.
fault() {
  local name=$1 status=$2 type=$3 s before
  before=$(cache_entries)
  s=$(render_src $'// fault: '"$name"$'\ncube(1);\n')
  expect_error "$status" "$type" "$s"
  expect_eq "cache entries" "$(cache_entries)" "$before"
  [ "$(procs_matching 'sleep 9876')" = 0 ] || fail "processes left: $(pgrep -af 'sleep 9876')"
  [ -z "$(ls -A "$INST_DIR/tmp")" ] || fail "scratch left: $(ls "$INST_DIR/tmp")"
  health_ok
}

check "hang: timeout, the whole group killed" fault hang 422 timeout
check "SIGSEGV: renderer_crashed, an error about the model" fault segv 422 renderer_crashed
check "SIGABRT: renderer_crashed, an error about the model" fault abort 422 renderer_crashed
check "half a file then SIGKILL: nothing cached" fault partial 422 memory_limit
check "output past SCADSERVE_OUTPUT_MAX: output_too_large" fault bigfile 422 output_too_large
check "grandchildren (one escaped with setsid) are killed and reaped" fault grandchild 422 empty_model
check "memory past SCADSERVE_MEMORY_MAX: memory_limit" fault memory 422 memory_limit

t_flood() {
  local s rss
  fault flood 500 internal
  # The log kept is bounded: at most 64 KiB kept, 8 KiB answered.
  [ "$(jq -r '.error.log | length' "$TMP/body")" -le 8192 ] || fail "log not capped"
  jq -r .error.log "$TMP/body" | grep -q 'bytes of log dropped' || fail "no note of the dropped log"
  for p in $(all_pids); do
    rss=$(awk '/VmHWM/ { print $2 }' "/proc/$p/status")
    [ "$rss" -lt 65536 ] || fail "worker $p peaked at $rss KiB"
  done
}
check "100 MB on stderr: bounded log, bounded memory" t_flood

t_fds_env() {
  local s
  s=$(render_src $'// fault: fdcheck\ncube(1);\n')
  expect_eq status "$s" 200 || { cat "$TMP/body" >&2; return 1; }
}
check "the renderer inherits no descriptor and no SCADSERVE_ variable" t_fds_env

t_still_renders() {
  local s
  s=$(render_src 'cube(3);')
  expect_eq status "$s" 200
  expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
}
check "after all that, an ordinary model still renders" t_still_renders
check "after all that, the workers hold no pipe, pidfd or scratch file" workers_fds_clean

# The real OpenSCAD past its memory limit, in an instance of its own (the CLI engine's limit:
# the WASM engine's is tested in test_engines.sh).
inst_start SCADSERVE_ENGINE=cli SCADSERVE_MEMORY_MAX=384M || { finish; exit 1; }
t_real_memory() {
  local s before
  before=$(cache_entries)
  s=$(render_src 'x = [for (i=[0:99999]) [for (j=[0:99999]) [i, j]]]; echo(len(x)); cube(1);')
  expect_error 422 memory_limit "$s"
  expect_eq "cache entries" "$(cache_entries)" "$before"
  health_ok
}
check "the real OpenSCAD past SCADSERVE_MEMORY_MAX: memory_limit" t_real_memory

# Render slots: with one slot taken by a hanging render, another render waits its turn and
# is turned away with 503 and Retry-After when the wait runs out.
inst_start "${STANDIN_ENV[@]}" SCADSERVE_RENDER_SLOTS=1 SCADSERVE_QUEUE_WAIT=0.5 \
  SCADSERVE_TIMEOUT=6 || { finish; exit 1; }
t_overloaded() {
  local s i busy=0
  ( render_src $'// fault: hang\ncube(1);\n' >/dev/null ) &
  for i in $(seq 1 100); do
    busy=$(metric scadserve_renders_in_flight)
    [ "$busy" = 1 ] && break
    sleep 0.05
  done
  expect_eq "renders in flight" "$busy" 1
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(2);')
  expect_error 503 overloaded "$s"
  [ "$(header Retry-After)" -ge 1 ] || fail "no Retry-After"
  s=$(req GET /api/health)
  expect_eq "health while busy" "$s" 200
  wait
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(2);')
  expect_eq "after the slot is free" "$s" 200
}
check "overloaded: 503 with Retry-After when every slot is busy" t_overloaded

finish
