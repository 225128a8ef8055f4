// work.test.mjs -- the page keeps the work in progress: the source and the customizer's values
// survive a reload (kept in the browser), a share link opens what it carries without losing the
// kept work, and ?renderer=server does not download the browser's OpenSCAD module.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodePng, launch, pageUrl, seq, waitRender, watchErrors } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const MINE = 'size = 5; // [1:20]\nholes = 2; // [0:4]\ncube([size, size, holes + 1]);\n';

test('the source and the customizer values survive a reload', async () => {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  await page.goto(pageUrl());
  await waitRender(page);
  // Edit as the user does: the editor's own change path, then a customizer control.
  const n = await seq(page);
  await page.evaluate((src) => window.scadserve.editor.setValue(src), MINE);
  await waitRender(page, { after: n });
  const m = await seq(page);
  await page.locator('#param-size').evaluate((el) => { el.value = '9'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  const s = await waitRender(page, { after: m });
  assert.equal(s.bbox, '9.000,9.000,3.000');
  await page.waitForTimeout(400);   // the page keeps the work a quarter of a second after a change

  await page.reload();
  const r = await waitRender(page);
  assert.equal(await page.evaluate(() => window.scadserve.editor.getValue()), MINE);
  assert.equal(r.bbox, '9.000,9.000,3.000', 'the kept parameter value renders');
  assert.equal(await page.locator('#param-size').inputValue(), '9');
  assert.match(await page.locator('#log').textContent(), /Restored your work/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a share link opens what it carries, and the kept work is still there afterwards', async () => {
  const page = await browser.context.newPage();
  await page.goto(pageUrl({ source: 'cube([1, 2, 3]);\n' }));
  const s = await waitRender(page);
  assert.equal(s.bbox, '1.000,2.000,3.000');
  assert.doesNotMatch(await page.locator('#log').textContent(), /Restored/);
  // Opening the page plainly again: the kept work (the share link was only looked at).
  await page.goto(pageUrl());
  const r = await waitRender(page);
  assert.equal(await page.evaluate(() => window.scadserve.editor.getValue()), MINE);
  assert.equal(r.bbox, '9.000,9.000,3.000');
  await page.close();
});

test('with ?renderer=server the browser does not download the OpenSCAD module', async () => {
  const page = await browser.context.newPage();
  const urls = [];
  page.on('request', (req) => urls.push(req.url()));
  await page.goto(pageUrl({ query: 'renderer=server', source: `cube(4); // ${Date.now()}\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.renderer, 'server');
  await page.waitForTimeout(300);
  assert.deepEqual(urls.filter((u) => /\.wasm$|\/worker-\w+\.js$/.test(u)), [], 'no worker, no .wasm');
  await page.close();
});

test('a number typed past the slider is brought within its range; a failed render marks the old model stale; a new size is framed', async () => {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  await page.goto(pageUrl({ source: `size = 50; // [10:100]\ncube(size); // ${Date.now()}\n` }));
  await waitRender(page);
  // 500 in a [10:100] slider: while typing nothing renders; on Enter the box and the model say 100.
  let n = await seq(page);
  await page.locator('#param-size-value').fill('500');
  await page.locator('#param-size-value').press('Enter');
  let s = await waitRender(page, { after: n });
  assert.equal(await page.locator('#param-size-value').inputValue(), '100');
  assert.equal(await page.locator('#param-size').inputValue(), '100');
  assert.equal(s.bbox, '100.000,100.000,100.000');

  // A syntax error: the last good model stays on screen, marked as such, until a render works.
  n = await seq(page);
  await page.evaluate(() => window.scadserve.editor.setValue('cube(1;\n'));
  s = await waitRender(page, { after: n });
  assert.equal(s.state, 'error');
  assert.equal(await page.locator('#viewer').evaluate((v) => v.classList.contains('stale')), true);
  const distance = () => page.evaluate(() => {
    const v = window.scadserve.viewer;
    return v.camera.position.distanceTo(v.controls.target);
  });
  n = await seq(page);
  await page.evaluate(() => window.scadserve.editor.setValue('cube(1);\n'));
  s = await waitRender(page, { after: n });
  assert.equal(s.state, 'done');
  assert.equal(await page.locator('#viewer').evaluate((v) => v.classList.contains('stale')), false);
  // From a 100 mm cube to a 1 mm one: the camera comes close enough to see it.
  const near = await distance();
  assert.ok(near < 20, `camera ${near.toFixed(1)} mm from a 1 mm cube`);
  n = await seq(page);
  await page.evaluate(() => window.scadserve.editor.setValue('cube(1.2);\n'));
  await waitRender(page, { after: n });
  assert.equal((await distance()).toFixed(3), near.toFixed(3), 'a small change keeps the camera');
  assert.deepEqual(errors, []);
  await page.close();
});

test("errors read as words, not codes; a download is named after the model's first comment", async () => {
  const page = await browser.context.newPage();
  await page.goto(pageUrl({ source: `cube(1;\n// ${Date.now()}\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'error');
  assert.equal(s.errorType, 'invalid_scad', 'the code is still there for scripts');
  assert.match(s.text, /^OpenSCAD error on line 1: Parser error/);
  assert.doesNotMatch(s.text, /invalid_scad|ERROR:/);

  const n = await seq(page);
  await page.evaluate(() => window.scadserve.editor.setValue('// Wall bracket, v2\ncube([4, 5, 6]);\n'));
  await waitRender(page, { after: n });
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  assert.equal(download.suggestedFilename(), 'wall-bracket-v2.stl');
  // OpenSCAD's statistics are set apart from what the model said.
  assert.ok(await page.locator('#log .log-stat').count() >= 1);
  await page.close();
});

// Share of the view's pixels that are clearly of one hue.
function hueShare(png, test) {
  const { pixels, channels } = png;
  let hits = 0;
  for (let i = 0; i < pixels.length; i += channels) if (test(pixels[i], pixels[i + 1], pixels[i + 2])) hits++;
  return hits / (pixels.length / channels);
}

test('color() is shown: red, blue and a part without colour in the model colour', async () => {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  await page.goto(pageUrl({ source: `color("red") cube(10);\ncolor([0, 0, 1]) translate([15, 0, 0]) cube(10);\ntranslate([30, 0, 0]) cube(10); // ${Date.now()}\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.triangles, '36');
  const png = decodePng(await page.locator('#viewer canvas').screenshot());
  const red = hueShare(png, (r, g, b) => r > 120 && g < 70 && b < 70);
  const blue = hueShare(png, (r, g, b) => b > 120 && r < 70 && g < 90);
  const gold = hueShare(png, (r, g, b) => r > 90 && g > 60 && r - b > 50 && g - b > 25);
  assert.ok(red > 0.005, `red pixels ${(red * 100).toFixed(2)} %`);
  assert.ok(blue > 0.005, `blue pixels ${(blue * 100).toFixed(2)} %`);
  assert.ok(gold > 0.005, `model-colour pixels ${(gold * 100).toFixed(2)} %`);
  assert.deepEqual(errors, []);
  await page.close();
});
