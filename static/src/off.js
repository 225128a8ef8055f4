// off.js -- OFF (as OpenSCAD writes it) to a flat triangle list with per-face colours: what the
// viewer shows, so that color() is seen. OpenSCAD 2025 writes a face's colour after its vertex
// indices ("3 0 1 2 255 0 0" or with alpha "... 0 0 255 127"); a face without one, and every
// face from the 2021 CLI, has none. Faces with more than three corners are cut into a fan.

import { bounds } from './stl.js';

// Returns {positions: Float32Array (9 floats a triangle), colors: Float32Array (RGBA for each
// vertex, 0-1) or null when no face has a colour, translucent (some alpha < 1), triangles,
// min, max}. Throws on text that is not OFF.
export function parseOff(bytes) {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  let pos = 0;
  // The next line that is neither empty nor a comment, split into numbers (strings for the head).
  const nextLine = () => {
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      const line = text.slice(pos, end).trim();
      pos = end + 1;
      if (line && line[0] !== '#') return line;
    }
    return null;
  };
  let head = nextLine();
  if (!head || !/^C?OFF\b/.test(head)) throw new Error('not an OFF file');
  head = head.replace(/^C?OFF\s*/, '');
  const counts = (head || nextLine() || '').split(/\s+/).map(Number);
  const [nv, nf] = counts;
  if (!(Number.isInteger(nv) && Number.isInteger(nf) && nv >= 0 && nf >= 0)) throw new Error('malformed OFF header');
  const verts = new Float64Array(nv * 3);
  for (let i = 0; i < nv; i++) {
    const v = (nextLine() ?? '').split(/\s+/).map(Number);
    if (v.length < 3 || !v.slice(0, 3).every(Number.isFinite)) throw new Error(`malformed OFF vertex ${i}`);
    verts[i * 3] = v[0]; verts[i * 3 + 1] = v[1]; verts[i * 3 + 2] = v[2];
  }
  const tri = [];          // vertex indices, three a triangle
  const faceColour = [];   // per triangle: [r, g, b, a] 0-1, or null
  let coloured = false, translucent = false;
  for (let f = 0; f < nf; f++) {
    const tokens = (nextLine() ?? '').split(/\s+/);
    const nums = tokens.map(Number);
    const n = nums[0];
    if (!(n >= 3) || nums.length < 1 + n) throw new Error(`malformed OFF face ${f}`);
    const idx = nums.slice(1, 1 + n);
    if (idx.some((i) => !(i >= 0 && i < nv))) throw new Error(`OFF face ${f}: vertex out of range`);
    const rest = nums.slice(1 + n);
    let colour = null;
    if (rest.length >= 3) {
      // Integers are 0-255 (what OpenSCAD writes); numbers with a point, 0-1.
      const scale = tokens.slice(1 + n).some((t) => t.includes('.')) ? 1 : 255;
      colour = [rest[0] / scale, rest[1] / scale, rest[2] / scale, rest.length >= 4 ? rest[3] / scale : 1];
      coloured = true;
      if (colour[3] < 1) translucent = true;
    }
    for (let k = 1; k + 1 < n; k++) {
      tri.push(idx[0], idx[k], idx[k + 1]);
      faceColour.push(colour);
    }
  }
  const triangles = tri.length / 3;
  const positions = new Float32Array(triangles * 9);
  for (let i = 0; i < tri.length; i++) {
    positions[i * 3] = verts[tri[i] * 3];
    positions[i * 3 + 1] = verts[tri[i] * 3 + 1];
    positions[i * 3 + 2] = verts[tri[i] * 3 + 2];
  }
  let colors = null;
  if (coloured) {
    colors = new Float32Array(triangles * 12);
    for (let t = 0; t < triangles; t++) {
      const c = faceColour[t];
      for (let k = 0; k < 3; k++) {
        // A face without a colour of its own: NaN, which the viewer paints in its model colour.
        colors.set(c ?? [NaN, NaN, NaN, 1], t * 12 + k * 4);
      }
    }
  }
  return { positions, colors, translucent, triangles, ...bounds(positions) };
}
