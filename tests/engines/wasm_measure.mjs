// wasm_measure.mjs -- figures for engines/wasm/helper.mjs, printed, never asserted: start-up,
// spare preparation, render round trips through the protocol, memory over many renders.
//
//   node tests/engines/wasm_measure.mjs [renders]     (default 200)

import { readFileSync } from 'node:fs';

import { Helper, STL_ARGS, sleep } from './wasm_client.mjs';

const RENDERS = Number(process.argv[2] || 200);

const status = (pid) => {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(text.match(new RegExp(`${key}:\\s+(\\d+) kB`))[1]);
  return { rss: kb('VmRSS') / 1024, size: kb('VmSize') / 1024 };
};
const mb = (x) => `${x.toFixed(0)} MB`;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `median ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, min ${s[0].toFixed(1)} ms (n=${s.length})`;
};

const t0 = performance.now();
const h = new Helper();
const ready = (await h.next()).json;
const startMs = performance.now() - t0;
console.log(`OpenSCAD ${ready.version}; start to ready frame: ${startMs.toFixed(0)} ms ` +
  `(load ${ready.ms.load.toFixed(0)} ms, compile ${ready.ms.compile.toFixed(0)} ms, first spare ${ready.ms.spare_ready.toFixed(0)} ms)`);
await sleep(1000);
const idle = status(h.pid);
console.log(`idle: RSS ${mb(idle.rss)}, address space ${mb(idle.size)}`);

// cube(10) with the spare ready (a pause between requests), then back to back.
async function series(n, pause, source) {
  const wall = [], render = [], spare = [], wait = [];
  for (let i = 0; i < n; i++) {
    if (pause) await sleep(pause);
    const t = performance.now();
    h.send({ id: `m${i}`, args: STL_ARGS, output: 'out.stl' }, { 'model.scad': source });
    const r = await h.next();
    wall.push(performance.now() - t);
    if (r.json.exit !== 0) throw new Error(`render failed: ${JSON.stringify(r.json)}`);
    render.push(r.json.ms.render);
    spare.push(r.json.ms.spare_ready);
    wait.push(r.json.ms.wait);
  }
  return { wall, render, spare, wait };
}

const warm = await series(30, 150, 'cube(10);');
console.log(`cube(10), spare ready: round trip ${stats(warm.wall)}; render ${stats(warm.render)}`);
console.log(`spare preparation (GC, instance, fonts, MCAD, stack): ${stats(warm.spare)}`);
const b2b = await series(30, 0, 'cube(10);');
console.log(`cube(10), back to back: round trip ${stats(b2b.wall)}; waiting for the spare ${stats(b2b.wait)}`);
const text = await series(10, 150, 'linear_extrude(1) text("Hello");');
console.log(`linear_extrude(1) text("Hello"): render ${stats(text.render)}`);

const rss = [status(h.pid).rss];
const small = 'difference() { cube(10, center = true); sphere(6); }';
for (let done = 0; done < RENDERS; done += 50) {
  await series(Math.min(50, RENDERS - done), 0, small);
  await sleep(300);
  rss.push(status(h.pid).rss);
}
console.log(`RSS over ${RENDERS} renders of a small model (every 50): ${rss.map(mb).join(', ')}`);
const { code } = await h.stop();
console.log(`exit ${code}`);
