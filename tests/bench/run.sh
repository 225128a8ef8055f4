#!/usr/bin/env bash
# run.sh -- `make bench`: scadserve's performance as ratios against baselines measured in the
# same run (nginx serving the same bytes as a static file; the bare openscad command).
#
# 1. cache hits: wrk rps of GET /api/models/{key} and of a cache-hit POST /api/render (source
#    as text/plain and as JSON) against nginx serving the same bytes from /bench-static/,
#    for a ~1.5 KB and a ~700 KB model; rounds alternate the order; target ratio >= 0.5;
# 2. cold renders: paired runs, bare openscad then the API (a cache miss each time), on three
#    models; target median overhead < max(5 %, 20 ms);
# 3. memory: one FastCGI worker's VmHWM/VmRSS after a warm-up and after 10,000 mixed
#    requests; target growth < 1 MiB;
# 4. engines (tests/bench/engines.mjs, on an instance with WORKERS=1): the WASM helper's memory
#    over 1,000 renders, replacing a killed helper, cube(10) engine=wasm against engine=cli, and
#    the corpus's cold renders by WASM through the API against the bare 2021 CLI;
# 5. load (tests/bench/load.mjs, on an instance with the default pools): 60 s at 64 connections,
#    90 % cache hits and 10 % cold renders, latency per class, status codes, every process's
#    peak memory, nothing left afterwards; and POST /api/jobs latency alongside (p99 < 100 ms).
# BENCH_ONLY=hits,cold,memory,engines,load (any of them, comma-separated) runs only those sections.
# The report goes to stdout and $BENCH_OUT/report.md (default build/bench), raw data beside it.
# Settings (environment): see tests/bench/README.md. Progress goes to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/bench"
OUT=${BENCH_OUT:-$ROOT/build/bench}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
DURATION=${BENCH_DURATION:-5}          # seconds per wrk run
ROUNDS=${BENCH_ROUNDS:-5}              # alternating rounds per model (median over them)
THREADS=${BENCH_THREADS:-2}            # wrk -t
CONNS=${BENCH_CONNS:-16}               # wrk -c
PAIRS=${BENCH_PAIRS:-9}                # bare/API pairs per cold-render model
MEM_WARMUP=${BENCH_MEM_WARMUP:-500}
MEM_REQUESTS=${BENCH_MEM_REQUESTS:-10000}
BENCH_WORKERS=${BENCH_WORKERS:-${WORKERS:-4}}
STRICT=${BENCH_STRICT:-0}              # 1: exit 3 when a target is not met
OPENSCAD=${OPENSCAD:-openscad}
BENCH_ONLY=${BENCH_ONLY:-hits,cold,memory,engines,load}
CTL="$ROOT/bin/scadservectl"
export SCADSERVE_BIN=${SCADSERVE_BIN:-build/scadserve}

# The models. Binary STL is 84 + 50 bytes per triangle.
SRC_HIT_SMALL='cylinder(r=10, h=5, $fn=8);'             # 28 triangles: 1,484 bytes
SRC_HIT_LARGE='sphere(10, $fn=118);'                     # 13,920 triangles: 696,084 bytes
COLD_NAMES=(light medium heavy)
COLD_SRCS=(
  'cube(10);'
  'difference() { sphere(10, $fn=24); cylinder(r=4, h=30, center=true, $fn=24); }'
  'difference() { cube(20, center=true); sphere(12, $fn=80); }'
)

# want SECTION: whether BENCH_ONLY names it.
want() { [[ ",$BENCH_ONLY," == *",$1,"* ]]; }

log() { printf 'bench: [%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for v in DURATION ROUNDS THREADS CONNS PAIRS MEM_WARMUP MEM_REQUESTS BENCH_WORKERS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: expected a positive integer"
done
for s in ${BENCH_ONLY//,/ }; do
  case $s in hits|cold|memory|engines|load) ;; *) die "BENCH_ONLY: unknown section $s (hits, cold, memory, engines, load)" ;; esac
done
tools=(wrk curl jq awk "$OPENSCAD" nginx spawn-fcgi ss pgrep)
{ want engines || want load; } && tools+=(node)
for t in "${tools[@]}"; do
  command -v "$t" >/dev/null || die "$t is not installed (make deps, or apt-get install -y wrk jq)"
done
if [ ! -x "$ROOT/$SCADSERVE_BIN" ] && [ ! -x "$SCADSERVE_BIN" ]; then
  log "$SCADSERVE_BIN is missing: make build"
  make -C "$ROOT" --no-print-directory build >&2 || die "make build failed"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scadserve-bench.XXXXXX")
chmod 0711 "$WORK"    # started as root, the instance runs as its own user and must get through
INST_PORT="" INST_DIR="" WRK_PID=""
RUN_ID="$(date +%s)-$$"

inst_stop() {
  [ -n "$INST_DIR" ] || return 0
  local p
  for p in $(cat "$INST_DIR/run/bench-fcgi.pids" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  rm -f "$INST_DIR/run/bench-fcgi.pids" "$INST_DIR/run/bench-fcgi.sock"
  PORT="$INST_PORT" STATE_DIR="$INST_DIR" "$CTL" stop >/dev/null 2>&1 || true
  INST_DIR="" INST_PORT=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$WRK_PID" ] && kill -0 "$WRK_PID" 2>/dev/null; then kill -INT "$WRK_PID" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ] && [ -n "$INST_DIR" ]; then
    mkdir -p "$OUT/logs"
    cp "$INST_DIR"/log/* "$OUT/logs/" 2>/dev/null || true
    log "failed (exit $rc): the instance's logs are in $OUT/logs"
  fi
  inst_stop
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free TCP port in the kernel's ephemeral range.
free_port() {
  local lo hi p
  read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range || { lo=32768; hi=60999; }
  for _ in $(seq 1 200); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
       ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# inst_start NAME WORKERS [FRONT_WORKERS [RUNNERS]]: a fresh instance in $WORK/NAME (the front
# pool as large as the render pool unless given; RUNNERS scadservectl's default unless given);
# sets INST_PORT, INST_DIR, BASE.
inst_start() {
  local name=$1 workers=$2 front=${3:-$2} try
  local -a runners=()
  [ -n "${4:-}" ] && runners=(RUNNERS="$4")
  for try in 1 2 3; do
    INST_PORT=$(free_port) || die "no free port"
    INST_DIR="$WORK/$name"
    rm -rf "$INST_DIR"
    mkdir -p "$INST_DIR"
    # No rate limit: the load generator is one client address sending thousands of renders.
    # Both pools (renders, and everything else) get the same number of workers unless told.
    if env SCADSERVE_RATE_LIMIT=off PORT="$INST_PORT" STATE_DIR="$INST_DIR" WORKERS="$workers" \
        FRONT_WORKERS="$front" "${runners[@]}" "$CTL" start \
        >"$WORK/$name.start.log" 2>&1; then
      BASE="http://127.0.0.1:$INST_PORT"
      return 0
    fi
    log "start on port $INST_PORT failed (try $try): $(tail -n 3 "$WORK/$name.start.log" | tr '\n' ' ')"
    PORT="$INST_PORT" STATE_DIR="$INST_DIR" "$CTL" stop >/dev/null 2>&1 || true
  done
  INST_DIR=""
  die "the instance did not start; see $WORK/$name.start.log"
}

# nginx_reset: reload the instance's nginx (fresh workers, no connection left from the run
# before) so that every measured run starts alike. The config keeps no upstream connections
# now; this mattered when it did (see README.md, "Known effects").
nginx_reset() {
  local master old p i alive
  master=$(cat "$INST_DIR/run/nginx.pid")
  old=$(pgrep -P "$master" || true)
  kill -HUP "$master"
  for i in $(seq 1 200); do
    sleep 0.05
    alive=0
    for p in $old; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && [ -n "$(pgrep -P "$master" || true)" ] &&
      ! ss -Hx state established 2>/dev/null | grep -qF "$INST_DIR/run/scadserve.sock" && return 0
  done
  log "nginx reload: old workers or upstream connections still there after 10 s; going on"
}

# median: of the numbers on stdin (one per line); empty when none.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# minmax: "min-max" of the numbers on stdin.
minmax() { sort -g | awk -v f="${1:-%.2f}" 'NR == 1 { lo = $1 } { hi = $1 } END { printf f "-" f, lo, hi }'; }
fmt() { awk -v f="$1" -v x="$2" 'BEGIN { printf f, x }'; }
now_ns() { date +%s%N; }

# header NAME FILE: a response header's value (case-insensitive name).
header() { awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" 'BEGIN { FS = ": " }
  { sub(/\r$/, "") } tolower($1) == n { sub(/^[^:]*: /, ""); print; exit }' "$2"; }

# render FILE CTYPE OUTPUT [QUERY]: POST a render; prints "status x-cache key seconds" (seconds:
# curl's time_total, the HTTP exchange without curl's own start-up).
render() {
  local w
  w=$(curl -sS --max-time 120 -o "$3" -D "$3.h" -w '%{http_code} %{time_total}' -H "Content-Type: $2" \
    --data-binary @"$1" "$BASE/api/render${4:-}") || die "curl $BASE/api/render failed"
  echo "${w% *} $(header X-Cache "$3.h") $(header ETag "$3.h" | tr -d '"') ${w#* }"
}

mkdir -p "$OUT"
rm -f "$OUT/report.md" "$OUT/hits.tsv" "$OUT/cold.tsv" "$OUT/memory.tsv" "$OUT"/engines-*.tsv "$OUT"/load-*
REPORT="$WORK/report.md"
VERDICTS="$WORK/verdicts"
: > "$VERDICTS"
say() { printf '%s\n' "$*" >> "$REPORT"; }
verdict() { echo "$1" >> "$VERDICTS"; if [ "$1" = met ]; then echo "met"; else echo "**NOT met**"; fi; }

START_S=$(date +%s)
say "# scadserve benchmark"
say ""
say "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- fcgi nginx bin 2>/dev/null || echo ' (server tree modified)'), $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
say "$($OPENSCAD --version 2>&1 | head -n 1), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}'). Every figure is a ratio against a baseline measured in the same run, interleaved: absolute numbers on a shared machine are noise."
say ""

# The two cache-hit models (sections 1 and 3).
declare -A KEY BYTES
for model in small large; do
  if [ "$model" = small ]; then src=$SRC_HIT_SMALL; else src=$SRC_HIT_LARGE; fi
  printf '%s\n' "$src" > "$WORK/$model.scad"
  jq -Rs '{source: .}' < "$WORK/$model.scad" > "$WORK/$model.json"
done

########################################################################################
# 1. Cache hits against nginx static
########################################################################################
if want hits; then   # (not indented: the section is the script's top level otherwise)
log "starting an instance with WORKERS=$BENCH_WORKERS"
inst_start hits "$BENCH_WORKERS"
log "instance at $BASE, state in $INST_DIR"
# The front pool answers the hits (each pool is a supervisor and its children).
WORKER_COUNT=$(pgrep -c -P "$(cat "$INST_DIR/run/front.pids")")
printf 'model\tbytes\tround\tvariant\trequests\tduration_us\trps\tp50_us\tp99_us\tmax_us\tstatus_errors\tsocket_errors\ttimeouts\n' > "$OUT/hits.tsv"

VARIANTS=(static ceiling get post json)
# ratios_to BASE MODEL VARIANT: per round, VARIANT's rps / BASE's rps, one per line.
ratios_to() {
  awk -F'\t' -v b="$1" -v m="$2" -v v="$3" '
    $1 == m && $4 == b { s[$3] = $7 } $1 == m && $4 == v { a[$3] = $7 }
    END { for (r in a) if (s[r] > 0) print a[r] / s[r] }' "$OUT/hits.tsv"
}
declare -A VLABEL=([static]="nginx static file" [ceiling]="FastCGI ceiling (constant answer)"
  [get]="GET /api/models/{key}"
  [post]="POST /api/render (text, hit)" [json]="POST /api/render (JSON, hit)")

# wrk_run MODEL VARIANT ROUND: one wrk run; appends a line to hits.tsv (ROUND 0 = warm-up, not kept).
wrk_run() {
  local model=$1 variant=$2 round=$3 d=$DURATION url out line
  local -a env=(BENCH_METHOD=GET)
  case $variant in
    static) url="$BASE/bench-static/$model.stl" ;;
    ceiling) url="$BASE/bench-fcgi/$model.stl" ;;
    get) url="$BASE/api/models/${KEY[$model]}" ;;
    post) url="$BASE/api/render"
          env=(BENCH_METHOD=POST BENCH_BODY_FILE="$WORK/$model.scad" BENCH_CTYPE=text/plain) ;;
    json) url="$BASE/api/render"
          env=(BENCH_METHOD=POST BENCH_BODY_FILE="$WORK/$model.json" BENCH_CTYPE=application/json) ;;
  esac
  [ "$round" = 0 ] && d=1
  nginx_reset
  out="$WORK/wrk.out"
  env "${env[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${d}s" --timeout 5s -s "$HERE/wrk_load.lua" \
    "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed on $url"; }
  line=$(grep '^BENCH_RESULT' "$out") || { cat "$out" >&2; die "wrk printed no result for $url"; }
  [ "$round" = 0 ] && return 0
  # shellcheck disable=SC2046 # the numbers split into words on purpose
  set -- $(echo "$line" | tr ' =' '\n\n' | awk 'NR % 2 == 1 && NR > 1')
  local requests=$1 dur=$2 serr=$3 sockerr=$4 tmo=$5 p50=$6 p99=$7 max=$8 rps
  rps=$(awk -v n="$requests" -v d="$dur" 'BEGIN { printf "%.1f", (d > 0 ? n / (d / 1e6) : 0) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$model" "${BYTES[$model]}" "$round" \
    "$variant" "$requests" "$dur" "$rps" "$p50" "$p99" "$max" "$serr" "$sockerr" "$tmo" >> "$OUT/hits.tsv"
  log "  $model round $round $variant: $rps rps, p99 $(awk -v x="$p99" 'BEGIN { printf "%.2f", x / 1000 }') ms, errors $serr/$sockerr, timeouts $tmo"
}

for model in small large; do
  read -r code cache key _ < <(render "$WORK/$model.scad" text/plain "$WORK/$model.stl")
  [ "$code" = 200 ] || die "rendering the $model model answered $code: $(head -c 300 "$WORK/$model.stl")"
  KEY[$model]=$key
  BYTES[$model]=$(stat -c %s "$WORK/$model.stl")
  cp "$WORK/$model.stl" "$INST_DIR/bench-static/$model.stl"
  # The same bytes on every path, and the POSTs really are hits.
  curl -fsS -o "$WORK/check" "$BASE/bench-static/$model.stl" && cmp -s "$WORK/check" "$WORK/$model.stl" ||
    die "nginx does not serve $INST_DIR/bench-static/$model.stl (is /bench-static/ in the nginx config?)"
  curl -fsS -o "$WORK/check" "$BASE/api/models/$key" && cmp -s "$WORK/check" "$WORK/$model.stl" ||
    die "GET /api/models/$key does not return the rendered bytes"
  for form in "scad text/plain" "json application/json"; do
    read -r ext ctype <<<"$form"
    read -r code cache k2 _ < <(render "$WORK/$model.$ext" "$ctype" "$WORK/check")
    [ "$code $cache $k2" = "200 hit $key" ] && cmp -s "$WORK/check" "$WORK/$model.stl" ||
      die "POST /api/render ($ctype) of the $model model: $code $cache $k2, want 200 hit $key and the same bytes"
  done
  log "$model model: ${BYTES[$model]} bytes, key $key"
done

# The FastCGI ceiling: as many workers as the instance, answering the same bytes from memory.
CEILING_BIN="$ROOT/build/bench/fcgi_constant"
[ -x "$CEILING_BIN" ] || make -C "$ROOT" --no-print-directory build/bench/fcgi_constant >&2 ||
  die "building $CEILING_BIN failed"
# Under the same user as the instance's workers (nginx's workers connect to both sockets).
CEILING_USER=()
if [ "$(id -u)" = 0 ]; then
  u=$(stat -c %U "$INST_DIR")
  CEILING_USER=(-u "$u" -g "$(id -gn "$u")" -U "$u" -G "$(id -gn "$u")")
fi
spawn-fcgi -s "$INST_DIR/run/bench-fcgi.sock" -M 0600 -F "$WORKER_COUNT" -P "$INST_DIR/run/bench-fcgi.pids" \
  "${CEILING_USER[@]}" -- "$CEILING_BIN" "$INST_DIR/bench-static/small.stl" "$INST_DIR/bench-static/large.stl" \
  >"$WORK/bench-fcgi.log" 2>&1 || die "spawn-fcgi $CEILING_BIN failed: $(cat "$WORK/bench-fcgi.log")"
for model in small large; do
  curl -fsS -o "$WORK/check" "$BASE/bench-fcgi/$model.stl" && cmp -s "$WORK/check" "$WORK/$model.stl" ||
    die "the FastCGI ceiling does not answer the $model model's bytes at /bench-fcgi/"
done

log "cache hits: $ROUNDS rounds x ${#VARIANTS[@]} runs x 2 models, ${DURATION}s each (wrk -t$THREADS -c$CONNS)"
for model in small large; do
  for v in "${VARIANTS[@]}"; do wrk_run "$model" "$v" 0; done   # warm-up
  for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order=("${VARIANTS[@]}"); else order=(json post get ceiling static); fi
    for v in "${order[@]}"; do wrk_run "$model" "$v" "$round"; done
  done
done

say "## 1. Cache hits: requests per second against nginx serving the same bytes"
say ""
say "wrk -t$THREADS -c$CONNS -d${DURATION}s on loopback, $WORKER_COUNT FastCGI workers, $ROUNDS rounds per model, the order of the five runs reversed every other round; nginx reloaded before each run. *ratio* = the median over rounds of (API rps / static rps of the same round). Target: ratio >= 0.50. The *FastCGI ceiling* is tests/bench/fcgi_constant behind the same nginx FastCGI settings, as many libfcgi workers, answering the same bytes from memory with no work at all: the most any FastCGI program can reach here; *of ceiling* = API rps / ceiling rps of the same round (median)."
say ""
say "| model | variant | median rps | ratio to static | ratio range | of ceiling | p99 latency (median) | max latency (worst) | errors | timeouts | target >= 0.5 |"
say "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
HITS_BAD=0 HITS_TMO=0
for model in small large; do
  for v in "${VARIANTS[@]}"; do
    rows=$(awk -F'\t' -v m="$model" -v v="$v" '$1 == m && $4 == v' "$OUT/hits.tsv")
    med=$(cut -f7 <<<"$rows" | median)
    p99=$(cut -f9 <<<"$rows" | median)
    mx=$(cut -f10 <<<"$rows" | sort -g | tail -n 1)
    errs=$(awk -F'\t' '{ s += $11 + $12 } END { print s + 0 }' <<<"$rows")
    tmos=$(awk -F'\t' '{ s += $13 } END { print s + 0 }' <<<"$rows")
    [ "$errs" -gt 0 ] && HITS_BAD=1
    [ "$tmos" -gt 0 ] && HITS_TMO=1
    label="${VLABEL[$v]}"
    if [ "$v" = static ]; then
      say "| $model, ${BYTES[$model]} B | $label | $(fmt %.0f "$med") | 1 (baseline) | | | $(fmt %.2f "$(awk -v x="$p99" 'BEGIN{print x/1000}')") ms | $(fmt %.1f "$(awk -v x="$mx" 'BEGIN{print x/1000}')") ms | $errs | $tmos | |"
      continue
    fi
    ratios=$(ratios_to static "$model" "$v")
    rmed=$(median <<<"$ratios")
    if [ "$v" = ceiling ]; then
      of_ceiling="" ok="reference"
    else
      of_ceiling=$(fmt %.2f "$(ratios_to ceiling "$model" "$v" | median)")
      ok=$(verdict "$(awk -v r="$rmed" 'BEGIN { print (r >= 0.5 ? "met" : "not") }')")
    fi
    say "| $model, ${BYTES[$model]} B | $label | $(fmt %.0f "$med") | $(fmt %.2f "$rmed") | $(minmax %.2f <<<"$ratios") | $of_ceiling | $(fmt %.2f "$(awk -v x="$p99" 'BEGIN{print x/1000}')") ms | $(fmt %.1f "$(awk -v x="$mx" 'BEGIN{print x/1000}')") ms | $errs | $tmos | $ok |"
  done
done
say ""
if [ "$HITS_BAD" != 0 ]; then
  say "**Some runs had errors** (answers >= 400, or connect/read/write errors; per run in hits.tsv): their rps are not comparable."
  say ""
  echo invalid >> "$VERDICTS"
fi
if [ "$HITS_TMO" != 0 ]; then
  say "Timeouts are requests that got no answer within wrk's 5 s limit: stalls, not failures (see tests/bench/README.md, Known effects)."
  say ""
fi
fi   # want hits (its instance goes on to section 2)

########################################################################################
# 2. Cold renders against the bare openscad command
########################################################################################
if want cold; then
[ -n "$INST_DIR" ] || { log "starting an instance with WORKERS=$BENCH_WORKERS"; inst_start cold "$BENCH_WORKERS"; }
log "cold renders: $PAIRS pairs x ${#COLD_NAMES[@]} models (bare openscad, then the API)"
printf 'model\tpair\tbare_ms\tapi_ms\tserver_render_ms\toverhead_ms\tbare_bytes\tapi_bytes\tapi_http_ms\thttp_overhead_ms\n' > "$OUT/cold.tsv"
nginx_reset
for i in "${!COLD_NAMES[@]}"; do
  name=${COLD_NAMES[$i]} src=${COLD_SRCS[$i]}
  d="$WORK/cold-$name"
  mkdir -p "$d"
  for pair in $(seq 0 "$PAIRS"); do     # pair 0: warm-up (page cache, fonts), not kept
    printf '%s\n// bench %s pair %s\n' "$src" "$RUN_ID" "$pair" > "$d/model.scad"
    rm -f "$d/out.stl" "$d/api.stl"
    t0=$(now_ns)
    (cd "$d" && "$OPENSCAD" --export-format binstl -o out.stl model.scad >"$d/bare.log" 2>&1) ||
      die "bare openscad failed on the $name model: $(tail -n 5 "$d/bare.log")"
    t1=$(now_ns)
    t2=$(now_ns)
    read -r code cache key http_s < <(render "$d/model.scad" text/plain "$d/api.stl" '?engine=cli')
    t3=$(now_ns)
    [ "$code" = 200 ] || die "the API answered $code for the $name model: $(head -c 300 "$d/api.stl")"
    [ "$cache" = miss ] || die "the API answered X-Cache: $cache for the $name model, pair $pair: want a miss"
    [ "$pair" = 0 ] && continue
    rt=$(header X-Render-Time "$d/api.stl.h")
    awk -v m="$name" -v p="$pair" -v b=$((t1 - t0)) -v a=$((t3 - t2)) -v r="${rt:-0}" \
        -v bb="$(stat -c %s "$d/out.stl")" -v ab="$(stat -c %s "$d/api.stl")" -v h="$http_s" 'BEGIN {
      printf "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.1f\t%.1f\n", m, p, b / 1e6, a / 1e6, r * 1000,
        (a - b) / 1e6, bb, ab, h * 1000, h * 1000 - b / 1e6 }' \
      >> "$OUT/cold.tsv"
  done
  log "  $name: median bare $(awk -F'\t' -v m="$name" '$1 == m { print $3 }' "$OUT/cold.tsv" | median) ms, API $(awk -F'\t' -v m="$name" '$1 == m { print $4 }' "$OUT/cold.tsv" | median) ms"
done

say "## 2. Cold renders: the API against the bare openscad command"
say ""
say "$PAIRS pairs per model, each pair bare then API on the same source with a comment that is new for the pair (so the API misses the cache and both do identical work), after one warm-up pair. *bare* = \`openscad --export-format binstl -o out.stl model.scad\`, *API* = \`curl --data-binary @model.scad \$BASE/api/render?engine=cli\` (the same program behind the server: this section measures the server's overhead; the WASM engine is section 4), both wall time from the shell. *overhead* = the median over pairs of (API - bare), the figure the target is on. *HTTP overhead* = the same with curl's own time_total instead of its wall time, i.e. without *curl start-up* (median of curl's wall time minus its time_total: loading curl, a client-side cost the bare command does not pay); *server render* = the server's X-Render-Time (fork to reap of its openscad). Target: median overhead < max(5 % of the median bare time, 20 ms)."
say ""
say "| model | median bare | median API | median overhead (range) | overhead % | allowed | target | HTTP overhead | curl start-up | server render |"
say "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"
for i in "${!COLD_NAMES[@]}"; do
  name=${COLD_NAMES[$i]}
  rows=$(awk -F'\t' -v m="$name" '$1 == m' "$OUT/cold.tsv")
  bare=$(cut -f3 <<<"$rows" | median)
  api=$(cut -f4 <<<"$rows" | median)
  srv=$(cut -f5 <<<"$rows" | median)
  over=$(cut -f6 <<<"$rows" | median)
  hover=$(cut -f10 <<<"$rows" | median)
  curlcost=$(awk -F'\t' '{ print $4 - $9 }' <<<"$rows" | median)
  allowed=$(awk -v b="$bare" 'BEGIN { a = b * 0.05; print (a > 20 ? a : 20) }')
  pct=$(awk -v o="$over" -v b="$bare" 'BEGIN { print (b > 0 ? 100 * o / b : 0) }')
  ok=$(awk -v o="$over" -v a="$allowed" 'BEGIN { print (o < a ? "met" : "not") }')
  say "| $name: \`${COLD_SRCS[$i]}\` | $(fmt %.0f "$bare") ms | $(fmt %.0f "$api") ms | $(fmt %+.1f "$over") ms ($(cut -f6 <<<"$rows" | minmax %+.0f)) | $(fmt %+.1f "$pct") % | < $(fmt %.0f "$allowed") ms | $(verdict "$ok") | $(fmt %+.1f "$hover") ms | $(fmt %.1f "$curlcost") ms | $(fmt %.0f "$srv") ms |"
done
sizes=$(awk -F'\t' 'NR > 1 && $7 != $8 { n++ } END { print n + 0 }' "$OUT/cold.tsv")
[ "$sizes" = 0 ] || say "Note: in $sizes pairs the API's STL size differed from the bare command's (see cold.tsv)."
say ""
inst_stop
fi   # want cold

########################################################################################
# 3. Memory of one FastCGI worker over many requests
########################################################################################
if want memory; then
log "memory: one worker, $MEM_WARMUP warm-up + $MEM_REQUESTS mixed requests"
inst_stop
inst_start mem 1
# The front pool's worker: it answers the models, health, metrics and errors of the mix.
PID=$(pgrep -P "$(cat "$INST_DIR/run/front.pids")" | head -n 1)
[ -r "/proc/$PID/status" ] || die "no worker process $PID"
for model in small large; do
  nginx_reset   # one FastCGI worker: see nginx_reset, else this may wait for nginx's 60 s keepalive
  read -r code cache key _ < <(render "$WORK/$model.scad" text/plain "$WORK/check")
  [ "$code" = 200 ] && [ "$key" = "${KEY[$model]:-$key}" ] || die "memory instance: rendering $model answered $code $key"
  KEY[$model]=$key
done
# Every checkpoint from the end of the warm-up on, in four steps.
cps="" step=$((MEM_REQUESTS / 4))
for k in 0 1 2 3; do cps="$cps$((MEM_WARMUP + k * step)),"; done
cps="$cps$((MEM_WARMUP + MEM_REQUESTS))"
MEMOUT="$WORK/memory.out"
: > "$MEMOUT"
# One client connection: with one FastCGI worker, only one nginx worker may hold an upstream
# connection (see nginx_reset), and the mix checks each answer against its request.
nginx_reset
BENCH_PID=$PID BENCH_CHECKPOINTS=$cps BENCH_MEM_OUT=$MEMOUT \
BENCH_KEY_SMALL=${KEY[small]} BENCH_KEY_LARGE=${KEY[large]} \
BENCH_BODY_SMALL="$WORK/small.scad" BENCH_BODY_LARGE="$WORK/large.scad" BENCH_JSON_SMALL="$WORK/small.json" \
  wrk -t1 -c1 -d600s --timeout 30s -s "$HERE/wrk_mix.lua" "$BASE/" > "$WORK/wrk-mix.out" 2>&1 &
WRK_PID=$!
deadline=$(( $(date +%s) + 300 ))
while ! grep -q '^done' "$MEMOUT"; do
  kill -0 "$WRK_PID" 2>/dev/null || { cat "$WORK/wrk-mix.out" >&2; die "wrk stopped before the mix was done"; }
  [ "$(date +%s)" -lt "$deadline" ] || die "the mixed requests took over 300 s ($(grep -c checkpoint "$MEMOUT") checkpoints reached)"
  kill -0 "$PID" 2>/dev/null || die "the worker $PID died during the mixed requests"
  sleep 0.2
done
kill -INT "$WRK_PID" 2>/dev/null || true
wait "$WRK_PID" || true
WRK_PID=""
kill -0 "$PID" 2>/dev/null || die "the worker $PID died during the mixed requests"
read -r _ answered mismatches < <(grep '^done' "$MEMOUT")
printf 'requests\tVmHWM_kib\tVmRSS_kib\n' > "$OUT/memory.tsv"
awk '$1 == "checkpoint" { printf "%d\t%d\t%d\n", $2, $3, $4 }' "$MEMOUT" >> "$OUT/memory.tsv"
read -r n0 hwm0 rss0 < <(awk 'NR == 2' "$OUT/memory.tsv")
read -r n1 hwm1 rss1 < <(tail -n 1 "$OUT/memory.tsv")
ghwm=$((hwm1 - hwm0)) grss=$((rss1 - rss0))
inst_stop

say "## 3. Memory: one FastCGI worker over $MEM_REQUESTS requests"
say ""
say "WORKERS=1, one wrk connection cycling through 14 requests: cache-hit POSTs (text and JSON, both models), GET models (both), a 304 (If-None-Match), health, metrics, malformed JSON (400), unknown route and unknown key (404), DELETE (405), wrong media type (415). Every answer's status was checked against its request: $mismatches mismatches in $answered answers. VmHWM (peak RSS) and VmRSS of worker pid $PID read from /proc after the $MEM_WARMUP-request warm-up and every $step requests after it. Target: VmHWM growth < 1024 KiB."
say ""
say "| requests answered | VmHWM KiB | VmRSS KiB |"
say "|---:|---:|---:|"
while IFS=$'\t' read -r n h r; do say "| $n | $h | $r |"; done < <(tail -n +2 "$OUT/memory.tsv")
ok=$(awk -v g="$ghwm" 'BEGIN { print (g < 1024 ? "met" : "not") }')
say ""
say "Growth from $n0 to $n1 answers: VmHWM $(fmt %+d "$ghwm") KiB, VmRSS $(fmt %+d "$grss") KiB: $(verdict "$ok")."
[ "$mismatches" = 0 ] || { say "**$mismatches answers had an unexpected status** (the first are listed in memory.out)."; echo invalid >> "$VERDICTS"; cp "$MEMOUT" "$OUT/memory.out"; }
say ""
fi   # want memory

########################################################################################
# 4. Engines: WASM against the CLI (tests/bench/engines.mjs)
########################################################################################
if want engines; then
# One runner, so that every render goes to the same WASM helper (its memory, its replacement).
# engines.mjs reads health at once: a helper whose ready frame nobody reads within 20 s of its
# start is given up (see README.md, Known effects).
log "engines: an instance with RUNNERS=1"
inst_stop
inst_start engines 1 1 1
BENCH_RUN_ID=$RUN_ID OPENSCAD=$OPENSCAD node "$HERE/engines.mjs" "$BASE" "$INST_DIR" "$OUT" "$REPORT" "$VERDICTS" ||
  die "the engine benchmarks failed"
inst_stop
fi   # want engines

########################################################################################
# 5. Under load: hits, cold renders and POST /api/jobs (tests/bench/load.mjs)
########################################################################################
if want load; then
# scadservectl's default pools (16 wait workers, 2 front workers, a runner per render slot),
# whatever BENCH_WORKERS says: the load is measured on the service as it ships.
log "load: an instance with the default pools, ${BENCH_LOAD_SECONDS:-60} s at ${BENCH_LOAD_CONNS:-64} connections"
inst_stop
inst_start load "${BENCH_LOAD_WORKERS:-16}" "${BENCH_LOAD_FRONT_WORKERS:-2}" "${BENCH_LOAD_RUNNERS:-}"
BENCH_RUN_ID=$RUN_ID node "$HERE/load.mjs" "$BASE" "$INST_DIR" "$OUT" "$REPORT" "$VERDICTS" ||
  die "the load benchmark failed"
inst_stop
fi   # want load

########################################################################################
met=$(grep -c '^met$' "$VERDICTS" || true)
notmet=$(grep -c '^not$' "$VERDICTS" || true)
invalid=$(grep -c '^invalid$' "$VERDICTS" || true)
say "## Summary"
say ""
say "Targets met: $met of $((met + notmet)).$([ "$invalid" -gt 0 ] && echo " Some measurements had errors: see above.") Load average at the end $(cut -d' ' -f1-3 /proc/loadavg); the run took $(( $(date +%s) - START_S )) s. Raw data: hits.tsv, cold.tsv, memory.tsv, engines-*.tsv, load-*.tsv beside this report."
cp "$REPORT" "$OUT/report.md"
cat "$REPORT"
log "report written to $OUT/report.md"
if [ "$STRICT" = 1 ] && [ $((notmet + invalid)) -gt 0 ]; then exit 3; fi
exit 0
