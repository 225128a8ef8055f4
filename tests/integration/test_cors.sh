#!/usr/bin/env bash
# test_cors.sh -- cross-origin use (SCADSERVE_CORS_ORIGINS, nginx/scadserve.conf.in and the
# files bin/scadservectl writes beside it): a page on another origin loads the widget, its
# modules, the .wasm and the fonts and calls the API, so every one of those answers carries
# the CORS headers, errors (the program's and nginx's own) and a render answered by the wait
# pool included; preflights are nginx's (204, not the program's, not rate-limited); a list
# of origins names each allowed one back and no other; none sends no CORS header at all; a
# bad value stops scadservectl.
. "$(dirname "$0")/lib.sh"

# The default is what the first instance shows, whatever the caller's environment says.
unset SCADSERVE_CORS_ORIGINS

ORIGIN=http://other.example:9999
EXPOSED="X-Request-Id X-Cache X-Cache-Store X-Render-Time X-Render-Log X-Engine X-Engine-Fallback
Content-Location Content-Disposition ETag Location Retry-After"

# creq METHOD PATH [curl args]: req from a page on $ORIGIN; prints the status.
creq() {
  local method=$1 path=$2
  shift 2
  req "$method" "$path" -H "Origin: $ORIGIN" "$@"
}

# vary_origin: whether the last answer's Vary headers (any of them) name Origin.
vary_origin() { grep -i '^vary:' "$TMP/headers" | grep -qiw origin; }

# cors_headers: every Access-Control-* header of the last answer, one a line.
cors_headers() { grep -i '^access-control-' "$TMP/headers" | tr -d '\r' || true; }

# expect_static_cors WHAT ALLOW-ORIGIN: the last answer lets that origin read it ("" for none).
expect_static_cors() {
  expect_eq "$1: Access-Control-Allow-Origin" "$(header Access-Control-Allow-Origin)" "$2"
  [ -z "$(header Access-Control-Allow-Credentials)" ] || fail "$1: Access-Control-Allow-Credentials sent"
}

# expect_api_cors WHAT ALLOW-ORIGIN: as expect_static_cors, and every header the page reads is
# exposed.
expect_api_cors() {
  local h exposed
  expect_static_cors "$1" "$2"
  exposed=", $(header Access-Control-Expose-Headers), "
  for h in $EXPOSED; do
    [[ ${exposed,,} == *", ${h,,}, "* ]] || fail "$1: $h not in Access-Control-Expose-Headers: '$(header Access-Control-Expose-Headers)'"
  done
}

# expect_any WHAT: the default, "*": any origin, no Vary: Origin (the same answer for all).
expect_any_static() { expect_static_cors "$1" '*'; ! vary_origin || fail "$1: Vary: Origin with *"; }
expect_any_api() { expect_api_cors "$1" '*'; ! vary_origin || fail "$1: Vary: Origin with *"; }

# A JS module, the .wasm and a font as the widget loads them (names as built now).
asset_js() { basename "$(ls "$ROOT"/static/dist/assets/*.js | head -n 1)"; }
asset_wasm() { basename "$(ls "$ROOT"/static/dist/assets/*.wasm | head -n 1)"; }
font() { basename "$(ls /usr/share/fonts/truetype/liberation/*.ttf | head -n 1)"; }

# render_requests: how many requests the program counted, render endpoint.
render_requests() { metric 'scadserve_requests_total{endpoint="render"}'; }
# program_requests: every request the program counted but /api/metrics itself.
program_requests() {
  curl -s "$BASE_URL/api/metrics" |
    awk '$1 ~ /^scadserve_requests_total\{/ && $1 !~ /"metrics"/ { n += $2 } END { print n + 0 }'
}

# A cache of 1 MiB bodies, so that nginx's own 413 is cheap to provoke.
inst_start SCADSERVE_BODY_MAX=1M || { echo "test_cors: 0 passed, 1 failed"; exit 1; }

t_static() {
  local s f
  s=$(creq GET /scadserve-widget.js); expect_eq "widget" "$s" 200
  expect_any_static "/scadserve-widget.js"
  s=$(creq GET /scadserve-render.js); expect_eq "render module" "$s" 200
  expect_any_static "/scadserve-render.js"
  f=$(asset_js)
  s=$(creq GET "/assets/$f"); expect_eq "/assets/$f" "$s" 200
  expect_any_static "/assets/$f"
  # gzip_static's answer is the same location's.
  s=$(creq GET "/assets/$f" -H 'Accept-Encoding: gzip'); expect_eq "/assets/$f gzip" "$s" 200
  expect_any_static "/assets/$f, gzip"
  f=$(asset_wasm)
  s=$(creq GET "/assets/$f"); expect_eq "/assets/$f" "$s" 200
  expect_eq "wasm type" "$(header Content-Type)" application/wasm
  expect_any_static "/assets/$f"
  f=$(font)
  s=$(creq GET "/fonts/$f"); expect_eq "/fonts/$f" "$s" 200
  expect_any_static "/fonts/$f"
  s=$(creq GET /assets/no-such-file.js); expect_eq "missing asset" "$s" 404
  expect_any_static "a missing asset's 404"
}
check "default (*): the widget, the render module, an asset module, the .wasm and a font" t_static

t_api() {
  local s src key before
  s=$(creq GET /api/health); expect_eq health "$s" 200
  expect_any_api "GET /api/health"
  # A model nobody rendered: a miss, answered by the wait pool after the hand-off.
  src="cube([3, 4, $((RANDOM % 1000 + 1))]);"
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary "$src")
  expect_eq "render (miss)" "$s" 200
  expect_eq "X-Cache" "$(header X-Cache)" miss
  expect_any_api "POST /api/render, a miss"
  key=$(header ETag); key=${key//\"/}
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary "$src")
  expect_eq "render (hit)" "$s" 200
  expect_eq "X-Cache" "$(header X-Cache)" hit
  expect_any_api "POST /api/render, a hit"
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(1')
  expect_error 422 invalid_scad "$s"
  expect_any_api "POST /api/render, invalid_scad"
  # From the mirror: nginx's answer, not the program's.
  before=$(metric 'scadserve_requests_total{endpoint="models"}')
  s=$(creq GET "/api/models/$key"); expect_eq "GET /api/models/{key}" "$s" 200
  expect_eq "served by nginx" "$(metric 'scadserve_requests_total{endpoint="models"}')" "$before"
  expect_any_api "GET /api/models/{key} from the mirror"
  s=$(creq GET /api/models/1111111111111111111111111111111111111111111111111111111111111111)
  expect_error 404 not_found "$s"
  expect_any_api "GET /api/models/{unknown key}: the program's 404"
  s=$(creq POST /api/jobs -H 'Content-Type: text/plain' --data-binary 'sphere(2);')
  expect_eq "POST /api/jobs" "$s" 202
  [ -n "$(header Location)" ] || fail "no Location"
  expect_any_api "POST /api/jobs"
  s=$(creq GET /api/no-such-route); expect_error 404 not_found "$s"
  expect_any_api "an unknown route"
  s=$(creq DELETE /api/health); expect_error 405 method_not_allowed "$s"
  expect_any_api "405"
}
check "default (*): health, a render missed and hit, an error, models from the mirror, jobs" t_api

t_nginx_errors() {
  local s
  head -c 1100000 /dev/zero | tr '\0' 'a' > "$TMP/big.scad"
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary @"$TMP/big.scad")
  expect_eq "over the body limit" "$s" 413
  expect_eq type "$(err_type)" payload_too_large
  expect_any_api "nginx's 413 (@too_large)"
  s=$(creq GET /_scadserve/wait/1); expect_eq "the internal location" "$s" 404
}
check "default (*): nginx's own error answers carry them too" t_nginx_errors

t_preflight() {
  local s before all key
  before=$(render_requests)
  all=$(program_requests)
  s=$(creq OPTIONS /api/render -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: content-type')
  expect_eq "preflight" "$s" 204
  expect_eq "Allow-Origin" "$(header Access-Control-Allow-Origin)" '*'
  expect_eq "Allow-Methods" "$(header Access-Control-Allow-Methods)" "GET, HEAD, POST, DELETE, OPTIONS"
  expect_eq "Allow-Headers" "$(header Access-Control-Allow-Headers)" "Content-Type, X-Request-Id, If-None-Match"
  expect_eq "Max-Age" "$(header Access-Control-Max-Age)" 86400
  [ -z "$(header Access-Control-Allow-Credentials)" ] || fail "Allow-Credentials sent"
  [ ! -s "$TMP/body" ] || fail "a 204 with a body: $(head -c 200 "$TMP/body")"
  # Every path under /api/, the mirror's location (whose own if would hand it on) included.
  key=$(printf '%064d' 0 | tr 0 a)
  for p in /api/jobs /api/jobs/0b6f /api/health "/api/models/$key" /api/models/short; do
    s=$(creq OPTIONS "$p" -H 'Access-Control-Request-Method: GET'); expect_eq "OPTIONS $p" "$s" 204
    expect_eq "OPTIONS $p: Allow-Origin" "$(header Access-Control-Allow-Origin)" '*'
  done
  expect_eq "render requests the program counted" "$(render_requests)" "$before"
  expect_eq "requests the program counted" "$(program_requests)" "$all"
}
check "default (*): a preflight is nginx's 204, with methods, headers and max age" t_preflight

# Last on this instance: the front pool's socket gone, nginx cannot reach the program.
t_unavailable() {
  local s
  rm -f "$INST_DIR/run/front.sock"
  s=$(creq GET /api/health); expect_eq "no front pool" "$s" 503
  expect_eq type "$(err_type)" overloaded
  expect_any_api "nginx's 503 (@unavailable)"
}
check "default (*): nginx's 503 when the program is not answering carries them" t_unavailable
inst_stop

# A list: one origin, another with a default port and capitals as an operator might write it.
# Render requests from loopback limited (1 a minute, a burst of 1) for the 429 at the end.
inst_start SCADSERVE_CORS_ORIGINS='http://allowed.example:8000 HTTPS://Blog.Example:443' \
  SCADSERVE_RATE_EXEMPT= SCADSERVE_RATE_LIMIT=1r/m SCADSERVE_RATE_BURST=1 || { finish; exit 1; }

t_list() {
  local s o
  for o in http://allowed.example:8000 https://blog.example; do
    ORIGIN=$o
    s=$(creq GET /api/health); expect_eq "$o: health" "$s" 200
    expect_api_cors "$o: GET /api/health" "$o"
    vary_origin || fail "$o: no Vary: Origin"
    s=$(creq GET /scadserve-widget.js); expect_eq "$o: widget" "$s" 200
    expect_static_cors "$o: /scadserve-widget.js" "$o"
    vary_origin || fail "$o: widget: no Vary: Origin"
    s=$(creq GET "/assets/$(asset_wasm)"); expect_eq "$o: wasm" "$s" 200
    expect_static_cors "$o: the .wasm" "$o"
  done
  for o in http://other.example:9999 http://allowed.example https://allowed.example:8000 \
           http://allowed.example:8000.evil.example null; do
    ORIGIN=$o
    s=$(creq GET /api/health); expect_eq "$o: health" "$s" 200
    expect_eq "$o: CORS headers" "$(cors_headers)" ""
    vary_origin || fail "$o: no Vary: Origin"
    s=$(creq GET /scadserve-widget.js); expect_eq "$o: widget" "$s" 200
    expect_eq "$o: widget: CORS headers" "$(cors_headers)" ""
    vary_origin || fail "$o: widget: no Vary: Origin"
  done
  # No Origin at all (a page on this server, curl): no CORS header, and a Vary for caches.
  s=$(req GET /api/health); expect_eq "no Origin" "$s" 200
  expect_eq "no Origin: CORS headers" "$(cors_headers)" ""
  vary_origin || fail "no Origin: no Vary: Origin"
}
check "a list: each origin allowed gets itself and Vary: Origin, others nothing" t_list

t_list_preflight() {
  local s
  ORIGIN=http://allowed.example:8000
  s=$(creq OPTIONS /api/render -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: content-type')
  expect_eq "allowed: preflight" "$s" 204
  expect_eq "allowed: Allow-Origin" "$(header Access-Control-Allow-Origin)" "$ORIGIN"
  expect_eq "allowed: Allow-Methods" "$(header Access-Control-Allow-Methods)" "GET, HEAD, POST, DELETE, OPTIONS"
  expect_eq "allowed: Max-Age" "$(header Access-Control-Max-Age)" 86400
  vary_origin || fail "allowed: no Vary: Origin"
  ORIGIN=http://other.example:9999
  s=$(creq OPTIONS /api/render -H 'Access-Control-Request-Method: POST'); expect_eq "other: preflight" "$s" 204
  expect_eq "other: CORS headers" "$(cors_headers)" ""
}
check "a list: a preflight from an origin allowed, and from another" t_list_preflight

t_rate_limited() {
  local s i
  ORIGIN=http://allowed.example:8000
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(2);')
  expect_eq "first render" "$s" 200
  expect_api_cors "a render" "$ORIGIN"
  # The burst's one, then the limit.
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(2);')
  expect_eq "second render: the burst" "$s" 200
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(2);')
  expect_eq "third render within the minute" "$s" 429
  expect_eq type "$(err_type)" rate_limited
  expect_api_cors "nginx's 429 (@rate_limited)" "$ORIGIN"
  [ -n "$(header Retry-After)" ] || fail "429 without Retry-After"
  # Preflights are never limited.
  for i in 1 2 3 4 5; do
    s=$(creq OPTIONS /api/render -H 'Access-Control-Request-Method: POST')
    expect_eq "preflight $i past the limit" "$s" 204
  done
}
check "a list: nginx's 429 carries them; preflights are not rate-limited" t_rate_limited
inst_stop

inst_start SCADSERVE_CORS_ORIGINS=none || { finish; exit 1; }
t_none() {
  local s what key
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(5);')
  expect_eq render "$s" 200
  key=$(header ETag); key=${key//\"/}
  expect_eq "render: CORS headers" "$(cors_headers)" ""
  ! vary_origin || fail "render: Vary: Origin"
  for what in "GET /scadserve-widget.js" "GET /assets/$(asset_js)" "GET /fonts/$(font)" \
      "GET /api/health" "GET /api/models/$key" "GET /api/no-such-route" "OPTIONS /api/render"; do
    s=$(creq ${what% *} "${what#* }" -H 'Access-Control-Request-Method: POST')
    case "$what" in
      *no-such-route) expect_eq "$what" "$s" 404 ;;
      OPTIONS*) expect_eq "$what" "$s" 204 ;;
      *) expect_eq "$what" "$s" 200 ;;
    esac
    expect_eq "$what: CORS headers" "$(cors_headers)" ""
    ! vary_origin || fail "$what: Vary: Origin"
  done
  s=$(creq POST /api/render -H 'Content-Type: text/plain' --data-binary 'cube(1')
  expect_error 422 invalid_scad "$s"
  expect_eq "422: CORS headers" "$(cors_headers)" ""
}
check "none: no CORS header anywhere" t_none
inst_stop

# bad_value VALUE: scadservectl start refuses it, naming the setting, and starts nothing.
bad_value() {
  local dir="$TMP/bad" port rc
  port=$(free_port)
  rm -rf "$dir"; mkdir -p "$dir"
  rc=0
  SCADSERVE_CORS_ORIGINS="$1" PORT="$port" STATE_DIR="$dir" WORKERS=1 \
    "$ROOT/bin/scadservectl" start >"$TMP/bad.out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    PORT="$port" STATE_DIR="$dir" "$ROOT/bin/scadservectl" stop >/dev/null 2>&1
    fail "'$1' was accepted: $(cat "$TMP/bad.out")"
  fi
  grep -q 'SCADSERVE_CORS_ORIGINS' "$TMP/bad.out" || fail "'$1': the message does not name the setting: $(cat "$TMP/bad.out")"
  [ ! -e "$dir/run/nginx.pid" ] || fail "'$1': nginx was started"
  [ -z "$(ls "$dir"/run/*.pids 2>/dev/null)" ] || fail "'$1': workers were started"
}
t_invalid() {
  local v
  for v in 'https://blog.example/' 'https://blog.example/path' 'blog.example' 'https://' \
           'https://blog.example:99999' 'https://blog.example:0' '* https://blog.example' \
           'none https://blog.example' 'https://user@blog.example' 'https://blog.example?x' \
           'https://blog.example"; add_header X 1' 'null'; do
    bad_value "$v"
  done
  head -n 1 "$TMP/bad.out"
}
check "a value that is not *, none or a list of origins stops scadservectl start" t_invalid

finish
