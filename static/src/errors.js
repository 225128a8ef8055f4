// errors.js -- the error types shared with the server (docs/api), and OpenSCAD log parsing.

// type -> what the browser does about it. `fallback`: a browser-side failure that the server
// may not have (so the page asks the server); `retry`: worth asking the server again later.
export const ERROR_TYPES = Object.freeze({
  bad_request:            { status: 400 },
  not_found:              { status: 404 },
  method_not_allowed:     { status: 405 },
  payload_too_large:      { status: 413 },
  unsupported_media_type: { status: 415 },
  invalid_scad:           { status: 422 },
  empty_model:            { status: 422 },
  file_not_accessible:    { status: 422 },
  timeout:                { status: 422, fallback: true },
  memory_limit:           { status: 422, fallback: true },
  output_too_large:       { status: 422 },
  renderer_crashed:       { status: 422, fallback: true },
  rate_limited:           { status: 429, retry: true },   // nginx: too many renders from this address
  overloaded:             { status: 503, retry: true },
  sandbox_unavailable:    { status: 503 },                // the server cannot confine a renderer
  engine_unavailable:     { status: 503 },                // the engine asked for is down on the server
  internal:               { status: 500 },
  network:                { status: 0, retry: true },   // browser only: the request never got an answer
  wasm_unavailable:       { status: 0, fallback: true }, // browser only: no WebAssembly, no worker, .wasm not loadable
  wasm_failed:            { status: 0, fallback: true }, // browser only: the WASM renderer failed for its own reasons
});

export class RenderError extends Error {
  // fields: type (a key of ERROR_TYPES), line (1-based or null), log (OpenSCAD output or ''),
  // renderer ('wasm' | 'server' | 'server-cache' | null), requestId, status (HTTP status or 0),
  // retryAfter (seconds, from the server), fallbackFrom (the browser error that sent us to the server),
  // engine (the server's engine that answered: 'wasm' | 'cli')
  constructor(type, message, fields = {}) {
    super(message);
    this.name = 'RenderError';
    this.type = ERROR_TYPES[type] ? type : 'internal';
    this.line = fields.line ?? null;
    this.log = fields.log ?? '';
    this.renderer = fields.renderer ?? null;
    this.requestId = fields.requestId ?? null;
    this.status = fields.status ?? ERROR_TYPES[this.type].status;
    this.retryAfter = fields.retryAfter ?? null;
    this.fallbackFrom = fields.fallbackFrom ?? null;
    this.engine = fields.engine ?? null;      // the server's engine that answered: 'wasm' | 'cli'
  }

  // Should the page hand this model to the server after the browser failed with it?
  get fallsBack() { return Boolean(ERROR_TYPES[this.type].fallback); }

  toJSON() {
    return { type: this.type, message: this.message, line: this.line, request_id: this.requestId };
  }
}

// OpenSCAD writes everything (echo, warnings, errors, statistics) to stderr, one line each.
// Split a log into what a user cares about. `file` is the name the renderer gave the model.
export function parseLog(log, file = 'model.scad') {
  const lines = log.split('\n');
  const echo = [], warnings = [], errors = [];
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const whereRe = new RegExp(`in file (?:[^,]*/)?${escaped}, line (\\d+)`);
  for (const line of lines) {
    const m = /^(ECHO|WARNING|DEPRECATED|ERROR|TRACE): ?(.*)$/.exec(line.trim());
    if (!m) continue;
    const where = whereRe.exec(m[2]) || /, line (\d+)\b/.exec(m[2]);
    const entry = { message: m[2], line: where ? Number(where[1]) : null };
    if (m[1] === 'ECHO') echo.push(entry);
    else if (m[1] === 'ERROR') errors.push(entry);
    else if (m[1] !== 'TRACE') warnings.push(entry);
  }
  return { echo, warnings, errors };
}

// Classify a failed OpenSCAD run from its log, as the server does for the CLI.
export function classifyFailure(log, file = 'model.scad') {
  const { errors } = parseLog(log, file);
  const syntax = errors.find((e) => /Parser error|syntax error/i.test(e.message));
  if (syntax) return { type: 'invalid_scad', message: syntax.message, line: syntax.line };
  if (/Current top level object is not a 3D object/i.test(log)) {
    return { type: 'empty_model', message: 'The model is 2D: export it as DXF or SVG, not as a 3D format.', line: null };
  }
  if (/not a 2D object|Current top level object is not a 2D object/i.test(log)) {
    return { type: 'empty_model', message: 'The model is 3D: export it as STL, OFF, AMF or 3MF, not as a 2D format.', line: null };
  }
  if (errors.length) {
    const e = errors[0];
    return { type: 'invalid_scad', message: e.message, line: e.line };
  }
  if (/top level object is empty|Nothing to export/i.test(log)) {
    return { type: 'empty_model', message: 'The model produced no geometry.', line: null };
  }
  return null;
}

// The browser build has no OpenSCAD libraries (MCAD, ...) while the server may: a model that
// includes one it cannot open is the server's to render.
export function missingLibrary(log) {
  const m = /Can't open (?:include file|library) '([^']+)'/.exec(log);
  return m ? m[1] : null;
}
