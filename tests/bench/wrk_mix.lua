-- wrk_mix.lua -- the mixed request sequence of the memory measurement in tests/bench/run.sh.
--
-- Run it with ONE thread and ONE connection (wrk -t1 -c1): requests and answers then strictly
-- alternate, so each status can be checked against the one expected for the request just
-- sent. (wrk 4.1 calls request() once more than it sends, at connect time, so the answer
-- belongs to the LAST request() call, not to a count of them.)
-- It cycles through MIX below, and after the response counts listed in BENCH_CHECKPOINTS
-- it reads VmHWM and VmRSS of the worker BENCH_PID from /proc and appends
--   checkpoint <responses> <VmHWM KiB> <VmRSS KiB>
-- to BENCH_MEM_OUT; after the last checkpoint it stops its thread (wrk itself then waits for
-- its -d duration or a SIGINT, which run.sh sends when it sees the "done" line). It also appends
--   mismatch <response#> <what> got <status> want <status>     (the first 20)
--   done <responses> <mismatches>
-- Environment: BENCH_PID, BENCH_CHECKPOINTS (comma list, ascending), BENCH_MEM_OUT,
-- BENCH_KEY_SMALL, BENCH_KEY_LARGE (cached model keys), BENCH_BODY_SMALL, BENCH_BODY_LARGE
-- (their sources), BENCH_JSON_SMALL (the small source as a JSON request).

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local mix, built = {}, false

local function build()
  local ks, kl = os.getenv("BENCH_KEY_SMALL"), os.getenv("BENCH_KEY_LARGE")
  local small, large = slurp(os.getenv("BENCH_BODY_SMALL")), slurp(os.getenv("BENCH_BODY_LARGE"))
  local json = slurp(os.getenv("BENCH_JSON_SMALL"))
  local text = { ["Content-Type"] = "text/plain" }
  local function add(what, want, method, path, headers, body)
    mix[#mix + 1] = { what = what, want = want, req = wrk.format(method, path, headers or {}, body) }
  end
  add("POST render small (hit)", 200, "POST", "/api/render", text, small)
  add("GET model small", 200, "GET", "/api/models/" .. ks)
  add("POST render small JSON (hit)", 200, "POST", "/api/render",
      { ["Content-Type"] = "application/json" }, json)
  add("GET model If-None-Match", 304, "GET", "/api/models/" .. ks,
      { ["If-None-Match"] = '"' .. ks .. '"' })
  add("GET model large", 200, "GET", "/api/models/" .. kl)
  add("GET health", 200, "GET", "/api/health")
  add("POST render large (hit)", 200, "POST", "/api/render", text, large)
  add("GET metrics", 200, "GET", "/api/metrics")
  add("POST malformed JSON", 400, "POST", "/api/render",
      { ["Content-Type"] = "application/json" }, '{"source": "cube(1);",')
  add("GET unknown route", 404, "GET", "/api/nope")
  add("GET unknown key", 404, "GET", "/api/models/" .. string.rep("0", 64))
  add("DELETE render", 405, "DELETE", "/api/render")
  add("POST wrong media type", 415, "POST", "/api/render",
      { ["Content-Type"] = "image/png" }, "cube(1);")
  add("GET model small again", 200, "GET", "/api/models/" .. ks)
  built = true
end

local sent, current, got, bad = 0, 1, 0, 0
local checkpoints, last = {}, 0
for n in string.gmatch(os.getenv("BENCH_CHECKPOINTS") or "", "%d+") do
  checkpoints[tonumber(n)] = true
  if tonumber(n) > last then last = tonumber(n) end
end

local function note(line)
  local f = assert(io.open(os.getenv("BENCH_MEM_OUT"), "a"))
  f:write(line, "\n")
  f:close()
end

local function memory()
  local s = slurp("/proc/" .. os.getenv("BENCH_PID") .. "/status")
  return tonumber(s:match("VmHWM:%s*(%d+)")), tonumber(s:match("VmRSS:%s*(%d+)"))
end

function request()
  if not built then build() end
  sent = sent + 1
  current = (sent - 1) % #mix + 1
  return mix[current].req
end

function response(status, headers, body)
  got = got + 1
  local m = mix[current]
  if status ~= m.want then
    bad = bad + 1
    if bad <= 20 then
      note(string.format("mismatch %d %s got %d want %d", got, m.what:gsub(" ", "_"), status, m.want))
    end
  end
  if checkpoints[got] then
    local hwm, rss = memory()
    note(string.format("checkpoint %d %d %d", got, hwm, rss))
  end
  if got >= last then
    note(string.format("done %d %d", got, bad))
    wrk.thread:stop()
  end
end
