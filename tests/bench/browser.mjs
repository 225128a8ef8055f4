// browser.mjs -- `make bench`, browser part: the page in headless Chromium against BASE_URL.
//
//   BASE_URL=http://127.0.0.1:8080/ node tests/bench/browser.mjs
//
// Reports: page load to first model (first and second visit) and the bytes transferred; parameter
// change to updated mesh on screen (candleStand.scad and a simple model, warm); browser WASM
// (manifold) render time against the server's cold render (its OpenSCAD, CGAL) for the corpus.
// Environment: BENCH_REPEAT (parameter changes per model, default 7), BENCH_CORPUS_LIMIT
// (how many corpus models, default all), BENCH_SERVER_TIMEOUT (seconds, default 60).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BASE_URL, launch, pageUrl, repoRoot, waitRender } from '../browser/helpers.mjs';

const REPEAT = Number(process.env.BENCH_REPEAT || 7);
const CORPUS_LIMIT = Number(process.env.BENCH_CORPUS_LIMIT || 1e9);
const SERVER_TIMEOUT_S = Number(process.env.BENCH_SERVER_TIMEOUT || 60);
const corpusDir = process.env.CORPUS || join(repoRoot, '..', 'shared', 'corpus', 'openscad-examples');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 1 : 0)} ms` : 'n/a');
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;

function table(title, header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\n${title}\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of all.slice(1)) console.log(line(r));
}

// Transferred bytes (headers + encoded body) of every request the page and its worker make,
// as Playwright sees them (requests answered from the HTTP cache count nothing).
function countBytes(page) {
  const counter = { bytes: 0, requests: 0 };
  page.on('requestfinished', async (req) => {
    try {
      const sizes = await req.sizes();
      counter.bytes += Math.max(0, sizes.responseBodySize) + Math.max(0, sizes.responseHeadersSize);
      counter.requests++;
    } catch { /* the page closed */ }
  });
  return counter;
}

async function visit(context, url) {
  const page = await context.newPage();
  const counter = countBytes(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  let wire = 0;
  cdp.on('Network.loadingFinished', (e) => { wire += e.encodedDataLength; });
  await page.goto(url);
  await waitRender(page);
  const firstModel = await page.evaluate(() => performance.getEntriesByName('scadserve:first-model')[0]?.startTime);
  const renderer = await page.locator('#status').getAttribute('data-renderer');
  await page.waitForLoadState('networkidle');
  await cdp.detach().catch(() => {});
  return { page, firstModel, renderer, bytes: Math.max(wire, counter.bytes), requests: counter.requests };
}

// Time from a customizer change to the new mesh drawn, measured inside the page.
async function parameterChanges(page, inputSelector, values) {
  const times = [];
  for (const value of values) {
    const before = Number(await page.locator('#status').getAttribute('data-seq'));
    const t0 = await page.evaluate(([sel, v]) => {
      const input = document.querySelector(sel);
      const start = performance.now();
      input.value = String(v);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      return start;
    }, [inputSelector, value]);
    const s = await waitRender(page, { after: before });
    if (s.state !== 'done') throw new Error(`render failed: ${s.text}`);
    times.push({ ms: Number(s.shownAt) - t0, renderer: s.renderer, triangles: Number(s.triangles) });
  }
  return times;
}

function corpusModels() {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.scad')) out.push(p);
    }
  };
  walk(corpusDir);
  return out.slice(0, CORPUS_LIMIT);
}

async function serverCold(source) {
  // A unique comment makes the cache key new: this is a real render, not a cache hit.
  const body = JSON.stringify({ source: `// bench ${Date.now()} ${Math.random()}\n${source}` });
  const t0 = performance.now();
  const res = await fetch(new URL('api/render', BASE_URL), {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
    signal: AbortSignal.timeout(SERVER_TIMEOUT_S * 1000),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const wall = performance.now() - t0;
  if (!res.ok) {
    let type = `HTTP ${res.status}`;
    try { type = JSON.parse(new TextDecoder().decode(bytes)).error.type; } catch { /* not JSON */ }
    return { ok: false, type };
  }
  return { ok: true, wall, render: Number(res.headers.get('X-Render-Time')) * 1000 || wall, cache: res.headers.get('X-Cache') };
}

async function main() {
  console.log(`scadserve browser benchmark against ${BASE_URL} (Chromium headless, SwiftShader WebGL)`);
  const browser = await launch();
  try {
    // 1. First and second visit.
    const first = await visit(browser.context, pageUrl());
    await first.page.close();
    const second = await visit(browser.context, pageUrl());
    table('Page load to first rendered model (default model)', ['visit', 'first model', 'renderer', 'requests', 'transferred'], [
      ['first (empty cache)', ms(first.firstModel), first.renderer, first.requests, kib(first.bytes)],
      ['second (warm cache)', ms(second.firstModel), second.renderer, second.requests, kib(second.bytes)],
    ]);

    // 2. Parameter change to updated mesh on screen, warm (the worker and instance are ready).
    const simple = second.page;
    const simpleTimes = await parameterChanges(simple, '#param-width-value', Array.from({ length: REPEAT }, (_, i) => 61 + i));
    const simpleBack = await parameterChanges(simple, '#param-width-value', [61, 62, 63]);
    await simple.close();

    const candleSource = readFileSync(join(corpusDir, 'Parametric', 'candleStand.scad'), 'utf8');
    const candle = await browser.context.newPage();
    await candle.goto(pageUrl({ source: candleSource }));
    await waitRender(candle);
    const candleTimes = await parameterChanges(candle, '#param-count-value', Array.from({ length: REPEAT }, (_, i) => 3 + ((i + 5) % 12)));
    const candleBack = await parameterChanges(candle, '#param-count-value', [8, 9, 10]);

    const row = (name, times) => {
      const xs = times.map((t) => t.ms);
      return [name, times.length, ms(median(xs)), ms(Math.min(...xs)), ms(Math.max(...xs)), [...new Set(times.map((t) => t.renderer))].join(',')];
    };
    table('Parameter change to updated mesh on screen (warm; target < 200 ms for the simple model)',
      ['model', 'n', 'median', 'min', 'max', 'renderer'], [
        row('simple (default tray, width)', simpleTimes),
        row('simple, values seen before', simpleBack),
        row('candleStand.scad (count)', candleTimes),
        row('candleStand.scad, values seen before', candleBack),
      ]);
    const simpleMedian = median(simpleTimes.map((t) => t.ms));
    console.log(`simple model: ${simpleMedian < 200 ? 'meets' : 'MISSES'} the 200 ms target (median ${ms(simpleMedian)})`);

    // 3. Browser WASM render against the server's cold render, model by model.
    const rows = [];
    const ratios = [];
    for (const file of corpusModels()) {
      const name = relative(corpusDir, file);
      const source = readFileSync(file, 'utf8');
      const wasm = await candle.evaluate(async (src) => {
        try {
          const r = await window.scadserve.render(src, { renderer: 'wasm', memory: false, timeoutMs: 120_000 });
          return { ok: true, ms: r.durationMs };
        } catch (err) {
          return { ok: false, type: err.type || err.name };
        }
      }, source);
      let server;
      try { server = await serverCold(source); } catch (err) { server = { ok: false, type: err.name }; }
      if (wasm.ok && server.ok) {
        const ratio = server.render / wasm.ms;
        ratios.push(ratio);
        rows.push([name, ms(wasm.ms), ms(server.render), `${ratio.toFixed(2)}x`]);
      } else {
        rows.push([name, wasm.ok ? ms(wasm.ms) : `(${wasm.type})`, server.ok ? ms(server.render) : `(${server.type})`, '-']);
      }
    }
    table('Corpus: browser WASM (manifold) vs server cold render (Debian OpenSCAD 2021.01, CGAL)',
      ['model', 'browser WASM', 'server cold', 'server/WASM'], rows);
    if (ratios.length) {
      const geo = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
      console.log(`geometric mean server/WASM over ${ratios.length} models: ${geo.toFixed(2)}x ` +
        `(above 1: the browser is faster); median ${median(ratios).toFixed(2)}x`);
    }
    await candle.close();
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.stack || err}`);
  process.exit(1);
});
