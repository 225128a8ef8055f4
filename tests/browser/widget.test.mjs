// widget.test.mjs -- <scad-model> (/scadserve-widget.js) on a page of another origin: twelve
// widgets render with their own models, a parameter change re-renders only its widget, the
// events carry the documented details, an error marks only its widget, the viewers share one
// WebGL context, a widget off screen waits; and the same bundle as an anywidget module, driven
// through the anywidget model interface (get, set, on('change:...'), save_changes).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { BASE_URL, browserMemory, launch, watchErrors } from './helpers.mjs';

// Another origin: a small HTTP server on another port of the loopback address (a page the
// browser was handed without one, by route.fulfill, counts as public, and Chrome keeps public
// pages off loopback addresses) serves the test pages; everything they load comes from the
// scadserve instance, cross-origin.
const pages = new Map();        // path -> HTML
let browser, server, OTHER;
before(async () => {
  browser = await launch();
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/favicon.ico') { res.writeHead(204); res.end(); return; }
    if (path.endsWith('.scad') && pages.has(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(pages.get(path));
      return;
    }
    const html = pages.get(path);
    res.writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html ?? 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  OTHER = `http://127.0.0.1:${server.address().port}/`;
});
after(async () => {
  await browser?.close();
  server?.close();
});

const WIDGET = new URL('scadserve-widget.js', BASE_URL).href;
const unique = () => `// ${process.pid}-${Date.now()}-${Math.random()}`;

async function openPage(body) {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  const path = `/embed-${pages.size}.html`;
  pages.set(path, `<!doctype html><html><head><meta charset="utf-8"><title>embed</title></head><body>${body}</body></html>`);
  const url = new URL(path, OTHER).href;
  assert.notEqual(new URL(url).origin, new URL(BASE_URL).origin, 'the page is on another origin');
  await page.goto(url);
  return { page, errors };
}

// Each widget's last event, recorded on the element as the page sees it.
const RECORDER = `<script>
  for (const name of ['scad-render-start', 'scad-render', 'scad-error', 'scad-parameters-change']) {
    document.addEventListener(name, (e) => {
      const t = e.target; t.events = t.events || []; t.events.push({ type: e.type, detail: e.detail });
    });
  }
</script>`;

async function events(page, id) {
  return page.evaluate((i) => (document.getElementById(i).events || []).map((e) => ({ ...e })), id);
}

async function waitDone(page, ids, count = 1, timeout = 90_000) {
  await page.waitForFunction(({ ids: list, n }) => list.every((i) => {
    const evs = document.getElementById(i).events || [];
    return evs.filter((e) => e.type === 'scad-render' || e.type === 'scad-error').length >= n;
  }), { ids, n: count }, { timeout, polling: 50 });
}

// Twelve models whose triangle counts differ: cubes (12), and spheres and cylinders of known $fn.
const MODELS = [
  ['w1', 'cube([10, 20, 5]);', 12],
  ['w2', 'cube(3);', 12],
  ['w3', 'cylinder(h = 5, r = 3, $fn = 6);', 20],
  ['w4', 'cylinder(h = 5, r = 3, $fn = 8);', 28],
  ['w5', 'cylinder(h = 5, r = 3, $fn = 10);', 36],
  ['w6', 'cylinder(h = 5, r = 3, $fn = 12);', 44],
  ['w7', 'cylinder(h = 5, r = 3, $fn = 16);', 60],
  ['w8', 'cylinder(h = 5, r1 = 3, r2 = 0, $fn = 7);', 12],
  ['w9', 'translate([5, 0, 0]) cube([1, 2, 3]);', 12],
  ['w10', 'cylinder(h = 5, r = 3, $fn = 5);', 16],
];

test('twelve widgets on a page of another origin render their own models; one change re-renders one widget', async (t) => {
  const tag = unique();
  const widgets = MODELS.map(([id, src]) => `<scad-model id="${id}" style="--scad-height: 160px">${src} ${tag}</scad-model>`);
  // Two with controls: a customizer parameter each.
  widgets.push(`<scad-model id="w11" controls parameters='{"n": 6}' style="--scad-height: 200px">n = 4; // [3:12]\ncylinder(h = 2, r = 4, $fn = n); ${tag}</scad-model>`);
  widgets.push(`<scad-model id="w12" controls style="--scad-height: 200px">size = 4; // [1:10]\ncube(size); ${tag}</scad-model>`);
  const { page, errors } = await openPage(`${RECORDER}<div style="display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px">${widgets.join('\n')}</div>
    <script type="module" src="${WIDGET}"></script>`);
  const ids = [...MODELS.map(([id]) => id), 'w11', 'w12'];
  await page.setViewportSize({ width: 1280, height: 3000 });   // all twelve in view
  await waitDone(page, ids);
  for (const [id, , triangles] of MODELS) {
    const evs = await events(page, id);
    const done = evs.find((e) => e.type === 'scad-render');
    assert.ok(done, `${id}: ${JSON.stringify(evs)}`);
    assert.equal(done.detail.triangles, triangles, `${id} triangles`);
    assert.ok(['wasm', 'memory', 'server', 'server-cache'].includes(done.detail.renderer), done.detail.renderer);
    assert.ok(Number.isFinite(done.detail.durationMs) && done.detail.durationMs >= 0);
    assert.equal(done.detail.bbox.length, 3);
    assert.ok('key' in done.detail);
    assert.equal(evs[0].type, 'scad-render-start');
  }
  assert.deepEqual((await events(page, 'w1')).find((e) => e.type === 'scad-render').detail.bbox, [10, 20, 5]);
  // The parameters attribute wins over the model's default: $fn = 6 (20 triangles), not 4.
  assert.equal((await events(page, 'w11')).find((e) => e.type === 'scad-render').detail.triangles, 20);
  // All viewers draw through one WebGL context.
  const canvases = await page.evaluate(() => [...document.querySelectorAll('scad-model')]
    .map((w) => w.shadowRoot.querySelector('canvas')?.getContext('2d') ? '2d' : 'other'));
  assert.deepEqual([...new Set(canvases)], ['2d']);
  // Shared: the OpenSCAD module was fetched once (compiled once, for every worker), and two
  // widgets showing the same model got one render (one request id).
  const wasmFetches = await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => /\.wasm$/.test(e.name)).length);
  assert.equal(wasmFetches, 1, 'the .wasm fetched once');
  // The whole browser's memory with twelve widgets on screen (make bench measures its peak).
  const mem = browserMemory(browser.profile);
  assert.ok(mem.processes >= 2 && mem.pss > 0, JSON.stringify(mem));
  t.diagnostic(`browser with twelve widgets: ${mem.processes} processes, PSS ${(mem.pss / 1048576).toFixed(0)} MiB, RSS ${(mem.rss / 1048576).toFixed(0)} MiB`);

  // A customizer change in w12 re-renders w12 and no other widget.
  const before = Object.fromEntries(await Promise.all(ids.map(async (i) => [i, (await events(page, i)).length])));
  const slider = page.locator('#w12').locator('input[type=number]').first();
  await slider.fill('7');
  await slider.press('Enter');
  await waitDone(page, ['w12'], 2);
  const w12 = await events(page, 'w12');
  const change = w12.find((e) => e.type === 'scad-parameters-change');
  assert.deepEqual(change?.detail.parameters, { size: 7 });
  assert.deepEqual(w12.filter((e) => e.type === 'scad-render').at(-1).detail.bbox, [7, 7, 7]);
  for (const i of ids.filter((x) => x !== 'w12')) assert.equal((await events(page, i)).length, before[i], `${i} did not re-render`);

  // Changing the parameters attribute re-renders that widget.
  await page.evaluate(() => document.getElementById('w11').setAttribute('parameters', '{"n": 9}'));
  await waitDone(page, ['w11'], 2);
  assert.equal((await events(page, 'w11')).filter((e) => e.type === 'scad-render').at(-1).detail.triangles, 32);
  assert.deepEqual(errors, []);
  await page.close();
});

test('identical widgets share one render', async () => {
  const tag = unique();
  const same = `cylinder(h = 3, r = 2, $fn = 30); ${tag}`;
  const { page, errors } = await openPage(`${RECORDER}
    <scad-model id="s1">${same}</scad-model><scad-model id="s2">${same}</scad-model><scad-model id="s3">${same}</scad-model>
    <script type="module" src="${WIDGET}"></script>`);
  await waitDone(page, ['s1', 's2', 's3']);
  const done = await Promise.all(['s1', 's2', 's3'].map(async (i) => (await events(page, i)).find((e) => e.type === 'scad-render').detail));
  assert.deepEqual(done.map((d) => d.triangles), [116, 116, 116]);
  assert.equal(new Set(done.map((d) => d.requestId)).size, 1, `one render: ${done.map((d) => `${d.requestId} ${d.renderer}`).join(', ')}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('an error marks only its widget, with its type and line', async () => {
  const tag = unique();
  const { page, errors } = await openPage(`${RECORDER}
    <scad-model id="good">cube(2); ${tag}</scad-model>
    <scad-model id="bad">cube(2);\nsphere(1)\ncube(3; ${tag}</scad-model>
    <script type="module" src="${WIDGET}"></script>`);
  await waitDone(page, ['good', 'bad']);
  const bad = (await events(page, 'bad')).find((e) => e.type === 'scad-error');
  assert.equal(bad?.detail.type, 'invalid_scad');
  assert.equal(bad.detail.line, 3);
  assert.match(bad.detail.message, /syntax error/i);
  assert.equal(await page.evaluate(() => document.getElementById('bad').dataset.state), 'error');
  assert.equal(await page.evaluate(() => document.getElementById('good').dataset.state), 'done');
  assert.ok((await events(page, 'good')).some((e) => e.type === 'scad-render'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a widget off screen is not rendered until it scrolls into view; src, source and methods', async () => {
  const tag = unique();
  const { page, errors } = await openPage(`${RECORDER}
    <scad-model id="near">cube(1); ${tag}</scad-model>
    <div style="height: 5000px"></div>
    <scad-model id="far">cube(5); ${tag}</scad-model>
    <script type="module" src="${WIDGET}"></script>`);
  await waitDone(page, ['near']);
  await page.waitForTimeout(300);
  assert.deepEqual(await events(page, 'far'), [], 'nothing happened off screen');
  await page.locator('#far').scrollIntoViewIfNeeded();
  await waitDone(page, ['far']);
  assert.deepEqual((await events(page, 'far')).find((e) => e.type === 'scad-render').detail.bbox, [5, 5, 5]);
  // The source property re-renders; render() resolves; toBlob() is a PNG of the view.
  const png = await page.evaluate(async () => {
    const w = document.getElementById('far');
    w.source = 'cube([2, 3, 4]);';
    await new Promise((r) => w.addEventListener('scad-render', r, { once: true }));
    const blob = await w.toBlob();
    return { type: blob.type, size: blob.size, state: w.dataset.state };
  });
  assert.equal(png.type, 'image/png');
  assert.ok(png.size > 1000, `png ${png.size} bytes`);
  assert.deepEqual((await events(page, 'far')).filter((e) => e.type === 'scad-render').at(-1).detail.bbox, [2, 3, 4]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('src loads the model from a URL; download() saves it under its name; the view takes keyboard focus', async () => {
  const tag = unique();
  pages.set('/models/bracket.scad', `width = 30; // [10:50]\ncube([width, 10, 2]); ${tag}\n`);
  const { page, errors } = await openPage(`${RECORDER}
    <scad-model id="b" src="models/bracket.scad" parameters='{"width": 40}' controls editor download></scad-model>
    <script type="module" src="${WIDGET}"></script>`);
  await waitDone(page, ['b']);
  assert.deepEqual((await events(page, 'b')).find((e) => e.type === 'scad-render').detail.bbox, [40, 10, 2]);
  // From the top of the page, Tab reaches the view, then the customizer's controls.
  await page.bringToFront();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'b');
  assert.equal(await page.evaluate(() => document.getElementById('b').shadowRoot.activeElement?.tagName), 'CANVAS');
  await page.keyboard.press('Tab');
  assert.ok(await page.evaluate(() => Boolean(document.getElementById('b').shadowRoot.activeElement?.closest('.controls'))),
    'the next Tab is in the customizer');
  // The Download button saves the model under its name.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#b').locator('button.download').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'bracket.stl');
  const bytes = await (await import('node:fs/promises')).readFile(await download.path());
  assert.equal(bytes.length, 84 + 12 * 50, 'a binary STL of 12 triangles');
  // The editor shows the file src names.
  assert.match(await page.locator('#b').locator('.cm-content').textContent(), /cube\(\[width, 10, 2\]\)/);
  // The control set back to the model's default (30) renders the default, not the attribute's 40.
  const width = page.locator('#b').locator('input[type=number]').first();
  await width.fill('30');
  await waitDone(page, ['b'], 2);
  assert.deepEqual((await events(page, 'b')).filter((e) => e.type === 'scad-render').at(-1).detail.bbox, [30, 10, 2]);
  await width.fill('40');
  await waitDone(page, ['b'], 3);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the anywidget module renders, follows source and parameters, and writes back its traits', async () => {
  const tag = unique();
  const { page, errors } = await openPage(`<div id="cell"></div>
    <script type="module">
      import widget from '${WIDGET}';
      // The anywidget model interface, as anywidget's front end offers it to render().
      class Model {
        constructor(values) { this.values = { ...values }; this.handlers = {}; this.saved = 0; this.history = []; }
        get(k) { return this.values[k]; }
        set(k, v) { this.values[k] = v; this.history.push([k, v]); (this.handlers['change:' + k] || []).forEach((h) => h()); }
        on(name, h) { (this.handlers[name] ||= []).push(h); }
        off(name, h) { this.handlers[name] = (this.handlers[name] || []).filter((x) => x !== h); }
        save_changes() { this.saved++; }
      }
      window.model = new Model({ source: 'cube([1, 2, 3]); ${tag}', parameters: {}, server_url: '${BASE_URL}', format: 'stl' });
      window.cleanup = widget.render({ model: window.model, el: document.getElementById('cell') });
    </script>`);
  const waitStatus = async (n) => page.waitForFunction((count) => window.model?.history.filter(([k, v]) => k === 'status' && v !== 'rendering').length >= count,
    n, { timeout: 60_000, polling: 50 });
  await waitStatus(1);
  let m = await page.evaluate(() => ({ ...window.model.values, saved: window.model.saved }));
  assert.equal(m.status, 'done', JSON.stringify(m));
  assert.equal(m.triangles, 12);
  assert.deepEqual(m.bbox, [1, 2, 3]);
  assert.equal(m.error, '');
  assert.ok(m.saved >= 2, 'save_changes called');
  // A new source from the kernel re-renders.
  await page.evaluate(() => window.model.set('source', 'size = 2; cylinder(h = size, r = 1, $fn = 6);'));
  await waitStatus(2);
  m = await page.evaluate(() => ({ ...window.model.values }));
  assert.equal(m.triangles, 20);
  assert.deepEqual(m.bbox.map((v) => Math.round(v)), [2, 2, 2]);
  // New parameters re-render.
  await page.evaluate(() => window.model.set('parameters', { size: 5 }));
  await waitStatus(3);
  m = await page.evaluate(() => ({ ...window.model.values }));
  assert.equal(m.bbox[2], 5);
  // An error is written back.
  await page.evaluate(() => window.model.set('source', 'cube(1;'));
  await waitStatus(4);
  m = await page.evaluate(() => ({ ...window.model.values }));
  assert.equal(m.status, 'error');
  assert.match(m.error, /^invalid_scad: /);
  // The cleanup render() returned removes the element.
  assert.equal(await page.evaluate(() => { window.cleanup(); return document.querySelectorAll('scad-model').length; }), 0);
  assert.deepEqual(errors, []);
  await page.close();
});
