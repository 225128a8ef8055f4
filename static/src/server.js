// server.js -- POST /api/render, with exponential backoff for the failures worth retrying.

import { RenderError } from './errors.js';

export const RETRY = Object.freeze({
  attempts: 4,          // at most this many requests for one render
  baseMs: 500,          // first wait; doubles each time, with jitter
  maxWaitMs: 8_000,     // no single wait is longer (a longer Retry-After gives up instead)
});

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function errorFrom(res, requestId) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON: nginx's own error page */ }
  const e = body?.error;
  const retryAfter = Number(res.headers.get('Retry-After')) || null;
  if (e?.type) {
    return new RenderError(e.type, e.message || e.type, {
      line: Number.isInteger(e.line) ? e.line : null,
      log: e.log || '',
      renderer: 'server',
      requestId: e.request_id || requestId,
      status: res.status,
      retryAfter,
      engine: e.engine || res.headers.get('X-Engine') || null,
    });
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

// One render on the server. Resolves to {bytes, renderer: 'server'|'server-cache', key,
// requestId, serverSeconds, contentType, log, engine ('wasm'|'cli': which of the server's engines
// made it), engineFallback (why the server's CLI answered for its WASM engine), attempts}; rejects with a RenderError or the abort reason.
export async function renderOnServer({ apiBase, id, source, parameters, format, timeoutS, signal, onRetry }) {
  const body = { source, parameters, format };
  if (timeoutS) body.timeout = timeoutS;
  const json = JSON.stringify(body);
  let lastError = null;
  for (let attempt = 1; attempt <= RETRY.attempts; attempt++) {
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
      res = null;
      lastError = new RenderError('network', `The server could not be reached: ${err.message}`, { renderer: 'server', requestId: id });
    }
    if (res?.ok) {
      let bytes;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        lastError = new RenderError('network', `The answer was cut off: ${err.message}`, { renderer: 'server', requestId: id });
        res = null;
      }
      if (res) {
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
          attempts: attempt,
        };
      }
    } else if (res) {
      lastError = await errorFrom(res, id);
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

// GET /api/health, for the list of formats the server can export. Null when unreachable.
export async function serverHealth(apiBase, signal) {
  try {
    const res = await fetch(new URL('health', apiBase), { signal, cache: 'no-store' });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}
