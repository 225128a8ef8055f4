// mesh.js -- a model to show: rendered as STL, or, for a 2D model, as SVG laid flat. The page
// and the widget both show models through this.

import { parseOff } from './off.js';
import { render } from './render.js';
import { parseStl } from './stl.js';
import { parseSvg2D } from './svg2d.js';

// Resolves to {result (render()'s), stl ({positions, colors?, triangles, min, max, flat?})}.
// options are render()'s; format is chosen here: OFF, which carries the colours color() gives
// (OpenSCAD 2025: the browser's engine and the server's WASM engine; the 2021 CLI writes none).
// OFF is text, slower to write and read than binary STL (a parameter change on candleStand:
// 428 ms as STL, 614 ms as OFF): it is asked for only when the model can have colours, i.e.
// calls color() or takes in another file that may.
const MAY_HAVE_COLOURS = /\bcolor\s*\(|\b(include|use)\s*</;

export async function renderMesh(source, options = {}) {
  try {
    if (!MAY_HAVE_COLOURS.test(source)) {
      const result = await render(source, { ...options, format: 'stl' });
      return { result, stl: parseStl(result.bytes) };
    }
    const result = await render(source, { ...options, format: 'off' });
    return { result, stl: parseOff(result.bytes) };
  } catch (err) {
    // A 2D model: show it flat, from its SVG export, as OpenSCAD does.
    if (err?.type !== 'empty_model' || !/\b2D\b/.test(err.message)) throw err;
    const result = await render(source, { ...options, format: 'svg' });
    return { result, stl: parseSvg2D(result.bytes) };
  }
}

// The size of a shown model along each axis, and the summary the page and the widget report.
export function meshFigures(stl) {
  const size = stl.max.map((v, i) => v - stl.min[i]);
  return { size, bbox: size.map((v) => Number(v.toFixed(3))), triangles: stl.triangles, dimensions: stl.flat ? 2 : 3 };
}
