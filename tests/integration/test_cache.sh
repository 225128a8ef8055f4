#!/usr/bin/env bash
# test_cache.sh -- the SQLite cache shared by several FastCGI processes: concurrent writers,
# a cache file deleted or corrupted while the server runs, a corrupt entry, LRU eviction.
. "$(dirname "$0")/lib.sh"

WORKERS=4 inst_start SCADSERVE_RENDER_SLOTS=4 || { echo "test_cache: 0 passed, 1 failed"; exit 1; }

one() {
  printf 'cube(%s);\n' "$1" | curl -sS -o "$TMP/c$1.$2.stl" -w '%{http_code} %header{x-cache}\n' \
    -H 'Content-Type: text/plain' --data-binary @- "$BASE_URL/api/render"
}
export -f one; export TMP BASE_URL

t_concurrent() {
  local results
  # 16 distinct models, each asked for twice, 8 at a time over 4 processes.
  results=$(for r in a b; do for i in $(seq 1 16); do echo "$i $r"; done; done |
    xargs -P 8 -n 2 bash -c 'one "$0" "$1"')
  [ "$(grep -c '^200 ' <<<"$results")" = 32 ] || fail "not all 200: $results"
  expect_eq entries "$(cache_entries)" 16
  for i in $(seq 1 16); do
    cmp -s "$TMP/c$i.a.stl" "$TMP/c$i.b.stl" || fail "cube($i): the two answers differ"
  done
  grep -qiE 'busy|locked' "$INST_DIR/log/scadserve.log" && fail "SQLITE_BUSY: $(grep -iE 'busy|locked' "$INST_DIR/log/scadserve.log")"
  expect_eq "cache errors" "$(metric scadserve_cache_errors_total)" 0
}
check "four processes write one cache concurrently without loss or BUSY" t_concurrent

t_deleted() {
  local s
  rm -f "$INST_DIR"/cache.sqlite "$INST_DIR"/cache.sqlite-wal "$INST_DIR"/cache.sqlite-shm
  s=$(render_src 'cube(1);')
  expect_eq "after delete" "$s" 200
  expect_eq "after delete: X-Cache" "$(header X-Cache)" miss
  expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
  s=$(render_src 'cube(1);')
  expect_eq "then" "$(header X-Cache)" hit
  [ -f "$INST_DIR/cache.sqlite" ] || fail "cache file not recreated"
}
check "cache file deleted while running: costs a render, never a failed request" t_deleted

t_corrupt_file() {
  local s i
  render_src 'cube(5);' >/dev/null
  # Garbage over the whole file, header included, while every process has it open.
  head -c 65536 /dev/urandom > "$TMP/garbage"
  cat "$TMP/garbage" > "$INST_DIR/cache.sqlite"
  rm -f "$INST_DIR/cache.sqlite-wal"
  for i in 1 2 3 4 5 6 7 8; do
    s=$(render_src 'cube(5);')
    [ "$s" = 200 ] || fail "request $i after corruption: $s $(head -c 300 "$TMP/body")"
    expect_eq triangles "$("$STLCMP" --count "$TMP/body")" 12
  done
  health_ok
  # A process that opens the garbage (here: after a restart) starts a new cache.
  WORKERS=4 inst_restart SCADSERVE_RENDER_SLOTS=4
  s=$(render_src 'cube(5);')
  expect_eq "after restart" "$s" 200
  s=$(render_src 'cube(5);')
  expect_eq "then cached again" "$(header X-Cache)" hit
  expect_eq integrity "$(sqlite3 "$INST_DIR/cache.sqlite" 'PRAGMA integrity_check;')" ok
}
check "cache file overwritten with garbage while running: still answers" t_corrupt_file

t_corrupt_entry() {
  local s key
  s=$(render_src 'cube(7);'); key=$(header ETag); key=${key//\"/}
  cp "$TMP/body" "$TMP/good.stl"
  s=$(render_src 'cube(7);'); expect_eq "before" "$(header X-Cache)" hit
  sqlite3 "$INST_DIR/cache.sqlite" "PRAGMA busy_timeout=5000; UPDATE blobs SET data = zeroblob(length(data)) WHERE key = '$key';"
  s=$(render_src 'cube(7);')
  expect_eq status "$s" 200
  expect_eq "bad checksum is a miss" "$(header X-Cache)" miss
  cmp "$TMP/body" "$TMP/good.stl" || fail "served the corrupt bytes"
  [ "$(metric scadserve_cache_corrupt_total)" -ge 1 ] || fail "corruption not counted"
  s=$(req GET "/api/models/$key"); expect_eq "model after re-render" "$s" 200
  cmp "$TMP/body" "$TMP/good.stl" || fail "models/ served other bytes"
}
check "an entry whose checksum fails is dropped and re-rendered" t_corrupt_entry

t_render_log_utf8() {
  local s i src log
  # An echo of one long line of two-byte characters: OpenSCAD's messages are kept up to 4 KiB,
  # so the cut falls inside a character. What is sent must still decode (the page shows no
  # log at all when decodeURIComponent throws), on the miss and on the hit that replays it.
  # (The line is cut in OpenSCAD's summary, so the stub before its newline shows as "?".)
  src='echo("'
  for i in $(seq 1 2100); do src+='é'; done
  src+='"); cube(1);'
  for i in miss hit; do
    s=$(render_src "$src")
    expect_eq status "$s" 200
    expect_eq X-Cache "$(header X-Cache)" "$i"
    log=$(header X-Render-Log)
    [ "${#log}" -gt 10000 ] || fail "$i: X-Render-Log is only ${#log} bytes"
    node -e 'const t = decodeURIComponent(process.argv[1]);
      if (!t.startsWith("ECHO: \"éé") || /[^é"\n?ECHO: ]/.test(t)) process.exit(1)' "$log" ||
      fail "$i: X-Render-Log does not decode to the echo: ${log: -40}"
  done
}
check "X-Render-Log cut at its cap never splits a UTF-8 character" t_render_log_utf8

t_if_none_match() {
  local s key gone=0000000000000000000000000000000000000000000000000000000000000000
  s=$(render_src 'cube(11);'); key=$(header ETag); key=${key//\"/}
  s=$(req GET "/api/models/$key" -H 'If-None-Match: *'); expect_eq "* for a cached key" "$s" 304
  s=$(req GET "/api/models/$key" -H "If-None-Match: \"$key\""); expect_eq "its tag" "$s" 304
  # A key the cache does not hold is not confirmed, whatever the client sends.
  s=$(req GET "/api/models/$gone" -H 'If-None-Match: *'); expect_error 404 not_found "$s"
  s=$(req GET "/api/models/$gone" -H "If-None-Match: \"$gone\""); expect_error 404 not_found "$s"
  s=$(req HEAD "/api/models/$gone" -H 'If-None-Match: *'); expect_eq "HEAD, *" "$s" 404
  # Nor one that was there and is gone.
  sqlite3 "$INST_DIR/cache.sqlite" "PRAGMA busy_timeout=5000; DELETE FROM blobs WHERE key = '$key';"
  s=$(req GET "/api/models/$key" -H "If-None-Match: \"$key\""); expect_error 404 not_found "$s"
}
check "If-None-Match (* or the tag) answers 304 only for a key the cache holds" t_if_none_match

# echo_src N: a model whose echo output is N lines of 109 bytes, made in a fraction of a second.
echo_src() {
  printf 's = "%s";\nx = [for (i = [1:%d]) echo(s) i];\n' "$(printf 'x%.0s' $(seq 1 100))" "$1"
}

# render_fmt FORMAT SOURCE: POST raw source for a format; prints the status.
render_fmt() {
  printf '%s' "$2" > "$TMP/src.scad"
  req POST "/api/render?format=$1" -H 'Content-Type: text/plain' --data-binary @"$TMP/src.scad"
}

t_text_output_limit() {
  local s before
  before=$(cache_entries)
  # 150 bytes of source asking for 11 MB of echo (or 12 MB of CSG tree): stopped at 1 MiB.
  s=$(render_fmt echo "$(echo_src 100000)")
  expect_error 422 output_too_large "$s"
  jq -r .error.message "$TMP/body" | grep -q '1048576 bytes' ||
    fail "message does not give the text limit: $(jq -r .error.message "$TMP/body")"
  s=$(render_fmt csg 'for (i = [0:999], j = [0:99]) translate([i, j, 0]) cube(1);')
  expect_error 422 output_too_large "$s"
  expect_eq "cache entries" "$(cache_entries)" "$before"
  [ -z "$(ls -A "$INST_DIR/tmp")" ] || fail "scratch left: $(ls "$INST_DIR/tmp")"
  # Under the limit, text renders as before; geometry keeps SCADSERVE_OUTPUT_MAX.
  s=$(render_fmt echo "$(echo_src 5000)")
  expect_eq "545 KB of echo" "$s" 200
  expect_eq size "$(stat -c %s "$TMP/body")" 545000
}
check "text formats (echo, csg) stop at SCADSERVE_TEXT_OUTPUT_MAX" t_text_output_limit

# A cache of 1500 bytes holds two 684-byte cubes, not three: the least recently used goes.
inst_start SCADSERVE_CACHE_MAX=1500 SCADSERVE_CACHE_ENTRY_MAX=1500 || { finish; exit 1; }
t_evict() {
  local s k1
  s=$(render_src 'cube(1);'); k1=$(header ETag); k1=${k1//\"/}
  s=$(render_src 'cube(2);')
  # Make cube(1) the oldest by access time, whatever second they were made in.
  sqlite3 "$INST_DIR/cache.sqlite" "PRAGMA busy_timeout=5000; UPDATE blobs SET atime = atime - 1000 WHERE key = '$k1';"
  s=$(render_src 'cube(3);')
  expect_eq entries "$(cache_entries)" 2
  [ "$(curl -s "$BASE_URL/api/health" | jq .cache.bytes)" -le 1500 ] || fail "over the cap"
  s=$(req GET "/api/models/$k1"); expect_eq "evicted" "$s" 404
  s=$(render_src 'cube(3);'); expect_eq "newest kept" "$(header X-Cache)" hit
  [ "$(metric scadserve_cache_evictions_total)" -ge 1 ] || fail "evictions not counted"
}
check "size cap: least recently used entries are evicted" t_evict

# A result over SCADSERVE_CACHE_ENTRY_MAX is answered, not stored: it evicts nothing.
inst_start SCADSERVE_CACHE_MAX=4M SCADSERVE_CACHE_ENTRY_MAX=256K || { finish; exit 1; }
t_largest_entry() {
  local s key i id
  for i in 1 2 3; do render_src "cube($i);" >/dev/null; done
  expect_eq entries "$(cache_entries)" 3
  for i in miss miss; do
    s=$(render_fmt echo "$(echo_src 3000)")
    expect_eq status "$s" 200
    expect_eq size "$(stat -c %s "$TMP/body")" 327000
    expect_eq X-Cache "$(header X-Cache)" "$i"
    expect_eq X-Cache-Store "$(header X-Cache-Store)" too_large
  done
  key=$(header ETag); key=${key//\"/}
  expect_eq "entries: none evicted, none added" "$(cache_entries)" 3
  # Kept a while as a file (the spool), not in the cache: its URL answers for ten minutes.
  cp "$TMP/body" "$TMP/large.txt"
  s=$(req GET "/api/models/$key"); expect_eq "GET the spooled result" "$s" 200
  cmp -s "$TMP/body" "$TMP/large.txt" || fail "the spooled result differs"
  ls "$INST_DIR/spool/$key".* >/dev/null 2>&1 || fail "no spool file for $key"
  # A job for it is done, and its model_url serves it too.
  printf '%s' "$(echo_src 3001)" > "$TMP/job.scad"
  s=$(req POST "/api/jobs?format=echo" -H 'Content-Type: text/plain' --data-binary @"$TMP/job.scad")
  expect_eq "job" "$s" 202
  id=$(jq -r .id "$TMP/body")
  for i in $(seq 1 200); do
    curl -s "$BASE_URL/api/jobs/$id" > "$TMP/job.json"
    [ "$(jq -r .state "$TMP/job.json")" = done ] && break
    sleep 0.05
  done
  expect_eq "job state" "$(jq -r .state "$TMP/job.json")" done
  s=$(req GET "$(jq -r .model_url "$TMP/job.json")"); expect_eq "job's model_url" "$s" 200
  expect_eq "job's model size" "$(stat -c %s "$TMP/body")" 327109
  # Under the limit: stored, and the header is absent.
  s=$(render_fmt echo "$(echo_src 2000)")
  expect_eq status "$s" 200
  expect_eq X-Cache-Store "$(header X-Cache-Store)" ""
  s=$(render_fmt echo "$(echo_src 2000)")
  expect_eq "then" "$(header X-Cache)" hit
}
check "a result over SCADSERVE_CACHE_ENTRY_MAX is answered and spooled a while, not stored" t_largest_entry

# The WAL: every write goes through it first; it must not keep the size of the largest one,
# nor grow with the writes, however many stores and evictions there are.
inst_start SCADSERVE_TEXT_OUTPUT_MAX=16M SCADSERVE_CACHE_MAX=24M SCADSERVE_CACHE_ENTRY_MAX=16M ||
  { finish; exit 1; }
wal_size() { stat -c %s "$INST_DIR/cache.sqlite-wal" 2>/dev/null || echo 0; }
t_wal_bounded() {
  local s i most=0 w limit=$((4 << 20))
  s=$(render_fmt echo "$(echo_src 100000)")
  expect_eq "11 MB of echo" "$s" 200
  expect_eq X-Cache-Store "$(header X-Cache-Store)" ""
  w=$(wal_size)
  echo "# WAL after storing 10.9 MB: $w bytes"
  [ "$w" -le "$limit" ] || fail "the WAL kept $w bytes after one large store"
  for i in $(seq 1 14); do
    s=$(render_fmt echo "$(echo_src $((20000 + i)))")
    expect_eq "2.2 MB of echo, $i" "$s" 200
    w=$(wal_size)
    [ "$w" -le "$most" ] || most=$w
    [ "$w" -le "$limit" ] || fail "store $i left the WAL at $w bytes"
  done
  echo "# WAL at most $most bytes between 14 stores of 2.2 MB into a 24 MB cache"
  [ "$(metric scadserve_cache_evictions_total)" -ge 2 ] || fail "nothing was evicted"
  [ "$(curl -s "$BASE_URL/api/health" | jq .cache.bytes)" -le $((24 << 20)) ] || fail "over the cap"
}
check "the WAL stays under 4 MiB through large stores and evictions" t_wal_bounded

finish
