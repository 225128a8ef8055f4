// server.js -- server renders: POST /api/jobs, its progress, cancellation; POST /api/render
// (synchronous) for the bytes and OpenSCAD's log; exponential backoff for failures worth retrying.

import { RenderError } from './errors.js';

export const RETRY = Object.freeze({
  attempts: 4,          // at most this many requests for one render
  baseMs: 500,          // first wait; doubles each time, with jitter
  maxWaitMs: 8_000,     // no single wait is longer (a longer Retry-After gives up instead)
});

export const POLL = Object.freeze({
  firstMs: 200,         // first look at a job this long after submitting it
  factor: 1.2,          // each wait a little longer than the last
  maxMs: 500,           // but never longer than this (a finished job waits no longer for its look)
  failures: 5,          // consecutive failed looks (network, 502-504) before giving up
});

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// The server's error object ({type, message, status, line, log, engine, request_id}) as a RenderError.
function errorFromObject(e, { requestId, status, retryAfter = null, engine = null }) {
  return new RenderError(e.type, e.message || e.type, {
    line: Number.isInteger(e.line) ? e.line : null,
    log: e.log || '',
    renderer: 'server',
    requestId: e.request_id || requestId,
    status: e.status || status,
    retryAfter,
    engine: e.engine || engine || null,
  });
}

async function errorFrom(res, requestId) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON: nginx's own error page */ }
  const e = body?.error;
  const retryAfter = Number(res.headers.get('Retry-After')) || null;
  if (e?.type) {
    return errorFromObject(e, { requestId, status: res.status, retryAfter, engine: res.headers.get('X-Engine') });
  }
  // No JSON error: a proxy in the way (502/504 while the FastCGI program restarts, ...).
  const type = res.status === 503 ? 'overloaded' : res.status === 413 ? 'payload_too_large' : 'internal';
  return new RenderError(type, `The server answered HTTP ${res.status}.`, { renderer: 'server', requestId, status: res.status, retryAfter });
}

// X-Render-Log: OpenSCAD's echo and warning lines, percent-encoded by the server.
function decodeLog(header) {
  if (!header) return '';
  try { return decodeURIComponent(header); } catch { return ''; }
}

function worthRetrying(err) {
  return err.type === 'network' || err.type === 'overloaded' || err.type === 'rate_limited' ||
    err.status === 502 || err.status === 504;
}

const networkError = (what, err, requestId) =>
  new RenderError('network', `${what}: ${err.message}`, { renderer: 'server', requestId });

// Calls once(attempt) until it resolves, or fails with an error not worth retrying, or the
// attempts or the patience run out; waits with exponential backoff (honouring Retry-After) between.
async function withRetries(once, { signal, onRetry }) {
  let lastError = null;
  for (let attempt = 1; attempt <= RETRY.attempts; attempt++) {
    try {
      return await once(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof RenderError)) throw err;
      lastError = err;
    }
    if (!worthRetrying(lastError) || attempt === RETRY.attempts) break;
    const backoff = RETRY.baseMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
    const wait = Math.max(backoff, (lastError.retryAfter || 0) * 1000);
    if (wait > RETRY.maxWaitMs) break;
    onRetry?.({ attempt, waitMs: wait, error: lastError });
    await sleep(wait, signal);
  }
  throw lastError;
}

// Settles as `promise` does, or rejects with the signal's reason as soon as it is aborted; a
// value that arrives after the abort goes to onLate (a job created meanwhile is cancelled there).
function unlessAborted(promise, signal, onLate) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => { reject(signal.reason); promise.then(onLate, () => {}); };
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

// POST /api/render: the synchronous render (a cache hit once the job is done). Resolves to the
// result shape of renderOnServer without `attempts`; rejects with a RenderError.
async function postRender({ apiBase, id, json, signal }) {
  let res;
  try {
    res = await fetch(new URL('render', apiBase), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': id },
      body: json,
      signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw networkError('The server could not be reached', err, id);
  }
  if (!res.ok) throw await errorFrom(res, id);
  let bytes;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw networkError('The answer was cut off', err, id);
  }
  return {
    bytes,
    renderer: res.headers.get('X-Cache') === 'hit' ? 'server-cache' : 'server',
    key: (res.headers.get('ETag') || '').replace(/^(W\/)?"|"$/g, '') || null,
    requestId: res.headers.get('X-Request-Id') || id,
    serverSeconds: Number(res.headers.get('X-Render-Time')) || null,
    contentType: res.headers.get('Content-Type'),
    log: decodeLog(res.headers.get('X-Render-Log')),
    engine: res.headers.get('X-Engine') || null,      // 'wasm' | 'cli' (null: a hit from an older server)
    engineFallback: res.headers.get('X-Engine-Fallback') || null,
  };
}

// The synchronous render alone, with retries: for servers without jobs.
async function renderSync({ apiBase, id, json, signal, onRetry }) {
  return withRetries(async (attempt) => ({ ...await postRender({ apiBase, id, json, signal }), attempts: attempt }),
    { signal, onRetry });
}

// DELETE /api/jobs/{id}, fire and forget (keepalive: it outlives a page being closed).
function cancelJob(apiBase, jobId, requestId) {
  try {
    fetch(new URL(`jobs/${encodeURIComponent(jobId)}`, apiBase), {
      method: 'DELETE', headers: { 'X-Request-Id': requestId }, keepalive: true, cache: 'no-store',
    }).catch(() => {});
  } catch { /* nothing to do */ }
}

const FINAL = new Set(['done', 'failed', 'cancelled']);

// What onJob hears: {jobId, state, position (queued: 1 = next), stage and elapsedSeconds (running)}.
const progressOf = (job) => ({
  jobId: job.id, state: job.state,
  position: Number.isInteger(job.position) ? job.position : null,
  stage: typeof job.stage === 'string' ? job.stage : null,
  elapsedSeconds: Number.isFinite(job.elapsed_seconds) ? job.elapsed_seconds : null,
});

// One render on the server, as a job. Resolves to {bytes, renderer: 'server'|'server-cache',
// key, requestId, serverSeconds, contentType, log, engine ('wasm'|'cli': which of the server's
// engines made it), engineFallback (why the server's CLI answered for its WASM engine), attempts,
// jobId}; rejects with a RenderError or the abort reason.
//
// POST /api/jobs (retried like any render request), then GET /api/jobs/{id} until the job is
// done (onJob hears every look), then POST /api/render with the same body, which is now a cache
// hit and brings OpenSCAD's log (X-Render-Log) with the bytes. Aborting sends DELETE
// /api/jobs/{id}, so the server stops the render. A server without jobs (404 or 405 on POST
// /api/jobs) gets the synchronous POST /api/render alone.
export async function renderOnServer({ apiBase, id, source, parameters, format, timeoutS, signal, onRetry, onJob }) {
  const body = { source, parameters, format };
  if (timeoutS) body.timeout = timeoutS;
  const json = JSON.stringify(body);
  signal?.throwIfAborted();

  // Submit. The request is not tied to the signal: an abort rejects at once, and a job the
  // server created all the same is cancelled when its id arrives.
  let attempts = 0;
  const submitted = await withRetries(async (attempt) => {
    attempts = attempt;
    const request = (async () => {
      let res;
      try {
        res = await fetch(new URL('jobs', apiBase), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Request-Id': id },
          body: json,
          cache: 'no-store',
        });
      } catch (err) {
        return { error: networkError('The server could not be reached', err, id) };
      }
      if (res.status === 404 || res.status === 405) return { noJobs: true };
      if (!res.ok) return { error: await errorFrom(res, id) };
      try {
        return { job: await res.json() };
      } catch (err) {
        return { error: networkError('The answer was cut off', err, id) };
      }
    })();
    const r = await unlessAborted(request, signal, (late) => {
      if (late.job?.id && !FINAL.has(late.job.state)) cancelJob(apiBase, late.job.id, id);
    });
    if (r.error) throw r.error;
    if (!r.job?.id && !r.noJobs) throw new RenderError('internal', 'The server answered a job without an id.', { renderer: 'server', requestId: id });
    return r;
  }, { signal, onRetry });
  if (submitted.noJobs) return renderSync({ apiBase, id, json, signal, onRetry });

  let job = submitted.job;
  const atOnce = job.state === 'done';
  const onAbort = () => cancelJob(apiBase, job.id, id);
  if (!FINAL.has(job.state)) signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let delay = POLL.firstMs;
    let failures = 0;
    const statusUrl = new URL(`jobs/${encodeURIComponent(job.id)}`, apiBase);
    while (!FINAL.has(job.state)) {
      onJob?.(progressOf(job));
      await sleep(delay, signal);
      delay = Math.min(delay * POLL.factor, POLL.maxMs);
      let err = null;
      try {
        const res = await fetch(statusUrl, { headers: { 'X-Request-Id': id }, signal, cache: 'no-store' });
        if (res.ok) job = await res.json();
        else err = await errorFrom(res, id);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        err = networkError('The server could not be reached', e, id);
      }
      if (err) {
        if (!worthRetrying(err) || ++failures >= POLL.failures) throw err;
      } else {
        failures = 0;
      }
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    cancelJob(apiBase, job.id, id);   // given up on: do not leave it to run
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  onJob?.(progressOf(job));
  if (job.state === 'failed') {
    throw errorFromObject(job.error || { type: 'internal', message: 'The job failed without saying why.' },
      { requestId: id, status: job.error?.status ?? 500 });
  }
  if (job.state === 'cancelled') {
    throw new RenderError('internal', 'The server cancelled the render.', { renderer: 'server', requestId: id });
  }

  // Done: the bytes and the log, from the cache.
  const r = await renderSync({ apiBase, id, json, signal, onRetry });
  return {
    ...r,
    renderer: atOnce ? 'server-cache' : 'server',
    key: r.key || job.key || null,
    serverSeconds: atOnce ? r.serverSeconds : (Number.isFinite(job.render_seconds) ? job.render_seconds : r.serverSeconds),
    engine: r.engine || job.engine || null,
    attempts,
    jobId: job.id,
  };
}

// GET /api/health, for the list of formats the server can export. Null when unreachable.
export async function serverHealth(apiBase, signal) {
  try {
    const res = await fetch(new URL('health', apiBase), { signal, cache: 'no-store' });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}
