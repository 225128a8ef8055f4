// api.test.mjs -- the render API module (scadserve-render.js) in a real page: concurrent requests,
// error types, memory results, the server retries with backoff (the network faked by routing),
// and server jobs: abort cancels the job, a failed job's error, a server without jobs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, launch } from './helpers.mjs';

let browser, page;
before(async () => {
  browser = await launch();
  page = await browser.context.newPage();
  // The embedders' entry point, on a page of its own (about:blank has no origin to load it from).
  await page.goto(`${BASE_URL}scadserve-render.js`);
});
after(async () => { await browser?.close(); });

// Runs fn(api) in the page, with api = the module at /scadserve-render.js.
function inPage(fn, arg) {
  return page.evaluate(async ([body, a]) => {
    const api = await import('/scadserve-render.js');
    // eslint-disable-next-line no-new-func
    return new Function('api', 'arg', `return (${body})(api, arg);`)(api, a);
  }, [fn.toString(), arg]);
}

test('concurrent renders each get their own answer, from WASM and from the server', async () => {
  const results = await inPage(async (api) => {
    const sizes = [3, 5, 7, 9];
    const jobs = sizes.map((n, i) => api.render(`cube(${n});`, { renderer: i % 2 ? 'server' : 'wasm', memory: false }));
    const done = await Promise.all(jobs);
    return done.map((r) => {
      const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
      let max = -Infinity;
      for (let t = 0; t < dv.getUint32(80, true); t++) max = Math.max(max, dv.getFloat32(84 + t * 50 + 12, true));
      return { renderer: r.renderer, max, id: r.requestId };
    });
  });
  assert.deepEqual(results.map((r) => r.max), [3, 5, 7, 9]);
  assert.deepEqual(results.map((r) => r.renderer.replace('-cache', '')), ['wasm', 'server', 'wasm', 'server']);
  assert.equal(new Set(results.map((r) => r.id)).size, 4, 'every request has its own UUID');
});

test('errors carry the server\'s types; a repeated render comes from memory; abort rejects', async () => {
  const r = await inPage(async (api) => {
    const out = {};
    try { await api.render('cube(', { renderer: 'wasm' }); } catch (e) { out.syntax = [e.name, e.type, e.line]; }
    try { await api.render('square(2);', { renderer: 'wasm' }); } catch (e) { out.twoD = [e.type]; }
    const svg = await api.render('square(2);', { format: 'svg' });
    out.svg = [svg.renderer, new TextDecoder().decode(svg.bytes).includes('<svg')];
    const a = await api.render('sphere(3);');
    const b = await api.render('sphere(3);');
    out.memory = [a.renderer, b.renderer, a.bytes.length === b.bytes.length];
    const ctl = new AbortController();
    const p = api.render('cylinder(5, 1, 1);', { signal: ctl.signal, memory: false });
    ctl.abort();
    try { await p; out.abort = 'resolved'; } catch (e) { out.abort = e.name; }
    try { await api.render('cube(1);', { renderer: 'gpu' }); } catch (e) { out.bad = e.type; }
    return out;
  });
  assert.deepEqual(r.syntax, ['RenderError', 'invalid_scad', 2]);
  assert.deepEqual(r.twoD, ['empty_model']);
  assert.deepEqual(r.svg, ['wasm', true]);
  assert.deepEqual(r.memory, ['wasm', 'memory', true]);
  assert.equal(r.abort, 'AbortError');
  assert.equal(r.bad, 'bad_request');
});

// The submission of a job (POST /api/jobs) is retried like any render request.
test('an overloaded server is retried with backoff, and not forever', async () => {
  let calls = 0;
  await page.route('**/api/jobs', async (route) => {
    calls++;
    if (calls === 1) {
      await route.fulfill({ status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ error: { type: 'overloaded', message: 'busy', request_id: 'x' } }) });
    } else {
      await route.continue();
    }
  });
  const ok = await inPage(async (api) => {
    const t0 = performance.now();
    const r = await api.render(`cube(4); // ${Math.random()}`, { renderer: 'server' });
    return { renderer: r.renderer, waited: performance.now() - t0 };
  });
  assert.equal(calls, 2);
  assert.match(ok.renderer, /^server/);
  assert.ok(ok.waited >= 1000, `honoured Retry-After: waited ${ok.waited} ms`);
  await page.unrouteAll();

  calls = 0;
  await page.route('**/api/jobs', (route) => {
    calls++;
    return route.fulfill({ status: 503, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: { type: 'overloaded', message: 'busy' } }) });
  });
  const failed = await inPage(async (api) => {
    try { await api.render('cube(5);', { renderer: 'server', memory: false }); return 'resolved'; } catch (e) { return e.type; }
  });
  assert.equal(failed, 'overloaded');
  assert.equal(calls, 4, 'gives up after four attempts');
  await page.unrouteAll();

  calls = 0;
  await page.route('**/api/jobs', (route) => {
    calls++;
    return route.fulfill({ status: 422, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: { type: 'invalid_scad', message: 'syntax error', line: 1 } }) });
  });
  const syntax = await inPage(async (api) => {
    try { await api.render('cube(6);', { renderer: 'server', memory: false }); return 'resolved'; } catch (e) { return [e.type, e.line]; }
  });
  assert.deepEqual(syntax, ['invalid_scad', 1]);
  assert.equal(calls, 1, 'an error in the model is not retried');
  await page.unrouteAll();
});

test('a server render carries OpenSCAD\'s echo and warnings, on a miss and on a hit', async () => {
  const r = await inPage(async (api) => {
    const src = `echo("from the server"); echoo(1); cube(2); // ${Math.random()}`;
    const miss = await api.render(src, { renderer: 'server', memory: false });
    const hit = await api.render(src, { renderer: 'server', memory: false });
    return [miss.renderer, miss.echo.map((e) => e.message), miss.warnings.length, hit.renderer, hit.echo.map((e) => e.message)];
  });
  assert.equal(r[0], 'server');
  assert.ok(r[1].some((line) => line.includes('from the server')), `echo: ${JSON.stringify(r[1])}`);
  assert.ok(r[2] >= 1, 'the unknown module warning');
  assert.equal(r[3], 'server-cache');
  assert.ok(r[4].some((line) => line.includes('from the server')), 'echo on a hit');
});

test('aborting a server render cancels its job, even one whose submission is still under way', async () => {
  const deletes = [];
  const onRequest = (r) => { if (r.method() === 'DELETE') deletes.push(new URL(r.url()).pathname); };
  page.on('request', onRequest);
  // The answer to POST /api/jobs is held back 600 ms; the render is aborted after 100 ms.
  await page.route('**/api/jobs', async (route) => {
    const res = await route.fetch();
    await new Promise((r) => { setTimeout(r, 600); });
    await route.fulfill({ response: res });
  });
  const r = await inPage(async (api) => {
    const ctl = new AbortController();
    const t0 = performance.now();
    const src = `function spin(n) = n <= 0 ? 0 : spin(n - 1); echo(spin(6e5)); cube(2); // ${Math.random()}`;
    const p = api.render(src, { renderer: 'server', memory: false, signal: ctl.signal });
    setTimeout(() => ctl.abort(new DOMException('stop', 'AbortError')), 100);
    try { await p; return { outcome: 'resolved' }; } catch (e) { return { outcome: e.name, ms: performance.now() - t0 }; }
  });
  assert.equal(r.outcome, 'AbortError');
  assert.ok(r.ms < 400, `rejected at once (${r.ms} ms), not after the answer`);
  await page.waitForTimeout(1000);
  await page.unrouteAll();
  page.off('request', onRequest);
  assert.equal(deletes.length, 1, 'the job created meanwhile is cancelled');
  const job = await (await fetch(new URL(deletes[0], BASE_URL))).json();
  assert.equal(job.state, 'cancelled');
});

test('a failed job is the same RenderError as a failed synchronous render', async () => {
  const r = await inPage(async (api) => {
    const events = [];
    try {
      await api.render(`x = 1;\ny = ;\ncube(x); // ${Math.random()}`, {
        renderer: 'server', memory: false, onProgress: (e) => events.push(e.state ?? e.phase),
      });
      return 'resolved';
    } catch (e) {
      return { name: e.name, type: e.type, line: e.line, renderer: e.renderer, engine: e.engine,
        log: /syntax error/.test(e.log), events };
    }
  });
  assert.equal(r.name, 'RenderError');
  assert.equal(r.type, 'invalid_scad');
  assert.equal(r.line, 2);
  assert.equal(r.renderer, 'server');
  assert.equal(r.engine, 'wasm');
  assert.equal(r.log, true);
  assert.equal(r.events[0], 'server');
  assert.equal(r.events.at(-1), 'failed');
});

test('a server without jobs gets the synchronous POST /api/render', async () => {
  let jobs = 0;
  await page.route('**/api/jobs', (route) => {
    jobs++;
    return route.fulfill({ status: 404, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: { type: 'not_found', message: 'no such endpoint' } }) });
  });
  const r = await inPage(async (api) => {
    const res = await api.render(`cube(3); // ${Math.random()}`, { renderer: 'server', memory: false });
    return [res.renderer, res.engine, res.bytes.length];
  });
  await page.unrouteAll();
  assert.equal(jobs, 1);
  assert.deepEqual(r, ['server', 'wasm', 684]);
});
