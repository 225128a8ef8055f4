// params.test.mjs -- the customizer parameter parser (static/src/params.js), in Node: no browser.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseParameters } from '../../static/src/params.js';
import { corpusDir } from './helpers.mjs';

const byName = (src) => Object.fromEntries(parseParameters(src).map((p) => [p.name, p]));

test('candleStand.scad: groups, descriptions and controls as in OpenSCAD\'s customizer', () => {
  const src = readFileSync(join(corpusDir, 'Parametric', 'candleStand.scad'), 'utf8');
  const params = parseParameters(src);
  assert.deepEqual(params.map((p) => p.name), ['length', 'radius', 'count', 'centerCandle', 'candleSize', 'width',
    'holeSize', 'CenterCandleWidth', 'heightOfSupport', 'widthOfSupport', 'heightOfRing', 'widthOfRing']);
  const p = Object.fromEntries(params.map((x) => [x.name, x]));
  assert.deepEqual(p.length.control, { kind: 'dropdown', options: [
    { value: 70, label: 'large' }, { value: 50, label: 'medium' }, { value: 30, label: 'small' }] });
  assert.equal(p.length.group, 'Candle Stand');
  assert.equal(p.length.description, 'Length of candle stand');
  assert.deepEqual(p.count.control, { kind: 'slider', min: 3, max: 14, step: 1 });
  assert.equal(p.count.group, 'Number of candle holders');
  assert.equal(p.centerCandle.control.kind, 'checkbox');
  assert.equal(p.widthOfRing.group, 'Properties of Ring');
  assert.equal(p.CenterCandleWidth.description, '');
});

test('annotations: sliders with steps, labelled and plain drop-downs, spin steps, string lengths, vectors', () => {
  const p = byName(`
// A slider
a = 5; // [0:0.5:100]
b = 2.5; // [10]
c = "m"; // [s:Small, m:Medium, "l":Large]
d = "x"; // [x, y, z]
e = -1.25; // 0.25
f = "hi"; // 8
g = [1, 2, 3]; // [0:10]
h = [1.5, 2];
t = true;
`);
  assert.deepEqual(p.a.control, { kind: 'slider', min: 0, max: 100, step: 0.5 });
  assert.equal(p.a.description, 'A slider');
  assert.deepEqual(p.b.control, { kind: 'slider', min: 0, max: 10, step: 0.1 });
  assert.deepEqual(p.c.control.options, [{ value: 's', label: 'Small' }, { value: 'm', label: 'Medium' }, { value: 'l', label: 'Large' }]);
  assert.deepEqual(p.d.control.options.map((o) => o.value), ['x', 'y', 'z']);
  assert.deepEqual(p.e.control, { kind: 'spinbox', step: 0.25 });
  assert.equal(p.e.value, -1.25);
  assert.deepEqual(p.f.control, { kind: 'text', maxLength: 8 });
  assert.deepEqual(p.g.control, { kind: 'vector', min: 0, max: 10, step: 1 });
  assert.deepEqual(p.h.control, { kind: 'vector', min: null, max: null, step: 0.1 });
  assert.equal(p.t.control.kind, 'checkbox');
});

test('only top-level literal assignments; [Hidden] hides; modules, functions and expressions do not count', () => {
  const names = parseParameters(`
include <MCAD/units.scad>
use <lib.scad>
/* [Size] */
w = 10;
x = w * 2;
function f(a) = a;
module m(q = 3) { inner = 4; cube(q); }
translate([1, 2, 3]) { y = 5; cube(y); }
if (w > 3) cube(1);
s = str("a", "b");
$fn = 32;
/* [Hidden] */
secret = 1;
/* [More] */
z = [1, [2, 3]];
k = 7; // trailing
`).map((p) => `${p.group}:${p.name}`);
  assert.deepEqual(names, ['Size:w', 'More:k']);
});

test('a description is the comment line right above, not a trailing comment of the line before', () => {
  const p = byName('a = 1; // [0:5]\nb = 2;\n\n// about c\nc = 3;\n// far\n\nd = 4;\n');
  assert.equal(p.b.description, '');
  assert.equal(p.c.description, 'about c');
  assert.equal(p.d.description, '');
});
