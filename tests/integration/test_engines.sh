#!/usr/bin/env bash
# test_engines.sh -- the WASM engine (OpenSCAD 2025 in warm Node helpers) and the CLI behind it:
# the default engine, choice and fallback, the typed errors out of WASM (a hang, a memory bomb,
# deep recursion, a crash, a helper killed mid-render), helpers replaced and never left behind,
# concurrent renders kept apart, and a service whose helper cannot run. All real: the real
# helper with its real package, Node, nginx, spawn-fcgi and OpenSCAD 2021.01.
. "$(dirname "$0")/lib.sh"

# The helper pids of the current instance's job runners (the only processes that render).
helper_pids() {
  local p
  for p in $(runner_pids); do pgrep -P "$p" -f 'engines/wasm/helper.mjs'; done
}

# stl_size_x: the size along x of the binary STL in $TMP/body.
stl_size_x() {
  node -e 'const b = require("fs").readFileSync(process.argv[1]); let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < b.readUInt32LE(80); i++) for (let v = 0; v < 3; v++) {
      const x = b.readFloatLE(84 + i * 50 + 12 + v * 12); lo = Math.min(lo, x); hi = Math.max(hi, x); }
    console.log((hi - lo).toFixed(3));' "$TMP/body"
}

# wasm_state: the WASM engine's state in health.
wasm_state() { curl -s "$BASE_URL/api/health" | jq -r '.engines[] | select(.name == "wasm") | .state'; }

# Waits (at most 20 s) for every runner's helper to be ready.
helpers_ready() {
  local i
  for i in $(seq 1 200); do
    [ "$(wasm_state)" = ready ] && [ "$(helper_pids | wc -l)" -ge "$(runner_pids | wc -l)" ] && return 0
    sleep 0.1
  done
  fail "helpers not ready: state $(wasm_state), $(helper_pids | wc -l) helpers"
}

inst_start SCADSERVE_TIMEOUT=20 ||
  { echo "test_engines: 0 passed, 1 failed"; exit 1; }
t_helpers() {
  helpers_ready || return 1
  # One helper per job runner (RUNNERS: the render slots), none in the FastCGI pools.
  expect_eq "helpers" "$(helper_pids | wc -l)" "$(curl -s "$BASE_URL/api/health" | jq .render_slots.total)"
  local p
  for p in $(pool_pids scadserve) $(pool_pids front); do
    [ -z "$(pgrep -P "$p" -f 'engines/wasm/helper.mjs')" ] || fail "FastCGI worker $p has a helper"
  done
}
check "every job runner starts a helper (one per render slot), health says ready" t_helpers

t_default() {
  local s
  s=$(render_src 'cube(10);')
  expect_eq status "$s" 200 || return 1
  expect_eq engine "$(header X-Engine)" wasm
  expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
  expect_eq "size x" "$(stl_size_x)" 10.000
  s=$(render_src 'cube(10);')
  expect_eq "second time" "$(header X-Cache)/$(header X-Engine)" hit/wasm
}
check "WASM is the default engine, and its result is cached" t_default

t_health() {
  local h
  h=$(curl -s "$BASE_URL/api/health")
  echo "$h" | jq -e '.engines[] | select(.name == "wasm") | .version == "2025.01.19" and .backend == "manifold" and .default' >/dev/null ||
    fail "wasm engine in health: $(echo "$h" | jq -c .engines)"
  echo "$h" | jq -e '.engines[] | select(.name == "cli") | .version == "2021.01"' >/dev/null ||
    fail "cli engine in health: $(echo "$h" | jq -c .engines)"
  expect_eq "3mf by" "$(echo "$h" | jq -c '.format_engines["3mf"]')" '["cli"]'
  expect_eq "stl by" "$(echo "$h" | jq -c '.format_engines.stl')" '["wasm","cli"]'
  expect_eq "svg by" "$(echo "$h" | jq -c '.format_engines.svg')" '["wasm","cli"]'
  echo "$h" | jq -e '.formats | index("3mf") and index("stl")' >/dev/null || fail "formats: $(echo "$h" | jq -c .formats)"
}
check "health lists both engines, versions, and the engines of each format" t_health

t_choice() {
  local s k_auto k_cli
  s=$(render_src 'cube(7);')
  expect_eq status "$s" 200 && k_auto=$(header ETag)
  s=$(render_src 'cube(7);' '--url-query' 'engine=cli')
  expect_eq "cli status" "$s" 200 || return 1
  expect_eq engine "$(header X-Engine)" cli
  k_cli=$(header ETag)
  [ "$k_auto" != "$k_cli" ] || fail "the same key for both engines: $k_cli"
  s=$(render_json '{"source": "cube(7);", "engine": "cli"}')
  expect_eq "json cli" "$s/$(header X-Engine)/$(header X-Cache)" 200/cli/hit
  s=$(render_json '{"source": "cube(7);", "engine": "wasm"}')
  expect_eq "json wasm" "$s/$(header X-Engine)/$(header X-Cache)" 200/wasm/hit
  s=$(render_src 'cube(7);' --url-query engine=gpu)
  expect_error 400 bad_request "$s"
  s=$(render_src 'cube(7);' --url-query engine=wasm --url-query format=3mf)
  expect_error 400 bad_request "$s"
  grep -q 'cannot export 3mf' "$TMP/body" || fail "message: $(cat "$TMP/body")"
  # Both results are there for a GET by key.
  s=$(req GET "/api/models/${k_cli//\"/}")
  expect_eq "GET cli key" "$s" 200
}
check "engine= chooses, the key names the engine, bad choices are 400" t_choice

t_formats() {
  local s
  s=$(render_src 'cube(5);' --url-query format=3mf)
  expect_eq status "$s" 200 || return 1
  expect_eq "3mf engine" "$(header X-Engine)" cli
  [ "$(head -c 2 "$TMP/body")" = PK ] || fail "3mf is not a zip"
  for f in svg dxf; do
    s=$(render_src 'square(5);' --url-query format=$f)
    expect_eq "$f" "$s/$(header X-Engine)" 200/wasm
  done
  grep -q 'ENTITIES' "$TMP/body" || fail "dxf without ENTITIES"
  s=$(render_src 'echo("hi"); cube(1);' --url-query format=echo)
  expect_eq echo "$s/$(header X-Engine)/$(cat "$TMP/body")" '200/wasm/ECHO: "hi"'
}
check "3mf goes to the CLI; SVG, DXF and echo come from WASM" t_formats

t_model_errors() {
  local s
  s=$(render_src $'cube(1);\nsphere(2)\ncube(3;\n')
  expect_error 422 invalid_scad "$s"
  expect_eq line "$(jq -r .error.line "$TMP/body")" 3
  expect_eq engine "$(jq -r .error.engine "$TMP/body")/$(header X-Engine)" wasm/wasm
  jq -r .error.log "$TMP/body" | grep -q 'in file model.scad, line 3' || fail "log: $(jq -r .error.log "$TMP/body")"
  ! grep -q '/work/\|web_user\|localization' "$TMP/body" || fail "internal paths in: $(cat "$TMP/body")"
  s=$(render_src 'assert(1 == 2, "nope");')
  expect_error 422 invalid_scad "$s"
  expect_eq "assert line" "$(jq -r .error.line "$TMP/body")" 1
  s=$(render_src 'square(3);')
  expect_error 422 empty_model "$s"
  s=$(render_src 'echo("nothing");')
  expect_error 422 empty_model "$s"
  # A model error is final: the CLI did not run it again.
  expect_eq "fallbacks" "$(metric scadserve_engine_fallbacks_total)" 0
}
check "model errors from WASM are typed, with a line, clean of internal paths, and final" t_model_errors

t_library_and_parameters() {
  local s
  s=$(render_src $'include <MCAD/regular_shapes.scad>\nhexagon(5);' --url-query format=svg)
  expect_eq "MCAD" "$s/$(header X-Engine)" 200/wasm
  s=$(render_json '{"source": "w = 1;\ncube([w, 2, 3]);", "parameters": {"w": 17}}')
  expect_eq "parameters" "$s/$(header X-Engine)" 200/wasm || return 1
  expect_eq "size x" "$(stl_size_x)" 17.000
  s=$(render_json "{\"source\": \"import(\\\"part.stl\\\");\", \"files\": {\"part.stl\": \"$(printf 'solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 4 0 0\nvertex 0 4 0\nendloop\nendfacet\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 0 4 0\nvertex 0 0 4\nendloop\nendfacet\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 0 0 4\nvertex 4 0 0\nendloop\nendfacet\nfacet normal 0 0 1\nouter loop\nvertex 4 0 0\nvertex 0 0 4\nvertex 0 4 0\nendloop\nendfacet\nendsolid x\n' | base64 -w0)\"}}")
  expect_eq "companion file" "$s/$(header X-Engine)" 200/wasm || return 1
  expect_eq "size x" "$(stl_size_x)" 4.000
}
check "WASM renders MCAD, parameters and companion files" t_library_and_parameters

t_recursion() {
  local s
  # Far deeper than the browser build's own 64 KiB stack allows (~150 levels).
  s=$(render_src 'function f(n) = n == 0 ? 0 : 1 + f(n - 1); cube(f(3000) / 100);')
  expect_eq "3000 levels" "$s/$(header X-Engine)" 200/wasm || return 1
  expect_eq "size x" "$(stl_size_x)" 30.000
  # Runaway recursion: OpenSCAD's own check stops it, as in the CLI.
  s=$(render_src 'function f(n) = 1 + f(n + 1); echo(f(0)); cube(1);')
  expect_error 422 invalid_scad "$s"
  jq -r .error.message "$TMP/body" | grep -q 'Recursion detected' || fail "message: $(jq -r .error.message "$TMP/body")"
  expect_eq engine "$(jq -r .error.engine "$TMP/body")" wasm
}
check "recursion: 3,000 levels render, runaway recursion is invalid_scad as in the CLI" t_recursion

t_timeout() {
  local s before after t0 t1
  helpers_ready || return 1
  before=$(helper_pids | sort | tr '\n' ' ')
  t0=$(date +%s%N)
  # A tail-recursive loop: no memory, all CPU.
  s=$(render_src 'function spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(1e12)); cube(1);' --url-query timeout=2)
  t1=$(date +%s%N)
  expect_error 422 timeout "$s"
  expect_eq engine "$(jq -r .error.engine "$TMP/body")" wasm
  [ $(((t1 - t0) / 1000000)) -lt 6000 ] || fail "answered after $(((t1 - t0) / 1000000)) ms"
  s=$(render_src 'cube(6);')
  expect_eq "next render" "$s/$(header X-Engine)" 200/wasm
  helpers_ready || return 1
  after=$(helper_pids | sort | tr '\n' ' ')
  [ "$before" != "$after" ] || fail "no helper was replaced: $before"
  expect_eq "helpers" "$(helper_pids | wc -l)" "$(runner_pids | wc -l)"
}
check "a hang: timeout at the limit, the helper replaced, the next render served" t_timeout

t_memory() {
  local s before
  before=$(cache_entries)
  # A string doubled 30 times: 16 GiB, past the WASM heap's 1 GiB in a few seconds.
  s=$(render_src $'function s(n) = n == 0 ? "0123456789abcdef" : let(t = s(n - 1)) str(t, t);\necho(len(s(30)));\ncube(1);')
  expect_error 422 memory_limit "$s"
  expect_eq engine "$(jq -r .error.engine "$TMP/body")" wasm
  expect_eq "cache entries" "$(cache_entries)" "$before"
  s=$(render_src 'cube(8);')
  expect_eq "next render" "$s/$(header X-Engine)" 200/wasm
}
check "a memory bomb: memory_limit from WASM, nothing cached, the next render served" t_memory

t_output_too_large() {
  local s before
  before=$(cache_entries)
  # About 3 MB of echo, past the 1 MiB limit of text formats.
  s=$(render_src 'for (i = [0:99999]) echo("xxxxxxxxxxxxxxxxxxxx"); cube(1);' --url-query format=echo)
  expect_error 422 output_too_large "$s"
  expect_eq engine "$(jq -r .error.engine "$TMP/body")" wasm
  expect_eq "cache entries" "$(cache_entries)" "$before"
  s=$(render_src 'cube(8.5);')
  expect_eq "next render" "$s/$(header X-Engine)" 200/wasm
}
check "output past the text limit: output_too_large from WASM, the next render served" t_output_too_large

t_killed_mid_render() {
  local s h i
  helpers_ready || return 1
  # Both runners' helpers die a second into the render: the CLI answers that render; the
  # runner that was idle finds its helper gone at its next render and starts another.
  ( sleep 1; for h in $(helper_pids); do kill -9 "$h"; done ) &
  # About 3 s in WASM (a tail-recursive loop), a fraction of that in the CLI.
  s=$(render_src 'function spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(4e5)); cube(2);' --url-query timeout=15)
  wait
  expect_eq status "$s" 200 || { cat "$TMP/body"; return 1; }
  expect_eq engine "$(header X-Engine)" cli
  header X-Engine-Fallback | grep -q 'died' || fail "fallback header: $(header X-Engine-Fallback)"
  for i in 1 2 3 4; do
    s=$(render_src "cube($i + 0.5);")
    expect_eq "render $i after" "$s/$(header X-Engine)" 200/wasm
  done
}
check "a helper killed mid-render: the CLI answers, a new helper takes over" t_killed_mid_render

t_concurrent() {
  local i pids=() counts="" c prev=0
  for i in 1 2 3 4; do
    ( printf 'sphere(5, $fn=%d);' $((i * 10 + 2)) > "$TMP/c$i.scad"
      curl -sS -o "$TMP/c$i.stl" -D "$TMP/c$i.h" -w '%{http_code}' -H 'Content-Type: text/plain' \
        --data-binary @"$TMP/c$i.scad" "$BASE_URL/api/render" > "$TMP/c$i.code" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  # A finer sphere has more triangles: each answer must be finer than the one before it, so an
  # answer that went to the wrong request would show.
  for i in 1 2 3 4; do
    expect_eq "render $i" "$(cat "$TMP/c$i.code")" 200 || return 1
    grep -qi '^x-engine: wasm' "$TMP/c$i.h" || fail "render $i engine: $(grep -i x-engine "$TMP/c$i.h")"
    c=$("$STLCMP" --count "$TMP/c$i.stl")
    counts+="$c "
    [ "$c" -gt "$prev" ] || fail "answers crossed: triangle counts $counts"
    prev=$c
  done
}
check "concurrent renders on every slot are each answered with their own model" t_concurrent
check "the workers hold nothing of a render, the runners only their helpers' pipes" workers_fds_clean

t_stop_leaves_nothing() {
  local pids p
  pids=$(helper_pids)
  [ -n "$pids" ] || fail "no helpers before stop"
  inst_stop
  # Killed with their workers; a killed multi-threaded process takes a moment to be gone.
  for p in $pids; do
    for _ in $(seq 1 100); do
      [ -e "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] || break
      sleep 0.05
    done
    ! { [ -e "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ]; } ||
      fail "helper $p still runs 5 s after stop: $(ps -o args= -p "$p")"
  done
}
check "after stop, no helper is left" t_stop_leaves_nothing

# A helper ready long before anyone asks: a worker idle past the helper's start deadline
# (SCADSERVE_WASM_START_MAX, 1 s here) still finds it ready, and a helper killed while idle
# shows in health at once and is replaced.
RUNNERS=1 inst_start SCADSERVE_WASM_START_MAX=1 || { finish; exit 1; }
t_idle_start() {
  local s h old i
  # Waiting is the scenario here: the first request comes after the start deadline.
  sleep 2
  s=$(render_src 'cube(9);')
  expect_eq "first render" "$s/$(header X-Engine)" 200/wasm
  old=$(helper_pids)
  kill -9 "$old"
  # Health (answered by the front pool) lists every helper and no longer calls the dead one
  # ready: within 5 s (a killed multi-threaded process lingers a while); its runner replaces it
  # at its next render.
  for i in $(seq 1 100); do
    h=$(curl -s "$BASE_URL/api/health" | jq -c '.engines[] | select(.name == "wasm")')
    echo "$h" | jq -e --argjson old "$old" '[.helpers[] | select(.helper_pid == $old and .state == "ready")] | length == 0' >/dev/null && break
    sleep 0.05
  done
  echo "$h" | jq -e --argjson old "$old" '[.helpers[] | select(.helper_pid == $old and .state == "ready")] | length == 0' >/dev/null ||
    fail "health still calls the dead helper ready: $h"
  s=$(render_src 'cube(9.5);')
  expect_eq "after the kill" "$s/$(header X-Engine)" 200/wasm
}
check "a helper ready before the first request, and one killed while idle, are handled" t_idle_start

# A real crash on demand: 1 MiB of WASM stack (SCADSERVE_WASM_STACK_MB, passed to the helper),
# which recursion 5,000 levels deep overflows.
inst_start SCADSERVE_WASM_STACK_MB=1 || { finish; exit 1; }
t_crash_fallback() {
  local s before_f before_r
  before_f=$(metric scadserve_engine_fallbacks_total)
  before_r=$(metric scadserve_wasm_helper_replaced_total)
  # 5,000 levels overflow the 1 MiB WASM stack this instance gives (a real crash, caught by
  # the red zone); the CLI, whose stack is 8 MiB, renders it.
  s=$(render_src 'function f(n) = n == 0 ? 0 : 1 + f(n - 1); cube(f(5000) / 1000);')
  expect_eq status "$s" 200 || { cat "$TMP/body"; return 1; }
  expect_eq engine "$(header X-Engine)" cli
  header X-Engine-Fallback | grep -q 'stack' || fail "fallback header: $(header X-Engine-Fallback)"
  expect_eq "size x" "$(stl_size_x)" 5.000
  expect_eq fallbacks "$(metric scadserve_engine_fallbacks_total)" $((before_f + 1))
  expect_eq replaced "$(metric scadserve_wasm_helper_replaced_total)" $((before_r + 1))
  # Asked for WASM alone, the crash is the answer.
  s=$(render_json '{"source": "function f(n) = n == 0 ? 0 : 1 + f(n - 1); cube(f(5001) / 1000);", "engine": "wasm"}')
  expect_error 422 renderer_crashed "$s"
  s=$(render_src 'cube(4);')
  expect_eq "next render" "$s/$(header X-Engine)" 200/wasm
}
check "a WASM crash: the helper is replaced, the CLI answers (or renderer_crashed if asked for WASM)" t_crash_fallback


# A service whose Node is not there: the CLI answers everything, health says why.
inst_start SCADSERVE_NODE=/nonexistent/node || { finish; exit 1; }
t_no_node() {
  local s h
  h=$(curl -s "$BASE_URL/api/health")
  expect_eq state "$(echo "$h" | jq -r '.engines[] | select(.name == "wasm") | .state')" unavailable
  echo "$h" | jq -r '.engines[] | select(.name == "wasm") | .reason' | grep -q '/nonexistent/node' ||
    fail "reason: $(echo "$h" | jq -c .engines)"
  expect_eq "cli default" "$(echo "$h" | jq -r '.engines[] | select(.name == "cli") | .default')" true
  s=$(render_src 'cube(3);')
  expect_eq render "$s/$(header X-Engine)" 200/cli
  s=$(render_src 'cube(3);' --url-query engine=wasm)
  expect_error 503 engine_unavailable "$s"
  [ -n "$(header Retry-After)" ] || fail "no Retry-After"
}
check "no Node: renders succeed on the CLI, health says why, engine=wasm is 503" t_no_node

# A helper that starts and dies (here: a package folder without the module): the engine rests.
mkdir -p "$TMP/badpkg/dist" && printf '{"version": "0.0.0"}' > "$TMP/badpkg/package.json" &&
  printf 'not the module\n' > "$TMP/badpkg/dist/openscad.js" && chmod -R a+rX "$TMP/badpkg"
inst_start SCADSERVE_WASM_PACKAGE="$TMP/badpkg" || { finish; exit 1; }
t_helper_fails() {
  local s h
  s=$(render_src 'cube(3);')
  expect_eq render "$s/$(header X-Engine)" 200/cli || return 1
  h=$(curl -s "$BASE_URL/api/health" | jq -c '.engines[] | select(.name == "wasm")')
  echo "$h" | jq -e '.state == "resting" or .state == "starting"' >/dev/null || fail "state: $h"
  expect_eq "start failures" "$([ "$(metric scadserve_wasm_helper_start_failures_total)" -ge 1 ] && echo yes)" yes
  # While every runner's helper rests, the front pool keys a request as the CLI's too: the
  # same request again is a hit, not another render.
  local i
  for i in $(seq 1 100); do
    [ "$(curl -s "$BASE_URL/api/health" | jq -r '.engines[] | select(.name == "wasm") | .state')" = resting ] && break
    sleep 0.1
  done
  s=$(render_src "cube(4); // outage $RANDOM")
  expect_eq "during the outage" "$s/$(header X-Engine)/$(header X-Cache)" 200/cli/miss
  s=$(render_src "$(cat "$TMP/src.scad")")
  expect_eq "the same again" "$s/$(header X-Engine)/$(header X-Cache)" 200/cli/hit
}
check "a helper that will not start: the CLI answers, health says why, repeats are hits" t_helper_fails

finish
