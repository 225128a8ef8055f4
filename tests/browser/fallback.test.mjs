// fallback.test.mjs -- when the browser cannot render (no WebAssembly, the .wasm blocked, past the
// time limit), the page asks the server by itself and says so. The server render is a job
// (POST /api/jobs, followed to the end); the bytes and OpenSCAD's log then come from the cache
// hit of POST /api/render, the one request serverRequests() counts.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, pageUrl, waitRender, watchErrors } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Small models: the server's OpenSCAD 2021.01 renders them in a fraction of a second. A comment
// with the time keeps the server cache out of the way; both server answers are accepted anyway.
const unique = () => `// ${process.pid}-${Date.now()}-${Math.random()}\n`;

function serverRequests(page) {
  const seen = [];
  page.on('request', (r) => { if (r.url().includes('/api/render')) seen.push(r); });
  return seen;
}

test('with WebAssembly disabled the page renders on the server and says so', async () => {
  const page = await browser.context.newPage();
  await page.addInitScript(() => { delete globalThis.WebAssembly; });
  const errors = watchErrors(page);
  const requests = serverRequests(page);
  await page.goto(pageUrl({ source: `${unique()}cube([3, 4, 5]);\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.match(s.renderer, /^server(-cache)?$/);
  assert.equal(s.fallback, 'wasm_unavailable');
  assert.equal(s.triangles, '12');
  assert.equal(s.bbox, '3.000,4.000,5.000');
  assert.match(s.text, /server (render|cache).*fallback: browser WASM unavailable/);
  // The server rendered it with the browser's engine, and the status line says so.
  assert.equal(s.engine, 'wasm');
  assert.match(s.text, /server (render|cache) \(OpenSCAD 2025 WASM engine\)/);
  assert.equal(requests.length, 1);
  const id = requests[0].headers()['x-request-id'];
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(s.requestId, id, 'the answer belongs to this request');
  assert.deepEqual(errors, []);
  await page.close();
});

test('with the .wasm request blocked the page falls back to the server and still shows the model', async () => {
  const page = await browser.context.newPage();
  let blocked = 0;
  await page.route(/\.wasm(\?.*)?$/, (route) => { blocked++; return route.abort('blockedbyclient'); });
  await page.goto(pageUrl({ source: `${unique()}cylinder(h = 6, r = 2, $fn = 12);\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.ok(blocked >= 1, 'the page asked for the .wasm');
  assert.match(s.renderer, /^server(-cache)?$/);
  assert.equal(s.fallback, 'wasm_unavailable');
  assert.ok(Number(s.triangles) > 0);
  assert.equal(s.bbox, '4.000,4.000,6.000');
  assert.match(await page.locator('#log').textContent(), /Falling back to the server/);
  await page.close();
});

test('a model past the browser time limit is stopped and handed to the server', async () => {
  const page = await browser.context.newPage();
  // Seconds of list building in WASM, a fraction of a second in the server's native OpenSCAD.
  const source = `${unique()}n = [for (i = [0:999]) for (j = [0:999]) i * j];\ncube(len(n) > 0 ? 7 : 1);\n`;
  const t0 = Date.now();
  await page.goto(pageUrl({ query: 'timeout=800', source }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.fallback, 'timeout');
  assert.match(s.renderer, /^server(-cache)?$/);
  assert.equal(s.bbox, '7.000,7.000,7.000');
  assert.match(s.text, /fallback: browser WASM timed out/);
  assert.ok(Date.now() - t0 < 15_000);

  // The worker was replaced: the next model renders in the browser again.
  await page.evaluate(() => window.scadserve.editor.setValue('cube(2);\n'));
  const next = await waitRender(page, { after: Number(s.seq) });
  assert.equal(next.state, 'done', next.text);
  assert.equal(next.renderer, 'wasm');
  await page.close();
});

test('a model that includes a library the browser lacks (MCAD) is rendered by the server', async () => {
  const page = await browser.context.newPage();
  await page.goto(pageUrl({ source: `${unique()}include <MCAD/units.scad>\ncube([3 * cm, 2 * cm, mm]);\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.fallback, 'wasm_failed');
  assert.match(s.renderer, /^server(-cache)?$/);
  assert.equal(s.bbox, '30.000,20.000,1.000');
  assert.match(s.text, /no library MCAD\/units\.scad/);
  assert.equal(s.engine, 'wasm', 'the server\'s WASM engine has MCAD');
  await page.close();
});

test('a model too deep for the browser\'s WASM stack renders on the server\'s WASM engine', async () => {
  const page = await browser.context.newPage();
  // A browser crash (its WASM stack is 64 KiB) hands the model to the server, whose WASM engine
  // has 32 MiB of stack and renders it.
  await page.goto(pageUrl({ source: `${unique()}function f(n) = n == 0 ? 0 : 1 + f(n - 1);\ncube(f(2000) / 100);\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.match(s.renderer, /^server(-cache)?$/);
  assert.equal(s.engine, 'wasm');
  assert.equal(s.bbox, '20.000,20.000,20.000');
  await page.close();
});

test('a syntax error is not sent to the server', async () => {
  const page = await browser.context.newPage();
  const requests = serverRequests(page);
  await page.goto(pageUrl({ source: 'cube(1)\nsphere(2);\nfoo(\n' }));
  const s = await waitRender(page);
  assert.equal(s.state, 'error');
  assert.equal(s.errorType, 'invalid_scad');
  assert.equal(requests.length, 0);
  await page.close();
});

test('with the server forced, errors come back with the server\'s types and line', async () => {
  const page = await browser.context.newPage();
  await page.goto(pageUrl({ query: 'renderer=server', source: `${unique()}x = 1;\ny = ;\ncube(x);\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'error', s.text);
  assert.equal(s.errorType, 'invalid_scad');
  assert.equal(s.renderer, 'server');
  assert.equal(s.errorLine, '3');
  assert.equal(s.engine, 'wasm');
  assert.match(s.text, /OpenSCAD 2025 WASM engine/);
  await page.close();
});
