// svg2d.js -- a 2D model, as OpenSCAD exports it to SVG, to flat triangles for the viewer.
//
// OpenSCAD writes one <path> per polygon set, with absolute M/L/z commands and y negated. Outlines
// run counter-clockwise, holes clockwise (in OpenSCAD's y-up coordinates).

import { Path, Shape, ShapeGeometry, Vector2 } from 'three';

// Signed area: positive for counter-clockwise.
function area(points) {
  let a = 0;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) a += (points[j][0] - points[i][0]) * (points[j][1] + points[i][1]);
  return a / 2;
}

function inside([x, y], poly) {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

// Returns {positions, triangles, min, max} like parseStl, with z = 0. Throws on other SVG.
export function parseSvg2D(bytes) {
  const text = new TextDecoder().decode(bytes);
  const loops = [];
  for (const d of text.matchAll(/\sd="([^"]*)"/g)) {
    let loop = null;
    for (const m of d[1].matchAll(/([MLz])\s*(?:(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+))?/g)) {
      if (m[1] === 'M') { loop = [[Number(m[2]), -Number(m[3])]]; loops.push(loop); }
      else if (m[1] === 'L' && loop) loop.push([Number(m[2]), -Number(m[3])]);
      else loop = null;
    }
  }
  if (!loops.length) throw new Error('no outlines in the SVG');
  const solids = loops.filter((l) => area(l) > 0).map((l) => ({ loop: l, holes: [], size: Math.abs(area(l)) }));
  if (!solids.length) throw new Error('no solid outline in the SVG');
  for (const hole of loops.filter((l) => area(l) < 0)) {
    const owner = solids.filter((s) => inside(hole[0], s.loop)).sort((a, b) => a.size - b.size)[0];
    owner?.holes.push(hole);
  }
  const shapes = solids.map(({ loop, holes }) => {
    const shape = new Shape(loop.map(([x, y]) => new Vector2(x, y)));
    shape.holes = holes.map((h) => new Path(h.map(([x, y]) => new Vector2(x, y))));
    return shape;
  });
  const geometry = new ShapeGeometry(shapes).toNonIndexed();
  const positions = Float32Array.from(geometry.getAttribute('position').array);
  geometry.dispose();
  const min = [Infinity, Infinity, 0], max = [-Infinity, -Infinity, 0];
  for (let i = 0; i < positions.length; i += 3) {
    for (let k = 0; k < 2; k++) {
      min[k] = Math.min(min[k], positions[i + k]);
      max[k] = Math.max(max[k], positions[i + k]);
    }
  }
  return { positions, triangles: positions.length / 9, min, max, flat: true };
}
