#!/usr/bin/env bash
# test_mirror.sh -- GET /api/models/{key} answered by nginx from the cache's mirror of files
# (fcgi/mirror.c, nginx/scadserve.conf.in): the same bytes and headers as the program's, and
# the program's own answer (a JSON 404, a 304) wherever the mirror has no file or is asked a
# conditional question.
. "$(dirname "$0")/lib.sh"

inst_start || { echo "test_mirror: 0 passed, 1 failed"; exit 1; }

UUID4='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

# render_fmt FORMAT SOURCE: POST raw source for a format; prints the status.
render_fmt() {
  printf '%s' "$2" > "$TMP/src.scad"
  req POST "/api/render?format=$1" -H 'Content-Type: text/plain' --data-binary @"$TMP/src.scad"
}

# models_requests: how many GET /api/models requests the program has answered.
models_requests() { metric 'scadserve_requests_total{endpoint="models"}'; }

# file_of KEY: the mirror's file for KEY (empty when there is none).
file_of() { ls "$INST_DIR/models/$1".* 2>/dev/null || true; }

# get_from_nginx FORMAT SOURCE CONTENT-TYPE EXT: renders, then GETs the key twice and checks
# that nginx answered both (the program's count did not move) with the program's headers.
get_from_nginx() {
  local fmt=$1 src=$2 ctype=$3 ext=$4 s key before id1 id2
  s=$(render_fmt "$fmt" "$src")
  expect_eq "$fmt render" "$s" 200
  cp "$TMP/body" "$TMP/rendered"
  key=$(header ETag); key=${key//\"/}
  expect_eq "$fmt mirror file" "$(file_of "$key")" "$INST_DIR/models/$key.$ext"
  cmp "$INST_DIR/models/$key.$ext" "$TMP/rendered" || fail "$fmt: the mirror file differs"
  before=$(models_requests)
  s=$(req GET "/api/models/$key")
  expect_eq "$fmt GET" "$s" 200
  cmp "$TMP/body" "$TMP/rendered" || fail "$fmt: GET answered other bytes"
  expect_eq "$fmt Content-Type" "$(header Content-Type)" "$ctype"
  expect_eq "$fmt Content-Length" "$(header Content-Length)" "$(stat -c %s "$TMP/rendered")"
  expect_eq "$fmt ETag" "$(header ETag)" "\"$key\""
  expect_eq "$fmt Cache-Control" "$(header Cache-Control)" "public, max-age=31536000, immutable"
  [ -z "$(header Last-Modified)" ] || fail "$fmt: Last-Modified $(header Last-Modified)"
  id1=$(header X-Request-Id)
  [[ $id1 =~ $UUID4 ]] || fail "$fmt: X-Request-Id '$id1' is not a version 4 UUID"
  s=$(req HEAD "/api/models/$key")
  expect_eq "$fmt HEAD" "$s" 200
  expect_eq "$fmt HEAD Content-Type" "$(header Content-Type)" "$ctype"
  expect_eq "$fmt HEAD Content-Length" "$(header Content-Length)" "$(stat -c %s "$TMP/rendered")"
  id2=$(header X-Request-Id)
  [[ $id2 =~ $UUID4 ]] || fail "$fmt: second X-Request-Id '$id2' is not a version 4 UUID"
  [ "$id1" != "$id2" ] || fail "$fmt: two requests, one X-Request-Id $id1"
  expect_eq "$fmt: requests the program answered" "$(models_requests)" "$before"
}

t_stl() {
  local hits
  hits=$(metric scadserve_cache_hits_total)
  get_from_nginx stl 'cube(10);' model/stl stl
  # nginx's answers are not the program's hits.
  expect_eq "cache hits counted" "$(metric scadserve_cache_hits_total)" "$hits"
}
check "GET of a stored STL: nginx answers with the program's headers" t_stl

t_svg() { get_from_nginx svg 'square(10);' image/svg+xml svg; }
check "GET of a stored SVG: image/svg+xml from nginx" t_svg

t_echo() { get_from_nginx echo 'echo("hello"); cube(1);' 'text/plain; charset=utf-8' txt; }
check "GET of a stored echo: text/plain; charset=utf-8 from nginx" t_echo

t_request_id() {
  local s key mine=0f1e2d3c-4b5a-4978-8877-665544332211
  render_src 'cube(12);' >/dev/null
  key=$(header ETag); key=${key//\"/}
  # The client's own id when it is a UUID, as the program does; else a fresh one.
  s=$(req GET "/api/models/$key" -H "X-Request-Id: $mine")
  expect_eq status "$s" 200
  expect_eq "client's id" "$(header X-Request-Id)" "$mine"
  s=$(req GET "/api/models/$key" -H "X-Request-Id: not-a-uuid")
  [[ $(header X-Request-Id) =~ $UUID4 ]] || fail "a bad id was not replaced: $(header X-Request-Id)"
}
check "X-Request-Id: the client's UUID kept, anything else replaced" t_request_id

t_gzip() {
  local s key
  render_fmt echo "x = [for (i = [1:50]) echo(\"a line of text to compress\") i];" >/dev/null
  key=$(header ETag); key=${key//\"/}
  s=$(curl -sS -o "$TMP/body.gz" -D "$TMP/headers" -w '%{http_code}' -H 'Accept-Encoding: gzip' \
    "$BASE_URL/api/models/$key")
  expect_eq status "$s" 200
  expect_eq Content-Encoding "$(header Content-Encoding)" gzip
  # nginx's gzip weakens the tag, of the program's answers as of its own.
  expect_eq ETag "$(header ETag)" "W/\"$key\""
  gzip -dc "$TMP/body.gz" | cmp - "$INST_DIR/models/$key.txt" || fail "gzip body differs"
}
check "gzip as for the program's answers" t_gzip

t_conditional() {
  local s key before gone=1111111111111111111111111111111111111111111111111111111111111111
  render_src 'cube(13);' >/dev/null
  key=$(header ETag); key=${key//\"/}
  before=$(models_requests)
  : > "$TMP/body"
  s=$(req GET "/api/models/$key" -H "If-None-Match: \"$key\"")
  expect_eq "its tag" "$s" 304
  expect_eq ETag "$(header ETag)" "\"$key\""
  expect_eq Cache-Control "$(header Cache-Control)" "public, max-age=31536000, immutable"
  [[ $(header X-Request-Id) =~ $UUID4 ]] || fail "304 X-Request-Id $(header X-Request-Id)"
  [ ! -s "$TMP/body" ] || fail "304 has a body"
  s=$(req GET "/api/models/$key" -H 'If-None-Match: *'); expect_eq "*" "$s" 304
  s=$(req HEAD "/api/models/$key" -H 'If-None-Match: *'); expect_eq "HEAD, *" "$s" 304
  s=$(req GET "/api/models/$key" -H 'If-None-Match: "other"'); expect_eq "other tag" "$s" 200
  expect_eq "other tag: ETag" "$(header ETag)" "\"$key\""
  s=$(req GET "/api/models/$gone" -H 'If-None-Match: *'); expect_error 404 not_found "$s"
  # Conditional requests are the program's (nginx would compare its own mtime-size tag).
  [ "$(models_requests)" -gt "$before" ] || fail "the program answered none of them"
}
check "If-None-Match: 304 for the key or *, 404 for an unknown key" t_conditional

t_other_methods() {
  local s key
  render_src 'cube(14);' >/dev/null
  key=$(header ETag); key=${key//\"/}
  s=$(req DELETE "/api/models/$key")
  expect_error 405 method_not_allowed "$s"
  [ -n "$(file_of "$key")" ] || fail "the file went"
}
check "other methods still get the program's answer" t_other_methods

t_corrupt_entry() {
  local s key
  s=$(render_src 'cube(15);'); key=$(header ETag); key=${key//\"/}
  cp "$TMP/body" "$TMP/good.stl"
  # The row and (as a disk might) the file both damaged: nginx serves what the file holds.
  sqlite3 "$INST_DIR/cache.sqlite" "PRAGMA busy_timeout=5000; UPDATE blobs SET data = zeroblob(length(data)) WHERE key = '$key';" >/dev/null
  head -c 684 /dev/zero > "$INST_DIR/models/$key.stl"
  # The program finds the row corrupt, drops it and its file, renders it again, writes both.
  s=$(render_src 'cube(15);')
  expect_eq "bad checksum is a miss" "$(header X-Cache)" miss
  grep -q "cache entry $key failed its checksum: dropped" "$INST_DIR/log/scadserve.log" ||
    fail "no drop logged"
  cmp "$INST_DIR/models/$key.stl" "$TMP/good.stl" || fail "the file was not written again"
  s=$(req GET "/api/models/$key"); expect_eq "then" "$s" 200
  cmp "$TMP/body" "$TMP/good.stl" || fail "served other bytes"
}
check "an entry dropped for a bad checksum loses its file (then both come back)" t_corrupt_entry

t_corrupt_cache() {
  local s key
  s=$(render_src 'cube(16);'); key=$(header ETag); key=${key//\"/}
  [ -n "$(file_of "$key")" ] || fail "no file"
  # The service stopped first: a worker that closes its connection after the file was
  # overwritten would checkpoint its WAL into it and make it a database again.
  inst_stop
  head -c 65536 /dev/urandom > "$INST_DIR/cache.sqlite"
  rm -f "$INST_DIR/cache.sqlite-wal" "$INST_DIR/cache.sqlite-shm"
  # A process that opens the garbage (here: after a restart) discards it, files included.
  inst_restart
  health_ok
  [ -z "$(file_of "$key")" ] || fail "the discarded cache's file stayed: $(file_of "$key")"
  s=$(req GET "/api/models/$key"); expect_error 404 not_found "$s"
}
check "a cache discarded as corrupt takes its files along: 404" t_corrupt_cache

# A cache of 1500 bytes holds two 684-byte cubes, not three.
inst_start SCADSERVE_CACHE_MAX=1500 SCADSERVE_CACHE_ENTRY_MAX=1500 || { finish; exit 1; }
t_evicted() {
  local s k1 k2 k3 before
  s=$(render_src 'cube(1);'); k1=$(header ETag); k1=${k1//\"/}
  s=$(render_src 'cube(2);'); k2=$(header ETag); k2=${k2//\"/}
  sqlite3 "$INST_DIR/cache.sqlite" "PRAGMA busy_timeout=5000; UPDATE blobs SET atime = atime - 1000 WHERE key = '$k1';" >/dev/null
  s=$(render_src 'cube(3);'); k3=$(header ETag); k3=${k3//\"/}
  [ -z "$(file_of "$k1")" ] || fail "evicted, its file stayed"
  [ -n "$(file_of "$k2")" ] && [ -n "$(file_of "$k3")" ] || fail "the kept entries' files went"
  expect_eq "files" "$(ls "$INST_DIR/models" | wc -l)" 2
  before=$(models_requests)
  s=$(req GET "/api/models/$k1"); expect_error 404 not_found "$s"
  expect_eq "the program answered" "$(models_requests)" "$((before + 1))"
  s=$(req GET "/api/models/$k2"); expect_eq "kept" "$s" 200
}
check "an evicted entry loses its file: the program's 404" t_evicted

t_too_large() {
  local s key
  s=$(render_fmt echo "x = [for (i = [1:30]) echo(\"$(printf 'y%.0s' $(seq 1 100))\") i];")
  expect_eq X-Cache-Store "$(header X-Cache-Store)" too_large
  key=$(header ETag); key=${key//\"/}
  [ -z "$(file_of "$key")" ] || fail "a result not stored has a mirror file"
  # The program answers it from the spool, for a while (not nginx: it is not in the mirror).
  before=$(models_requests)
  s=$(req GET "/api/models/$key"); expect_eq "spooled" "$s" 200
  expect_eq "the program answered" "$(models_requests)" "$((before + 1))"
  rm -f "$INST_DIR/spool/$key".*
  s=$(req GET "/api/models/$key"); expect_error 404 not_found "$s"
}
check "a result not stored has no mirror file: the program answers from the spool, then 404" t_too_large

finish
