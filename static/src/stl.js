// stl.js -- STL (binary or ASCII) to a flat triangle list, with its count and bounding box.

// Returns {positions: Float32Array (9 floats a triangle), triangles, min: [x,y,z], max: [x,y,z]}.
// Throws on bytes that are not STL.
export function parseStl(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let positions;
  if (data.length >= 84 && 84 + view.getUint32(80, true) * 50 === data.length) {
    const n = view.getUint32(80, true);
    positions = new Float32Array(n * 9);
    for (let i = 0; i < n; i++) {
      const base = 84 + i * 50 + 12;   // skip the facet normal: we compute our own
      for (let j = 0; j < 9; j++) positions[i * 9 + j] = view.getFloat32(base + j * 4, true);
    }
  } else {
    const text = new TextDecoder().decode(data);
    if (!/^\s*solid/.test(text)) throw new Error('not an STL file');
    const nums = [];
    const re = /vertex\s+(\S+)\s+(\S+)\s+(\S+)/g;
    let m;
    while ((m = re.exec(text))) nums.push(Number(m[1]), Number(m[2]), Number(m[3]));
    if (nums.length % 9 !== 0 || nums.some((v) => !Number.isFinite(v))) throw new Error('malformed ASCII STL');
    positions = Float32Array.from(nums);
  }
  return { positions, triangles: positions.length / 9, ...bounds(positions) };
}

// The bounding box {min: [x, y, z], max: [x, y, z]} of a flat list of vertex coordinates.
export function bounds(positions) {
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < positions.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      const v = positions[i + k];
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
    }
  }
  return { min, max };
}
