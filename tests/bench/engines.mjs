// engines.mjs -- the engine sections of `make bench` (section 4 of tests/bench/run.sh): the WASM
// engine (OpenSCAD 2025 in a warm Node helper) against the CLI (OpenSCAD 2021, a process per
// render), every figure a ratio against a baseline measured in the same run, interleaved.
//
// run.sh starts a dedicated instance with RUNNERS=1 (so that every render goes to the one
// runner's one helper) and runs
//   node tests/bench/engines.mjs BASE STATE_DIR OUT_DIR REPORT VERDICTS
// BASE is the instance's http://127.0.0.1:PORT, STATE_DIR its state directory (the runner is the
// child of the supervisor whose pid is in run/runners.pids), OUT_DIR where the raw data goes (engines-*.tsv), REPORT the markdown
// report to append to, VERDICTS the file run.sh counts targets in (one "met", "not" or
// "invalid" a line).
//
// Parts, in this order (BENCH_ENGINE_PARTS, comma-separated, default all):
//   memory   the helper's VmRSS idle after start, then over BENCH_ENGINE_MEM_RENDERS (1000)
//            small distinct renders (cache misses); target: flat after the warm-up;
//   replace  BENCH_ENGINE_KILLS (5) times each: SIGKILL the helper, then the renders and the
//            health answers after it; the helper's replacement time;
//   cube     `cube(10);` through the API, engine=wasm against engine=cli, BENCH_ENGINE_CUBE_PAIRS
//            (30) pairs, the order alternating; target: WASM median no slower;
//   corpus   the corpus models listed `ok` in tests/conformance/corpus.tsv, with their companion
//            files: the bare `openscad --export-format binstl` (2021, CGAL) then the API
//            (engine=wasm), BENCH_ENGINE_CORPUS_PAIRS (1) pairs each; models the bare command
//            takes more than BENCH_ENGINE_CLI_LIMIT (90) s for are skipped (the WASM time is still
//            shown); target: geometric-mean speed-up >= 10.
// Progress goes to stderr. Exit status 1 when something broke (an answer that is not a 200 miss).

import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [BASE, STATE, OUT, REPORT, VERDICTS] = process.argv.slice(2);
if (!VERDICTS) {
  console.error("usage: node engines.mjs BASE STATE_DIR OUT_DIR REPORT VERDICTS");
  process.exit(2);
}
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const env = process.env;
function intSetting(name, dflt) {
  const v = env[name] ?? String(dflt);
  if (!/^[1-9][0-9]*$/.test(v)) die(`${name}=${v}: expected a positive integer`);
  return Number(v);
}
const MEM_RENDERS = intSetting("BENCH_ENGINE_MEM_RENDERS", 1000);
const KILLS = intSetting("BENCH_ENGINE_KILLS", 5);
const CUBE_PAIRS = intSetting("BENCH_ENGINE_CUBE_PAIRS", 30);
const CORPUS_PAIRS = intSetting("BENCH_ENGINE_CORPUS_PAIRS", 1);
const CLI_LIMIT = Number(env.BENCH_ENGINE_CLI_LIMIT ?? 90);
if (!(CLI_LIMIT > 0)) die(`BENCH_ENGINE_CLI_LIMIT=${env.BENCH_ENGINE_CLI_LIMIT}: expected a number of seconds`);
const CORPUS = env.BENCH_CORPUS ?? env.SCADSERVE_CORPUS ?? "/work/shared/corpus/openscad-examples";
const CORPUS_TSV = env.BENCH_CORPUS_TSV ?? join(ROOT, "tests/conformance/corpus.tsv");
const OPENSCAD = env.OPENSCAD ?? "openscad";
const PARTS = (env.BENCH_ENGINE_PARTS ?? "memory,replace,cube,corpus").split(",").filter(Boolean);
const RUN_ID = env.BENCH_RUN_ID ?? `${Date.now()}-${process.pid}`;
const T_START = Date.now();

function die(msg) { console.error(`bench: error: ${msg}`); process.exit(1); }
function log(msg) { console.error(`bench: [engines ${String(Math.round((Date.now() - T_START) / 1000)).padStart(3)}s] ${msg}`); }
function say(line = "") { appendFileSync(REPORT, line + "\n"); }
function verdict(ok) { appendFileSync(VERDICTS, (ok ? "met" : "not") + "\n"); return ok ? "met" : "**NOT met**"; }
function invalid() { appendFileSync(VERDICTS, "invalid\n"); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// Statistics.
const sorted = (xs) => [...xs].sort((a, b) => a - b);
function quantile(xs, q) {       // linear interpolation between closest ranks
  if (!xs.length) return NaN;
  const s = sorted(xs), h = (s.length - 1) * q, lo = Math.floor(h);
  return s[lo] + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)]) - s[lo]);
}
const median = (xs) => quantile(xs, 0.5);
const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const ms = (x) => `${f(x, x < 100 ? 1 : 0)} ms`;
const sec = (x) => `${f(x / 1000, 2)} s`;

// ---- the instance ------------------------------------------------------------------------

// The one job runner (run.sh starts RUNNERS=1): the child of the runners' supervisor, whose
// pid is in run/runners.pids.
const SUPERVISOR = Number(readFileSync(join(STATE, "run/runners.pids"), "utf8").trim().split(/\s+/)[0]);
const WORKER = (() => {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]) === SUPERVISOR) return Number(d);
    } catch { /* gone */ }
  }
  die(`no runner under supervisor ${SUPERVISOR}`);
})();

async function health() {
  const r = await fetch(`${BASE}/api/health`);
  const j = await r.json();
  const w = (j.engines || []).find((e) => e.name === "wasm");
  if (!w) die("health lists no wasm engine");
  return w;
}
async function metric(name) {
  const t = await (await fetch(`${BASE}/api/metrics`)).text();
  const m = t.match(new RegExp(`^${name.replace(/[{}"=]/g, "\\$&")} ([0-9.e+]+)$`, "m"));
  return m ? Number(m[1]) : NaN;
}

// The helper's pid from health, checked to be a child of this instance's worker running helper.mjs
// (so that nothing else is ever killed or measured).
function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0], ppid: Number(rest[1]) };
  } catch { return null; }
}
function isOurHelper(pid) {
  const st = procStat(pid);
  if (!st || st.ppid !== WORKER || st.state === "Z") return false;
  try { return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("engines/wasm/helper.mjs"); } catch { return false; }
}
function memOf(pid) {     // KiB; VmRSS covers the whole process (its threads share it)
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const g = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m")) || [])[1]);
  return { rss: g("VmRSS"), hwm: g("VmHWM"), vsz: g("VmSize"), threads: Number((s.match(/^Threads:\s+(\d+)/m) || [])[1]) };
}
async function readyHelper(timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const h = await health();
    if (h.state === "ready" && isOurHelper(h.helper_pid)) return h;
    if (Date.now() > end) die(`the WASM helper is not ready after ${timeoutMs / 1000} s: ${JSON.stringify(h)}`);
    await sleep(20);
  }
}

// render(body, {engine, json}): POSTs a render; returns {status, engine, cache, fallback, renderS,
// ms (wall time of the exchange), bytes}.
// engine "" leaves the choice to the server (the default, WASM with the CLI as fallback).
// allowError: an answer other than 200 is returned (with errorType) instead of stopping.
async function render(body, { engine = "wasm", json = false, expectMiss = true, what = "", allowError = false } = {}) {
  const t0 = nowMs();
  const r = await fetch(`${BASE}/api/render${engine ? `?engine=${engine}` : ""}`, {
    method: "POST",
    headers: { "Content-Type": json ? "application/json" : "text/plain" },
    body,
  });
  const buf = Buffer.from(await r.arrayBuffer());
  const t1 = nowMs();
  const out = {
    status: r.status, engine: r.headers.get("x-engine"), cache: r.headers.get("x-cache"),
    fallback: r.headers.get("x-engine-fallback"), renderS: Number(r.headers.get("x-render-time")),
    ms: t1 - t0, bytes: buf.length, body: buf,
  };
  if (out.status !== 200 && allowError) {
    try { out.errorType = JSON.parse(buf.toString()).error.type; } catch { out.errorType = "?"; }
    return out;
  }
  if (out.status !== 200) die(`${what || "a render"} (engine=${engine}) answered ${out.status}: ${buf.toString().slice(0, 400)}`);
  if (expectMiss && out.cache !== "miss") die(`${what || "a render"} answered X-Cache: ${out.cache}, want a miss`);
  return out;
}

function tsv(name, header, rows) {
  writeFileSync(join(OUT, name), [header, ...rows].map((r) => r.join("\t")).join("\n") + "\n");
}

say("## 4. Engines: WASM (OpenSCAD 2025, manifold, warm helper) against the CLI (OpenSCAD 2021, CGAL)");
say("");
say(`A dedicated instance with RUNNERS=1, so that every render goes to one job runner and its one WASM helper. Every render below is a cache miss (a nonce in a comment), checked with X-Cache. Client times are wall times of the HTTP exchange in Node (fetch), without a client process start-up.`);
say("");

// ---- memory ------------------------------------------------------------------------------

async function partMemory() {
  log(`memory: the helper idle, then ${MEM_RENDERS} distinct renders`);
  const h0 = await readyHelper();
  await sleep(1000);                       // let the spare made at start settle
  const h1 = await health();
  if (h1.helper_pid !== h0.helper_pid) die("the helper changed while idle");
  const pid = h0.helper_pid;
  const idle = memOf(pid);
  const startsBefore = h1.helpers_started, rendersBefore = h1.helper_renders;
  const every = Math.max(1, Math.round(MEM_RENDERS / 10));
  const rows = [["idle", rendersBefore, idle.rss, idle.hwm, idle.vsz, idle.threads, ""]];
  const times = [];
  let engines = new Set();
  for (let i = 1; i <= MEM_RENDERS; i++) {
    // Small, distinct models: a few shapes whose sizes and facets change with i.
    const src = `translate([${i % 7}, 0, 0]) cube([${1 + (i % 13)}, ${1 + (i % 5)}, ${1 + (i % 3)}]);\n` +
      `sphere(${1 + (i % 4)}, $fn = ${8 + (i % 17)});\n// bench ${RUN_ID} mem ${i}\n`;
    const r = await render(src, { what: `memory render ${i}` });
    times.push(r.ms);
    engines.add(r.engine);
    if (i % every === 0 || i === MEM_RENDERS) {
      if (!isOurHelper(pid)) die(`the helper ${pid} went away after ${i} renders`);
      const m = memOf(pid);
      rows.push([i, i, m.rss, m.hwm, m.vsz, m.threads, f(median(times.slice(-every)), 1)]);
      log(`  ${i} renders: VmRSS ${f(m.rss / 1024, 1)} MiB, VmHWM ${f(m.hwm / 1024, 1)} MiB`);
    }
  }
  await sleep(500);
  const h2 = await health();
  const settled = memOf(pid);
  rows.push(["after 0.5 s", MEM_RENDERS, settled.rss, settled.hwm, settled.vsz, settled.threads, ""]);
  tsv("engines-memory.tsv", ["checkpoint", "renders", "VmRSS_kib", "VmHWM_kib", "VmSize_kib", "threads", "median_ms_since_last"], rows);
  const series = rows.slice(1, -1);          // the checkpoints during the renders
  const first = series[0], last = series[series.length - 1];
  const growth = last[2] - first[2];
  const spread = Math.max(...series.map((r) => r[2])) - Math.min(...series.map((r) => r[2]));
  const sameHelper = h2.helper_pid === pid && h2.helpers_started === startsBefore;
  const ok = growth < 20 * 1024;
  say(`### 4a. Memory of the WASM helper over ${MEM_RENDERS} renders`);
  say("");
  say(`Helper pid ${pid} (a child of runner ${WORKER}), read from /proc/${pid}/status: VmRSS idle ${f(idle.rss / 1024, 1)} MiB (peak ${f(idle.hwm / 1024, 1)} MiB, ${f(idle.vsz / 1048576, 2)} GiB of address space, ${idle.threads} threads), 1 s after it was ready. Then ${MEM_RENDERS} distinct small renders (a cube and a sphere, sizes and \`$fn\` varying), one at a time, sampled every ${every}. *median ms* is the client's median time per render since the previous sample. Answered by: ${[...engines].join(", ")}; ${sameHelper ? "the same helper throughout (no replacement)" : `**the helper was replaced** (helpers started ${startsBefore} -> ${h2.helpers_started}; pid ${pid} -> ${h2.helper_pid}): the series is not one process's`}. The baseline is the first sample (after ${every} renders): the growth from idle to there is the warm-up (the first instances, V8's compiled code), expected. Target: flat, i.e. VmRSS growth from the first sample to the last < 20 MiB.`);
  say("");
  say("| renders | VmRSS MiB | vs first sample | VmHWM MiB | median ms |");
  say("|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    say(`| ${r[0]} | ${f(r[2] / 1024, 1)} | ${r === rows[0] ? "" : `${r[2] - first[2] >= 0 ? "+" : ""}${f((r[2] - first[2]) / 1024, 1)}`} | ${f(r[3] / 1024, 1)} | ${r[6]} |`);
  }
  say("");
  say(`Idle to the end: ${f((settled.rss - idle.rss) / 1024, 1)} MiB (warm-up included). First sample to last: ${growth >= 0 ? "+" : ""}${f(growth / 1024, 1)} MiB, spread (max - min over the samples) ${f(spread / 1024, 1)} MiB: ${verdict(ok)}.`);
  if (!sameHelper) invalid();
  say("");
  return median(times);
}

// ---- replace -----------------------------------------------------------------------------

let cubeN = 0;
const cubeSrc = (tag) => `cube(10);\n// bench ${RUN_ID} ${tag} ${++cubeN}\n`;

async function partReplace() {
  log(`replace: ${KILLS} kills then renders at once (default engine); ${KILLS} kills then health, engine=wasm`);
  const rows = [];
  const replacedBefore = await metric("scadserve_wasm_helper_replaced_total");
  const startsBefore = await metric("scadserve_wasm_helper_starts_total");
  const warm = [];                           // the baseline: warm WASM renders between the kills
  for (let k = 1; k <= 2 * KILLS; k++) {
    const mode = k <= KILLS ? "render" : "health";
    await readyHelper();
    await sleep(300);
    warm.push((await render(cubeSrc("warm"), { what: "a warm render" })).ms);
    await sleep(300);                        // the spare is made after each answer
    const old = (await readyHelper()).helper_pid;
    if (!isOurHelper(old)) die(`pid ${old} is not this instance's helper`);
    const t0 = nowMs();
    process.kill(old, "SIGKILL");
    const row = { k, mode, old, staleState: "", stalePid: "" };
    if (mode === "render") {
      // The default engine (WASM, the CLI as fallback), then the next render at once: it waits
      // for the new helper, if one is coming.
      row.r1 = await render(cubeSrc("kill"), { engine: "", what: `the render after kill ${k}` });
      row.r2 = await render(cubeSrc("after"), { engine: "", what: `the second render after kill ${k}` });
      let r = row.r2;
      while (r.engine !== "wasm" && nowMs() - t0 < 30000)
        r = await render(cubeSrc("after"), { engine: "", what: "a render after a kill" });
      row.toWasm = nowMs() - t0;              // kill to the first answer by a WASM helper again
    } else {
      // Does health notice the dead helper by itself? Then a render asking for WASM explicitly
      // (it cannot fall back), then health until a new helper is ready.
      await sleep(250);
      const hs = await health();
      row.staleState = hs.state;
      row.stalePid = hs.helper_pid === old ? "old pid" : "new pid";
      row.r1 = await render(cubeSrc("kill"), { engine: "wasm", allowError: true, what: `the render after kill ${k}` });
      const t1 = nowMs();
      let hn;
      for (;;) {
        hn = await health();
        if (hn.state === "ready" && hn.helper_pid !== old && isOurHelper(hn.helper_pid)) break;
        if (nowMs() - t1 > 30000) die(`no ready helper 30 s after kill ${k}: ${JSON.stringify(hn)}`);
        await sleep(10);
      }
      row.toReady = nowMs() - t1;              // from the end of the render that found it dead
      row.startS = hn.start_seconds;
    }
    row.newPid = (await readyHelper()).helper_pid;
    rows.push(row);
    const st = (r) => `${f(r.ms, 1)} ms, ${r.status === 200 ? `by ${r.engine}` : `${r.status} ${r.errorType}`}`;
    log(`  kill ${k} (${mode}): the render after it ${st(row.r1)}` +
      (row.r2 ? `; the next ${st(row.r2)}; kill to WASM ${f(row.toWasm, 0)} ms` : "") +
      (mode === "health" ? `; health 250 ms after the kill: ${row.staleState}, ${row.stalePid}; ready ${f(row.toReady, 0)} ms after the render (start_seconds ${f(row.startS, 3)})` : ""));
  }
  const replaced = (await metric("scadserve_wasm_helper_replaced_total")) - replacedBefore;
  const starts = (await metric("scadserve_wasm_helper_starts_total")) - startsBefore;
  tsv("engines-replace.tsv", ["kill", "mode", "old_pid", "new_pid", "health_250ms_after_state", "health_250ms_after_pid",
    "r1_engine_asked", "r1_status", "r1_ms", "r1_engine", "r1_error", "r1_fallback", "r2_ms", "r2_engine",
    "kill_to_wasm_ms", "render_to_ready_ms", "start_seconds"],
  rows.map((r) => [r.k, r.mode, r.old, r.newPid, r.staleState, r.stalePid, r.mode === "render" ? "default" : "wasm",
    r.r1.status, f(r.r1.ms, 1), r.r1.engine ?? "", r.r1.errorType ?? "", r.r1.fallback ?? "",
    r.r2 ? f(r.r2.ms, 1) : "", r.r2?.engine ?? "", r.toWasm !== undefined ? f(r.toWasm, 1) : "",
    r.toReady !== undefined ? f(r.toReady, 1) : "", r.startS ?? ""]));
  const warmMed = median(warm);
  const R = rows.filter((r) => r.mode === "render"), Hh = rows.filter((r) => r.mode === "health");
  const answered = (xs) => Object.entries(xs.reduce((a, r) => {
    const k = r.status === 200 ? r.engine : `${r.status} ${r.errorType}`;
    a[k] = (a[k] || 0) + 1;
    return a;
  }, {})).map(([e, n]) => `${e} ${n}`).join(", ");
  say(`### 4b. Replacing a killed helper`);
  say("");
  say(`${2 * KILLS} times: a warm WASM render of \`cube(10);\` (the baseline), 0.3 s for the spare, SIGKILL to the helper (its pid from health, checked to be this runner's child running helper.mjs), then a render of \`cube(10);\`. In the first ${KILLS} (*render*) that render asks for no engine (the default: WASM, the CLI as fallback) and the next follows at once; *kill to WASM* is from the kill to the end of the first render a WASM helper answers again. In the other ${KILLS} (*health*) health is read 250 ms after the kill, then the render asks for engine=wasm, then health is read every 10 ms until it says ready with a new pid: *render to ready*, from the end of that render. Metrics over the ${2 * KILLS} kills: scadserve_wasm_helper_replaced_total +${replaced}, scadserve_wasm_helper_starts_total +${starts}.`);
  say("");
  say("| what | median | range | ratio to a warm WASM render | answered by |");
  say("|---|---:|---:|---:|---|");
  const rr = (xs, label, by) => say(`| ${label} | ${ms(median(xs))} | ${ms(Math.min(...xs))}-${ms(Math.max(...xs))} | ${f(median(xs) / warmMed, 1)} | ${by} |`);
  rr(warm, `warm WASM render (baseline, ${warm.length})`, "wasm");
  rr(R.map((r) => r.r1.ms), `the render after the kill, default engine (${R.length})`, answered(R.map((r) => r.r1)));
  rr(R.map((r) => r.r2.ms), `the render after that, at once (${R.length})`, answered(R.map((r) => r.r2)));
  rr(R.map((r) => r.toWasm), `kill to WASM answering again (${R.length})`, "");
  rr(Hh.map((r) => r.r1.ms), `the render after the kill, engine=wasm (${Hh.length})`, answered(Hh.map((r) => r.r1)));
  rr(Hh.map((r) => r.toReady), `that render to health ready with a new pid (${Hh.length})`, "");
  rr(Hh.map((r) => r.startS * 1000), `the new helper's start_seconds in health (${Hh.length})`, "");
  say("");
  const fallbacks = [...new Set(R.map((r) => r.r1.fallback).filter(Boolean))];
  if (fallbacks.length) say(`- The render after a kill with the default engine was answered by the CLI (X-Engine-Fallback: "${fallbacks.join('", "')}"): the runner finds the helper dead only when it sends it the request, falls back, and starts the new helper at once; that render does not wait for it.`);
  const errs = [...new Set(Hh.filter((r) => r.r1.status !== 200).map((r) => `${r.r1.status} ${r.r1.errorType}`))];
  if (errs.length) say(`- With engine=wasm the render after a kill fails: ${errs.join(", ")} (the helper died while idle, before the request).`);
  const stale = Hh.filter((r) => r.staleState === "ready" && r.stalePid === "old pid").length;
  if (stale) say(`- ${stale} of ${Hh.length} times health still said \`ready\` with the dead helper's pid 250 ms after the kill: the runner notices a dead helper only when it next renders.`);
  if (replaced !== 2 * KILLS) say(`- scadserve_wasm_helper_replaced_total grew by ${replaced} for ${2 * KILLS} kills.`);
  say("");
  return warmMed;
}

// ---- cube --------------------------------------------------------------------------------

async function partCube() {
  log(`cube: ${CUBE_PAIRS} pairs engine=wasm / engine=cli (and 2 warm-up pairs)`);
  const rows = [];
  for (let p = -1; p <= CUBE_PAIRS; p++) {
    const order = p % 2 === 0 ? ["wasm", "cli"] : ["cli", "wasm"];
    const res = {};
    for (const e of order) {
      const r = await render(cubeSrc(`cube-${e}`), { engine: e, what: `cube(10) engine=${e}` });
      if (r.engine !== e) die(`engine=${e} was answered by ${r.engine} (${r.fallback ?? "no fallback header"})`);
      res[e] = r;
    }
    if (p < 1) continue;
    rows.push([p, order[0], f(res.wasm.ms, 2), f(res.cli.ms, 2), f(res.wasm.renderS * 1000, 0), f(res.cli.renderS * 1000, 0), res.wasm.bytes, res.cli.bytes]);
  }
  tsv("engines-cube.tsv", ["pair", "first", "wasm_ms", "cli_ms", "wasm_render_ms", "cli_render_ms", "wasm_bytes", "cli_bytes"], rows);
  const W = rows.map((r) => Number(r[2])), C = rows.map((r) => Number(r[3]));
  const WS = rows.map((r) => Number(r[4])), CS = rows.map((r) => Number(r[5]));
  const per = rows.map((r) => Number(r[2]) / Number(r[3]));
  const ok = median(W) <= median(C);
  say(`### 4c. \`cube(10);\` end to end: engine=wasm against engine=cli`);
  say("");
  say(`${CUBE_PAIRS} pairs after 2 warm-up pairs, POST /api/render?engine=wasm and ?engine=cli on the same source with a new nonce each, the order within a pair alternating; every answer checked to come from the engine asked for. *client* = the exchange's wall time; *server* = X-Render-Time. *ratio* = WASM / CLI (below 1: WASM faster). Target: WASM's median client time no slower than the CLI's.`);
  say("");
  say("| | WASM | CLI (baseline) | ratio WASM/CLI |");
  say("|---|---:|---:|---:|");
  say(`| client median | ${ms(median(W))} | ${ms(median(C))} | ${f(median(W) / median(C), 2)} |`);
  say(`| client p90 | ${ms(quantile(W, 0.9))} | ${ms(quantile(C, 0.9))} | ${f(quantile(W, 0.9) / quantile(C, 0.9), 2)} |`);
  say(`| server (X-Render-Time) median | ${ms(median(WS))} | ${ms(median(CS))} | ${f(median(WS) / median(CS), 2)} |`);
  say(`| server p90 | ${ms(quantile(WS, 0.9))} | ${ms(quantile(CS, 0.9))} | ${f(quantile(WS, 0.9) / quantile(CS, 0.9), 2)} |`);
  say(`| per-pair ratio, median (range) | | | ${f(median(per), 2)} (${f(Math.min(...per), 2)}-${f(Math.max(...per), 2)}) |`);
  say("");
  say(`WASM no slower (median): ${verdict(ok)}.`);
  say("");
}

// ---- corpus ------------------------------------------------------------------------------

async function partCorpus() {
  // Columns by name (the file grows columns): path, files, seconds, outcome.
  const [head, ...lines] = readFileSync(CORPUS_TSV, "utf8").split("\n").filter(Boolean).map((l) => l.split("\t"));
  const col = Object.fromEntries(["path", "files", "seconds", "outcome"].map((n) => {
    const i = head.indexOf(n);
    if (i < 0) die(`${CORPUS_TSV} has no column ${n}`);
    return [n, i];
  }));
  // The WASM engine's own results only: a model it hands to the CLI (wasm column falls_back:
  // it drops part of it) is listed and left out.
  const wasmCol = head.indexOf("wasm");
  const handedOver = lines.filter((c) => c[col.outcome] === "ok" && wasmCol >= 0 && c[wasmCol] === "falls_back").map((c) => c[col.path]);
  const models = lines.filter((c) => c[col.outcome] === "ok" && !handedOver.includes(c[col.path])).map((c) => ({
    path: c[col.path], files: c[col.files] === "-" ? [] : c[col.files].split(","), listed: Number(c[col.seconds]) }));
  if (!models.length) die(`no ok models in ${CORPUS_TSV}`);
  if (handedOver.length) log(`corpus: left out (the WASM engine hands them to the CLI): ${handedOver.join(", ")}`);
  log(`corpus: ${models.length} models, ${CORPUS_PAIRS} pair(s) each, bare openscad (limit ${CLI_LIMIT} s) then the API`);
  const work = mkdtempSync(join(tmpdir(), "scadserve-bench-engines."));
  const rows = [], skipped = [], results = [];
  try {
    // A warm-up pair (page cache, fonts) on a small model, not kept.
    for (const [mi, m] of [[-1, models.find((x) => x.path.endsWith("LetterBlock.scad")) || models[0]], ...models.map((m, i) => [i, m])]) {
      const dir = join(work, String(mi + 1));
      mkdirSync(dir, { recursive: true });
      const src0 = readFileSync(join(CORPUS, m.path), "utf8");
      const files = {};
      for (const c of m.files) {
        const from = join(CORPUS, dirname(m.path), c);
        mkdirSync(dirname(join(dir, c)), { recursive: true });
        copyFileSync(from, join(dir, c));
        files[c] = readFileSync(from).toString("base64");
      }
      const res = { path: m.path, files: m.files, listed: m.listed, pairs: [] };
      for (let p = 1; p <= (mi < 0 ? 1 : CORPUS_PAIRS); p++) {
        const src = `${src0}\n// bench ${RUN_ID} corpus ${mi} pair ${p}\n`;
        writeFileSync(join(dir, "model.scad"), src);
        rmSync(join(dir, "out.stl"), { force: true });
        const t0 = nowMs();
        const b = spawnSync(OPENSCAD, ["--export-format", "binstl", "-o", "out.stl", "model.scad"],
          { cwd: dir, timeout: CLI_LIMIT * 1000, killSignal: "SIGKILL", stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
        const bareMs = nowMs() - t0;
        const timedOut = b.error?.code === "ETIMEDOUT" || b.signal === "SIGKILL";
        if (!timedOut && (b.status !== 0 || !existsSync(join(dir, "out.stl"))))
          die(`bare openscad failed on ${m.path} (exit ${b.status}): ${String(b.stderr).slice(-400)}`);
        const a = await render(JSON.stringify({ source: src, files }), { json: true, what: m.path });
        const pair = { bareMs, timedOut, api: a, bareBytes: timedOut ? 0 : statSync(join(dir, "out.stl")).size };
        res.pairs.push(pair);
        if (timedOut) break;
      }
      if (mi < 0) continue;
      results.push(res);
      const last = res.pairs[res.pairs.length - 1];
      log(`  ${m.path}: bare ${last.timedOut ? `> ${CLI_LIMIT} s (skipped)` : sec(last.bareMs)}, API ${sec(last.api.ms)} by ${last.api.engine}`);
    }
  } finally {
    if (env.BENCH_KEEP !== "1") rmSync(work, { recursive: true, force: true });
  }
  const tri = (bytes) => (bytes >= 84 ? Math.round((bytes - 84) / 50) : 0);
  const tsvRows = [];
  for (const r of results)
    r.pairs.forEach((p, i) => tsvRows.push([r.path, i + 1, r.listed, p.timedOut ? "timeout" : f(p.bareMs, 1), f(p.api.ms, 1),
      f(p.api.renderS * 1000, 0), p.api.engine, p.api.fallback ?? "", p.bareBytes, p.api.bytes]));
  tsv("engines-corpus.tsv", ["model", "pair", "corpus_tsv_s", "bare_ms", "api_ms", "api_render_ms", "api_engine", "api_fallback", "bare_bytes", "api_bytes"], tsvRows);

  const kept = results.filter((r) => !r.pairs.some((p) => p.timedOut));
  const skip = results.filter((r) => r.pairs.some((p) => p.timedOut));
  const fell = kept.filter((r) => r.pairs.some((p) => p.api.engine !== "wasm"));
  say(`### 4d. Cold renders of the corpus: the WASM engine through the API against the bare 2021 CLI`);
  say("");
  say(`The ${results.length} models listed \`ok\` in tests/conformance/corpus.tsv (${CORPUS}), each with its companion files (JSON \`files\`, base64). ${CORPUS_PAIRS} pair(s) per model after a warm-up pair: *bare* = \`${OPENSCAD} --export-format binstl -o out.stl model.scad\` (OpenSCAD 2021.01, CGAL) in a folder holding the companions, then *API* = POST /api/render?engine=wasm (JSON), on the same source with a new nonce comment. *speed-up* = bare / API (median over pairs); the figure the target is on is its geometric mean over the models. Models the bare command takes more than ${CLI_LIMIT} s for (BENCH_ENGINE_CLI_LIMIT) are skipped: killed at the limit, listed below with their WASM time, and left out of the mean. *triangles* from the binary STL sizes: manifold and CGAL do not triangulate alike.${handedOver.length ? ` Left out: ${handedOver.join(", ")} (the WASM engine drops part of it, so the service hands it to the CLI; corpus.tsv says why).` : ""}`);
  say("");
  say("| model | bare | API (WASM) | server render | speed-up | triangles bare / WASM |");
  say("|---|---:|---:|---:|---:|---:|");
  const speedups = [];
  for (const r of kept) {
    const b = median(r.pairs.map((p) => p.bareMs)), a = median(r.pairs.map((p) => p.api.ms));
    const s = median(r.pairs.map((p) => p.bareMs / p.api.ms));
    const eng = r.pairs.map((p) => p.api.engine).find((e) => e !== "wasm");
    speedups.push(s);
    const p0 = r.pairs[0];
    say(`| ${r.path}${r.files.length ? ` (+ ${r.files.join(", ")})` : ""} | ${sec(b)} | ${sec(a)}${eng ? ` (by ${eng})` : ""} | ${sec(median(r.pairs.map((p) => p.api.renderS * 1000)))} | ${f(s, 1)}x | ${tri(p0.bareBytes)} / ${tri(p0.api.bytes)} |`);
  }
  const gm = geomean(speedups);
  const bareTotal = kept.reduce((a, r) => a + median(r.pairs.map((p) => p.bareMs)), 0);
  const apiTotal = kept.reduce((a, r) => a + median(r.pairs.map((p) => p.api.ms)), 0);
  say(`| **all ${kept.length}** | ${sec(bareTotal)} | ${sec(apiTotal)} | | **${f(gm, 1)}x** geometric mean (${f(bareTotal / apiTotal, 1)}x on the totals; median ${f(median(speedups), 1)}x, range ${f(Math.min(...speedups), 1)}-${f(Math.max(...speedups), 1)}x) | |`);
  say("");
  if (skip.length) {
    say(`Skipped, the bare command over ${CLI_LIMIT} s: ${skip.map((r) => { const p = r.pairs[r.pairs.length - 1]; return `${r.path} (corpus.tsv ${r.listed} s; WASM ${sec(p.api.ms)}${p.api.engine !== "wasm" ? ` by ${p.api.engine}` : ""})`; }).join(", ")}.`);
    say("");
  }
  if (fell.length) {
    say(`**Answered by the CLI, not WASM** (fallback): ${fell.map((r) => `${r.path} (${r.pairs.map((p) => p.api.fallback).filter(Boolean).join("; ")})`).join(", ")}. Their rows compare the CLI with itself.`);
    say("");
    invalid();
  }
  say(`Geometric-mean speed-up >= 10: ${verdict(gm >= 10)}.`);
  say("");
}

// ---- main --------------------------------------------------------------------------------

const h = await readyHelper();
log(`instance at ${BASE}, runner ${WORKER}, helper ${h.helper_pid} (OpenSCAD ${h.version}, ready in ${f(h.start_seconds, 2)} s)`);
for (const part of PARTS) {
  if (part === "memory") await partMemory();
  else if (part === "replace") await partReplace();
  else if (part === "cube") await partCube();
  else if (part === "corpus") await partCorpus();
  else die(`BENCH_ENGINE_PARTS: unknown part ${part} (memory, replace, cube, corpus)`);
}
log(`done in ${Math.round((Date.now() - T_START) / 1000)} s`);
