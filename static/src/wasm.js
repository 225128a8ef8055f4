// wasm.js -- runs renders in the OpenSCAD WebAssembly worker: one at a time, each with a time
// limit enforced by terminating the worker, which is then replaced by a fresh one.

import { RenderError } from './errors.js';
import { WASM_FORMATS } from './formats.js';

const INIT_LIMIT_MS = 60_000;     // a worker that has not compiled the module by then is broken
const RETRY_BROKEN_MS = 30_000;   // after a failed start, leave WASM alone this long
const ABORT_GRACE_MS = 300;       // an aborted render younger than this may finish (cheaper than a restart)
const START_LIMIT_MS = 60_000;    // a posted render the worker has not started by then is lost

export function wasmSupported() {
  return typeof WebAssembly === 'object' && typeof WebAssembly.compileStreaming === 'function' &&
    typeof Worker === 'function';
}

// The OpenSCAD module, compiled once per page for all its workers (a WebAssembly.Module is
// posted to each worker, which then only instantiates it). null when the page cannot compile
// it (no CORS on another origin's .wasm, say): each worker then tries on its own.
const compiled = new Map();     // wasm URL -> Promise<WebAssembly.Module|null>
function compileOnce(wasmUrl) {
  if (!wasmUrl || typeof WebAssembly?.compileStreaming !== 'function') return Promise.resolve(null);
  if (!compiled.has(wasmUrl)) {
    compiled.set(wasmUrl, WebAssembly.compileStreaming(fetch(wasmUrl, { credentials: 'same-origin' }))
      .catch(async () => {
        const res = await fetch(wasmUrl, { credentials: 'same-origin' });
        return res.ok ? WebAssembly.compile(await res.arrayBuffer()) : null;
      })
      .catch(() => null));
  }
  return compiled.get(wasmUrl);
}

// A module worker must come from the page's origin. For a worker script on another origin
// (a page embedding the widget from a scadserve server), a same-origin Blob module that
// imports it: the import is fetched with CORS, and the script keeps its own URL (so its .wasm
// and fonts resolve against the server).
const bootstraps = new Map();
function workerScript(workerUrl) {
  const url = new URL(workerUrl, location.href);
  if (url.origin === location.origin) return url.href;
  if (!bootstraps.has(url.href)) {
    bootstraps.set(url.href, URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`],
      { type: 'text/javascript' })));
  }
  return bootstraps.get(url.href);
}

export class WasmRenderer {
  // workerUrl: URL of the bundled worker.js; fontBase: URL of the folder holding Liberation fonts;
  // wasmUrl: URL of the OpenSCAD module, compiled once for every worker (optional).
  constructor({ workerUrl, fontBase, wasmUrl = null }) {
    this.workerUrl = workerUrl;
    this.wasmUrl = wasmUrl;
    this.fontBase = String(fontBase);
    this.worker = null;       // the live Worker, or null
    this.ready = null;        // Promise resolved when the worker has compiled the module
    this.brokenUntil = 0;     // performance.now() before which we do not try again
    this.brokenReason = '';
    this.queue = [];          // jobs waiting for the worker
    this.current = null;      // the job running in the worker
    this.compileMs = null;    // how long the current worker took to compile the module
  }

  canExport(format) { return Boolean(WASM_FORMATS[format]); }

  // Renders waiting or running here: the pool sends a render to the least busy renderer.
  get load() { return this.queue.length + (this.current ? 1 : 0); }

  // Start a worker now, so the first render does not wait for the module to compile.
  warm() {
    if (!wasmSupported() || performance.now() < this.brokenUntil) return;
    this.#ensureWorker();
  }

  // Resolves to {bytes, log, ms}; rejects with a RenderError (or the signal's reason on abort).
  // onLate(result) gets the result of a render that finished after it was aborted.
  render({ id, source, parameters, format, timeoutMs, signal, onLog, onLate }) {
    if (!wasmSupported()) {
      return Promise.reject(new RenderError('wasm_unavailable', 'This browser has no WebAssembly or Web Workers.'));
    }
    if (!this.canExport(format)) {
      return Promise.reject(new RenderError('wasm_unavailable', `The browser renderer cannot export ${format}.`));
    }
    if (performance.now() < this.brokenUntil) {
      return Promise.reject(new RenderError('wasm_unavailable', this.brokenReason));
    }
    return new Promise((resolve, reject) => {
      const job = { id, source, parameters, format, timeoutMs, signal, onLog, onLate, resolve, reject,
        settled: false, posted: false, startedAt: 0, timer: 0, startTimer: 0 };
      if (signal?.aborted) { reject(signal.reason); return; }
      job.onAbort = () => this.#abort(job);
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.#pump();
    });
  }

  #settle(job, error, value) {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    clearTimeout(job.startTimer);
    job.signal?.removeEventListener('abort', job.onAbort);
    if (error) job.reject(error); else job.resolve(value);
  }

  #abort(job) {
    this.#settle(job, job.signal.reason);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) { this.queue.splice(queued, 1); return; }
    if (this.current !== job) return;
    if (!job.posted) {            // still waiting for the worker to compile: just drop it
      this.current = null;
      this.#pump();
      return;
    }
    // callMain cannot be interrupted: a render that has run a while is stopped by killing the
    // worker; a young one gets a short grace period, as most renders finish within it.
    const age = job.startedAt ? performance.now() - job.startedAt : 0;
    const kill = () => { if (this.current === job) this.#restart(); };
    if (age >= ABORT_GRACE_MS) kill();
    else setTimeout(kill, ABORT_GRACE_MS - age);
  }

  #ensureWorker() {
    if (this.worker) return this.ready;
    let worker;
    try {
      worker = new Worker(workerScript(this.workerUrl), { type: 'module', name: 'openscad' });
    } catch (err) {
      this.#broken(`The browser renderer could not start: ${err.message}`);
      return Promise.reject(new RenderError('wasm_unavailable', this.brokenReason));
    }
    this.worker = worker;
    const t0 = performance.now();
    this.ready = new Promise((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error('the WebAssembly module did not load in time')), INIT_LIMIT_MS);
      worker.addEventListener('message', (e) => {
        if (e.data.type === 'ready') { clearTimeout(limit); this.compileMs = e.data.compileMs; resolve(performance.now() - t0); }
        if (e.data.type === 'init-failed') { clearTimeout(limit); reject(new Error(e.data.message)); }
      });
      worker.addEventListener('error', (e) => { clearTimeout(limit); reject(new Error(e.message || 'worker failed to load')); });
    });
    this.ready.catch((err) => {
      if (this.worker !== worker) return;
      this.#broken(`The browser renderer is unavailable: ${err.message}`);
    });
    worker.addEventListener('message', (e) => this.#onMessage(worker, e.data));
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      if (this.worker === worker && this.current) this.#failCurrent('wasm_failed', `The browser renderer failed: ${e.message}`);
    });
    compileOnce(this.wasmUrl).then((module) => {
      if (this.worker === worker) worker.postMessage({ type: 'init', fontBase: this.fontBase, module });
    });
    return this.ready;
  }

  #broken(reason) {
    this.brokenReason = reason;
    this.brokenUntil = performance.now() + RETRY_BROKEN_MS;
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
    const jobs = this.current ? [this.current, ...this.queue] : this.queue;
    this.current = null;
    this.queue = [];
    for (const job of jobs) this.#settle(job, new RenderError('wasm_unavailable', reason));
  }

  // Kill the worker (the only way to stop callMain) and start a fresh one.
  #restart() {
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
    this.current = null;
    this.#pump();
    if (!this.worker) this.warm();
  }

  #failCurrent(type, message, log = '') {
    const job = this.current;
    this.#settle(job, new RenderError(type, message, { log, renderer: 'wasm' }));
    this.#restart();
  }

  #pump() {
    if (this.current || !this.queue.length) return;
    const job = this.queue.shift();
    this.current = job;
    this.#ensureWorker().then(() => {
      if (this.current !== job || !this.worker) return;
      job.posted = true;
      job.startTimer = setTimeout(() => {
        if (this.current === job) this.#failCurrent('wasm_failed', 'The browser renderer did not start the render.');
      }, START_LIMIT_MS);
      this.worker.postMessage({ type: 'render', id: job.id, source: job.source,
        parameters: job.parameters, format: job.format });
    }, () => { /* #broken settled the job */ });
  }

  #onMessage(worker, msg) {
    if (worker !== this.worker) return;
    const job = this.current;
    if (!job || msg.id !== job.id) return;   // another request's answer, or a killed one's
    switch (msg.type) {
      case 'started':
        clearTimeout(job.startTimer);
        job.startedAt = performance.now();
        if (Number.isFinite(job.timeoutMs) && job.timeoutMs > 0 && !job.settled) {
          job.timer = setTimeout(() => this.#failCurrent('timeout',
            `The browser renderer ran past its time limit (${(job.timeoutMs / 1000).toFixed(1)} s) and was stopped.`),
          job.timeoutMs);
        }
        break;
      case 'log':
        if (!job.settled) job.onLog?.(msg.line);
        break;
      case 'done':
        this.current = null;
        if (job.settled) job.onLate?.({ bytes: msg.bytes, log: msg.log, ms: msg.ms });
        this.#settle(job, null, { bytes: msg.bytes, log: msg.log, ms: msg.ms });
        this.#pump();
        break;
      case 'failed':
        this.current = null;
        this.#settle(job, new RenderError(msg.error.type, msg.error.message,
          { line: msg.error.line, log: msg.log, renderer: 'wasm' }));
        this.#pump();
        break;
      default:
        break;
    }
  }
}
