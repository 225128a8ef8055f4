// jobs.test.mjs -- server renders go through render jobs (POST /api/jobs, GET /api/jobs/{id}):
// the page shows the queue position, OpenSCAD's stage and the elapsed time, and Cancel really
// cancels (DELETE /api/jobs/{id}, the job ends `cancelled` on the server), in the browser too.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, launch, pageUrl, status, waitRender, watchErrors } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const unique = () => `// ${process.pid}-${Date.now()}-${Math.random()}\n`;
// About four seconds of OpenSCAD 2025 (WASM) on the server, and as long in the browser.
const slow = () => `${unique()}function spin(n) = n <= 0 ? 0 : spin(n - 1);\necho(spin(6e5));\ncube(2);\n`;

const api = (path) => new URL(`api/${path}`, BASE_URL);
async function jobState(id) {
  const res = await fetch(api(`jobs/${id}`), { cache: 'no-store' });
  assert.equal(res.status, 200, `GET /api/jobs/${id}`);
  return res.json();
}
async function submit(source) {
  const res = await fetch(api('jobs'), {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ source }),
  });
  assert.equal(res.status, 202);
  return res.json();
}
const cancelJob = (id) => fetch(api(`jobs/${id}`), { method: 'DELETE' }).then((r) => r.json());

// Every request the page makes to /api/, as "METHOD path".
function apiRequests(page) {
  const seen = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/') && u.pathname !== '/api/health') seen.push({ line: `${r.method()} ${u.pathname}`, request: r });
  });
  return seen;
}

const JOB_PATH = /^\/api\/jobs\/([0-9a-f-]{36})$/;

test('with ?renderer=server the page renders through a job and shows the model', async () => {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  const requests = apiRequests(page);
  await page.goto(pageUrl({ query: 'renderer=server', source: `${unique()}echo("via a job");\ncube([2, 3, 4]);\n` }));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.renderer, 'server');
  assert.equal(s.engine, 'wasm');
  assert.equal(s.bbox, '2.000,3.000,4.000');
  assert.equal(s.job, 'done');
  const lines = requests.map((r) => r.line);
  const posts = lines.filter((l) => l === 'POST /api/jobs');
  assert.equal(posts.length, 1, lines.join('\n'));
  const polls = lines.filter((l) => /^GET \/api\/jobs\/[0-9a-f-]{36}$/.test(l));
  assert.ok(polls.length >= 1, `the job was followed: ${lines.join(', ')}`);
  assert.equal(new Set(polls).size, 1, 'one job');
  // The bytes and OpenSCAD's log come from the cache hit of POST /api/render, after the job.
  assert.ok(lines.indexOf('POST /api/render') > lines.lastIndexOf(polls.at(-1)), lines.join(', '));
  assert.equal(lines.filter((l) => l === 'POST /api/render').length, 1);
  const jobId = JOB_PATH.exec(polls[0].split(' ')[1])[1];
  assert.equal((await jobState(jobId)).state, 'done');
  assert.match(await page.locator('#log').textContent(), /ECHO: "via a job"/);
  assert.equal(await page.locator('#cancel').isHidden(), true, 'no Cancel button once done');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a job waiting for a runner shows its place in the queue', async () => {
  // Both job runners (RUNNERS=2) busy with slow renders: the page's job waits, first in line.
  const blockers = [await submit(slow()), await submit(slow())];
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  try {
    await page.goto(pageUrl({ query: 'renderer=server', source: `${unique()}cube(3);\n` }));
    await page.waitForFunction(() => document.querySelector('#status').dataset.job === 'queued', null, { timeout: 10_000 });
    const queued = await status(page);
    assert.equal(queued.state, 'rendering');
    assert.match(queued.text, /^Queued on the server \(position \d+\)… \d+\.\d s/);
    assert.equal(await page.locator('#cancel').isVisible(), true, 'Cancel is offered while queued');
  } finally {
    for (const b of blockers) await cancelJob(b.id);
  }
  const s = await waitRender(page, { timeout: 30_000 });
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.bbox, '3.000,3.000,3.000');
  for (const b of blockers) assert.equal((await jobState(b.id)).state, 'cancelled');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Cancel during a slow server render deletes the job, and the server stops it', async () => {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  const requests = apiRequests(page);
  await page.goto(pageUrl({ query: 'renderer=server', source: slow() }));
  // Running: the status line names OpenSCAD's stage and counts the seconds. (A job is running
  // from when a runner takes it; the stage comes once it has a render slot.)
  try {
    await page.waitForFunction(() => /Rendering on the server — .+ — \d+\.\d s/.test(document.querySelector('#status-text').textContent),
      null, { timeout: 20_000, polling: 20 });
  } catch (err) {
    const lines = requests.map((r) => r.line);
    const jobPath = lines.find((l) => /^GET \/api\/jobs\//.test(l))?.split(' ')[1];
    const job = jobPath ? await (await fetch(new URL(jobPath, BASE_URL))).text() : 'no job';
    const metrics = (await (await fetch(api('metrics'))).text()).split('\n').filter((l) => /^scadserve_(jobs|renders|queue|slots)/.test(l));
    err.message += `\nstatus: ${JSON.stringify(await status(page))}\njob: ${job}\n${metrics.join('\n')}`;
    throw err;
  }
  const running = await status(page);
  assert.equal(running.job, 'running');
  assert.match(running.text, /rendering \(OpenSCAD 2025, WASM\)/);
  // The elapsed time ticks between looks at the job.
  const first = Number(/(\d+\.\d) s/.exec(running.text)[1]);
  await page.waitForTimeout(400);
  const later = Number(/(\d+\.\d) s/.exec((await status(page)).text)[1]);
  assert.ok(later > first, `elapsed ${first} s, then ${later} s`);

  // Cancel, from the keyboard.
  await page.locator('#cancel').focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'cancelled', null, { timeout: 2000 });
  const s = await status(page);
  assert.match(s.text, /^Cancelled/);
  assert.equal(await page.locator('#cancel').isHidden(), true);
  const post = requests.find((r) => r.line === 'POST /api/jobs');
  const jobPath = requests.map((r) => r.line).find((l) => /^GET \/api\/jobs\//.test(l)).split(' ')[1];
  const jobId = JOB_PATH.exec(jobPath)[1];
  await page.waitForTimeout(300);
  assert.ok(requests.some((r) => r.line === `DELETE ${jobPath}`), requests.map((r) => r.line).join(', '));
  assert.equal((await jobState(jobId)).state, 'cancelled');
  assert.ok(!requests.some((r) => r.line === 'POST /api/render'), 'nothing fetched after the cancel');

  // The server really stopped: after the time the render needed, the model is not in its cache
  // (the same body as a job is not done at once), and the job is still cancelled.
  await page.waitForTimeout(5000);
  assert.equal((await jobState(jobId)).state, 'cancelled');
  const again = await fetch(api('jobs'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: post.request.postData() });
  const job = await again.json();
  assert.notEqual(job.state, 'done', 'the cancelled render was not finished');
  await cancelJob(job.id);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Cancel stops a browser render too; the next render works', async () => {
  const page = await browser.context.newPage();
  const errors = watchErrors(page);
  const requests = apiRequests(page);
  await page.goto(pageUrl({ source: slow() }));
  await page.waitForFunction(() => /Rendering in the browser… [1-9]/.test(document.querySelector('#status-text').textContent),
    null, { timeout: 20_000, polling: 20 });
  await page.locator('#cancel').click();
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'cancelled', null, { timeout: 2000 });
  assert.match((await status(page)).text, /^Cancelled after \d/);
  assert.equal(await page.locator('#cancel').isHidden(), true);
  // Nothing reached the server, and the render does not come back later.
  await page.waitForTimeout(500);
  assert.equal((await status(page)).state, 'cancelled');
  assert.deepEqual(requests.filter((r) => r.request.method() === 'POST').map((r) => r.line), []);

  await page.evaluate(() => window.scadserve.editor.setValue('cube([1, 2, 3]);\n'));
  const s = await waitRender(page);
  assert.equal(s.state, 'done', s.text);
  assert.equal(s.renderer, 'wasm');
  assert.equal(s.bbox, '1.000,2.000,3.000');
  assert.deepEqual(errors, []);
  await page.close();
});
