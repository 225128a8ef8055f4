// wasm_client.mjs -- starts engines/wasm/helper.mjs as the C service will (its Node flags, under
// RLIMIT_AS) and speaks its framed protocol; shared by the tests and the measurements.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HELPER = join(repoRoot, 'engines', 'wasm', 'helper.mjs');
export const NODE_FLAGS = ['--disable-wasm-trap-handler', '--wasm-max-mem-pages=16384'];
export const AS_LIMIT = 4 * 1024 * 1024 * 1024;   // ulimit -v 4194304
export const STL_ARGS = ['--backend=manifold', '--export-format', 'binstl', '-o', 'out.stl', 'model.scad'];

// One request frame: files maps names to strings or Buffers, laid end to end in the blob.
export function requestFrame(json, files = {}) {
  const parts = [];
  let offset = 0;
  const list = Object.entries(files).map(([name, content]) => {
    const bytes = Buffer.from(content);
    parts.push(bytes);
    const entry = { name, offset, length: bytes.length };
    offset += bytes.length;
    return entry;
  });
  return rawFrame(JSON.stringify({ files: list, ...json }), Buffer.concat(parts));
}

// A frame from JSON text (not checked) and a blob.
export function rawFrame(jsonText, blob = Buffer.alloc(0)) {
  const json = Buffer.from(jsonText);
  const a = Buffer.alloc(4);
  a.writeUInt32LE(json.length, 0);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(blob.length, 0);
  return Buffer.concat([a, json, b, blob]);
}

export class Helper {
  // flags: Node's; env: added to the environment; asLimit: RLIMIT_AS in bytes (null: none).
  constructor({ flags = NODE_FLAGS, env = {}, asLimit = AS_LIMIT } = {}) {
    const node = [process.execPath, ...flags, HELPER];
    const [cmd, ...args] = asLimit ? ['prlimit', `--as=${asLimit}`, '--', ...node] : node;
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.stderr = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text) => { this.stderr += text; });
    this.child.stdin.on('error', () => {});   // a helper that exits early closes the pipe
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.child.stdout.on('data', (chunk) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.pump();
    });
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.pump(true);
        resolve({ code, signal });
      });
    });
  }

  get pid() { return this.child.pid; }

  pump(ended = false) {
    for (;;) {
      const b = this.buf;
      if (b.length < 4) break;
      const n = b.readUInt32LE(0);
      if (b.length < 8 + n) break;
      const m = b.readUInt32LE(4 + n);
      if (b.length < 8 + n + m) break;
      this.frames.push({ json: JSON.parse(b.subarray(4, 4 + n).toString()), blob: b.subarray(8 + n, 8 + n + m) });
      this.buf = b.subarray(8 + n + m);
    }
    while (this.waiters.length && (this.frames.length || ended)) {
      const w = this.waiters.shift();
      if (this.frames.length) w.resolve(this.frames.shift());
      else w.reject(new Error(`helper ended without a frame; stderr:\n${this.stderr.slice(-2000)}`));
    }
  }

  // The next frame from the helper, {json, blob}.
  next(timeoutMs = 60000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame in ${timeoutMs} ms; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({
        resolve: (f) => { clearTimeout(timer); resolve(f); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.pump(this.child.exitCode !== null || this.child.signalCode !== null);
    });
  }

  write(bytes) { this.child.stdin.write(bytes); }
  send(json, files) { this.write(requestFrame(json, files)); }
  end() { this.child.stdin.end(); }

  // Renders source (plus other files) and gives the answer with the log lines written for it.
  async render(id, source, { args = STL_ARGS, output = 'out.stl', files = {} } = {}) {
    const mark = this.stderr.length;
    this.send({ id, args, output }, { 'model.scad': source, ...files });
    const answer = await this.next();
    await settle();
    return { ...answer, log: this.stderr.slice(mark) };
  }

  // Waits until stderr after mark matches re (or times out), and gives it.
  async logUntil(mark, re, timeoutMs = 5000) {
    const t0 = Date.now();
    while (!re.test(this.stderr.slice(mark)) && Date.now() - t0 < timeoutMs) await sleep(10);
    return this.stderr.slice(mark);
  }

  // Closes stdin and waits for the helper to exit.
  async stop() {
    this.end();
    return this.exit;
  }

  kill() { this.child.kill('SIGKILL'); }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Lets stderr written before the last answer arrive (the two pipes are read separately).
export async function settle() {
  await new Promise((r) => setImmediate(r));
  await sleep(20);
}

// Binary STL: the triangle count (checking the file's length against it) and the bounding box.
export function readStl(buf) {
  if (buf.length < 84) throw new Error(`STL of ${buf.length} bytes`);
  const n = buf.readUInt32LE(80);
  if (buf.length !== 84 + 50 * n) throw new Error(`STL of ${buf.length} bytes says ${n} triangles`);
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let t = 0; t < n; t++) {
    for (let v = 0; v < 3; v++) {
      for (let k = 0; k < 3; k++) {
        const x = buf.readFloatLE(84 + t * 50 + 12 + v * 12 + k * 4);
        min[k] = Math.min(min[k], x);
        max[k] = Math.max(max[k], x);
      }
    }
  }
  return { triangles: n, min, max, size: max.map((x, k) => x - min[k]) };
}
