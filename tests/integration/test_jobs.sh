#!/usr/bin/env bash
# test_jobs.sh -- render jobs: POST /api/jobs answers at once, GET follows the job through its
# states, DELETE cancels it (a running renderer stopped), identical jobs share one render, the
# queue is bounded, and a job whose runner died is run again after a restart. Real engines.
. "$(dirname "$0")/lib.sh"

# job_post SOURCE [QUERY]: POST a job; prints the status; the job's JSON in $TMP/body.
job_post() {
  printf '%s' "$1" > "$TMP/job.scad"
  req POST "/api/jobs${2:-}" -H 'Content-Type: text/plain' --data-binary @"$TMP/job.scad"
}
job_state() { curl -s "$BASE_URL/api/jobs/$1" | jq -r .state; }
# wait_state ID STATE: within 30 s.
wait_state() {
  local i
  for i in $(seq 1 600); do [ "$(job_state "$1")" = "$2" ] && return 0; sleep 0.05; done
  fail "job $1 is $(job_state "$1"), not $2: $(curl -s "$BASE_URL/api/jobs/$1")"
}
# Two seconds or so of WASM work, no memory to speak of.
SPIN='function spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(3e5));'

RUNNERS=1 inst_start SCADSERVE_QUEUE_MAX=2 || { echo "test_jobs: 0 passed, 1 failed"; exit 1; }

t_job_done() {
  local s id url src
  src="cube([2, 3, 4]); // $RANDOM"
  s=$(job_post "$src")
  expect_eq status "$s" 202 || return 1
  id=$(jq -r .id "$TMP/body")
  [[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "id $id"
  expect_eq Location "$(header Location)" "/api/jobs/$id"
  expect_eq status_url "$(jq -r .status_url "$TMP/body")" "/api/jobs/$id"
  jq -e '.state == "queued" or .state == "running" or .state == "done"' "$TMP/body" >/dev/null || fail "state: $(cat "$TMP/body")"
  wait_state "$id" done || return 1
  curl -s "$BASE_URL/api/jobs/$id" > "$TMP/job.json"
  expect_eq engine "$(jq -r .engine "$TMP/job.json")" wasm
  url=$(jq -r .model_url "$TMP/job.json")
  s=$(req GET "$url")
  expect_eq "model" "$s" 200
  expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
  # The same request again: done at once, from the cache.
  s=$(job_post "$src")
  expect_eq "again" "$s/$(jq -r .state "$TMP/body")" 202/done
}
check "a job goes queued/running to done; its model is at model_url; a cached one is done at once" t_job_done

t_job_failed() {
  local s id
  s=$(job_post $'cube(1);\nsphere(2)\ncube(3;\n')
  expect_eq status "$s" 202 || return 1
  id=$(jq -r .id "$TMP/body")
  wait_state "$id" failed || return 1
  curl -s "$BASE_URL/api/jobs/$id" > "$TMP/job.json"
  expect_eq "error" "$(jq -r '.error.type + " " + (.error.line | tostring)' "$TMP/job.json")" "invalid_scad 3"
  s=$(job_post 'cube(1);' '?format=nope')
  expect_error 400 bad_request "$s"
  s=$(req GET /api/jobs/00000000-0000-4000-8000-000000000000)
  expect_error 404 not_found "$s"
  s=$(req PUT "/api/jobs/$id")
  expect_error 405 method_not_allowed "$s"
}
check "a failed job carries the error object; bad requests are refused at once; unknown ids 404" t_job_failed

t_job_cancel() {
  local a b s gone replaced i id failures
  gone=$(metric scadserve_client_disconnects_total)
  replaced=$(metric scadserve_wasm_helper_replaced_total)
  s=$(job_post "$SPIN cube(1); // a $RANDOM"); a=$(jq -r .id "$TMP/body")
  wait_state "$a" running || return 1
  s=$(job_post "$SPIN cube(2); // b $RANDOM"); b=$(jq -r .id "$TMP/body")
  expect_eq "second job" "$(curl -s "$BASE_URL/api/jobs/$b" | jq -r '.state + " " + (.position | tostring)')" "queued 1"
  # Cancel the queued one: it never runs.
  s=$(req DELETE "/api/jobs/$b")
  expect_eq "DELETE queued" "$s/$(jq -r .state "$TMP/body")" 200/cancelled
  # Cancel the running one: its renderer is stopped within a second.
  curl -s "$BASE_URL/api/jobs/$a" | jq -e '.elapsed_seconds > 0 and (.stage | length > 0)' >/dev/null ||
    fail "running job without elapsed time or stage: $(curl -s "$BASE_URL/api/jobs/$a")"
  s=$(req DELETE "/api/jobs/$a")
  expect_eq "DELETE running" "$s/$(jq -r .state "$TMP/body")" 200/cancelled
  for i in $(seq 1 20); do
    [ "$(metric scadserve_wasm_helper_replaced_total)" -gt "$replaced" ] && break
    sleep 0.05
  done
  expect_eq "renderer stopped (helper replaced)" "$(metric scadserve_wasm_helper_replaced_total)" $((replaced + 1))
  expect_eq "stops counted" "$(metric scadserve_client_disconnects_total)" $((gone + 1))
  expect_eq "b still cancelled" "$(job_state "$b")" cancelled
  # The runner goes on with the next jobs, on a fresh helper of the same engine (a cancel once
  # closed the replacement helper's pipe: the next render waited 20 s and fell back to the CLI).
  failures=$(metric scadserve_wasm_helper_start_failures_total)
  for i in 1 2; do
    s=$(job_post "cube(6); // $i $RANDOM"); id=$(jq -r .id "$TMP/body")
    wait_state "$id" done || return 1
    expect_eq "engine after a cancel ($i)" "$(curl -s "$BASE_URL/api/jobs/$id" | jq -r .engine)" wasm
    if [ "$i" = 1 ]; then
      # Cancel another running render on that runner, then render again.
      s=$(job_post "$SPIN cube(1); // c $RANDOM"); a=$(jq -r .id "$TMP/body")
      wait_state "$a" running || return 1
      s=$(req DELETE "/api/jobs/$a")
      expect_eq "DELETE running again" "$s" 200
    fi
  done
  expect_eq "helper start failures" "$(metric scadserve_wasm_helper_start_failures_total)" "$failures"
}
check "DELETE: a queued job never runs, a running one's renderer stops within a second" t_job_cancel

t_job_stage() {
  local s id i stage=""
  s=$(job_post "echo(\"stage marker $RANDOM\"); $SPIN cube(9);"); id=$(jq -r .id "$TMP/body")
  wait_state "$id" running || return 1
  # OpenSCAD's log, read as it comes: its echo shows in the stage while the render goes on.
  for i in $(seq 1 100); do
    curl -s "$BASE_URL/api/jobs/$id" > "$TMP/job.json"
    stage=$(jq -r '.stage // ""' "$TMP/job.json")
    [[ $stage == *'last said: ECHO: "stage marker'* ]] && break
    sleep 0.02
  done
  [[ $stage == "rendering (OpenSCAD 2025, WASM): evaluating the model, last said: ECHO: \"stage marker"* ]] ||
    fail "stage: $(cat "$TMP/job.json")"
  expect_eq "still running" "$(jq -r .state "$TMP/job.json")" running
  wait_state "$id" done
}
check "a running job's stage is what OpenSCAD's log says as it renders" t_job_stage

t_job_shared() {
  local s a b renders src
  renders=$(metric scadserve_renders_total)
  src="$SPIN cube(3); // shared $RANDOM"
  s=$(job_post "$src"); a=$(jq -r .id "$TMP/body")
  s=$(job_post "$src"); b=$(jq -r .id "$TMP/body")
  [ "$a" != "$b" ] || fail "one id for two jobs"
  wait_state "$a" done && wait_state "$b" done || return 1
  expect_eq "renders" "$(metric scadserve_renders_total)" $((renders + 1))
  # Cancelling one of two identical jobs leaves the other's render alone.
  src="$SPIN cube(4); // shared2 $RANDOM"
  s=$(job_post "$src"); a=$(jq -r .id "$TMP/body")
  s=$(job_post "$src"); b=$(jq -r .id "$TMP/body")
  wait_state "$a" running || return 1
  s=$(req DELETE "/api/jobs/$a")
  wait_state "$b" done
  expect_eq "a" "$(job_state "$a")" cancelled
}
check "identical jobs share one render; cancelling one does not stop the other's" t_job_shared

t_job_queue_bound() {
  local s ids=() i
  s=$(job_post "$SPIN cube(11); // q0 $RANDOM"); ids+=("$(jq -r .id "$TMP/body")")
  wait_state "${ids[0]}" running || return 1
  for i in 1 2; do
    s=$(job_post "$SPIN cube(1$i); // q$i $RANDOM"); expect_eq "queued $i" "$s" 202; ids+=("$(jq -r .id "$TMP/body")")
  done
  s=$(job_post "$SPIN cube(19); // q3 $RANDOM")
  expect_error 503 overloaded "$s"
  [ -n "$(header Retry-After)" ] || fail "no Retry-After"
  for i in "${ids[@]}"; do req DELETE "/api/jobs/$i" >/dev/null; done
}
check "past SCADSERVE_QUEUE_MAX queued renders: 503 overloaded with Retry-After" t_job_queue_bound

t_job_many_workers() {
  local s id i codes=""
  s=$(job_post "cube(7); // $RANDOM"); id=$(jq -r .id "$TMP/body")
  wait_state "$id" done || return 1
  # Every front worker answers for it (the record is in SQLite, not in the worker that made it).
  for i in $(seq 1 20); do codes+=$(curl -s -o /dev/null -w '%{http_code} ' "$BASE_URL/api/jobs/$id"); done
  expect_eq "answers" "$(echo $codes | tr ' ' '\n' | sort -u | tr '\n' ' ')" "200 "
  expect_eq "front workers" "$(pool_pids front | wc -l)" 2
}
check "a job is answered by any front worker" t_job_many_workers

t_job_restart() {
  local s id
  s=$(job_post "$SPIN cube(8); // restart $RANDOM"); id=$(jq -r .id "$TMP/body")
  wait_state "$id" running || return 1
  # The whole service stops with the job running (its runner killed), and starts again.
  inst_restart RUNNERS=1 SCADSERVE_QUEUE_MAX=2 || return 1
  wait_state "$id" done
}
check "a job running when the service stops is run again after the restart" t_job_restart

t_job_metrics() {
  curl -s "$BASE_URL/api/metrics" | grep -q '^scadserve_jobs{state="done"} [1-9]' ||
    fail "no jobs gauge: $(curl -s "$BASE_URL/api/metrics" | grep jobs)"
}
check "/api/metrics counts jobs by state" t_job_metrics

finish
