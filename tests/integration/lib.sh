# lib.sh -- shared by the integration tests: start real instances, run checks, report.
# Usage in a test file:
#   . "$(dirname "$0")/lib.sh"
#   inst_start [SCADSERVE_VAR=value ...]     # sets BASE_URL, INST_DIR (state dir)
#   check "what it shows" some_function args...
#   finish
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scadserve-test.XXXXXX")
# Started as root, an instance runs as the unprivileged user scadserve, which must be able to
# pass through this folder to its state directory (the state directory itself becomes its).
chmod 0711 "$TMP"
STLCMP=${STLCMP:-$ROOT/build/stlcmp}
case "$STLCMP" in /*) ;; *) STLCMP="$ROOT/$STLCMP" ;; esac
export SCADSERVE_BIN=${SCADSERVE_BIN:-build/scadserve}
PASSED=0
FAILED=0
INSTANCES=()
BASE_URL=""
INST_DIR=""
TEST_NAME=$(basename "$0" .sh)
# The stand-in renderer (a bash script, for faults the real OpenSCAD cannot produce on demand)
# runs bash, sed, sleep... and reads /proc and /dev/zero: its instances widen the sandbox so.
STANDIN="$ROOT/tests/integration/standins/faulty-openscad"
# It stands in for the CLI engine, so its instances use that engine alone.
STANDIN_ENV=(SCADSERVE_OPENSCAD="$STANDIN" SCADSERVE_ENGINE=cli SCADSERVE_SANDBOX_EXEC=/usr/bin:/usr/lib
             SCADSERVE_SANDBOX_READ=/proc:/dev/zero)

# A TCP port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral range (where
# a client connection of this or another test may hold any port at any moment).
free_port() {
  local p lo
  read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range || lo=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# inst_start [VAR=value ...]: a fresh instance with its own port and state directory (render
# requests from loopback are not rate-limited unless VAR says otherwise). A start
# that fails (another program may take the port between the check and nginx's bind) is tried
# again on another port, twice; the third failure shows the logs.
inst_start() {
  local port dir try
  dir="$TMP/inst${#INSTANCES[@]}"
  for try in 1 2 3; do
    port=$(free_port) || { echo "no free port" >&2; return 1; }
    rm -rf "$dir"
    mkdir -p "$dir"
    if env SCADSERVE_RATE_EXEMPT="127.0.0.1/32 ::1/128" "$@" PORT="$port" STATE_DIR="$dir" \
        WORKERS="${WORKERS:-2}" "$ROOT/bin/scadservectl" start >"$dir.start.log" 2>&1; then
      INSTANCES+=("$port:$dir:$*")
      BASE_URL="http://127.0.0.1:$port"
      INST_DIR="$dir"
      INST_PORT="$port"
      return 0
    fi
    echo "# instance start on port $port failed (try $try): $(tail -n 2 "$dir.start.log" | tr '\n' ' ')" >&2
    PORT="$port" STATE_DIR="$dir" "$ROOT/bin/scadservectl" stop >/dev/null 2>&1
  done
  echo "instance did not start:" >&2
  cat "$dir.start.log" "$dir/log/scadserve.log" "$dir/log/nginx-error.log" >&2 2>/dev/null
  return 1
}

# inst_stop: stops the current instance (its state directory stays).
inst_stop() {
  PORT="$INST_PORT" STATE_DIR="$INST_DIR" "$ROOT/bin/scadservectl" stop >/dev/null 2>&1
}

# inst_restart [VAR=value ...]: the same state directory and port again.
inst_restart() {
  inst_stop
  env SCADSERVE_RATE_EXEMPT="127.0.0.1/32 ::1/128" "$@" PORT="$INST_PORT" \
    STATE_DIR="$INST_DIR" WORKERS="${WORKERS:-2}" "$ROOT/bin/scadservectl" start >"$INST_DIR.start.log" 2>&1
}

# check "name" command args...: one test; its stderr is shown when it fails.
check() {
  local name=$1 out rc
  shift
  out="$TMP/check.out"
  # Not inside `if`: bash ignores set -e in a condition (and in all it calls), so a check
  # would pass whenever its last command did, whatever failed before it.
  ( set -e; "$@" ) >"$out" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    echo "ok - $TEST_NAME: $name"
  else
    FAILED=$((FAILED + 1))
    echo "not ok - $TEST_NAME: $name"
    sed 's/^/#   /' "$out" | tail -n 30
  fi
}

# fail "message": for use inside check functions.
fail() { echo "$*" >&2; return 1; }

# expect_eq what got want
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }

# req METHOD PATH [curl args...]: writes body to $TMP/body, headers to $TMP/headers,
# prints the status code.
req() {
  local method=$1 path=$2 how
  shift 2
  if [ "$method" = HEAD ]; then
    # curl reads no body after HEAD (and -X HEAD would wait for one): headers only.
    : > "$TMP/body"
    curl -sS -o /dev/null -D "$TMP/headers" -w '%{http_code}' -I --max-time 120 "$@" "$BASE_URL$path"
    return
  fi
  curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" \
    --max-time 120 "$@" "$BASE_URL$path"
}

# header NAME: the value of a response header from the last req (case-insensitive).
header() {
  awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" 'BEGIN { FS=": " }
    { k=tolower($1); sub(/\r$/, "", $0); if (k == n) { sub(/^[^:]*: /, "", $0); print; exit } }' \
    "$TMP/headers"
}

# render_json JSON-TEXT: POST a JSON render request; prints the status.
render_json() { req POST /api/render -H 'Content-Type: application/json' --data-binary "$1"; }

# render_src SOURCE [curl args]: POST raw source; prints the status.
render_src() {
  local src=$1
  shift
  printf '%s' "$src" > "$TMP/src.scad"
  req POST /api/render -H 'Content-Type: text/plain' --data-binary @"$TMP/src.scad" "$@"
}

# err_type: .error.type of the last body.
err_type() { jq -r '.error.type' "$TMP/body" 2>/dev/null; }

# expect_error STATUS TYPE GOT-STATUS: the last answer is this JSON error.
expect_error() {
  local want_status=$1 want_type=$2 got=$3
  [ "$got" = "$want_status" ] || fail "status $got, want $want_status: $(head -c 400 "$TMP/body")"
  [ "$(err_type)" = "$want_type" ] || fail "type $(err_type), want $want_type: $(head -c 400 "$TMP/body")"
  jq -e '.error.message | length > 0' "$TMP/body" >/dev/null || fail "no message"
  jq -e '.error.request_id | length == 36' "$TMP/body" >/dev/null || fail "no request_id"
  case "$(header Content-Type)" in application/json*) ;; *) fail "content type $(header Content-Type)";; esac
}

# health_ok: the server still answers.
health_ok() {
  local s
  s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE_URL/api/health")
  [ "$s" = 200 ] || fail "health answered $s"
}

# cache_entries: the number of models in the cache, from /api/health.
cache_entries() { curl -s "$BASE_URL/api/health" | jq -r '.cache.entries'; }

# metric NAME: a value from /api/metrics (the full series name, labels included).
metric() { curl -s "$BASE_URL/api/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

# pool_pids POOL [DIR]: the live processes of one of an instance's pools (scadserve: the wait
# pool, front, runners): the children of its supervisor, multiwatch, whose pid is in
# run/POOL.pids.
pool_pids() {
  local s
  for s in $(grep -o '[0-9]\+' "${2:-$INST_DIR}/run/$1.pids" 2>/dev/null); do pgrep -P "$s" || true; done
}
# all_pids [DIR]: every process of an instance's pools: the wait pool, the front pool and the
# job runners (the only ones that render: runner_pids).
all_pids() { pool_pids scadserve "${1:-}"; pool_pids front "${1:-}"; pool_pids runners "${1:-}"; }
runner_pids() { pool_pids runners "${1:-}"; }

# workers_fds_clean: every process of the current instance, idle, holds only what it keeps for
# its life (the listening socket as fd 0, /dev/null, its log, the cache and jobs databases, a
# runner's three pipes to its WASM helper's stdin, stdout and
# stderr): no pipe, pidfd or scratch file of a finished render, no connection, nothing from
# whoever started it.
workers_fds_clean() {
  local p fd target bad="" d helper_pipes h
  d=$(realpath "$INST_DIR")
  for p in $(all_pids); do
    helper_pipes=" "
    for h in $(pgrep -P "$p" -f 'engines/wasm/helper.mjs'); do
      for fd in 0 1 2; do helper_pipes+="$(readlink "/proc/$h/fd/$fd") "; done
    done
    for fd in /proc/"$p"/fd/*; do
      target=$(readlink "$fd") || continue
      [[ $target == pipe:* && $helper_pipes == *" $target "* ]] && continue
      case "${fd##*/}:$target" in
        0:socket:*|*:/dev/null|*:"$d/log/scadserve.log") ;;
        *:"$d/cache.sqlite"|*:"$d/cache.sqlite-wal"|*:"$d/cache.sqlite-shm") ;;
        *:"$d/jobs.sqlite"|*:"$d/jobs.sqlite-wal"|*:"$d/jobs.sqlite-shm") ;;
        *) bad+=" worker $p fd ${fd##*/} -> $target;" ;;
      esac
    done
  done
  [ -z "$bad" ] || fail "descriptors held:$bad"
}

# procs_matching PATTERN: the number of processes whose command line has PATTERN among the
# children of the current instance's processes (renderers, and whatever they left, which comes
# to the runners as their subreaper): other tests' processes running at the same time do not
# count. Without a running instance, every process on the machine counts.
procs_matching() {
  local workers
  workers=$(all_pids | paste -sd,)
  if [ -n "$workers" ] && kill -0 ${workers//,/ } 2>/dev/null; then
    pgrep -c -P "$workers" -f -- "$1" || true
  else
    pgrep -c -f -- "$1" || true
  fi
}

finish() {
  local i port dir
  for i in "${INSTANCES[@]}"; do
    port=${i%%:*}; dir=${i#*:}; dir=${dir%%:*}
    PORT="$port" STATE_DIR="$dir" "$ROOT/bin/scadservectl" stop >/dev/null 2>&1 || true
  done
  # Under `make asan` a worker reports leaks and errors on stderr (its log) as it exits.
  local logs reports
  logs=$(ls "$TMP"/inst*/log/scadserve.log 2>/dev/null)
  if [ -n "$logs" ]; then
    reports=$(grep -h -E -A12 '^(==[0-9]+==ERROR: [A-Za-z]+Sanitizer|SUMMARY: [A-Za-z]+Sanitizer)' $logs)
    if [ -z "$reports" ]; then
      PASSED=$((PASSED + 1))
      echo "ok - $TEST_NAME: no sanitizer report in the workers' logs"
    else
      FAILED=$((FAILED + 1))
      echo "not ok - $TEST_NAME: sanitizer report in the workers' logs"
      echo "$reports" | head -n 60 | sed 's/^/#   /'
    fi
  fi
  # A failure shows what the instances said, for a run (CI's) whose files are gone afterwards.
  if [ "$FAILED" -gt 0 ]; then
    local f
    for f in "$TMP"/inst*/log/scadserve.log "$TMP"/inst*/log/nginx-error.log; do
      [ -s "$f" ] || continue
      echo "# --- the last lines of ${f#"$TMP"/}"
      grep -v '^spawn-fcgi: child spawned' "$f" | tail -n 25 | cut -c1-300 | sed 's/^/#   /'
    done
  fi
  rm -rf "$TMP"
  echo "$TEST_NAME: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
trap 'rc=$?; if [ -d "$TMP" ]; then for i in "${INSTANCES[@]}"; do p=${i%%:*}; d=${i#*:}; d=${d%%:*}; PORT=$p STATE_DIR=$d "$ROOT/bin/scadservectl" stop >/dev/null 2>&1; done; rm -rf "$TMP"; fi; exit $rc' EXIT
