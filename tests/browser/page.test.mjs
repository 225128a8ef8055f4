// page.test.mjs -- the page in a real headless Chromium against the running server (BASE_URL):
// WASM rendering, error markers, the customizer, text(), download, share links, cancellation.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  colourCount, corpusDir, decodePng, launch, modelPixelShare, pageUrl, seq, status, waitRender, watchErrors,
} from './helpers.mjs';

const corpus = corpusDir;
const candleStandPath = process.env.CANDLESTAND || join(corpus, 'Parametric', 'candleStand.scad');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function open(url) {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  await page.goto(url);
  return { page, errors };
}

test('the default model renders in the browser with WASM, and the canvas shows it', async () => {
  const { page, errors } = await open(pageUrl());
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.renderer, 'wasm');
  assert.ok(Number(s.triangles) > 0, `triangles: ${s.triangles}`);
  assert.match(s.text, /browser WASM/);
  assert.match(await page.locator('#model-info').textContent(), /60 × 40 × 18 mm/);

  // Screenshot of the viewer: the model's colour covers a real part of it, and it is not flat.
  const png = decodePng(await page.locator('#viewer canvas').screenshot());
  const share = modelPixelShare(png);
  assert.ok(share > 0.03, `model pixels: ${(share * 100).toFixed(2)} %`);
  assert.ok(colourCount(png) > 50, `colours: ${colourCount(png)}`);

  // The customizer shows the default model's parameters, grouped.
  assert.deepEqual(await page.locator('.cz-group summary').allTextContents(), ['Size', 'Details']);
  assert.equal(await page.locator('#param-width').getAttribute('type'), 'range');
  assert.equal(await page.locator('#param-corners').evaluate((e) => e.tagName), 'SELECT');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a syntax error marks its line in the editor and says what OpenSCAD said', async () => {
  const source = 'a = 1;\nb = 2;\nc = ;\ncube(a);\n';
  const { page } = await open(pageUrl({ source }));
  const s = await waitRender(page);
  assert.equal(s.state, 'error');
  assert.equal(s.errorType, 'invalid_scad');
  assert.equal(s.errorLine, '3');
  assert.equal(s.renderer, 'wasm', 'a syntax error is no reason to ask the server');
  assert.match(s.text, /syntax error/i);
  // The highlighted line is the third line of the editor, and the lint gutter has its mark.
  const lines = await page.locator('.cm-content .cm-line').evaluateAll(
    (els) => els.map((e, i) => (e.classList.contains('cm-errorLine') ? i + 1 : 0)).filter(Boolean));
  assert.deepEqual(lines, [3]);
  await page.locator('.cm-lint-marker-error').first().waitFor();
  const marker = await page.locator('.cm-lint-marker-error').first().boundingBox();
  const line3 = await page.locator('.cm-content .cm-line').nth(2).boundingBox();
  assert.ok(Math.abs((marker.y + marker.height / 2) - (line3.y + line3.height / 2)) < line3.height,
    'gutter mark beside line 3');
  assert.match(await page.locator('#log').textContent(), /syntax error/i);

  // Fixing the line clears the mark and renders.
  const before = await seq(page);
  await page.locator('.cm-content .cm-line').nth(2).click();
  await page.keyboard.press('End');
  await page.keyboard.press('Backspace');
  await page.keyboard.type('3;');
  const fixed = await waitRender(page, { after: before });
  assert.equal(fixed.state, 'done', fixed.text);
  assert.equal(fixed.bbox, '1.000,1.000,1.000');
  assert.equal(await page.locator('.cm-errorLine').count(), 0);
  await page.close();
});

test('customizer: candleStand.scad gets its controls, and changing one re-renders with the new value', async () => {
  const source = readFileSync(candleStandPath, 'utf8');
  const { page, errors } = await open(pageUrl({ source }));
  const first = await waitRender(page);
  assert.equal(first.state, 'done', first.text);
  assert.equal(first.renderer, 'wasm');
  assert.deepEqual(await page.locator('.cz-group summary').allTextContents(),
    ['Candle Stand', 'Number of candle holders', 'Candle Holder', 'Properties of support', 'Properties of Ring']);
  // // [70:large,50:medium,30:small] is a drop-down with labels; // [3:14] a slider; a boolean a checkbox.
  assert.deepEqual(await page.locator('#param-length option').allTextContents(), ['large', 'medium', 'small']);
  assert.equal(await page.locator('#param-length').inputValue(), '50');
  assert.equal(await page.locator('#param-count').getAttribute('type'), 'range');
  assert.equal(await page.locator('#param-count').getAttribute('min'), '3');
  assert.equal(await page.locator('#param-count').getAttribute('max'), '14');
  assert.equal(await page.locator('#param-centerCandle').getAttribute('type'), 'checkbox');
  assert.equal(await page.locator('[data-param=count] .cz-desc').textContent(), 'Number of candle holders');

  // length 50 -> 70 (large): the stand grows 20 mm taller.
  let n = await seq(page);
  await page.locator('#param-length').selectOption('70');
  const taller = await waitRender(page, { after: n });
  assert.equal(taller.state, 'done', taller.text);
  const z = (s) => Number(s.bbox.split(',')[2]);
  assert.ok(Math.abs(z(taller) - z(first) - 20) < 0.01, `height ${z(first)} -> ${z(taller)}`);

  // count 7 -> 10 holders: more triangles.
  n = await seq(page);
  await page.locator('#param-count-value').fill('10');
  const more = await waitRender(page, { after: n });
  assert.equal(more.state, 'done', more.text);
  // Each holder is a few hundred triangles; the 360-sided centre candle does not change.
  assert.ok(Number(more.triangles) - Number(taller.triangles) > 3 * 200, `triangles ${taller.triangles} -> ${more.triangles}`);
  assert.equal(z(more), z(taller));

  // Back to 7: the result comes from memory, identical to before.
  n = await seq(page);
  await page.locator('#param-count-value').fill('7');
  const back = await waitRender(page, { after: n });
  assert.equal(back.renderer, 'memory');
  assert.equal(back.triangles, taller.triangles);
  assert.deepEqual(errors, []);
  await page.close();
});

test('text() produces geometry (fonts come from the server)', async () => {
  const { page } = await open(pageUrl({ source: 'linear_extrude(2) text("Hello", size = 10);\n' }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.renderer, 'wasm');
  assert.ok(Number(s.triangles) > 100, `triangles: ${s.triangles}`);
  const [x, y, zz] = s.bbox.split(',').map(Number);
  assert.ok(x > 25 && y > 5 && Math.abs(zz - 2) < 1e-6, `bbox ${s.bbox}`);
  await page.close();
});

test('a 2D model is shown flat and downloads as SVG', async () => {
  const { page } = await open(pageUrl({ source: 'difference() { square([20, 10]); translate([5, 5]) circle(3, $fn = 8); }\n' }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.dimensions, '2');
  assert.equal(s.bbox, '20.000,10.000,0.000');
  assert.ok(Number(s.triangles) >= 8, `triangles: ${s.triangles}`);
  assert.match(s.text, /2D model/);
  assert.match(await page.locator('#format').inputValue(), /^(svg|dxf)$/, 'a 2D format is offered first');
  await page.locator('#format').selectOption('svg');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  assert.equal(download.suggestedFilename(), 'model.svg');
  assert.match(readFileSync(await download.path(), 'utf8'), /<svg[^>]*viewBox="0 -10 20 10"/);
  await page.close();
});

test('download gives a valid binary STL of the model on screen', async () => {
  const { page } = await open(pageUrl({ source: 'cube([10, 20, 30]);\ntranslate([20, 0, 0]) cylinder(h = 5, r1 = 5, r2 = 0, $fn = 4);\n' }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  assert.equal(download.suggestedFilename(), 'model.stl');
  const bytes = readFileSync(await download.path());
  const n = bytes.readUInt32LE(80);
  assert.equal(bytes.length, 84 + 50 * n, 'binary STL size');
  assert.equal(n, Number(s.triangles));
  let maxX = -Infinity;
  for (let i = 0; i < n; i++) {
    for (let v = 0; v < 3; v++) maxX = Math.max(maxX, bytes.readFloatLE(84 + i * 50 + 12 + v * 12));
  }
  assert.ok(Math.abs(maxX - 25) < 1e-3, `max x ${maxX}`);

  // Another format is rendered on demand.
  await page.locator('#format').selectOption('off');
  const [off] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  assert.equal(off.suggestedFilename(), 'model.off');
  assert.match(readFileSync(await off.path(), 'utf8'), /^OFF/);
  await page.close();
});

test('a share link reopens the same source and parameter values', async () => {
  const source = 'size = 10; // [1:50]\nround = false;\nif (round) sphere(size / 2); else cube(size);\n';
  const { page } = await open(pageUrl({ source }));
  let s = await waitRender(page);
  assert.equal(s.bbox, '10.000,10.000,10.000');
  let n = await seq(page);
  await page.locator('#param-size-value').fill('17');
  s = await waitRender(page, { after: n });
  assert.equal(s.bbox, '17.000,17.000,17.000');
  await page.locator('#share').click();
  await page.locator('#share-url').waitFor({ state: 'visible' });   // filled, then shown
  const link = await page.locator('#share-url').inputValue();
  assert.match(link, /#s=[A-Za-z0-9_-]+$/);

  const { page: again } = await open(link);
  const t = await waitRender(again);
  assert.equal(t.state, 'done', t.text);
  assert.equal(t.bbox, '17.000,17.000,17.000');
  assert.equal(t.triangles, s.triangles);
  assert.equal(await again.locator('#param-size-value').inputValue(), '17');
  assert.equal(await again.evaluate(() => window.scadserve.editor.getValue()), source);
  n = await seq(again);
  await again.locator('#param-round').check();
  const sphere = await waitRender(again, { after: n });
  assert.ok(Number(sphere.triangles) > 12, 'the boolean switched the model to a sphere');
  await page.close();
  await again.close();
});

test('typing re-renders after a pause, and a new edit cancels a render in flight', async () => {
  // About 3.5 s of evaluation in WASM: long enough to be caught in flight.
  const slow = 'n = [for (i = [0:999]) for (j = [0:999]) i * j];\ncube(len(n) > 0 ? 4 : 1);\n';
  const { page } = await open(pageUrl({ source: slow }));
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'rendering');
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  const t0 = Date.now();
  await page.keyboard.type('cube(2);');
  const s = await waitRender(page);
  const took = Date.now() - t0;
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.bbox, '2.000,2.000,2.000');
  assert.equal(s.seq, '1', 'the slow render never reached the screen');
  assert.ok(took < 3000, `the edit's render took ${took} ms: the slow one was not cancelled`);

  // Ctrl+Enter renders at once.
  const n = await seq(page);
  await page.keyboard.press('End');
  await page.keyboard.type('\ntranslate([5, 0, 0]) cube(1);');
  await page.keyboard.press('Control+Enter');
  const r = await waitRender(page, { after: n });
  assert.equal(r.bbox, '6.000,2.000,2.000');
  await page.close();
});
