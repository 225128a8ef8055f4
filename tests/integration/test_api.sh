#!/usr/bin/env bash
# test_api.sh -- every endpoint and every error the render service answers, against real
# nginx + spawn-fcgi + OpenSCAD; the server must keep answering after each.
. "$(dirname "$0")/lib.sh"

inst_start || { echo "test_api: 0 passed, 1 failed"; exit 1; }

CUBE='cube(10);'

t_health() {
  local s
  s=$(req GET /api/health)
  expect_eq status "$s" 200
  jq -e '.status == "ok" and (.openscad.version | length > 0) and (.formats | index("stl"))
        and (.cache.entries >= 0) and .render_slots.total >= 1' "$TMP/body" >/dev/null ||
    fail "health body: $(cat "$TMP/body")"
  [ "$(req HEAD /api/health)" = 200 ] || fail "HEAD health"
  [ "$(header Content-Type)" = application/json ] || fail "HEAD content type"
}
check "health reports version, formats, cache and slots" t_health

t_miss_then_hit() {
  local s key1 key2
  s=$(render_src "$CUBE")
  expect_eq status "$s" 200
  expect_eq X-Cache "$(header X-Cache)" miss
  expect_eq Content-Type "$(header Content-Type)" model/stl
  cp "$TMP/body" "$TMP/first.stl"
  key1=$(header ETag)
  # Binary STL: 80-byte header, count, 50 bytes a triangle; a cube has 12.
  expect_eq size "$(stat -c %s "$TMP/first.stl")" $((84 + 50 * 12))
  expect_eq triangles "$("$STLCMP" --count "$TMP/first.stl")" 12
  s=$(render_src "$CUBE")
  expect_eq status "$s" 200
  expect_eq X-Cache "$(header X-Cache)" hit
  key2=$(header ETag)
  expect_eq etag "$key2" "$key1"
  cmp "$TMP/body" "$TMP/first.stl" || fail "hit bytes differ from miss bytes"
  [[ "$key1" =~ ^\"[0-9a-f]{64}\"$ ]] || fail "ETag $key1 is not a quoted key"
  [ "$(header Content-Location)" = "/api/models/${key1//\"/}" ] || fail "Content-Location"
}
check "render: miss, then hit with identical bytes and the same key" t_miss_then_hit

t_curl_default() {
  # What the README shows: curl --data-binary sends application/x-www-form-urlencoded.
  printf '%s' "$CUBE" > "$TMP/m.scad"
  local s
  s=$(curl -sS -o "$TMP/out.stl" -w '%{http_code}' --data-binary @"$TMP/m.scad" "$BASE_URL/api/render")
  expect_eq status "$s" 200
  cmp "$TMP/out.stl" "$TMP/first.stl" || fail "plain curl got other bytes"
}
check "plain curl --data-binary @model.scad works" t_curl_default

t_json_same_key() {
  local s k1 k2
  s=$(render_src "$CUBE"); k1=$(header ETag)
  s=$(render_json "$(jq -n --arg s "$CUBE" '{source: $s, format: "stl"}')")
  expect_eq status "$s" 200
  k2=$(header ETag)
  expect_eq "JSON and raw key" "$k2" "$k1"
  expect_eq X-Cache "$(header X-Cache)" hit
}
check "the JSON form of the same request has the same key" t_json_same_key

t_models() {
  local s key
  render_src "$CUBE" >/dev/null
  key=$(header ETag); key=${key//\"/}
  s=$(req GET "/api/models/$key")
  expect_eq status "$s" 200
  cmp "$TMP/body" "$TMP/first.stl" || fail "GET model bytes differ"
  expect_eq etag "$(header ETag)" "\"$key\""
  header Cache-Control | grep -q immutable || fail "no immutable Cache-Control"
  s=$(req HEAD "/api/models/$key")
  expect_eq "HEAD status" "$s" 200
  expect_eq "HEAD length" "$(header Content-Length)" "$(stat -c %s "$TMP/first.stl")"
  s=$(req GET "/api/models/$key" -H "If-None-Match: \"$key\"")
  expect_eq "conditional status" "$s" 304
  [ ! -s "$TMP/body" ] || fail "304 has a body"
  [ -z "$(header Content-Length)" ] || [ "$(header Content-Length)" = 0 ] || fail "304 announces a body"
  s=$(req GET "/api/models/$key" -H "If-None-Match: \"0000\", W/\"$key\"")
  expect_eq "list conditional" "$s" 304
  s=$(req GET "/api/models/$key" -H 'If-None-Match: "other"')
  expect_eq "non-matching conditional" "$s" 200
  s=$(req GET "/api/models/$(printf 'f%.0s' $(seq 64))")
  expect_error 404 not_found "$s"
  s=$(req GET "/api/models/not-a-key")
  expect_error 404 not_found "$s"
}
check "models: GET, HEAD, ETag, 304, immutable, 404" t_models

t_metrics() {
  local s
  s=$(req GET /api/metrics)
  expect_eq status "$s" 200
  header Content-Type | grep -q '^text/plain' || fail "content type"
  grep -q '^# TYPE scadserve_requests_total counter' "$TMP/body" || fail "no requests_total"
  grep -Eq '^scadserve_cache_hits_total [1-9]' "$TMP/body" || fail "hits not counted"
  grep -Eq '^scadserve_renders_total [1-9]' "$TMP/body" || fail "renders not counted"
  grep -q '^scadserve_render_seconds_bucket{le="+Inf"}' "$TMP/body" || fail "no histogram"
  grep -q '^scadserve_errors_total{type="not_found"} [1-9]' "$TMP/body" || fail "errors by type"
  # Every line is a comment or "name{labels} value".
  grep -Ev '^(# (HELP|TYPE) .*|[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+)$' "$TMP/body" && fail "bad line"
  return 0
}
check "metrics: Prometheus text with requests, hits, renders, errors" t_metrics

t_render_log() {
  local s src=$'echo("hello, w\u00f6rld");\nechoo(1);\ncube(2);\n' decoded
  for want in miss hit; do
    s=$(render_src "$src")
    expect_eq status "$s" 200
    expect_eq X-Cache "$(header X-Cache)" "$want"
    decoded=$(header X-Render-Log | python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))')
    grep -qx 'ECHO: "hello, wörld"' <<<"$decoded" || fail "$want: no echo in: $decoded"
    grep -q "^WARNING: Ignoring unknown module 'echoo' in file model.scad, line 2" <<<"$decoded" ||
      fail "$want: no warning in: $decoded"
    grep -q 'Geometries in cache' <<<"$decoded" && fail "$want: statistics not filtered"
  done
  return 0
}
check "X-Render-Log carries echo and warnings, on a miss and on a hit" t_render_log

t_request_id() {
  local id=3f1e7c1a-1234-4abc-9def-0123456789ab
  render_src 'cube(2' -H "X-Request-Id: $id" >/dev/null
  expect_eq header "$(header X-Request-Id)" "$id"
  expect_eq body "$(jq -r .error.request_id "$TMP/body")" "$id"
  render_src "$CUBE" -H 'X-Request-Id: not a uuid' >/dev/null
  [[ "$(header X-Request-Id)" =~ ^[0-9a-f-]{36}$ ]] || fail "no generated id"
}
check "a client's X-Request-Id is echoed; otherwise one is made" t_request_id

t_invalid_scad() {
  local s
  s=$(render_src $'cube(1);\n\nsphere(;\n')
  expect_error 422 invalid_scad "$s"
  expect_eq line "$(jq -r .error.line "$TMP/body")" 3
  jq -r .error.log "$TMP/body" | grep -q 'model.scad' || fail "log lost the file name"
  grep -q '/tmp\|/r-\|src/' <(jq -r '.error.log, .error.message' "$TMP/body") && fail "scratch path leaked"
  health_ok
}
check "invalid_scad with the line number, no scratch paths" t_invalid_scad

t_eval_error() {
  local s
  s=$(render_src $'function f(n) = f(n + 1);\necho(f(1));\ncube(1);\n')
  expect_error 422 invalid_scad "$s"
  expect_eq line "$(jq -r .error.line "$TMP/body")" 1
}
check "an evaluation error (infinite recursion) is invalid_scad, not cached" t_eval_error

t_include_error() {
  local s body
  body=$(jq -n --arg s $'include <lib/util.scad>\ncube(1);\n' \
    --arg f "$(printf 'x = 1;\ny = ;\n' | base64 -w0)" '{source: $s, files: {"lib/util.scad": $f}}')
  s=$(render_json "$body")
  expect_error 422 invalid_scad "$s"
  expect_eq line "$(jq -r .error.line "$TMP/body")" 2
  expect_eq file "$(jq -r .error.file "$TMP/body")" lib/util.scad
}
check "a syntax error in an included file names that file and line" t_include_error

t_empty() {
  local s
  s=$(render_src 'square(5);')
  expect_error 422 empty_model "$s"
  jq -r .error.message "$TMP/body" | grep -q svg || fail "does not suggest svg"
  s=$(req POST '/api/render?format=svg' -H 'Content-Type: text/plain' --data-binary 'square(5);')
  expect_eq status "$s" 200
  expect_eq type "$(header Content-Type)" image/svg+xml
  grep -q '<svg' "$TMP/body" || fail "not svg"
  s=$(render_json '{"source": "square(5);", "format": "dxf"}')
  expect_eq "dxf status" "$s" 200
  grep -q 'ENTITIES' "$TMP/body" || fail "not dxf"
  s=$(render_src 'echo("nothing");')
  expect_error 422 empty_model "$s"
  s=$(render_json '{"source": "cube(3);", "format": "svg"}')
  expect_error 422 empty_model "$s"
  jq -r .error.message "$TMP/body" | grep -q stl || fail "does not suggest stl"
}
check "empty_model: 2D as STL says svg/dxf; svg and dxf work; 3D as svg" t_empty

t_formats() {
  local f s
  for f in $(curl -s "$BASE_URL/api/health" | jq -r '.formats[]'); do
    case $f in dxf|svg|pdf) src='square(4);' ;; echo) src='echo(4); cube(4);' ;; *) src='cube(4);' ;; esac
    s=$(render_json "$(jq -n --arg s "$src" --arg f "$f" '{source: $s, format: $f}')")
    [ "$s" = 200 ] || fail "format $f: $s $(head -c 300 "$TMP/body")"
    [ -s "$TMP/body" ] || fail "format $f: empty"
  done
  render_json '{"source": "cube(1);", "format": "asciistl"}' >/dev/null
  head -c 5 "$TMP/body" | grep -q solid || fail "asciistl is not ASCII"
  s=$(render_json '{"source": "cube(1);", "format": "obj2"}')
  expect_error 400 bad_request "$s"
  jq -r .error.message "$TMP/body" | grep -q 'asciistl' || fail "does not list formats"
}
check "every format /api/health lists renders; unknown format is bad_request" t_formats

t_params() {
  local src s k1 k2 k3
  src=$'size = 10; // [1:100]\nflag = false;\nname = "a";\ncube(flag ? 1 : size);\necho(name);\n'
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s}')")
  expect_eq status "$s" 200; cp "$TMP/body" "$TMP/p10.stl"; k1=$(header ETag)
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s, parameters: {size: 20}}')")
  expect_eq status "$s" 200; k2=$(header ETag)
  [ "$k1" != "$k2" ] || fail "parameters do not change the key"
  cmp -s "$TMP/body" "$TMP/p10.stl" && fail "parameters do not change the model"
  # A 20 mm cube has coordinates of 20: read the first vertex's floats.
  python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); v=struct.unpack("<"+"f"*9, d[96:132]); sys.exit(0 if max(v)==20 else 1)' "$TMP/body" ||
    fail "size 20 did not make a 20 mm cube"
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s, parameters: {size: 20.0}}')")
  k3=$(header ETag)
  expect_eq "20.0 and 20 share a key" "$k3" "$k2"
  expect_eq X-Cache "$(header X-Cache)" hit
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s, parameters: {flag: true, name: "x\"); cube(50); echo(\""}}')")
  expect_eq status "$s" 200
  expect_eq "bool parameter" "$("$STLCMP" --count "$TMP/body")" 12
  python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); v=struct.unpack("<"+"f"*9, d[96:132]); sys.exit(0 if max(v)==1 else 1)' "$TMP/body" ||
    fail "flag=true did not make a 1 mm cube (string parameter spliced as code?)"
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s, parameters: {"size; cube(99)": 1}}')")
  expect_error 400 bad_request "$s"
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s, parameters: {size: {a: 1}}}')")
  expect_error 400 bad_request "$s"
  s=$(render_json "$(jq -n --arg s "$src" '{source: $s, parameters: [1]}')")
  expect_error 400 bad_request "$s"
}
check "parameters change the model and key, never splice code, bad ones are bad_request" t_params

t_files() {
  local s body
  printf 'module part() { cube([1, 2, 3]); }\n' > "$TMP/util.scad"
  body=$(jq -n --arg s $'use <lib/util.scad>\npart();\n' --arg f "$(base64 -w0 "$TMP/util.scad")" \
    '{source: $s, files: {"lib/util.scad": $f}}')
  s=$(render_json "$body")
  expect_eq status "$s" 200
  expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
  s=$(render_json "$(jq -n '{source: "cube(1);", files: {"../x.scad": "AAAA"}}')")
  expect_error 400 bad_request "$s"
  s=$(render_json "$(jq -n '{source: "cube(1);", files: {"/etc/x.scad": "AAAA"}}')")
  expect_error 400 bad_request "$s"
  s=$(render_json "$(jq -n '{source: "cube(1);", files: {"a.dat": "***"}}')")
  expect_error 400 bad_request "$s"
  # A name that would put a folder where a file is: refused before anything is written.
  s=$(render_json "$(jq -n '{source: "cube(1);", files: {"model.scad/x": "AAAA"}}')")
  expect_error 400 bad_request "$s"
  jq -r .error.message "$TMP/body" | grep -q 'model.scad/x' || fail "message: $(cat "$TMP/body")"
  s=$(render_json "$(jq -n '{source: "cube(1);", files: {"a.scad": "AAAA", "a.scad/b": "AAAA"}}')")
  expect_error 400 bad_request "$s"
  s=$(render_src $'use <lib/missing.scad>\npart();\n')
  [ "$s" = 422 ] || fail "missing library: $s"
}
check "files: companions by relative name; .. and absolute names refused" t_files

# render_log: the X-Render-Log of the last answer, decoded.
render_log() {
  header X-Render-Log | python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))'
}

t_file_access() {
  local s before
  before=$(cache_entries)
  s=$(render_src 'import("/etc/passwd.stl");')
  expect_error 422 file_not_accessible "$s"
  jq -r .error.message "$TMP/body" | grep -qF "Can't open import file '/etc/passwd.stl'" ||
    fail "message lost the file name: $(jq -r .error.message "$TMP/body")"
  # A model that only imports a file it was not sent: the whole message, the name as asked.
  s=$(render_src 'import("missing.stl");')
  expect_error 422 file_not_accessible "$s"
  jq -r .error.message "$TMP/body" |
    grep -qF "WARNING: Can't open import file 'missing.stl', import() at line 1" ||
    fail "not the whole message: $(jq -r .error.message "$TMP/body")"
  # Whatever the sandbox lets OpenSCAD read, /etc/passwd never comes back.
  s=$(render_src $'include </etc/passwd>\n')
  expect_eq "include of /etc/passwd alone" "$s" 422
  jq -r '.error.log, .error.message' "$TMP/body" | grep -q 'root:' && fail "leaked /etc/passwd"
  expect_eq "nothing cached" "$(cache_entries)" "$before"
  s=$(render_src $'include </etc/passwd>\ncube(1);\n')
  case "$s" in 200|422) ;; *) fail "include of /etc/passwd: $s $(cat "$TMP/body")" ;; esac
  cat "$TMP/headers" "$TMP/body" | grep -q 'root:' && fail "leaked /etc/passwd"
  render_log | grep -q 'root:' && fail "leaked /etc/passwd in X-Render-Log"
  return 0
}
check "file_not_accessible only for a failed render, naming the file; nothing cached" t_file_access

t_warnings_succeed() {
  local s w0 w1
  w0=$(metric scadserve_render_warnings_total)
  # surface() and rotate_extrude() without a file: a warning, and the model still renders.
  s=$(render_src $'rotate_extrude() translate([2, 0]) square(1);\nsurface();\n')
  expect_eq status "$s" 200
  render_log | grep -qF "WARNING: The file '' couldn't be opened." ||
    fail "no warning in X-Render-Log: $(render_log)"
  # An optional import that is missing, beside a cube: the cube.
  s=$(render_src $'import("missing.stl");\ncube(1);\n')
  expect_eq status "$s" 200
  expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
  render_log | grep -qF "WARNING: Can't open import file 'missing.stl', import() at line 1" ||
    fail "no warning in X-Render-Log: $(render_log)"
  s=$(render_src $'include <missing.scad>\nuse <missing2.scad>\ncube(2);\n')
  expect_eq status "$s" 200
  w1=$(metric scadserve_render_warnings_total)
  [ "$w1" -ge $((w0 + 4)) ] || fail "warnings counted $w0 -> $w1, want at least 4 more"
  # A hit carries the same log.
  s=$(render_src $'import("missing.stl");\ncube(1);\n')
  expect_eq X-Cache "$(header X-Cache)" hit
  render_log | grep -qF "Can't open import file 'missing.stl'" || fail "hit lost the log"
}
check "a finished render with file warnings succeeds; warnings in X-Render-Log and metrics" t_warnings_succeed

t_error_line_wins() {
  local s
  s=$(render_src $'include <missing.scad>\nassert(false, "x");\ncube(1);\n')
  expect_error 422 invalid_scad "$s"
  expect_eq line "$(jq -r .error.line "$TMP/body")" 2
  jq -r .error.message "$TMP/body" | grep -q "Assertion 'false' failed" || fail "message"
  s=$(render_src $'include <missing.scad>\ncube(;\n')
  expect_error 422 invalid_scad "$s"
  expect_eq line "$(jq -r .error.line "$TMP/body")" 2
  # "ERROR:" inside a warning line is no error: a 2D model asked for as STL.
  s=$(render_src 'square(size="ERROR: 1");')
  expect_error 422 empty_model "$s"
}
check "an error with a line keeps it beside a missing file; ERROR: only at a line's start" t_error_line_wins

t_syntax_error_echo_ast() {
  local s f
  for f in echo ast; do
    s=$(req POST "/api/render?format=$f" -H 'Content-Type: text/plain' --data-binary $'cube(1);\ncube(;\n')
    expect_error 422 invalid_scad "$s"
    expect_eq "$f line" "$(jq -r .error.line "$TMP/body")" 2
    jq -r .error.message "$TMP/body" | grep -q 'syntax error' || fail "$f: message"
  done
  s=$(req POST '/api/render?format=echo' -H 'Content-Type: text/plain' --data-binary 'echo(42);')
  expect_eq "echo status" "$s" 200
  grep -q '^ECHO: 42' "$TMP/body" || fail "echo output: $(cat "$TMP/body")"
  # A model that echoes nothing has an empty echo: a result, not an error.
  s=$(req POST '/api/render?format=echo' -H 'Content-Type: text/plain' --data-binary 'cube(3);')
  expect_eq "empty echo status" "$s" 200
  [ ! -s "$TMP/body" ] || fail "empty echo: $(cat "$TMP/body")"
}
check "a syntax error with format echo or ast is invalid_scad with its line; an empty echo is 200" t_syntax_error_echo_ast

t_deep_nesting() {
  local s id
  python3 -c 'n = 300000; print("x = " + "[" * n + "]" * n + ";\ncube(1);")' > "$TMP/deep.scad"
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary @"$TMP/deep.scad")
  expect_error 422 invalid_scad "$s"
  # Built at run time, the same depth makes OpenSCAD 2021.01 die of SIGSEGV (its stack).
  for src in $'function nest(n, acc = []) = n == 0 ? acc : nest(n - 1, [acc]);\nx = nest(300000);\ncube(1);\n' \
             $'function nest(n, acc = []) = n == 0 ? acc : nest(n - 1, [acc]);\necho(nest(300000));\ncube(1);\n'; do
    s=$(render_src "$src")
    expect_error 422 renderer_crashed "$s"
    jq -r .error.message "$TMP/body" | grep -q 'model made the renderer crash' || fail "message"
    id=$(header X-Request-Id)
    grep -F "[$id]" "$INST_DIR/log/scadserve.log" | grep -q ' error ' &&
      fail "logged as an error: $(grep -F "[$id]" "$INST_DIR/log/scadserve.log")"
    grep -F "[$id]" "$INST_DIR/log/scadserve.log" | grep -q ' warn ' || fail "not logged at warn"
  done
  health_ok
  s=$(render_src 'cube(4);')
  expect_eq "still renders" "$s" 200
}
check "a list nested 300,000 deep: a 422 about the model, and the server keeps serving" t_deep_nesting

t_timeout() {
  local s before
  before=$(cache_entries)
  s=$(req POST '/api/render?timeout=1' -H 'Content-Type: text/plain' \
      --data-binary 'x = [for (i=[0:99999]) for (j=[0:99999]) if (i*j < 0) 1]; cube(1);')
  expect_error 422 timeout "$s"
  s=$(render_json '{"source": "x = [for (i=[0:99999]) for (j=[0:99999]) if (i*j < 1) 1]; cube(1);", "timeout": 1.5}')
  expect_error 422 timeout "$s"
  expect_eq "nothing cached" "$(cache_entries)" "$before"
  s=$(render_json '{"source": "cube(1);", "timeout": 100000}')
  expect_error 400 bad_request "$s"
  s=$(render_json '{"source": "cube(1);", "timeout": "soon"}')
  expect_error 400 bad_request "$s"
  # The query string takes plain decimal seconds only.
  for t in 0x10 1e1 inf nan '%205' 5.; do
    s=$(req POST "/api/render?timeout=$t" -H 'Content-Type: text/plain' --data-binary 'cube(1);')
    expect_error 400 bad_request "$s" || fail "timeout=$t"
  done
  s=$(req POST '/api/render?timeout=16' -H 'Content-Type: text/plain' --data-binary 'cube(1);')
  expect_eq "timeout=16" "$s" 200
  [ "$(procs_matching 'openscad.*model.scad')" = 0 ] || fail "renderer left running"
  health_ok
}
check "timeout: a request may ask for less; the render is killed; nothing cached" t_timeout

t_bad_requests() {
  local s
  s=$(render_json '{"source": "cube(1);"'); expect_error 400 bad_request "$s"
  jq -r .error.message "$TMP/body" | grep -qi json || fail "message does not say JSON"
  s=$(render_json '[1, 2]'); expect_error 400 bad_request "$s"
  s=$(render_json '{"src": "cube(1);"}'); expect_error 400 bad_request "$s"
  s=$(render_json '{"source": 12}'); expect_error 400 bad_request "$s"
  s=$(render_json '{"source": "cube(1);\u0000"}'); expect_error 400 bad_request "$s"
  printf 'cube(1);\xff\xfe' > "$TMP/bad.scad"
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary @"$TMP/bad.scad")
  expect_error 400 bad_request "$s"
  jq -r .error.message "$TMP/body" | grep -q UTF-8 || fail "message does not say UTF-8"
  printf 'cube(1);\0' > "$TMP/nul.scad"
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary @"$TMP/nul.scad")
  expect_error 400 bad_request "$s"
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary '')
  expect_error 400 bad_request "$s"
  health_ok
}
check "bad_request: malformed JSON, wrong shapes, NUL, non-UTF-8, empty" t_bad_requests

t_media_method_route() {
  local s
  s=$(req POST /api/render -F 'file=@/dev/null')
  expect_error 415 unsupported_media_type "$s"
  s=$(req POST /api/render -H 'Content-Type: image/png' --data-binary 'x')
  expect_error 415 unsupported_media_type "$s"
  s=$(req GET /api/render)
  expect_error 405 method_not_allowed "$s"
  expect_eq Allow "$(header Allow)" POST
  s=$(req DELETE /api/health)
  expect_error 405 method_not_allowed "$s"
  expect_eq Allow "$(header Allow)" "GET, HEAD"
  s=$(req GET /api/nothing)
  expect_error 404 not_found "$s"
  health_ok
}
check "415 for other media types, 405 with Allow, 404 for unknown routes" t_media_method_route

t_too_large() {
  local s
  # Over the limit in nginx (default 8M): nginx answers, in the same JSON shape.
  head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$TMP/big.scad"
  s=$(req POST /api/render -H 'Content-Type: text/plain' --data-binary @"$TMP/big.scad")
  expect_eq status "$s" 413
  expect_eq type "$(jq -r .error.type "$TMP/body")" payload_too_large
  health_ok
}
check "payload_too_large from nginx, as JSON" t_too_large

check "after all of the above, the workers hold no descriptor of a finished request" workers_fds_clean

t_restart_keeps_cache() {
  local s
  render_src "$CUBE" >/dev/null
  inst_restart
  s=$(render_src "$CUBE")
  expect_eq status "$s" 200
  expect_eq X-Cache "$(header X-Cache)" hit
  cmp "$TMP/body" "$TMP/first.stl" || fail "bytes changed across restart"
}
check "a restart keeps the cache" t_restart_keeps_cache

t_no_leftovers() {
  [ -z "$(ls -A "$INST_DIR/tmp")" ] || fail "scratch left behind: $(ls "$INST_DIR/tmp")"
  [ "$(procs_matching 'openscad.*model.scad')" = 0 ] || fail "renderer left running"
}
check "no scratch directory or renderer left behind" t_no_leftovers

finish
