// widgets.mjs -- `make bench`, browser part: twelve <scad-model> widgets on a page of another
// origin, against BASE_URL (tests/bench/browser.sh runs it after browser.mjs).
//
//   BASE_URL=http://127.0.0.1:8080/ node tests/bench/widgets.mjs
//
// Reports: time from navigation until all twelve have rendered (a first visit: the worker, the
// .wasm and the fonts fetched and compiled; then a second page load with the HTTP cache warm);
// the peak memory of the whole browser (every Chromium process, sampled every 100 ms: the sum of
// their PSS, and the sum of their RSS, which counts shared pages once per process); the time for
// a parameter change in one widget to reach its screen (BENCH_REPEAT changes, default 7).
// Targets (issue 10): the whole browser under 2 GB; a parameter change under 200 ms.

import { createServer } from 'node:http';
import { BASE_URL, browserMemory, launch } from '../browser/helpers.mjs';

const REPEAT = Number(process.env.BENCH_REPEAT || 7);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const mib = (b) => `${(b / 1048576).toFixed(0)} MiB`;

// Twelve models: small and medium, two with customizer controls.
const MODELS = [
  'cube([10, 20, 5]);',
  'sphere(10, $fn = 48);',
  'cylinder(h = 10, r = 5, $fn = 64);',
  'difference() { cube(20, center = true); sphere(12, $fn = 48); }',
  'for (i = [0:9]) translate([i * 3, 0, 0]) cube([2, 2, i + 1]);',
  'minkowski() { cube([10, 10, 2]); sphere(1, $fn = 16); }',
  'linear_extrude(height = 10, twist = 90, slices = 20) square(10, center = true);',
  'rotate_extrude($fn = 64) translate([10, 0]) circle(3, $fn = 32);',
  'hull() { sphere(5, $fn = 24); translate([20, 0, 0]) sphere(3, $fn = 24); }',
  'union() { cube(10); translate([5, 5, 10]) cylinder(h = 10, r = 3, $fn = 32); }',
];
const CONTROLLED = [
  'size = 10; // [1:50]\ncube(size);',
  'n = 24; // [3:96]\nsphere(10, $fn = n);',
];

async function main() {
  const server = createServer((req, res) => {
    if (req.url.startsWith('/favicon')) { res.writeHead(204); res.end(); return; }
    const tag = new URL(req.url, 'http://x').searchParams.get('tag') ?? '';
    const widgets = MODELS.map((m, i) => `<scad-model id="w${i}" style="--scad-height: 220px">${m} // ${tag}</scad-model>`);
    CONTROLLED.forEach((m, i) => widgets.push(`<scad-model id="c${i}" controls style="--scad-height: 260px">${m} // ${tag}</scad-model>`));
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><meta charset="utf-8"><title>twelve widgets</title>
      <div style="display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px">${widgets.join('\n')}</div>
      <script>
        window.rendered = new Map(); window.failed = [];
        document.addEventListener('scad-render', (e) => window.rendered.set(e.target.id, performance.now()));
        document.addEventListener('scad-error', (e) => window.failed.push([e.target.id, e.detail]));
      </script>
      <script type="module" src="${new URL('scadserve-widget.js', BASE_URL).href}"></script>`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const { profile } = browser;
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 2000 });   // all twelve in view
  let peak = { pss: 0, rss: 0, processes: 0 };
  const sampler = setInterval(() => {
    const m = browserMemory(profile);
    if (m.pss > peak.pss) peak = { ...peak, pss: m.pss, processes: m.processes };
    if (m.rss > peak.rss) peak.rss = m.rss;
  }, 100);

  const visits = [];
  for (const [i, label] of [[0, 'first visit'], [1, 'second visit (HTTP cache warm)']].values()) {
    const t0 = Date.now();
    await page.goto(`${origin}/?tag=${process.pid}-${Date.now()}-${i}`);
    await page.waitForFunction(() => window.rendered.size + window.failed.length >= 12, null, { timeout: 180_000, polling: 50 });
    const failed = await page.evaluate(() => window.failed);
    visits.push({ label, ms: Date.now() - t0, failed });
  }

  // Parameter changes in one widget (c0: cube(size)), each to its scad-render.
  const changes = [];
  for (let k = 0; k < REPEAT; k++) {
    const ms = await page.evaluate(async (value) => {
      const w = document.getElementById('c0');
      const t0 = performance.now();
      const done = new Promise((r) => w.addEventListener('scad-render', r, { once: true }));
      w.setAttribute('parameters', JSON.stringify({ size: value }));
      await done;
      return performance.now() - t0;
    }, 11 + k);
    changes.push(ms);
  }
  clearInterval(sampler);
  const contexts = await page.evaluate(() => [...document.querySelectorAll('scad-model')]
    .filter((w) => w.shadowRoot.querySelector('canvas')?.getContext('2d')).length);

  console.log('\nTwelve <scad-model> widgets on a page of another origin (a Node server on another port), 1280x2000 viewport (all in view)');
  for (const v of visits) {
    console.log(`  ${v.label}: all twelve rendered in ${v.ms} ms${v.failed.length ? `; failed: ${JSON.stringify(v.failed)}` : ''}`);
  }
  console.log(`  viewers drawing through the shared WebGL context: ${contexts} of 12`);
  console.log(`  peak memory of the whole browser (${peak.processes} processes): PSS ${mib(peak.pss)}, RSS ${mib(peak.rss)} (RSS counts shared pages once per process)`);
  console.log(`  ${peak.pss < 2 * 1024 ** 3 ? 'meets' : 'MISSES'} the 2 GB target (PSS)`);
  console.log(`  parameter change in one widget to its mesh on screen (a cube, ${REPEAT} changes): median ${median(changes).toFixed(0)} ms, range ${Math.min(...changes).toFixed(0)}-${Math.max(...changes).toFixed(0)} ms`);
  console.log(`  ${median(changes) < 200 ? 'meets' : 'MISSES'} the 200 ms target`);
  await browser.close();
  server.close();
}

main().catch((err) => { console.error(`bench widgets: ${err.stack || err}`); process.exit(1); });
