// formats.js -- export formats: file extensions, MIME types, and which ones the WASM build can write.

// Format name (as the server spells it) -> [output file extension, OpenSCAD --export-format].
// 3MF is missing: the WASM build has no lib3mf and crashes exporting it; the server does it.
export const WASM_FORMATS = Object.freeze({
  stl: ['stl', 'binstl'],
  binstl: ['stl', 'binstl'],
  asciistl: ['stl', 'asciistl'],
  off: ['off', 'off'],
  amf: ['amf', 'amf'],
  wrl: ['wrl', 'wrl'],
  dxf: ['dxf', 'dxf'],
  svg: ['svg', 'svg'],
});

const INFO = {
  stl: ['stl', 'model/stl', 'STL (binary)'],
  binstl: ['stl', 'model/stl', 'STL (binary)'],
  asciistl: ['stl', 'model/stl', 'STL (ASCII)'],
  off: ['off', 'application/octet-stream', 'OFF'],
  amf: ['amf', 'application/x-amf', 'AMF'],
  '3mf': ['3mf', 'model/3mf', '3MF'],
  wrl: ['wrl', 'model/vrml', 'VRML'],
  dxf: ['dxf', 'image/vnd.dxf', 'DXF (2D)'],
  svg: ['svg', 'image/svg+xml', 'SVG (2D)'],
  pdf: ['pdf', 'application/pdf', 'PDF (2D)'],
  csg: ['csg', 'text/plain', 'CSG'],
};

export const TWO_D_FORMATS = new Set(['dxf', 'svg', 'pdf']);

export function extensionOf(format) { return INFO[format]?.[0] ?? format; }
export function contentTypeOf(format) { return INFO[format]?.[1] ?? 'application/octet-stream'; }
export function labelOf(format) { return INFO[format]?.[2] ?? format.toUpperCase(); }
