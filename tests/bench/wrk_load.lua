-- wrk_load.lua -- one fixed request, repeated: what tests/bench/run.sh measures throughput with.
--
-- Environment:
--   BENCH_METHOD      GET (default) or POST
--   BENCH_BODY_FILE   file whose bytes are the request body (POST)
--   BENCH_CTYPE       Content-Type of the body (default text/plain)
-- At the end it prints one machine-readable line that run.sh parses:
--   BENCH_RESULT requests=N duration_us=N status_errors=N socket_errors=N timeouts=N p50_us=N p99_us=N max_us=N
-- (status_errors: answers >= 400; socket_errors: connect, read and write errors; timeouts:
-- requests without an answer within wrk's --timeout)

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file ~= nil and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE") or "text/plain"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d timeouts=%d " ..
    "p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
