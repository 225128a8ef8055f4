// off.test.mjs -- the OFF reader the viewer shows models with (static/src/off.js), in Node: no
// browser. OpenSCAD 2025's per-face colours, the 2021 CLI's polygons, and bad input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOff } from '../../static/src/off.js';

// Two faces of a unit square, as OpenSCAD 2025 writes them: one red, one translucent blue.
const COLOURED = `OFF
4 2 0
0 0 0
1 0 0
1 1 0
0 1 0
3 0 1 2 255 0 0
3 0 2 3 0 0 255 127
`;

test('per-face colours: RGB and RGBA, 0-255 made 0-1, on every vertex of the face', () => {
  const m = parseOff(new TextEncoder().encode(COLOURED));
  assert.equal(m.triangles, 2);
  assert.deepEqual([...m.positions.slice(0, 9)], [0, 0, 0, 1, 0, 0, 1, 1, 0]);
  assert.deepEqual([...m.colors.slice(0, 4)], [1, 0, 0, 1]);
  assert.deepEqual([...m.colors.slice(8, 12)], [1, 0, 0, 1]);
  assert.deepEqual([...m.colors.slice(12, 15)], [0, 0, 1]);
  assert.ok(Math.abs(m.colors[15] - 127 / 255) < 1e-6);
  assert.equal(m.translucent, true);
  assert.deepEqual(m.min, [0, 0, 0]);
  assert.deepEqual(m.max, [1, 1, 0]);
});

test('no colours (the 2021 CLI): quads cut into fans, colors null; a face without one among coloured', () => {
  const m = parseOff('OFF\n# a comment\n4 1 0\n0 0 0\n2 0 0\n2 3 0\n0 3 0\n4 0 1 2 3\n');
  assert.equal(m.triangles, 2);
  assert.equal(m.colors, null);
  assert.equal(m.translucent, false);
  const mixed = parseOff('OFF 3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 0 255 0\n3 0 2 1\n');
  assert.deepEqual([...mixed.colors.slice(0, 4)], [0, 1, 0, 1]);
  assert.ok(Number.isNaN(mixed.colors[12]), 'the face without a colour is marked for the model colour');
});

test('not OFF, or a face naming a vertex that is not there: an error', () => {
  assert.throws(() => parseOff('solid x\nendsolid x\n'), /not an OFF file/);
  assert.throws(() => parseOff('OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n'), /out of range/);
  assert.throws(() => parseOff('OFF\nx y z\n'), /malformed OFF header/);
});

test('integer colours are 0-255 however small; colours with a point are 0-1', () => {
  const tri = 'OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n';
  assert.deepEqual([...parseOff(`${tri}3 0 1 2 1 1 1\n`).colors.slice(0, 3)].map((c) => Math.round(c * 255)), [1, 1, 1]);
  assert.deepEqual([...parseOff(`${tri}3 0 1 2 0.5 0 1.0\n`).colors.slice(0, 3)], [0.5, 0, 1]);
});
