// wasm_helper.test.mjs -- engines/wasm/helper.mjs, started for real (its Node flags, under
// RLIMIT_AS of 4 GiB) and driven through its framed protocol with real renders.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { AS_LIMIT, Helper, NODE_FLAGS, rawFrame, readStl, requestFrame, settle } from './wasm_client.mjs';

const near = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-3, `${what}: ${a}, expected ${b}`);
const cube = (n) => `cube(${n});`;

describe('one helper, many renders', () => {
  let h, ready;
  before(async () => {
    h = new Helper();
    ready = (await h.next()).json;
  });
  after(async () => {
    const { code } = await h.stop();
    assert.equal(code, 0, 'the helper exits 0 at end of input');
  });

  test('says it is ready, with the version and formats', () => {
    assert.equal(ready.ready, true);
    assert.match(ready.version, /^20\d\d\.\d\d/);
    for (const f of ['binstl', 'asciistl', 'off', 'amf', 'dxf', 'svg', 'csg']) assert.ok(ready.formats.includes(f), f);
    for (const f of ['3mf', 'pdf', 'png']) assert.ok(!ready.formats.includes(f), f);
    assert.equal(ready.workdir, '/work');
    assert.ok(ready.ms.compile > 0 && ready.ms.spare_ready > 0);
  });

  test('runs under the address-space limit', () => {
    const limits = readFileSync(`/proc/${h.pid}/limits`, 'utf8');
    assert.match(limits, new RegExp(`Max address space\\s+${AS_LIMIT}\\s+${AS_LIMIT}`));
  });

  test('cube(10) is a binary STL with 12 triangles', async () => {
    const r = await h.render('c10', cube(10));
    assert.equal(r.json.id, 'c10');
    assert.equal(r.json.exit, 0);
    assert.equal(r.json.crash, null);
    assert.equal(r.json.output_bytes, r.blob.length);
    const stl = readStl(r.blob);
    assert.equal(stl.triangles, 12);
    stl.size.forEach((s, k) => near(s, 10, `size[${k}]`));
    assert.ok(r.json.heap_bytes >= 16 * 1024 * 1024, `heap_bytes ${r.json.heap_bytes}`);
    for (const k of ['render', 'spare_ready', 'wait']) assert.equal(typeof r.json.ms[k], 'number', k);
    assert.match(r.log, /Facets:\s+6/, 'OpenSCAD\'s output goes to stderr');
  });

  test('requests in a row each get their own answer, in order', async () => {
    const sizes = [2, 3, 4, 5, 6];
    for (const s of sizes) h.send({ id: `row-${s}`, args: ['--backend=manifold', '--export-format', 'binstl', '-o', 'out.stl', 'model.scad'], output: 'out.stl' }, { 'model.scad': cube(s) });
    for (const s of sizes) {
      const r = await h.next();
      assert.equal(r.json.id, `row-${s}`);
      assert.equal(r.json.exit, 0);
      readStl(r.blob).size.forEach((x, k) => near(x, s, `row-${s} size[${k}]`));
    }
  });

  test('a syntax error exits non-zero with OpenSCAD\'s parser error and its line on stderr', async () => {
    const r = await h.render('syntax', 'a = 1;\nb = ;\ncube(a);\n');
    assert.notEqual(r.json.exit, 0);
    assert.equal(r.json.crash, null);
    assert.equal(r.blob.length, 0);
    assert.match(r.log, /ERROR: Parser error: syntax error in file \/work\/model\.scad, line 2/);
  });

  test('text() renders with the fonts written into the instance', async () => {
    const r = await h.render('text', 'linear_extrude(1) text("A", size = 10);');
    assert.equal(r.json.exit, 0, r.log);
    const stl = readStl(r.blob);
    assert.ok(stl.triangles > 12, `${stl.triangles} triangles`);
    assert.ok(stl.size[0] > 5 && stl.size[1] > 5, `size ${stl.size}`);
    assert.doesNotMatch(r.log, /font|WARNING/i);
  });

  test('MCAD is there to include', async () => {
    const r = await h.render('mcad', 'include <MCAD/units.scad>\ncube([10 * mm, inch, 1]);');
    assert.equal(r.json.exit, 0, r.log);
    const stl = readStl(r.blob);
    near(stl.size[0], 10, 'x');
    near(stl.size[1], 25.4, 'y');
  });

  test('a parameter file overrides the model\'s value', async () => {
    const params = JSON.stringify({ parameterSets: { scadserve: { size: 7 } }, fileFormatVersion: '1' });
    const r = await h.render('params', 'size = 3;\ncube(size);', {
      args: ['--backend=manifold', '--export-format', 'binstl', '-o', 'out.stl', '-p', 'params.json', '-P', 'scadserve', 'model.scad'],
      files: { 'params.json': params },
    });
    assert.equal(r.json.exit, 0, r.log);
    readStl(r.blob).size.forEach((x, k) => near(x, 7, `size[${k}]`));
  });

  test('a 2D model exports as SVG and DXF, and a companion DXF in a folder is imported', async () => {
    const svg = await h.render('svg', 'square([4, 3]);', { args: ['--export-format', 'svg', '-o', 'out.svg', 'model.scad'], output: 'out.svg' });
    assert.equal(svg.json.exit, 0, svg.log);
    assert.match(svg.blob.toString(), /<svg[^>]*>[\s\S]*<path/);
    const dxf = await h.render('dxf', 'square([4, 3]);', { args: ['--export-format', 'dxf', '-o', 'out.dxf', 'model.scad'], output: 'out.dxf' });
    assert.equal(dxf.json.exit, 0, dxf.log);
    assert.match(dxf.blob.toString(), /ENTITIES[\s\S]*EOF/);
    const r = await h.render('import', 'linear_extrude(2) import("lib/part.dxf");', { files: { 'lib/part.dxf': dxf.blob } });
    assert.equal(r.json.exit, 0, r.log);
    const stl = readStl(r.blob);
    [4, 3, 2].forEach((s, k) => near(stl.size[k], s, `size[${k}]`));
  });

  test('every format it lists writes output; 3mf traps', async () => {
    for (const f of ready.formats) {
      const source = ['dxf', 'svg'].includes(f) ? 'echo("hi"); square(2);' : 'echo("hi"); cube(2);';
      const r = await h.render(`fmt-${f}`, source, { args: ['--backend=manifold', '--export-format', f, '-o', `out.${f}`, 'model.scad'], output: `out.${f}` });
      assert.equal(r.json.exit, 0, `${f}: ${r.log}`);
      assert.ok(r.blob.length > 0, `${f}: empty output`);
    }
    const r = await h.render('fmt-3mf', cube(2), { args: ['--backend=manifold', '--export-format', '3mf', '-o', 'out.3mf', 'model.scad'], output: 'out.3mf' });
    assert.equal(r.json.crash, 'trap');
    assert.equal(r.json.exit, null);
    assert.equal(r.blob.length, 0);
  });

  test('recursion 5000 deep works (the stack is moved into the heap)', async () => {
    const r = await h.render('deep', 'function f(n) = n == 0 ? 0 : 1 + f(n - 1); echo(f(5000)); cube(1);');
    assert.equal(r.json.crash, null, r.json.crash_message);
    assert.equal(r.json.exit, 0);
    assert.match(r.log, /ECHO: 5000/);
    assert.equal(readStl(r.blob).triangles, 12);
  });

  test('runaway recursion stops with OpenSCAD\'s own error, as in the CLI', async () => {
    for (const [id, source, what] of [
      ['runaway-f', 'function f(n) = n == 0 ? 0 : 1 + f(n - 1); echo(f(1000000)); cube(1);', 'function \'f\''],
      ['runaway-m', 'module m(n) { if (n > 0) m(n - 1); else cube(1); } m(1000000);', 'module \'m\''],
    ]) {
      const r = await h.render(id, source);
      assert.equal(r.json.crash, null, `${id}: ${r.json.crash_message}`);
      assert.notEqual(r.json.exit, 0);
      assert.ok(r.log.includes(`ERROR: Recursion detected calling ${what}`), `${id}: ${r.log.slice(0, 500)}`);
    }
  });

  test('a render cannot change the shared fonts or MCAD for the next one', async () => {
    const before = await h.render('text-1', 'linear_extrude(1) text("A");');
    for (const path of ['/fonts/LiberationSans-Regular.ttf', '/home/web_user/.local/share/OpenSCAD/libraries/MCAD/units.scad']) {
      await h.render('overwrite', cube(1), { args: ['--export-format', 'asciistl', '-o', path, 'model.scad'], output: null });
    }
    const after = await h.render('text-2', 'linear_extrude(1) text("A");');
    assert.ok(before.blob.length > 84 && before.blob.equals(after.blob), 'the same text renders the same');
    assert.equal((await h.render('mcad-2', 'include <MCAD/units.scad>\ncube(mm);')).json.exit, 0);
  });

  test('renders go on after a crash', async () => {
    const r = await h.render('after', cube(3));
    assert.equal(r.json.exit, 0);
    readStl(r.blob).size.forEach((x, k) => near(x, 3, `size[${k}]`));
  });
});

describe('crashes are reported, never trusted', () => {
  const hog = 'function s(n) = n == 0 ? "0123456789abcdef" : let(t = s(n - 1)) str(t, t);\necho(len(s(30)));\ncube(1);';

  test('out of WASM memory is "oom", with the heap size, and the memory goes back', async () => {
    const h = new Helper();   // the 1 GiB cap, under the 4 GiB address-space limit
    await h.next();
    for (let round = 0; round < 2; round++) {
      const r = await h.render(`oom-${round}`, hog);
      assert.equal(r.json.crash, 'oom', r.json.crash_message);
      assert.match(r.json.crash_message, /bad_alloc/);
      assert.equal(r.json.exit, null);
      assert.equal(r.blob.length, 0);
      assert.ok(r.json.heap_bytes > 512 * 1024 * 1024, `heap_bytes ${r.json.heap_bytes}`);
      for (let i = 0; i < 3; i++) assert.equal((await h.render(`after-${round}-${i}`, cube(1))).json.exit, 0);
      const rss = Number(readFileSync(`/proc/${h.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
      assert.ok(rss < 400 * 1024 * 1024, `RSS ${rss >> 20} MiB after the out-of-memory render`);
    }
    assert.equal((await h.stop()).code, 0);
  });

  test('overflowing the WASM stack is "stack" (its red zone is checked)', async () => {
    const h = new Helper({ env: { SCADSERVE_WASM_STACK_MB: '1' } });
    await h.next();
    const r = await h.render('overflow', 'function f(n) = n == 0 ? 0 : 1 + f(n - 1); echo(f(5000)); cube(1);');
    assert.equal(r.json.crash, 'stack', r.json.crash_message);
    assert.equal(r.blob.length, 0);
    assert.equal((await h.render('after', cube(1))).json.exit, 0);
    assert.equal((await h.stop()).code, 0);
  });

  test('overflowing the thread\'s own stack is "stack"', async () => {
    const h = new Helper({ env: { SCADSERVE_WASM_THREAD_STACK_MB: '8' } });
    await h.next();
    const r = await h.render('overflow', 'module m(n) { if (n > 0) m(n - 1); else cube(1); } m(1000000);');
    assert.equal(r.json.crash, 'stack', r.json.crash_message);
    assert.match(r.json.crash_message, /call stack/);
    assert.equal(r.blob.length, 0);
    assert.equal((await h.render('after', cube(1))).json.exit, 0);
    assert.equal((await h.stop()).code, 0);
  });
});

describe('protocol', () => {
  // Starts a helper, waits for it to be ready, writes bytes, and gives its last frame and exit.
  async function afterWriting(bytes, { end = false } = {}) {
    const h = new Helper();
    await h.next();
    h.write(bytes);
    if (end) h.end();
    const frame = await h.next();
    const { code } = await h.exit;
    await settle();
    return { frame, code, stderr: h.stderr };
  }

  test('a frame that is not JSON gets an error and exit 2', async () => {
    const { frame, code } = await afterWriting(rawFrame('{"id": "x", '));
    assert.match(frame.json.error, /not JSON/);
    assert.equal(frame.json.id, null);
    assert.equal(code, 2);
  });

  test('an absurd length gets an error at once and exit 2', async () => {
    const { frame, code } = await afterWriting(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.match(frame.json.error, /JSON length/);
    assert.equal(code, 2);
  });

  for (const [what, json, files, re] of [
    ['a name with ..', { id: 'up', args: [], output: null, files: [{ name: '../x', offset: 0, length: 1 }] }, 'x', /"\.\." component/],
    ['an absolute name', { id: 'abs', args: [], output: null, files: [{ name: '/etc/passwd', offset: 0, length: 1 }] }, 'x', /absolute/],
    ['an absolute output', { id: 'out', args: [], output: '/out.stl', files: [] }, '', /output is absolute/],
    ['a file past the blob', { id: 'past', args: [], output: null, files: [{ name: 'a', offset: 1, length: 5 }] }, 'abcd', /do not fit/],
    ['a file and a folder of the same name', { id: 'dir', args: [], output: null, files: [{ name: 'a', offset: 0, length: 1 }, { name: 'a/b', offset: 0, length: 1 }] }, 'x', /a is a file and a folder/],
    ['a name given twice', { id: 'twice', args: [], output: null, files: [{ name: 'a', offset: 0, length: 1 }, { name: 'a', offset: 0, length: 1 }] }, 'x', /given twice/],
    ['args that are not strings', { id: 'args', args: [1], output: null, files: [] }, '', /args\[0\]/],
    ['no id', { args: [], output: null, files: [] }, '', /id must be/],
  ]) {
    test(`${what} gets an error naming it, with the id, and exit 2`, async () => {
      const { frame, code } = await afterWriting(rawFrame(JSON.stringify(json), Buffer.from(files)));
      assert.match(frame.json.error, re);
      assert.equal(frame.json.id, json.id ?? null);
      assert.equal(code, 2);
    });
  }

  test('input ending inside a frame gets an error and exit 2', async () => {
    const whole = requestFrame({ id: 'cut', args: [], output: null }, { 'model.scad': cube(1) });
    const { frame, code } = await afterWriting(whole.subarray(0, whole.length - 3), { end: true });
    assert.match(frame.json.error, /ended inside a frame/);
    assert.equal(frame.json.id, 'cut');
    assert.equal(code, 2);
  });

  test('at end of input it answers the request in flight and exits 0', async () => {
    const h = new Helper();
    await h.next();
    h.send({ id: 'last', args: ['--backend=manifold', '--export-format', 'binstl', '-o', 'out.stl', 'model.scad'], output: 'out.stl' }, { 'model.scad': cube(1) });
    h.end();
    const r = await h.next();
    assert.equal(r.json.id, 'last');
    assert.equal(readStl(r.blob).triangles, 12);
    assert.deepEqual(await h.exit, { code: 0, signal: null });
  });

  test('without its Node flags it refuses to start, naming them', async () => {
    const h = new Helper({ flags: [NODE_FLAGS[1]], asLimit: null });
    const { code } = await h.exit;
    await settle();
    assert.equal(code, 1);
    assert.match(h.stderr, /--disable-wasm-trap-handler/);
  });

  test('an unreadable package is an error instead of the ready frame, and exit 1', async () => {
    const h = new Helper({ env: { SCADSERVE_WASM_PACKAGE: '/nonexistent' } });
    const r = await h.next();
    assert.equal(r.json.ready, false);
    assert.match(r.json.error, /nonexistent/);
    assert.equal((await h.exit).code, 1);
  });
});
