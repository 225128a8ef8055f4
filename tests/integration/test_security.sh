#!/usr/bin/env bash
# test_security.sh -- the adversarial suite: hostile models against the real server and the real
# OpenSCAD try to read files outside the service, another render's model, and the cache; each
# case has a marker file outside the service whose content must appear nowhere (body, headers,
# X-Render-Log, error, worker log, cache file). Run against: the default set-up (unprivileged
# user + Landlock + seccomp), Landlock alone (workers as root), unix permissions alone
# (unprivileged, Landlock off by SCADSERVE_UNCONFINED=1), and Landlock unavailable (refused).
. "$(dirname "$0")/lib.sh"

MARK="zq$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"     # an identifier: it tokenizes
HEIGHT=7331                                                  # for surface(): a number
OUT="$TMP/outside"                                           # outside every state directory
mkdir -p "$OUT"
chmod 0755 "$OUT"
printf 'zq_secret = "%s";\n%s = 1;\nmodule leak() { echo("%s"); }\n' "$MARK" "$MARK" "$MARK" > "$OUT/secret.scad"
printf 'KEY="%s"\n' "$MARK" > "$OUT/secret.env"
printf '%s,1,2\n' "$MARK" > "$OUT/secret.csv"
printf '%s\n0\nSECTION\n' "$MARK" > "$OUT/secret.dxf"
printf '<svg %s' "$MARK" > "$OUT/secret.svg"
printf 'solid %s\nendsolid %s\n' "$MARK" "$MARK" > "$OUT/secret.stl"
printf '%s %s\n%s %s\n' $HEIGHT $HEIGHT $HEIGHT $HEIGHT > "$OUT/heights.dat"
chmod 0644 "$OUT"/*

# The attacks, one per line: NAME|FORMAT|SOURCE ("\n" for a newline). The same for a file that
# does not exist (NOPE) must answer alike, so that existence does not leak either.
attacks() {
  local dir=$1
  cat <<EOF
include, absolute path|stl|include <$dir/secret.scad>\necho(zq_secret);\ncube(1);
use, absolute path, a module that echoes|stl|use <$dir/secret.scad>\nleak();\ncube(1);
include, ../ out of the scratch folder|stl|include <../../../../outside/secret.scad>\necho(zq_secret);\ncube(1);
include, many ../ to the root|stl|include <../../../../../../../../../../../..$dir/secret.scad>\necho(zq_secret);\ncube(1);
include in the middle of an expression (KEY="value")|stl|x = [include <$dir/secret.env>];\necho(x);\ncube(1);
include in the middle of an expression (CSV)|stl|y = [include <$dir/secret.csv>];\necho(y);\ncube(1);
include with format=echo|echo|include <$dir/secret.scad>\necho(zq_secret);\ncube(1);
include with format=ast|ast|include <$dir/secret.scad>\ncube(1);
include with format=csg|csg|include <$dir/secret.scad>\ncube(1);
import_dxf() of any file (first line as an ID)|stl|import_dxf("$dir/secret.dxf");
import() of a .dxf|stl|import("$dir/secret.dxf");
import() of a .svg (the XML parser's context)|stl|import("$dir/secret.svg");
import() of a .stl|stl|import("$dir/secret.stl");
a path computed at run time with str()|stl|import(str("$dir", "/secret", ".dxf"));
surface() of a numeric file|asciistl|surface(file="$dir/heights.dat");
EOF
}

# decoded_headers: the last answer's headers with X-Render-Log percent-decoded.
decoded_headers() {
  python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read()))' < "$TMP/headers"
}

# nowhere MARKER: the marker is in no part of the last answer, the instance's log or its cache.
nowhere() {
  local m=$1
  ! grep -qa -- "$m" "$TMP/body" || fail "marker in the body: $(grep -a -o ".\{0,60\}$m.\{0,20\}" "$TMP/body" | head -2)"
  ! decoded_headers | grep -qa -- "$m" || fail "marker in the headers: $(decoded_headers | grep -a -- "$m" | head -2)"
  ! grep -qa -- "$m" "$INST_DIR/log/scadserve.log" || fail "marker in the worker log"
  ! cat "$INST_DIR"/cache.sqlite* 2>/dev/null | grep -qa -- "$m" || fail "marker in the cache file"
}

# answer_shape: status, error type and log of the last answer with the file's name blanked.
answer_shape() {
  local s=$1
  if [ "$s" = 200 ]; then
    echo "$s $(decoded_headers | grep -ia '^x-render-log' | sed -E 's/(secret|nope|heights)/F/g')"
  else
    echo "$s $(jq -r '.error.type + " " + .error.message + " " + (.error.log // "")' "$TMP/body" |
      sed -E 's/(secret|nope|heights)/F/g' | grep -v 'rendering time')"
  fi
}

# render_fmt SOURCE FORMAT: POST raw source asking for FORMAT (and the engine ENGINE, default
# auto); prints the status.
ENGINE=auto
render_fmt() {
  printf '%s' "$1" > "$TMP/src.scad"
  req POST "/api/render?format=$2&engine=$ENGINE" -H 'Content-Type: text/plain' --data-binary @"$TMP/src.scad"
}

# attack_all: every attack, on each engine: a documented answer, the marker nowhere, nothing
# learnt about whether the file exists, and the server still answers.
attack_all() {
  local e
  for e in cli wasm; do
    ENGINE=$e attack_engine || { fail "(engine $e)"; return 1; }
  done
}

attack_engine() {
  local name fmt src s shape nope before
  before=$(cache_entries)
  while IFS='|' read -r name fmt src; do
    s=$(render_fmt "$(printf '%b' "$src")" "$fmt")
    case "$s" in 200|422) ;; *) fail "$name: answered $s: $(head -c 300 "$TMP/body")" ;; esac
    [ "$s" = 200 ] || expect_error 422 "$(err_type)" "$s" || fail "$name: not a documented error"
    nowhere "$MARK" || fail "$name: leaked"
    if [ "$fmt" = asciistl ] && [ "$s" = 200 ]; then
      ! grep -q "$HEIGHT" "$TMP/body" || fail "$name: the heights came back as geometry"
    fi
    shape=$(answer_shape "$s")
    s=$(render_fmt "$(printf '%b' "${src//secret/nope}" | sed 's/heights/nope/')" "$fmt")
    nope=$(answer_shape "$s")
    [ "$shape" = "$nope" ] || fail "$name: an existing file answers otherwise than a missing one:
  exists:  $shape
  missing: $nope"
    health_ok
  done < <(attacks "$OUT")
  # Results that read nothing outside are the only ones cached; none holds the marker.
  ! cat "$INST_DIR"/cache.sqlite* | grep -qa -- "$MARK" || fail "marker in the cache"
  [ "$(cache_entries)" -ge "$before" ] || fail "the cache lost entries"
}

# another_render: while one client's model renders (slowly), another model tries to read it
# through /proc/<pid>/cwd, /proc/<pid>/root, /proc/<pid>/environ and its scratch path.
another_render() {
  local victim="victim_marker_$MARK" pid="" scratch="" i s src
  ( curl -s -o /dev/null --max-time 60 --data-binary \
      "v = \"$victim\"; x = [for (i = [0:9999]) for (j = [0:99999]) if (i < 0) i]; cube(1);" \
      "$BASE_URL/api/render?timeout=8&engine=cli" ) &
  local bg=$!
  for i in $(seq 1 200); do
    for p in $(pgrep -x openscad); do
      case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in "$(realpath "$INST_DIR")"/tmp/*) pid=$p ;; esac
    done
    [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || { kill "$bg" 2>/dev/null; fail "the victim's renderer never started"; }
  scratch=$(readlink "/proc/$pid/cwd")
  for src in "include </proc/$pid/cwd/model.scad>\necho(v);\ncube(1);" \
             "include </proc/$pid/root$scratch/model.scad>\necho(v);\ncube(1);" \
             "include <$scratch/model.scad>\necho(v);\ncube(1);" \
             "include </proc/$pid/environ>\ncube(1);" \
             "import(\"/proc/$pid/cwd/model.dxf\");" \
             "include </proc/self/environ>\ncube(1);"; do
    s=$(render_src "$(printf '%b' "$src")" --url-query engine=cli)
    case "$s" in 200|422) ;; *) kill "$bg"; fail "answered $s: $(head -c 300 "$TMP/body")" ;; esac
    nowhere "$victim" || { kill "$bg"; fail "read the other render through: $src"; }
    s=$(render_src "$(printf '%b' "$src")" --url-query engine=wasm)
    case "$s" in 200|422) ;; *) kill "$bg"; fail "answered $s: $(head -c 300 "$TMP/body")" ;; esac
    nowhere "$victim" || { kill "$bg"; fail "read the other render through: $src"; }
    ! grep -qa 'HOME=' "$TMP/body" || { kill "$bg"; fail "an environment came back"; }
  done
  kill -0 "$pid" 2>/dev/null || fail "the victim ended before the attacks did: they prove nothing"
  wait "$bg"
}

# sweep_clean: no renderer or zombie left, workers' descriptors as at start, cache intact.
sweep_clean() {
  local p w left=""
  for p in $(pgrep -x openscad); do
    case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in "$(realpath "$INST_DIR")"/*) left+=" $p" ;; esac
  done
  [ -z "$left" ] || fail "renderers left:$left"
  for w in $(all_pids); do
    [ -z "$(ps --ppid "$w" -o stat= | grep Z)" ] || fail "zombies under worker $w"
  done
  workers_fds_clean
  [ -z "$(ls -A "$INST_DIR/tmp")" ] || fail "scratch left: $(ls "$INST_DIR/tmp")"
  expect_eq integrity "$(sqlite3 "file:$INST_DIR/cache.sqlite?mode=ro" 'PRAGMA integrity_check')" ok
}

# --- The default set-up: an unprivileged user, Landlock and seccomp.
inst_start || { finish; exit 1; }
t_confined() {
  local h owner mode
  h=$(curl -s "$BASE_URL/api/health")
  expect_eq status "$(echo "$h" | jq -r .status)" ok
  expect_eq confinement "$(echo "$h" | jq -r .sandbox.confinement)" landlock
  echo "$h" | jq -e '.sandbox.landlock.abi >= 1 and .sandbox.seccomp == true' >/dev/null ||
    fail "health: $(echo "$h" | jq -c .sandbox)"
  if [ "$(id -u)" = 0 ]; then
    for p in $(all_pids); do
      [ "$(stat -c %U "/proc/$p")" = scadserve ] || fail "worker $p runs as $(stat -c %U "/proc/$p")"
    done
    for p in $(pgrep -f "nginx: worker process" ); do
      case "$(tr '\0' ' ' < "/proc/$(ps -o ppid= -p "$p" | tr -d ' ')/cmdline")" in
        *"$INST_DIR"*) [ "$(stat -c %U "/proc/$p")" = scadserve ] || fail "nginx worker $p runs as $(stat -c %U "/proc/$p")" ;;
      esac
    done
    owner=$(stat -c %U "$INST_DIR/cache.sqlite")
    expect_eq "cache owner" "$owner" scadserve
  fi
  mode=$(stat -c %a "$INST_DIR/cache.sqlite")
  expect_eq "cache mode" "$mode" 600
  expect_eq "state dir mode" "$(stat -c %a "$INST_DIR")" 700
}
check "health reports Landlock and seccomp; workers and nginx's workers unprivileged; cache 0600" t_confined
t_helpers_confined() {
  local w h n=0
  for w in $(runner_pids); do
    for h in $(pgrep -P "$w" -f engines/wasm/helper.mjs); do
      n=$((n + 1))
      grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$h/status" || fail "helper $h: no NoNewPrivs"
      grep -q '^Seccomp:[[:space:]]*2' "/proc/$h/status" || fail "helper $h: no seccomp filter"
      [ "$(id -u)" != 0 ] || [ "$(stat -c %U "/proc/$h")" = scadserve ] || fail "helper $h runs as $(stat -c %U "/proc/$h")"
      [ "$(awk '$1 == "Max" && $2 == "address" { print $5 }' "/proc/$h/limits")" = 4294967296 ] ||
        fail "helper $h: address space limit $(grep 'address space' "/proc/$h/limits")"
    done
  done
  [ "$n" -ge 1 ] || fail "no WASM helper running"
}
check "the WASM helpers run unprivileged under seccomp, no_new_privs and a 4 GiB address-space limit" t_helpers_confined
check "every attack, Landlock and an unprivileged user: no marker anywhere" attack_all
check "another render's model is out of reach while it renders" another_render
t_outside_unused() {
  local s
  # Were the outside file read, its cube() would draw a sphere.
  printf 'module cube(x) { sphere(5, $fn = 32); }\n' > "$OUT/override.scad"
  chmod 0644 "$OUT/override.scad"
  s=$(render_src "$(printf 'include <%s/override.scad>\ncube(1);' "$OUT")")
  expect_eq status "$s" 200
  expect_eq "triangles (a cube, not the sphere)" "$("$STLCMP" --count "$TMP/body")" 12
}
check "a cached result never depends on an outside file (nothing stale to serve)" t_outside_unused
check "after the suite: no renderer or zombie, descriptors as at start, integrity_check ok" sweep_clean

# --- Landlock alone: the workers run as root (never the default), the markers readable by all.
if [ "$(id -u)" = 0 ]; then
  inst_start SCADSERVE_USER=root || { finish; exit 1; }
  t_root_still_confined() {
    for p in $(all_pids); do
      [ "$(stat -c %U "/proc/$p")" = root ] || fail "worker $p is not root: this case tests Landlock alone"
    done
    attack_all
    another_render
    s=$(render_src $'include </etc/shadow>\necho(root);\ncube(1);')
    nowhere 'root:' || fail "/etc/shadow"
  }
  check "every attack with the workers as root: Landlock alone holds" t_root_still_confined
  check "after the suite (root): nothing left" sweep_clean

  # --- Unix permissions alone: Landlock off and the operator said so; the markers root's.
  chmod 0600 "$OUT"/*
  inst_start SCADSERVE_LANDLOCK_ABI_MAX=0 SCADSERVE_UNCONFINED=1 || { finish; exit 1; }
  t_unconfined_loud() {
    local h
    h=$(curl -s "$BASE_URL/api/health")
    expect_eq status "$(echo "$h" | jq -r .status)" unconfined
    expect_eq confinement "$(echo "$h" | jq -r .sandbox.confinement)" UNCONFINED
    echo "$h" | jq -e '.sandbox.warning | test("without Landlock")' >/dev/null || fail "no warning"
    grep -q UNCONFINED "$INST_DIR/log/scadserve.log" || fail "no warning in the log"
    attack_all
  }
  check "Landlock off by the operator: health says UNCONFINED; the unprivileged user still reads no marker" t_unconfined_loud
  chmod 0644 "$OUT"/*
fi

# --- Landlock unavailable (simulated) and no consent: renders refused, health says why, and
# only the operator sees paths and process ids.
inst_start SCADSERVE_LANDLOCK_ABI_MAX=0 SCADSERVE_OPERATOR_NETS=192.0.2.1/32 ||
  { finish; exit 1; }
t_fail_closed() {
  local s h
  s=$(render_src 'cube(1);')
  expect_error 503 sandbox_unavailable "$s"
  jq -e '.error.message | test("Landlock")' "$TMP/body" >/dev/null || fail "message: $(cat "$TMP/body")"
  [ "$(procs_matching "$(realpath "$INST_DIR")/tmp")" = 0 ] || fail "a renderer ran"
  h=$(curl -s "$BASE_URL/api/health")
  expect_eq status "$(echo "$h" | jq -r .status)" refusing_renders
  expect_eq renders "$(echo "$h" | jq -r .sandbox.renders)" refused
  echo "$h" | jq -e '.sandbox.reason | test("SCADSERVE_LANDLOCK_ABI_MAX=0")' >/dev/null ||
    fail "no reason: $(echo "$h" | jq -c .sandbox)"
  echo "$h" | jq -e 'has("pid") or has("uptime_seconds") or (.cache | has("path")) or
    (.openscad | has("path")) or (.sandbox | has("read"))' >/dev/null &&
    fail "a non-operator sees: $(echo "$h" | jq -c .)"
  health_ok
}
check "Landlock unavailable: renders refused (503 sandbox_unavailable), health says why, details for the operator only" t_fail_closed

# --- Rate limits per client address (nginx), loopback not exempt here.
inst_start SCADSERVE_RATE_EXEMPT= SCADSERVE_RATE_LIMIT=1r/s SCADSERVE_RATE_BURST=2 ||
  { finish; exit 1; }
t_rate_limited() {
  local i s limited=0
  for i in $(seq 1 8); do
    s=$(render_src 'cube(1);')
    if [ "$s" = 429 ]; then
      limited=$((limited + 1))
      expect_eq type "$(err_type)" rate_limited
      [ -n "$(header Retry-After)" ] || fail "no Retry-After"
    else
      expect_eq status "$s" 200
    fi
  done
  [ "$limited" -ge 4 ] || fail "only $limited of 8 rapid renders were limited"
  for i in $(seq 1 8); do health_ok; done	# reads are never limited
}
check "render requests past SCADSERVE_RATE_LIMIT: 429 rate_limited with Retry-After; reads unaffected" t_rate_limited

finish
