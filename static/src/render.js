// render.js -- the scadserve render API: OpenSCAD source in, model bytes out. No UI in here.
//
//   import { render } from '/scadserve-render.js';
//   const result = await render('cube(10);', { parameters: {}, format: 'stl' });
//   result.bytes      // Uint8Array: the model
//   result.renderer   // 'memory' | 'wasm' | 'server-cache' | 'server'
//
// Order: recent results in memory; the OpenSCAD WebAssembly build in a Web Worker; the server
// (a render job: POST /api/jobs, followed to the end) when WASM is unavailable, crashes, runs
// out of memory or time. Failures reject with a RenderError whose `type` is one of the server's
// error types (see errors.js).
// docs/browser.md documents all of it.

import { MemoryCache, requestKey } from './cache.js';
import { ERROR_TYPES, RenderError, parseLog } from './errors.js';
import { WASM_FORMATS, contentTypeOf } from './formats.js';
import { renderOnServer, serverHealth } from './server.js';
import { WasmRenderer, wasmSupported } from './wasm.js';

export { ERROR_TYPES, RenderError, wasmSupported };

/* global __SCADSERVE_WORKER__, __OPENSCAD_WASM__ */
const config = {
  apiBase: new URL('../api/', import.meta.url).href,     // where POST /api/render lives
  fontBase: new URL('../fonts/', import.meta.url).href,  // Liberation fonts for text()
  workerUrl: new URL(__SCADSERVE_WORKER__, import.meta.url).href,
  wasmUrl: new URL(__OPENSCAD_WASM__, import.meta.url).href,  // compiled once for all workers
  workers: 1,                                            // browser render workers (at most)
  timeoutMs: 20_000,                                     // browser render time limit
  serverTimeoutS: null,                                  // null: the server's own limit
  memoryEntries: 48,
  memoryBytes: 192 * 1024 * 1024,
};

let memory = new MemoryCache({ maxEntries: config.memoryEntries, maxBytes: config.memoryBytes });
let pool = [];                  // WasmRenderers: one worker each, made as renders need them

// The server's time limit in seconds (its /api/health), asked once; null when it cannot be had.
let serverLimit = null;
function serverTimeLimit(signal) {
  serverLimit ??= serverHealth(config.apiBase, signal)
    .then((h) => Number(h?.limits?.timeout_seconds) || null, () => null);
  return serverLimit;
}

// The least busy browser renderer; another one (up to config.workers) when all are busy.
function wasmRenderer() {
  const make = () => new WasmRenderer({ workerUrl: config.workerUrl, fontBase: config.fontBase,
    wasmUrl: config.wasmUrl });
  if (!pool.length) pool.push(make());
  let best = pool[0];
  for (const r of pool) if (r.load < best.load) best = r;
  if (best.load > 0 && pool.length < Math.max(1, config.workers)) {
    best = make();
    pool.push(best);
  }
  return best;
}

// Change defaults; call before the first render (a changed workerUrl or fontBase starts anew).
export function configure(options = {}) {
  for (const [k, v] of Object.entries(options)) {
    if (!(k in config)) throw new TypeError(`configure: unknown option ${k}`);
    config[k] = v;
  }
  if ('workerUrl' in options || 'fontBase' in options || 'wasmUrl' in options) pool = [];
  if ('memoryEntries' in options || 'memoryBytes' in options) {
    memory = new MemoryCache({ maxEntries: config.memoryEntries, maxBytes: config.memoryBytes });
  }
  return { ...config };
}

export function getConfig() { return { ...config }; }

// Start the worker and compile the WebAssembly module ahead of the first render.
export function warm() {
  if (wasmSupported()) wasmRenderer().warm();
}

export function clearMemory() { memory.clear(); }

// Formats someone can ask for: the browser's, plus whatever GET /api/health says the server has.
export async function formats({ signal } = {}) {
  const health = await serverHealth(config.apiBase, signal);
  const server = Array.isArray(health?.formats) ? health.formats : [];
  const browser = wasmSupported() ? Object.keys(WASM_FORMATS).filter((f) => f !== 'binstl') : [];
  return { browser, server, all: [...new Set([...browser, ...server])] };
}

function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function cleanParameters(parameters) {
  const out = {};
  for (const [name, value] of Object.entries(parameters ?? {})) {
    if (!/^\$?[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RenderError('bad_request', `bad parameter name ${JSON.stringify(name)}`);
    const ok = (v) => typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ||
      (Array.isArray(v) && v.every(ok));
    if (!ok(value)) throw new RenderError('bad_request', `parameter ${name}: unsupported value`);
    out[name] = value;
  }
  return out;
}

/**
 * Render OpenSCAD source.
 * options:
 *   parameters  {name: value} overriding the model's top-level variables (numbers, strings, booleans, vectors)
 *   format      'stl' (binary, default), 'asciistl', 'off', 'amf', '3mf', 'dxf', 'svg', ...
 *   renderer    'auto' (default: memory, WASM, then server), 'wasm' (no server), 'server' (no WASM)
 *   timeoutMs   browser render time limit (default 20000); past it the worker is killed
 *   memory      false to skip the in-memory results (default true)
 *   signal      an AbortSignal; aborting rejects with its reason and stops the work (a render
 *               shared by identical requests in flight stops when all of them have aborted)
 *   apiBase     the server's API for this render (default: configure()'s apiBase)
 *   onProgress  called with {phase: 'wasm'|'server'|'retry'|'log', ...} while rendering; 'server'
 *               comes once when the server is asked, then with the job's progress: {jobId, state
 *               ('queued'|'running'|'done'|'failed'|'cancelled'), position, stage, elapsedSeconds}
 * Resolves to {bytes, format, contentType, renderer, durationMs, log, echo, warnings, requestId,
 * key, fallback, engine ('wasm' | 'cli': the server's engine, for server renders), engineFallback}; rejects with a RenderError (or the abort reason).
 */
export async function render(source, options = {}) {
  const { signal, onProgress } = options;
  if (typeof source !== 'string') throw new RenderError('bad_request', 'source must be a string');
  const parameters = cleanParameters(options.parameters);
  const { format = 'stl', renderer = 'auto', timeoutMs = config.timeoutMs } = options;
  signal?.throwIfAborted();
  // Identical requests in flight share one render (a page of widgets showing one model): it
  // stops only when every one of them has let go of it.
  const k = `${renderer}|${timeoutMs}|${options.apiBase ?? ''}|${options.memory === false ? 'fresh' : 'memory'}|${requestKey(source, parameters, format)}`;
  let entry = inflight.get(k);
  const start = !entry;
  if (start) {
    entry = { controller: new AbortController(), listeners: new Set(), waiters: 0 };
    inflight.set(k, entry);
  }
  entry.waiters++;
  if (onProgress) entry.listeners.add(onProgress);
  if (start) {
    // Listening before it starts: its first news comes at once.
    const { listeners } = entry, mine = entry;
    entry.promise = renderOnce(source, { ...options, signal: entry.controller.signal,
      onProgress: (p) => { for (const l of listeners) l(p); } });
    entry.promise.then(() => {}, () => {}).finally(() => { if (inflight.get(k) === mine) inflight.delete(k); });
  }
  let onAbort;
  try {
    if (!signal) return await entry.promise;
    return await Promise.race([entry.promise, new Promise((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    })]);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    entry.listeners.delete(onProgress);
    if (--entry.waiters === 0 && inflight.get(k) === entry) {
      inflight.delete(k);
      entry.controller.abort(signal?.reason);
    }
  }
}

const inflight = new Map();     // request -> {promise, controller, listeners, waiters}

async function renderOnce(source, options = {}) {
  const {
    format = 'stl', renderer = 'auto', timeoutMs = config.timeoutMs, signal,
    memory: useMemory = true, onProgress,
  } = options;
  const t0 = performance.now();
  if (typeof source !== 'string') throw new RenderError('bad_request', 'source must be a string');
  if (!['auto', 'wasm', 'server'].includes(renderer)) throw new RenderError('bad_request', `unknown renderer ${renderer}`);
  const parameters = cleanParameters(options.parameters);
  const id = newId();
  const key = requestKey(source, parameters, format);
  signal?.throwIfAborted();

  const finish = (r) => {
    const { echo, warnings } = parseLog(r.log || '');
    return {
      bytes: r.bytes, format, contentType: contentTypeOf(format), renderer: r.renderer,
      durationMs: performance.now() - t0, log: r.log || '', echo, warnings,
      requestId: r.requestId ?? id, key: r.key ?? null, fallback: r.fallback ?? null,
      engine: r.engine ?? null, engineFallback: r.engineFallback ?? null,
    };
  };

  if (useMemory) {
    const hit = memory.get(key);
    if (hit) return finish({ ...hit, renderer: 'memory', requestId: id });
  }

  let fallback = null;
  if (renderer !== 'server') {
    const engine = wasmRenderer();
    if (engine.canExport(format) || renderer === 'wasm') {
      onProgress?.({ phase: 'wasm', requestId: id });
      try {
        const r = await engine.render({
          id, source, parameters, format, timeoutMs, signal,
          onLog: (line) => onProgress?.({ phase: 'log', line, requestId: id }),
          // aborted, but finished within its grace period: keep it for the next time it is asked
          onLate: (late) => { if (useMemory) memory.set(key, { bytes: late.bytes, log: late.log, renderer: 'wasm', key: null }); },
        });
        const result = { bytes: r.bytes, log: r.log, renderer: 'wasm' };
        memory.set(key, { ...result, key: null });
        return finish(result);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof RenderError)) throw err;
        err.requestId = id;
        if (renderer === 'wasm' || !err.fallsBack) throw err;
        fallback = err;
      }
    }
  }

  // The server renders with the same engine (OpenSCAD 2025 WASM) as the browser: a model the
  // browser gave up on at its time limit needs more time there, not less. Ask for the
  // server's whole limit (sending no timeout does that), and when that is no longer than what
  // the browser already spent, do not make the user wait for the same outcome twice.
  if (fallback?.type === 'timeout' && !config.serverTimeoutS) {
    const limitS = await serverTimeLimit(signal);
    if (limitS && limitS * 1000 <= timeoutMs) {
      fallback.message += ` The server's limit (${limitS} s) is no longer, so it was not asked.`;
      throw fallback;
    }
  }
  onProgress?.({ phase: 'server', requestId: id, reason: fallback });
  try {
    const r = await renderOnServer({
      apiBase: options.apiBase ?? config.apiBase, id, source, parameters, format, timeoutS: config.serverTimeoutS, signal,
      onRetry: (info) => onProgress?.({ phase: 'retry', requestId: id, ...info }),
      // The job's progress: {phase: 'server', jobId, state: 'queued'|'running'|'done'|..., position, stage, elapsedSeconds}
      onJob: (job) => onProgress?.({ phase: 'server', requestId: id, reason: fallback, ...job }),
    });
    const result = {
      bytes: r.bytes, log: r.log || '', renderer: r.renderer, key: r.key, requestId: r.requestId, fallback,
      engine: r.engine, engineFallback: r.engineFallback,
    };
    memory.set(key, { bytes: r.bytes, log: r.log || '', key: r.key, engine: r.engine });
    return finish(result);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof RenderError) err.fallbackFrom = fallback;
    throw err;
  }
}
