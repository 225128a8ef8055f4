// load.mjs -- section 5 of `make bench` (tests/bench/run.sh): the service under a mixed load,
// with a low-rate POST /api/jobs client alongside.
//
// run.sh starts a dedicated instance with the default pools (WORKERS=16 wait workers,
// FRONT_WORKERS=2, RUNNERS = the render slots, SCADSERVE_RATE_LIMIT=off) and runs
//   node tests/bench/load.mjs BASE STATE_DIR OUT_DIR REPORT VERDICTS
// (the same arguments as engines.mjs). What it does:
//   1. renders BENCH_LOAD_MODELS (16) small models, checking that GET /api/models/{key} serves
//      the same bytes and that a second POST is a hit;
//   2. for BENCH_LOAD_SECONDS (60) s, BENCH_LOAD_CONNS (64) closed-loop clients on keep-alive
//      connections, each sending its next request as soon as the last is answered: of all
//      requests sent, exactly one in ten (BENCH_LOAD_RENDER_EVERY) is a cold render (POST
//      /api/render of `cube(N);` with a comment new to the run: a cache miss, default engine),
//      the others cache hits over the models, alternating GET /api/models/{key} (answered by
//      nginx from the mirror) and POST /api/render (a hit answered by the front pool);
//      latency per class is each exchange's wall time in this process (request to last body
//      byte, process.hrtime);
//   3. alongside, a separate Node process (this file with --jobs-client) sends POST /api/jobs of
//      a distinct small model BENCH_LOAD_JOBS_RATE (5) times a second, open loop (each on its
//      own schedule, not waiting for the last), and times each to its 202; afterwards it
//      follows its jobs until they end (so that no render is left running when step 5 looks);
//   4. every second, VmHWM and VmRSS of every process of the instance: nginx's master and
//      workers, both FastCGI pools, the runners, and the WASM helpers (children of workers and
//      runners running helper.mjs); other children (CLI renderers) are counted;
//   5. after the load: the instance idle again (metrics: nothing in flight, nothing queued),
//      then no child of a worker or runner other than its helper, and no zombie.
// Writes load-requests.tsv, load-jobs.tsv, load-memory.tsv to OUT_DIR, appends section 5 to
// REPORT and "met"/"not"/"invalid" lines to VERDICTS. Exit status 1 when something broke.

import { spawn } from "node:child_process";
import { appendFileSync, createWriteStream, readFileSync, readdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const env = process.env;
function intSetting(name, dflt) {
  const v = env[name] ?? String(dflt);
  if (!/^[1-9][0-9]*$/.test(v)) {
    console.error(`load.mjs: ${name}=${v}: expected a positive integer`);
    process.exit(2);
  }
  return Number(v);
}
const RUN_ID = env.BENCH_RUN_ID || `${Date.now()}-${process.pid}`;
const t0 = Date.now();
const log = (msg) => process.stderr.write(`bench: load: [${String(Math.round((Date.now() - t0) / 1000)).padStart(3)}s] ${msg}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One HTTP exchange: resolves {status, headers, body (Buffer), ms} or {error, ms}.
function exchange(agent, base, method, path, body, ctype, timeoutMs = 300000) {
  return new Promise((resolve) => {
    const start = now();
    const url = new URL(path, base);
    const headers = {};
    if (body !== undefined) {
      headers["Content-Type"] = ctype;
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: now() - start }));
        res.on("error", (e) => resolve({ error: e.code || e.message, ms: now() - start }));
      });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
    req.on("error", (e) => resolve({ error: e.code || e.message, ms: now() - start }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
const fmtMs = (x) => (Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// The error type of a JSON error answer, or "" (nginx's own 503 page says "not answering").
function errorType(r) {
  try {
    const j = JSON.parse(r.body.toString());
    const t = j?.error?.type ?? "";
    if (t === "overloaded" && /not answering/.test(j.error.message ?? "")) return "nginx-unavailable";
    return t;
  } catch {
    return "";
  }
}

////////////////////////////////////////////////////////////////////////////////////////////
// The jobs client (a process of its own, so that the load's event loop does not delay it).
////////////////////////////////////////////////////////////////////////////////////////////
async function jobsClient(base, seconds, rate, outFile) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const interval = 1000 / rate;
  const results = [];
  const inflight = [];
  const start = now();
  for (let i = 0; ; i++) {
    const due = start + i * interval;
    if (due - start >= seconds * 1000) break;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const lateMs = now() - due; // how late this process sent it (its own scheduling delay)
    const body = `cube(${(i % 20) + 1});\n// bench load jobs ${RUN_ID} ${i}\n`;
    inflight.push(exchange(agent, base, "POST", "/api/jobs", body, "text/plain").then((r) => {
      let id = "", state = "";
      if (!r.error) {
        try { const j = JSON.parse(r.body.toString()); id = j.id ?? ""; state = j.state ?? ""; } catch { /* not JSON */ }
      }
      results.push({ i, t: due - start, ms: r.ms, late: lateMs, status: r.error ? r.error : r.status,
        type: r.error ? "" : r.status >= 400 ? errorType(r) : "", id, state, final: state });
    }));
  }
  await Promise.all(inflight);
  // Follow the jobs to their end: none may be left running when the leftovers are checked.
  const deadline = now() + 120000;
  let open = results.filter((r) => r.id && !["done", "failed", "cancelled"].includes(r.final));
  while (open.length && now() < deadline) {
    await sleep(500);
    for (const r of open) {
      const g = await exchange(agent, base, "GET", `/api/jobs/${r.id}`);
      if (!g.error && g.status === 200) {
        try { r.final = JSON.parse(g.body.toString()).state ?? r.final; } catch { /* keep */ }
      } else if (!g.error && g.status === 404) r.final = "gone";
    }
    open = open.filter((r) => !["done", "failed", "cancelled", "gone"].includes(r.final));
  }
  results.sort((a, b) => a.i - b.i);
  writeFileSync(outFile, "n\tsent_ms\trtt_ms\tsend_late_ms\tstatus\terror\tid\tstate\tfinal_state\n" +
    results.map((r) => [r.i, r.t.toFixed(1), r.ms.toFixed(2), r.late.toFixed(2), r.status, r.type, r.id, r.state, r.final].join("\t")).join("\n") + "\n");
  agent.destroy();
}

if (process.argv[2] === "--jobs-client") {
  const [, , , base, seconds, rate, outFile] = process.argv;
  await jobsClient(base, Number(seconds), Number(rate), outFile);
  process.exit(0);
}

////////////////////////////////////////////////////////////////////////////////////////////
// The main benchmark.
////////////////////////////////////////////////////////////////////////////////////////////
const [BASE, STATE, OUT, REPORT, VERDICTS] = process.argv.slice(2);
if (!VERDICTS) {
  console.error("usage: node load.mjs BASE STATE_DIR OUT_DIR REPORT VERDICTS");
  process.exit(2);
}
const SECONDS = intSetting("BENCH_LOAD_SECONDS", 60);
const CONNS = intSetting("BENCH_LOAD_CONNS", 64);
const NMODELS = intSetting("BENCH_LOAD_MODELS", 16);
const EVERY = intSetting("BENCH_LOAD_RENDER_EVERY", 10);
const JOBS_RATE = intSetting("BENCH_LOAD_JOBS_RATE", 5);
const say = (s = "") => appendFileSync(REPORT, s + "\n");
const verdict = (v) => { appendFileSync(VERDICTS, v + "\n"); return v === "met" ? "met" : "**NOT met**"; };
const die = (msg) => { console.error(`bench: load: error: ${msg}`); process.exit(1); };

// /proc helpers.
function status(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const f = (k) => { const m = s.match(new RegExp(`^${k}:\\s+(\\S+)`, "m")); return m ? m[1] : ""; };
    return { state: f("State"), ppid: Number(f("PPid")), hwm: Number(f("VmHWM") || 0), rss: Number(f("VmRSS") || 0), name: f("Name") };
  } catch {
    return null;
  }
}
function cmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim(); } catch { return ""; }
}
// How many processes of a role the instance has now.
function poolSize(role) {
  return instanceProcesses().procs.filter((p) => p.role === role).length;
}
function pidsOf(file) {
  try { return readFileSync(join(STATE, "run", file), "utf8").split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
// Every process's parent, once per call.
function ppidMap() {
  const m = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = status(d);
    if (s) m.set(Number(d), s);
  }
  return m;
}
// The instance's processes by role (children of workers/runners split into helpers and others).
function instanceProcesses() {
  const all = ppidMap();
  const procs = [];
  const master = pidsOf("nginx.pid")[0];
  if (master && all.has(master)) procs.push({ pid: master, role: "nginx master" });
  // Each pool is a supervisor (multiwatch, its pid in run/<pool>.pids) and its children.
  const roots = [["scadserve.pids", "wait worker"], ["front.pids", "front worker"], ["runners.pids", "runner"]];
  const owners = new Set();
  const children = (p) => [...all].filter(([, s]) => s.ppid === p).map(([c]) => c);
  for (const [file, role] of roots) for (const sup of pidsOf(file)) if (all.has(sup)) {
    procs.push({ pid: sup, role: "supervisor" });
    for (const p of children(sup)) { procs.push({ pid: p, role }); owners.add(p); }
  }
  if (master) for (const c of children(master)) procs.push({ pid: c, role: "nginx worker" });
  const others = [];
  for (const o of owners) {
    // Every descendant of a worker or runner: its helper, or anything else (a renderer).
    const stack = children(o);
    while (stack.length) {
      const c = stack.pop();
      const s = all.get(c);
      if (s.ppid === o && s.state[0] !== "Z" && cmdline(c).includes("helper.mjs")) procs.push({ pid: c, role: "WASM helper", owner: o });
      else others.push({ pid: c, owner: o, state: s.state, cmd: cmdline(c) || `[${s.name}]` });
      stack.push(...children(c));
    }
  }
  return { procs, others, all };
}

// The instance's metrics as a map "name{labels}" -> number.
async function metrics(agent) {
  const r = await exchange(agent, BASE, "GET", "/api/metrics");
  const m = new Map();
  if (r.error || r.status !== 200) return m;
  for (const line of r.body.toString().split("\n")) {
    const x = line.match(/^([a-z_]+(?:\{[^}]*\})?)\s+(\S+)$/);
    if (x) m.set(x[1], Number(x[2]));
  }
  return m;
}
const msum = (m, name) => [...m].filter(([k]) => k === name || k.startsWith(name + "{")).reduce((a, [, v]) => a + v, 0);

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS, maxFreeSockets: CONNS });
const side = new http.Agent({ keepAlive: false });

// 1. The models the hits go over.
log(`rendering ${NMODELS} models for the hits`);
const models = [];
for (let i = 0; i < NMODELS; i++) {
  const src = `cylinder(r=${5 + i}, h=${3 + (i % 5)}, $fn=${8 + 2 * i}); // bench load model ${i}\n`;
  const r = await exchange(side, BASE, "POST", "/api/render", src, "text/plain");
  if (r.error || r.status !== 200) die(`rendering model ${i} answered ${r.error ?? r.status}: ${r.body?.toString().slice(0, 300)}`);
  const key = String(r.headers.etag ?? "").replaceAll('"', "");
  const g = await exchange(side, BASE, "GET", `/api/models/${key}`);
  if (g.error || g.status !== 200 || !g.body.equals(r.body)) die(`GET /api/models/${key} does not return the rendered bytes (${g.error ?? g.status})`);
  const h = await exchange(side, BASE, "POST", "/api/render", src, "text/plain");
  if (h.error || h.status !== 200 || h.headers["x-cache"] !== "hit" || !h.body.equals(r.body)) die(`a second POST of model ${i} is not a hit with the same bytes (${h.error ?? h.status} ${h.headers?.["x-cache"]})`);
  models.push({ src, key, bytes: r.body.length });
}
const modelBytes = models.map((m) => m.bytes);
log(`models: ${Math.min(...modelBytes)}-${Math.max(...modelBytes)} bytes of STL`);

const before = await metrics(side);
const inst0 = instanceProcesses();
const helpers0 = inst0.procs.filter((p) => p.role === "WASM helper").map((p) => p.pid);

// 4. Memory, sampled every second (and once more at the end).
const mem = new Map(); // pid -> {role, hwm, rss, first, last}
let maxOthers = 0;
function sample() {
  const { procs, others } = instanceProcesses();
  for (const p of procs) {
    const s = status(p.pid);
    if (!s) continue;
    const e = mem.get(p.pid) ?? { role: p.role, hwm: 0, rss: 0, seen: 0 };
    e.hwm = Math.max(e.hwm, s.hwm);
    e.rss = s.rss;
    e.seen++;
    mem.set(p.pid, e);
  }
  maxOthers = Math.max(maxOthers, others.filter((o) => o.state[0] !== "Z").length);
}
sample();

// 3. The jobs client.
const jobsFile = join(OUT, "load-jobs.tsv");
const jobsProc = spawn(process.execPath, [fileURLToPath(import.meta.url), "--jobs-client", BASE, String(SECONDS), String(JOBS_RATE), jobsFile],
  { stdio: ["ignore", "inherit", "inherit"], env: { ...env, BENCH_RUN_ID: RUN_ID } });
const jobsDone = new Promise((resolve) => jobsProc.on("exit", (code) => resolve(code)));

// 2. The load.
const reqOut = createWriteStream(join(OUT, "load-requests.tsv"));
reqOut.write("sent_ms\tclass\tms\tstatus\terror\tx_cache\tengine\n");
const classes = ["get-hit", "post-hit", "render"];
const stats = Object.fromEntries(classes.map((c) => [c, { ms: [], codes: new Map(), inWindow: 0, wrongCache: 0, wrongBytes: 0, engines: new Map(), fallbacks: 0 }]));
let sent = 0, hitSeq = 0, renderSeq = 0;
const loadStart = now();
const loadEnd = loadStart + SECONDS * 1000;
const memTimer = setInterval(sample, 1000);
const progress = setInterval(() => {
  const n = classes.map((c) => `${c} ${stats[c].ms.length}`).join(", ");
  log(`  ${Math.round((now() - loadStart) / 1000)} s: ${n}`);
}, 10000);

async function client() {
  while (now() < loadEnd) {
    const n = sent++;
    let cls, m, r;
    const tSent = now() - loadStart;
    if (n % EVERY === EVERY - 1) {
      cls = "render";
      const k = renderSeq++;
      r = await exchange(agent, BASE, "POST", "/api/render", `cube(${(k % 30) + 1});\n// bench load ${RUN_ID} render ${k}\n`, "text/plain");
    } else {
      const h = hitSeq++;
      m = models[Math.floor(h / 2) % models.length];
      if (h % 2 === 0) { cls = "get-hit"; r = await exchange(agent, BASE, "GET", `/api/models/${m.key}`); }
      else { cls = "post-hit"; r = await exchange(agent, BASE, "POST", "/api/render", m.src, "text/plain"); }
    }
    const st = stats[cls];
    const code = r.error ? `error ${r.error}` : r.status >= 400 ? `${r.status} ${errorType(r) || "?"}` : String(r.status);
    st.codes.set(code, (st.codes.get(code) ?? 0) + 1);
    st.ms.push(r.ms);
    if (tSent + r.ms <= SECONDS * 1000) st.inWindow++;
    const xc = r.headers?.["x-cache"] ?? "", eng = r.headers?.["x-engine"] ?? "";
    if (!r.error && r.status === 200) {
      if (cls === "post-hit" && xc !== "hit") st.wrongCache++;
      if (cls === "render" && xc !== "miss") st.wrongCache++;
      if (cls !== "render" && r.body.length !== m.bytes) st.wrongBytes++;
      if (cls === "render") {
        st.engines.set(eng || "?", (st.engines.get(eng || "?") ?? 0) + 1);
        if (r.headers["x-engine-fallback"]) st.fallbacks++;
      }
    }
    reqOut.write(`${tSent.toFixed(1)}\t${cls}\t${r.ms.toFixed(2)}\t${r.error ? "" : r.status}\t${r.error ?? (r.status >= 400 ? errorType(r) : "")}\t${xc}\t${eng}\n`);
  }
}
log(`load: ${SECONDS} s, ${CONNS} connections, one request in ${EVERY} a cold render; POST /api/jobs ${JOBS_RATE}/s alongside`);
await Promise.all(Array.from({ length: CONNS }, client));
const loadElapsed = now() - loadStart;
clearInterval(progress);
await new Promise((r) => reqOut.end(r));
log(`load done after ${(loadElapsed / 1000).toFixed(1)} s (the last answers came in after the ${SECONDS} s)`);
const jobsCode = await jobsDone;
clearInterval(memTimer);
sample();
agent.destroy();

// 5. Idle again, then nothing left.
let idle = false, m1 = new Map();
const idleDeadline = now() + 60000;
while (now() < idleDeadline) {
  m1 = await metrics(side);
  if (m1.size && msum(m1, "scadserve_renders_in_flight") === 0 && msum(m1, "scadserve_queue_depth") === 0) { idle = true; break; }
  await sleep(250);
}
await sleep(1000);
const inst1 = instanceProcesses();
const leftRenderers = inst1.others.filter((o) => o.state[0] !== "Z");
const zombies = inst1.others.filter((o) => o.state[0] === "Z");
// Zombies anywhere below nginx's master too.
for (const p of inst1.procs) { const s = status(p.pid); if (s && s.state[0] === "Z") zombies.push({ pid: p.pid, cmd: p.role }); }
const helpers1 = inst1.procs.filter((p) => p.role === "WASM helper").map((p) => p.pid);
const after = m1.size ? m1 : await metrics(side);
const mdelta = (name) => msum(after, name) - msum(before, name);

// The scadserve log's warnings and errors during the run.
let logLines = [];
try {
  logLines = readFileSync(join(STATE, "log", "scadserve.log"), "utf8").split("\n")
    .filter((l) => / (warn|warning|error|crit|alert|emerg) /.test(l));
} catch { /* no log */ }
writeFileSync(join(OUT, "load-log.txt"), logLines.join("\n") + (logLines.length ? "\n" : ""));

// The log lines grouped by message (request ids, pids, times and numbers out).
const groups = new Map();
for (const l of logLines) {
  const msg = l.replace(/^\S+ scadserve\[\d+\] /, "").replace(/\[[0-9a-f-]{36}\] /, "").replace(/\d+(\.\d+)?/g, "N").slice(0, 160);
  groups.set(msg, (groups.get(msg) ?? 0) + 1);
}
const logGroups = [...groups].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${v} x \`${k.replaceAll("`", "'")}\``).join("; ");

// Memory table.
writeFileSync(join(OUT, "load-memory.tsv"), "pid\trole\tVmHWM_kib\tVmRSS_kib_last\tsamples\n" +
  [...mem].map(([pid, e]) => `${pid}\t${e.role}\t${e.hwm}\t${e.rss}\t${e.seen}`).join("\n") + "\n");

// Jobs figures.
const jobs = readFileSync(jobsFile, "utf8").trim().split("\n").slice(1).map((l) => l.split("\t"));
// The target is on the accepted jobs (202, or 200 for a cached model); a deliberate 503 is fast.
const jobMs = jobs.filter((j) => j[4] === "202" || j[4] === "200").map((j) => Number(j[2])).sort((a, b) => a - b);
const jobMsAll = jobs.map((j) => Number(j[2])).sort((a, b) => a - b);
const jobCodes = new Map();
for (const j of jobs) { const c = j[4] + (j[5] ? ` ${j[5]}` : ""); jobCodes.set(c, (jobCodes.get(c) ?? 0) + 1); }
const jobFinal = new Map();
for (const j of jobs) jobFinal.set(j[8] || "-", (jobFinal.get(j[8] || "-") ?? 0) + 1);
const jobLate = jobs.map((j) => Number(j[3])).sort((a, b) => a - b);

// The report.
const all = classes.flatMap((c) => stats[c].ms);
const totalInWindow = classes.reduce((a, c) => a + stats[c].inWindow, 0);
const codesText = (mp) => [...mp].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(", ");
const bad = [];     // failures: 5xx other than the program's overloaded, connection errors, >= 400 otherwise
let overloaded = 0;
for (const c of classes) for (const [k, v] of stats[c].codes) {
  if (k === "200") continue;
  if (k === "503 overloaded") { overloaded += v; continue; }
  bad.push(`${c} ${k}: ${v}`);
}
let jobsOverloaded = 0;
for (const [k, v] of jobCodes) {
  if (k === "202" || k === "200") continue;
  if (k === "503 overloaded") { jobsOverloaded += v; continue; }
  bad.push(`POST /api/jobs ${k}: ${v}`);
}
const wrong = classes.reduce((a, c) => a + stats[c].wrongCache + stats[c].wrongBytes, 0);

say(`## 5. Under load: ${100 - 100 / EVERY} % cache hits, ${100 / EVERY} % cold renders, and POST /api/jobs alongside`);
say();
say(`An instance with the default pools (${poolSize("wait worker")} wait workers, ${poolSize("front worker")} front workers, ${poolSize("runner")} runners, ${msum(before, "scadserve_render_slots") || "?"} render slots), no rate limit. ${CONNS} closed-loop clients (Node, keep-alive connections, each sending its next request when the last is answered) for ${SECONDS} s on loopback; of the requests sent, one in ${EVERY} is a cold render (\`cube(N);\` with a comment new to the run, the default engine, a cache miss each), the others cache hits over ${NMODELS} pre-rendered models (${Math.min(...modelBytes)}-${Math.max(...modelBytes)} bytes), alternating \`GET /api/models/{key}\` (nginx, from the mirror) and \`POST /api/render\` (a hit, answered by the front pool; a miss is a job the wait pool's worker waits on). Latency: each exchange's wall time in the client. Alongside, another process sends \`POST /api/jobs\` (a distinct small model each) ${JOBS_RATE} times a second on its own schedule and times each to its answer. Memory: VmHWM of every process of the instance, read every second. Targets: no 5xx other than the program's \`503 overloaded\` and no failed request; \`POST /api/jobs\` p99 < 100 ms; no renderer or zombie left afterwards.`);
say();
say(`| class | answered | per second | p50 | p90 | p99 | max | status codes |`);
say(`|---|---:|---:|---:|---:|---:|---:|---|`);
for (const c of [...classes, "all"]) {
  const ms = (c === "all" ? all : stats[c].ms).slice().sort((a, b) => a - b);
  const inW = c === "all" ? totalInWindow : stats[c].inWindow;
  const codes = c === "all" ? new Map() : stats[c].codes;
  if (c === "all") for (const k of classes) for (const [x, v] of stats[k].codes) codes.set(x, (codes.get(x) ?? 0) + v);
  const label = { "get-hit": "hit, `GET /api/models/{key}`", "post-hit": "hit, `POST /api/render`", render: "cold render, `POST /api/render`", all: "**all**" }[c];
  say(`| ${label} | ${ms.length} | ${(inW / SECONDS).toFixed(1)} | ${fmtMs(pct(ms, 50))} ms | ${fmtMs(pct(ms, 90))} ms | ${fmtMs(pct(ms, 99))} ms | ${fmtMs(ms[ms.length - 1])} ms | ${codesText(codes)} |`);
}
const hitsMs = [...stats["get-hit"].ms, ...stats["post-hit"].ms].sort((a, b) => a - b);
say(`| hits, both kinds | ${hitsMs.length} | ${((stats["get-hit"].inWindow + stats["post-hit"].inWindow) / SECONDS).toFixed(1)} | ${fmtMs(pct(hitsMs, 50))} ms | ${fmtMs(pct(hitsMs, 90))} ms | ${fmtMs(pct(hitsMs, 99))} ms | ${fmtMs(hitsMs[hitsMs.length - 1])} ms | |`);
say(`| \`POST /api/jobs\` accepted (${JOBS_RATE}/s, its own process) | ${jobMs.length} of ${jobs.length} | ${(jobs.length / SECONDS).toFixed(1)} sent | ${fmtMs(pct(jobMs, 50))} ms | ${fmtMs(pct(jobMs, 90))} ms | **${fmtMs(pct(jobMs, 99))} ms** | ${fmtMs(jobMs[jobMs.length - 1])} ms | ${codesText(jobCodes)} |`);
say();
say(`*per second*: answers to requests sent and answered within the ${SECONDS} s, over ${SECONDS} s (the last answers came ${((loadElapsed - SECONDS * 1000) / 1000).toFixed(1)} s after the end). Renders by engine: ${codesText(stats.render.engines) || "none"}${stats.render.fallbacks ? ` (${stats.render.fallbacks} with X-Engine-Fallback)` : ""}. Answers whose X-Cache or size was not what the class expects: ${wrong}. \`POST /api/jobs\`: the percentiles are of the accepted jobs; over every answer (${jobs.length}) p99 ${fmtMs(pct(jobMsAll, 99))} ms. The jobs' final states: ${codesText(jobFinal)} ("-": not accepted); the jobs client's own scheduling delay (how late it sent, not in its figures) p99 ${fmtMs(pct(jobLate, 99))} ms: a measure of how busy the CPUs were.`);
say();
const t1 = bad.length === 0 && wrong === 0 ? "met" : "not";
const t2 = jobMs.length > 0 && pct(jobMs, 99) < 100 ? "met" : "not";
const t3 = idle && leftRenderers.length === 0 && zombies.length === 0 ? "met" : "not";
say(`| target | figure | |`);
say(`|---|---|---|`);
say(`| no 5xx but \`503 overloaded\`, no failed request | ${bad.length ? bad.join("; ") : "none"}; deliberate \`503 overloaded\` (the program's, with Retry-After): ${overloaded} to the load, ${jobsOverloaded} to \`POST /api/jobs\`${wrong ? `; ${wrong} wrong answers` : ""} | ${verdict(t1)} |`);
say(`| \`POST /api/jobs\` p99 < 100 ms | p50 ${fmtMs(pct(jobMs, 50))} / p90 ${fmtMs(pct(jobMs, 90))} / p99 ${fmtMs(pct(jobMs, 99))} ms over ${jobMs.length} accepted | ${verdict(t2)} |`);
say(`| nothing left afterwards | ${idle ? "idle (nothing in flight or queued) after the load" : "**still rendering or queued 60 s after the load**"}; ${leftRenderers.length} renderers, ${zombies.length} zombies${leftRenderers.length + zombies.length ? ": " + [...leftRenderers, ...zombies].map((o) => `${o.pid} (${o.state ?? "Z"}) ${o.cmd}`).join("; ") : ""}; WASM helpers ${helpers0.length} before, ${helpers1.length} after (${helpers1.filter((p) => !helpers0.includes(p)).length} new) | ${verdict(t3)} |`);
say();

// Memory by role.
const roles = ["nginx master", "nginx worker", "supervisor", "wait worker", "front worker", "runner", "WASM helper"];
say(`Peak memory (VmHWM) of every process of the instance over the run (${mem.size} processes seen; every one in load-memory.tsv). Other processes seen at once below the workers and runners (renderers): at most ${maxOthers}.`);
say();
say(`| role | processes | VmHWM each (min-max) | VmHWM sum |`);
say(`|---|---:|---:|---:|`);
let total = 0;
for (const role of roles) {
  const es = [...mem.values()].filter((e) => e.role === role);
  if (!es.length) { say(`| ${role} | 0 | | |`); continue; }
  const h = es.map((e) => e.hwm);
  const sum = h.reduce((a, b) => a + b, 0);
  total += sum;
  const mib = (k) => (k / 1024).toFixed(1);
  say(`| ${role} | ${es.length} | ${mib(Math.min(...h))}-${mib(Math.max(...h))} MiB | ${mib(sum)} MiB |`);
}
say(`| **all** | ${mem.size} | | ${(total / 1024).toFixed(1)} MiB |`);
say();
say(`Metrics over the run: ${mdelta("scadserve_renders_total")} renders, ${mdelta("scadserve_single_flight_joins_total")} single-flight joins, ${mdelta("scadserve_client_disconnects_total")} client disconnects, ${mdelta("scadserve_engine_fallbacks_total")} engine fallbacks, ${mdelta("scadserve_wasm_helper_replaced_total")} helpers replaced, ${mdelta("scadserve_errors_total")} errors counted. ${logLines.length} warning/error lines in scadserve.log (load-log.txt)${logLines.length ? ": " + logGroups + "" : ""}.`);
say();
log(`done: ${all.length} answers, jobs p99 ${fmtMs(pct(jobMs, 99))} ms, failures: ${bad.length ? bad.join("; ") : "none"}`);
if (jobsCode !== 0) die(`the jobs client exited with ${jobsCode}`);
process.exit(0);
