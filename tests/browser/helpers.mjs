// helpers.mjs -- shared by the browser tests and the browser benchmark: Chromium, page state, PNGs.

import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, inflateSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
// OpenSCAD's examples: SCADSERVE_CORPUS (as the conformance suite), else ../shared beside the
// checkout, else the workplace's copy.
export const corpusDir = process.env.SCADSERVE_CORPUS ||
  [join(repoRoot, '..', 'shared', 'corpus', 'openscad-examples'), '/work/shared/corpus/openscad-examples']
    .find((d) => existsSync(d)) || join(repoRoot, '..', 'shared', 'corpus', 'openscad-examples');
const require = createRequire(join(repoRoot, 'static', 'package.json'));
const { chromium } = require('playwright-core');

export const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080/').replace(/\/?$/, '/');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // WebGL without a GPU: ANGLE on SwiftShader, so the Three.js canvas really draws.
  '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];

// A headless Chromium with a fresh profile (its folder: profile); close() removes the profile too.
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'scadserve-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 }, acceptDownloads: true,
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close, profile };
}

// The fragment of a share link, built the way the page builds it (see docs/browser.md).
export function shareHash(source, parameters = {}) {
  const raw = deflateRawSync(Buffer.from(JSON.stringify({ source, parameters })));
  return `#s=${raw.toString('base64url')}`;
}

export function pageUrl({ query = '', source, parameters } = {}) {
  const hash = source === undefined ? '' : shareHash(source, parameters);
  return `${BASE_URL}${query ? `?${query}` : ''}${hash}`;
}

// Collects page errors so a test can assert there were none.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}

export async function status(page) {
  return page.evaluate(() => {
    const s = document.querySelector('#status');
    return { ...s.dataset, text: document.querySelector('#status-text').textContent };
  });
}

// Waits until the page has finished more renders than `after` (the status' data-seq), and
// returns the status. The page sets data-seq after the model is on screen.
export async function waitRender(page, { after = 0, timeout = 60_000 } = {}) {
  await page.waitForFunction((n) => {
    const s = document.querySelector('#status');
    return (s.dataset.state === 'done' || s.dataset.state === 'error') && Number(s.dataset.seq || 0) > n;
  }, after, { timeout, polling: 20 });
  return status(page);
}

export async function seq(page) {
  return Number(await page.locator('#status').getAttribute('data-seq') || 0);
}

// Decodes an 8-bit RGB or RGBA PNG (what Chromium's screenshots are) to {width, height, channels, pixels}.
export function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let pos = 8, width = 0, height = 0, depth = 0, type = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const kind = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (kind === 'IHDR') { width = data.readUInt32BE(0); height = data.readUInt32BE(4); depth = data[8]; type = data[9]; }
    if (kind === 'IDAT') idat.push(data);
    if (kind === 'IEND') break;
    pos += 12 + len;
  }
  if (depth !== 8 || (type !== 2 && type !== 6)) throw new Error(`unsupported PNG (depth ${depth}, type ${type})`);
  const channels = type === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = v & 255;
    }
  }
  return { width, height, channels, pixels };
}

// Fraction of pixels that are "model coloured" (warm yellow: red and green high, blue low).
export function modelPixelShare(png) {
  const { pixels, channels } = png;
  let hits = 0;
  const n = pixels.length / channels;
  for (let i = 0; i < pixels.length; i += channels) {
    const r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
    if (r > 90 && g > 60 && r - b > 50 && g - b > 25) hits++;
  }
  return hits / n;
}

// Number of distinct colours, coarsely quantised: a blank canvas has one or two.
export function colourCount(png) {
  const { pixels, channels } = png;
  const seen = new Set();
  for (let i = 0; i < pixels.length; i += channels) {
    seen.add(((pixels[i] >> 3) << 10) | ((pixels[i + 1] >> 3) << 5) | (pixels[i + 2] >> 3));
  }
  return seen.size;
}

// Every process of the Chromium whose profile folder is profile: PSS and RSS in bytes.
export function browserMemory(profile) {
  const parent = new Map(), cmd = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
      cmd.set(Number(d), readFileSync(`/proc/${d}/cmdline`, 'utf8'));
    } catch { /* gone */ }
  }
  const roots = [...cmd].filter(([, c]) => c.includes(profile)).map(([p]) => p);
  const all = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parent) if (!all.has(p) && all.has(pp)) { all.add(p); grew = true; }
  }
  let pss = 0, rss = 0;
  for (const p of all) {
    try {
      const s = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
      rss += Number(/^Rss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
    } catch { /* gone */ }
  }
  return { pss, rss, processes: all.size };
}
