#!/usr/bin/env bash
# test_healing.sh -- processes are supervised (one killed is replaced), and what a process
# killed or stopped at a bad moment leaves behind: a place in
# the render queue when the worker waiting on it dies (the count must come back down, new
# misses must still get in), a wait that must end when the worker is told to stop, and scratch
# directories of a runner killed mid-render, swept at the next start, never one a live runner
# renders in.
. "$(dirname "$0")/lib.sh"

HANG=$'// fault: hang\n'
WORKERS=4 inst_start "${STANDIN_ENV[@]}" SCADSERVE_RENDER_SLOTS=1 SCADSERVE_QUEUE_MAX=1 \
  SCADSERVE_QUEUE_WAIT=20 SCADSERVE_TIMEOUT=20 || { echo "test_healing: 0 passed, 1 failed"; exit 1; }

# within SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds; fails after SECONDS.
within() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.05
  done
}

# bg_render NAME SOURCE: POSTs SOURCE in the background ($! is curl); the status goes to
# $TMP/bg.NAME.status, the body to $TMP/bg.NAME.body.
bg_render() {
  printf '%s' "$2" > "$TMP/bg.$1.scad"
  curl -sS -o "$TMP/bg.$1.body" -w '%{http_code}' --max-time 120 -H 'Content-Type: text/plain' \
    --data-binary @"$TMP/bg.$1.scad" "$BASE_URL/api/render" > "$TMP/bg.$1.status" 2>/dev/null &
}
bg_done() { [ -s "$TMP/bg.$1.status" ]; }

queued_is() { [ "$(metric scadserve_queue_depth)" = "$1" ]; }
hanging() { pgrep -f 'sleep 98761' >/dev/null; }
# The stand-in's hanging renderers: ended by pid, which fails the renders that ran them.
end_hangs() { local p; for p in $(pgrep -f 'sleep 98761'); do kill "$p" 2>/dev/null; done; within 10 not hanging; }
not() { ! "$@"; }

# queued_worker: the pid of the wait-pool worker whose request's render is still queued (the
# jobs database says who waits on what).
queued_worker() {
  local p
  p=$(sqlite3 "file:$INST_DIR/jobs.sqlite?mode=ro" "SELECT j.waiter FROM jobs j JOIN renders r
    ON r.key = j.key WHERE r.state = 'queued' AND j.state = 'active' AND j.waiter > 0 LIMIT 1")
  [ -n "$p" ] && echo "$p"
}
t_killed_waiter() {
  local w q
  bg_render hang "${HANG}cube(1);"
  within 10 hanging || fail "the hanging render did not start"
  bg_render w1 'cube(2);'
  within 10 queued_is 1 || fail "the second render did not queue: $(metric scadserve_queue_depth)"
  w=$(within 5 queued_worker) || fail "no worker waits for a slot"
  kill -KILL "$w"
  # The count comes back down by itself, in metrics and in health.
  within 10 queued_is 0 || fail "queue depth stays $(metric scadserve_queue_depth) after its waiter was killed"
  q=$(curl -s "$BASE_URL/api/health" | jq .render_slots.queued)
  expect_eq "health: queued" "$q" 0
  # The one place is free again: a new miss waits in it (a leaked count refused it at once)...
  bg_render w2 'cube(3);'
  within 10 queued_is 1 || fail "a new miss did not get into the queue: $(cat "$TMP/bg.w2.status" "$TMP/bg.w2.body" 2>/dev/null)"
  # ...and renders once the slot is free.
  end_hangs
  within 30 bg_done w2 || fail "the queued render never answered"
  expect_eq "queued render" "$(cat "$TMP/bg.w2.status")" 200
  within 10 queued_is 0
}
check "a worker killed while its render is queued leaves no count: new misses get in" t_killed_waiter

t_stop_while_queued() {
  local w start took
  bg_render hang2 "${HANG}cube(4);"
  within 10 hanging || fail "the hanging render did not start"
  bg_render w3 'cube(5);'
  within 10 queued_is 1 || fail "the render did not queue"
  w=$(within 5 queued_worker) || fail "no worker waits for a slot"
  start=$SECONDS
  kill -TERM "$w"
  # SCADSERVE_QUEUE_WAIT is 20 s: the worker answers now instead, and then stops.
  within 5 bg_done w3 || fail "the queued request was not answered within 5 s of SIGTERM"
  took=$((SECONDS - start))
  expect_eq status "$(cat "$TMP/bg.w3.status")" 503
  expect_eq type "$(jq -r .error.type "$TMP/bg.w3.body")" overloaded
  jq -r .error.message "$TMP/bg.w3.body" | grep -q stopping || fail "message: $(cat "$TMP/bg.w3.body")"
  within 5 not kill -0 "$w" 2>/dev/null || fail "worker $w did not stop"
  echo "# answered ${took} s after SIGTERM"
  end_hangs
  within 10 queued_is 0
}
check "a worker asked to stop while queued answers 503 at once and stops" t_stop_while_queued

# Scratch directories: a worker killed mid-render leaves its own behind. A worker that starts
# sweeps them, but never one a live worker renders in: here a second instance shares the
# first one's scratch folder and starts while the first renders.
WORKERS=3 inst_start "${STANDIN_ENV[@]}" SCADSERVE_RENDER_SLOTS=2 SCADSERVE_TIMEOUT=30 ||
  { finish; exit 1; }
A_DIR=$INST_DIR A_URL=$BASE_URL
scratch_dirs() { find "$A_DIR/tmp" -mindepth 1 -maxdepth 1 -name 'r-??????' | sort; }
scratch_count() { [ "$(scratch_dirs | grep -c .)" = "$1" ]; }
hangs() { [ "$(pgrep -c -f 'sleep 98761')" = "$1" ]; }
# slot_runner: the job runner rendering (it holds a render slot's lock).
slot_runner() {
  local p
  for p in $(runner_pids "$A_DIR"); do
    if ls -l "/proc/$p/fd" 2>/dev/null | grep -q '/slots/slot-'; then echo "$p"; return 0; fi
  done
  return 1
}
t_scratch_sweep() {
  local w dead live d_curl
  bg_render d "${HANG}cube(6);"
  d_curl=$!
  within 10 hangs 1 || fail "the first render did not start"
  within 10 scratch_count 1 || fail "no scratch directory: $(ls "$A_DIR/tmp")"
  dead=$(scratch_dirs)
  w=$(slot_runner) || fail "no runner holds a slot"
  kill -KILL "$w"
  # Its client gives up too, so that nobody waits on that render and it is not run again.
  kill "$d_curl"
  within 10 hangs 0 || end_hangs
  # Its supervisor starts another runner, which sweeps what the dead one left.
  within 10 not test -e "$dead" || fail "the dead runner's $dead was not swept"
  [ ! -e "$dead.lock" ] || fail "its lock file was not swept"
  grep -q "removed $dead: left by a worker that died" "$A_DIR/log/scadserve.log" ||
    fail "no log line: $(grep removed "$A_DIR/log/scadserve.log")"
  expect_eq "runners" "$(runner_pids "$A_DIR" | wc -l)" 2
  bg_render l "${HANG}cube(7);"
  within 10 hangs 1 || fail "the second render did not start"
  within 10 scratch_count 1 || fail "no scratch directory for the second render: $(ls "$A_DIR/tmp")"
  live=$(scratch_dirs)
  # Another instance on the same scratch folder starts: each of its workers sweeps. (Started
  # in this check's subshell, which finish does not know of: it stops it itself.)
  trap inst_stop EXIT
  WORKERS=2 inst_start "${STANDIN_ENV[@]}" SCADSERVE_TMPDIR="$A_DIR/tmp" || fail "B did not start"
  [ -d "$live/src" ] || fail "the live render's $live was swept"
  # The live render ends as usual, and cleans up after itself.
  end_hangs
  within 30 bg_done l || fail "the second render never answered"
  within 10 scratch_count 0 || fail "left: $(ls -A "$A_DIR/tmp")"
  [ -z "$(ls -A "$A_DIR/tmp")" ] || fail "left: $(ls -A "$A_DIR/tmp")"
}
check "scratch of a killed runner is swept by the runner started in its place, a live one never" t_scratch_sweep

# Supervision: every pool's processes are watched (multiwatch), and one that dies is replaced.
inst_start || { finish; exit 1; }
t_supervised() {
  local pool victim s i n
  s=$(render_src 'cube(2);'); expect_eq "before" "$s" 200
  for pool in scadserve front runners; do
    n=$(pool_pids "$pool" | wc -l)
    victim=$(pool_pids "$pool" | head -n 1)
    [ -n "$victim" ] || fail "no $pool process"
    kill -KILL "$victim"
    for i in $(seq 1 100); do
      ! pool_pids "$pool" | grep -qx "$victim" && [ "$(pool_pids "$pool" | wc -l)" = "$n" ] && break
      sleep 0.05
    done
    ! pool_pids "$pool" | grep -qx "$victim" || fail "$pool: $victim still there"
    expect_eq "$pool processes after a kill" "$(pool_pids "$pool" | wc -l)" "$n"
  done
  health_ok
  s=$(render_src "cube(3); // after the kills $RANDOM"); expect_eq "a render after" "$s/$(header X-Engine)" 200/wasm
}
check "a process killed in any pool is replaced by its supervisor; renders go on" t_supervised

finish
