#!/usr/bin/env bash
# test_flight.sh -- single-flight (identical requests share one render, across processes) and
# clients that go away (their render is stopped at once), with the real engines.
. "$(dirname "$0")/lib.sh"

WORKERS=8 inst_start SCADSERVE_RENDER_SLOTS=2 SCADSERVE_TIMEOUT=30 ||
  { echo "test_flight: 0 passed, 1 failed"; exit 1; }

# About 4-5 s in the CLI, a second or two in WASM, little memory: 8 lists of 4 million numbers.
SLOW='n = [for (k = [0:7]) len([for (i = [0:1999]) for (j = [0:1999]) i * j])]; echo(n); cube(1);'

t_single_flight() {
  local i pids=() renders joins hits n_ok sums src
  renders=$(metric scadserve_renders_total)
  joins=$(metric scadserve_single_flight_joins_total)
  hits=$(metric scadserve_cache_hits_total)
  src="// $RANDOM$RANDOM
function spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(1e5)); cube(4);"
  printf '%s' "$src" > "$TMP/same.scad"
  for i in $(seq 1 50); do
    curl -sS -o "$TMP/same.$i" -w '%{http_code}\n' --max-time 60 -H 'Content-Type: text/plain' \
      --data-binary @"$TMP/same.scad" "$BASE_URL/api/render" > "$TMP/same.$i.code" &
    pids+=($!)
  done
  wait "${pids[@]}"
  n_ok=$(cat "$TMP"/same.*.code | grep -c '^200$')
  expect_eq "answers 200" "$n_ok" 50
  sums=$(for i in $(seq 1 50); do sha256sum < "$TMP/same.$i"; done | sort -u | wc -l)
  expect_eq "distinct bodies" "$sums" 1
  expect_eq "renders" "$(metric scadserve_renders_total)" $((renders + 1))
  # The other 49 were answered from that render: waiting for it, or after it.
  expect_eq "joins + hits" $(( $(metric scadserve_single_flight_joins_total) - joins + \
    $(metric scadserve_cache_hits_total) - hits )) 49
  [ "$(metric scadserve_single_flight_joins_total)" -gt "$joins" ] || fail "nobody waited for the render"
}
check "50 identical concurrent requests: one render, the same bytes for all" t_single_flight

# Renderers running for this instance: CLI processes, or WASM helpers at work (their CPU).
cli_running() { procs_matching 'openscad'; }

t_gone_cli() {
  local i gone before
  gone=$(metric scadserve_client_disconnects_total)
  for i in 1 2 3 4; do
    printf '// %s %s\n%s' "$i" "$RANDOM" "$SLOW" > "$TMP/gone.$i.scad"
    curl -s -o /dev/null --max-time 1 -H 'Content-Type: text/plain' \
      --data-binary @"$TMP/gone.$i.scad" "$BASE_URL/api/render?engine=cli&timeout=20" &
  done
  wait
  # The clients gave up after a second; a second later nothing of theirs runs.
  sleep 1
  expect_eq "renderers running" "$(cli_running)" 0
  expect_eq "disconnects counted" "$(metric scadserve_client_disconnects_total)" $((gone + 4))
  health_ok
}
check "four slow CLI renders whose clients go away: no renderer a second later" t_gone_cli

t_gone_wasm() {
  local gone replaced s
  gone=$(metric scadserve_client_disconnects_total)
  replaced=$(metric scadserve_wasm_helper_replaced_total)
  printf '// %s\nfunction spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(2e6)); cube(2);' "$RANDOM" > "$TMP/gw.scad"
  curl -s -o /dev/null --max-time 1 -H 'Content-Type: text/plain' \
    --data-binary @"$TMP/gw.scad" "$BASE_URL/api/render?timeout=20" || true
  sleep 1
  expect_eq "disconnects counted" "$(metric scadserve_client_disconnects_total)" $((gone + 1))
  expect_eq "its helper was stopped" "$(metric scadserve_wasm_helper_replaced_total)" $((replaced + 1))
  s=$(render_src 'cube(5.5);')
  expect_eq "next render" "$s/$(header X-Engine)" 200/wasm
}
check "a slow WASM render whose client goes away: its helper is stopped and replaced" t_gone_wasm
check "the workers hold only their helpers' pipes" workers_fds_clean

# The front door: with every render worker held by a slow render, health, metrics and cached
# models still answer at once (nginx sends renders to a pool of their own).
WORKERS=2 inst_start SCADSERVE_RENDER_SLOTS=2 SCADSERVE_TIMEOUT=30 || { finish; exit 1; }
t_front_door() {
  local i s key t0 ms worst=0
  s=$(render_src 'cube(3.25);')
  expect_eq "a model to fetch" "$s" 200 || return 1
  key=$(header ETag | tr -d '"')
  for i in 1 2; do
    printf '// busy %s %s\n%s' "$i" "$RANDOM" "$SLOW" > "$TMP/busy.$i.scad"
    curl -s -o /dev/null --max-time 30 -H 'Content-Type: text/plain' \
      --data-binary @"$TMP/busy.$i.scad" "$BASE_URL/api/render?engine=cli&timeout=20" &
  done
  # Both render workers busy: both renderers running.
  for i in $(seq 1 100); do [ "$(cli_running)" = 2 ] && break; sleep 0.05; done
  expect_eq "renderers running" "$(cli_running)" 2 || { wait; return 1; }
  for what in /api/health /api/metrics "/api/models/$key" /api/nope "POST /api/render"; do
    t0=$(date +%s%N)
    if [ "$what" = "POST /api/render" ]; then
      # A render request that is a cache hit: the front pool answers it.
      s=$(curl -s -o /dev/null -D "$TMP/hit.h" -w '%{http_code}' --max-time 10 \
        -H 'Content-Type: text/plain' --data-binary 'cube(3.25);' "$BASE_URL/api/render")
      grep -qi '^x-cache: hit' "$TMP/hit.h" || fail "the render request was not a hit"
    else
      s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE_URL$what")
    fi
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -gt "$worst" ] && worst=$ms
    case "$what" in /api/nope) expect_eq "$what" "$s" 404 ;; *) expect_eq "$what" "$s" 200 ;; esac
  done
  expect_eq "renderers still running (the checks ran while they did)" "$(cli_running)" 2
  [ "$worst" -lt 1000 ] || fail "slowest answer ${worst} ms"
  wait
}
check "every render worker busy: health, metrics, cached models and render hits answer at once" t_front_door

# Ten distinct slow renders at once, two slots: never more than two render, and the front door
# stays open all along. Ten render workers here, so that all ten requests are inside the
# program (waiting for a slot), not queued in nginx.
WORKERS=10 inst_start SCADSERVE_RENDER_SLOTS=2 SCADSERVE_QUEUE_MAX=16 SCADSERVE_TIMEOUT=60 ||
  { finish; exit 1; }
t_ten_renders() {
  local i s key t0 ms worst=0 most=0 busy samples=0
  s=$(render_src 'cube(3.5);')
  expect_eq "a model to fetch" "$s" 200 || return 1
  key=$(header ETag | tr -d '"')
  for i in $(seq 1 10); do
    printf '// ten %s %s\nfunction spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(1.5e5)); cube(%s);' \
      "$i" "$RANDOM" "$i" > "$TMP/ten.$i.scad"
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -H 'Content-Type: text/plain' \
      --data-binary @"$TMP/ten.$i.scad" "$BASE_URL/api/render" > "$TMP/ten.$i.code" &
  done
  # While they run: sample the renders in flight, and time health and a cached model.
  while [ "$(jobs -r | wc -l)" -gt 0 ]; do
    busy=$(metric scadserve_renders_in_flight)
    [ "$busy" -gt "$most" ] && most=$busy
    for what in /api/health "/api/models/$key"; do
      t0=$(date +%s%N)
      s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE_URL$what")
      ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      [ "$ms" -gt "$worst" ] && worst=$ms
      [ "$s" = 200 ] || fail "$what answered $s"
    done
    samples=$((samples + 1))
    sleep 0.1
  done
  wait
  expect_eq "all ten rendered" "$(cat "$TMP"/ten.*.code | sort | uniq -c | awk '{ print $1 " " $2 }')" "10 200"
  [ "$most" -le 2 ] || fail "$most renders at once with 2 slots"
  [ "$most" -ge 1 ] || fail "no render seen in flight ($samples samples)"
  [ "$samples" -ge 5 ] || fail "only $samples samples while the renders ran"
  [ "$worst" -lt 1000 ] || fail "slowest answer while they ran: ${worst} ms"
}
check "ten slow renders, two slots: at most two at once, health and hits answer within a second" t_ten_renders

# Synchronous renders are jobs: one slot (one runner), a queue of two. The third and fourth
# distinct renders past it are refused at once, whatever the size of the wait pool; the queue
# depth is the number of requests waiting; the wait pool's endpoint is nginx's alone.
WORKERS=8 inst_start SCADSERVE_RENDER_SLOTS=1 SCADSERVE_QUEUE_MAX=2 SCADSERVE_TIMEOUT=60 ||
  { finish; exit 1; }
t_sync_bound() {
  local i s pids=() t0 ms
  for i in 1 2 3; do
    printf '// bound %s %s\nfunction spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(1e12)); cube(%s);' \
      "$i" "$RANDOM" "$i" > "$TMP/bound.$i.scad"
    curl -s -o /dev/null --max-time 60 -H 'Content-Type: text/plain' \
      --data-binary @"$TMP/bound.$i.scad" "$BASE_URL/api/render" &
    pids+=($!)
    # The first one running before the others queue (three at once could all be queued).
    if [ "$i" = 1 ]; then
      for _ in $(seq 1 100); do [ "$(metric scadserve_renders_in_flight)" = 1 ] && break; sleep 0.05; done
    fi
  done
  for i in $(seq 1 100); do
    [ "$(metric scadserve_queue_depth)" = 2 ] && [ "$(metric scadserve_renders_in_flight)" = 1 ] && break
    sleep 0.05
  done
  expect_eq "queue depth" "$(metric scadserve_queue_depth)" 2
  expect_eq "in flight" "$(metric scadserve_renders_in_flight)" 1
  expect_eq "health: queued" "$(curl -s "$BASE_URL/api/health" | jq .render_slots.queued)" 2
  for i in 4 5; do
    t0=$(date +%s%N)
    s=$(render_src "cube($i); // past the bound $RANDOM")
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    expect_error 503 overloaded "$s"
    [ -n "$(header Retry-After)" ] || fail "no Retry-After"
    [ "$ms" -lt 1000 ] || fail "refused after ${ms} ms"
  done
  # A hit still answers; the wait endpoint does not exist for clients.
  s=$(req GET /_scadserve/wait/00000000-0000-4000-8000-000000000000)
  expect_eq "wait endpoint from outside" "$s" 404
  # The clients go: their renders stop or are dropped, and the queue empties.
  kill "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null || true
  for i in $(seq 1 100); do
    [ "$(metric scadserve_queue_depth)" = 0 ] && [ "$(metric scadserve_renders_in_flight)" = 0 ] && break
    sleep 0.05
  done
  expect_eq "queue depth after" "$(metric scadserve_queue_depth)" 0
  expect_eq "in flight after" "$(metric scadserve_renders_in_flight)" 0
  s=$(render_src "cube(6); // after $RANDOM")
  expect_eq "then a render" "$s" 200
}
check "synchronous renders past the queue bound: 503 at once; the queue depth is what waits" t_sync_bound

finish
