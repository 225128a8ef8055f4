// main.js -- the page: wires the editor, viewer, customizer and log pane to the render API.

import { Customizer } from './customizer.js';
import { Editor } from './editor.js';
import { TWO_D_FORMATS, extensionOf, labelOf } from './formats.js';
import { parseParameters } from './params.js';
import { configure, formats, getConfig, render, warm } from './render.js';
import { renderMesh } from './mesh.js';
import { decodeShare, encodeShare } from './share.js';
import { Viewer } from './viewer.js';

const DEFAULT_SOURCE = `// A parametric tray. Edit the source, or use the customizer on the right.
// Renders run after a short pause in typing, or at once on Ctrl+Enter.

/* [Size] */
// Outer width (mm)
width = 60; // [20:1:150]
// Outer depth (mm)
depth = 40; // [20:1:150]
// Height (mm)
height = 18; // [5:1:60]

/* [Details] */
// Wall thickness (mm)
wall = 2; // [1:0.5:6]
// Number of compartments
compartments = 3; // [1:1:8]
// Corner style
corners = "round"; // [round, square]

$fn = 48;

module shell(w, d, h, r) {
    if (corners == "round")
        hull() for (x = [r, w - r], y = [r, d - r])
            translate([x, y, 0]) cylinder(h = h, r = r);
    else
        cube([w, d, h]);
}

difference() {
    shell(width, depth, height, 4);
    translate([wall, wall, wall])
        shell(width - 2 * wall, depth - 2 * wall, height, max(4 - wall, 0.5));
}

if (compartments > 1)
    for (i = [1 : compartments - 1])
        translate([i * width / compartments - wall / 2, wall, 0])
            cube([wall, depth - 2 * wall, height - 2]);
`;

const EDIT_PAUSE_MS = 400;     // render this long after the last keystroke
const COALESCE_MS = 1000;      // a customizer change lets a render younger than this finish first
const RENDERER_NAMES = {
  memory: 'memory',
  wasm: 'browser WASM',
  'server-cache': 'server cache',
  server: 'server render',
};

const $ = (sel) => document.querySelector(sel);
const statusEl = $('#status');
const statusText = $('#status-text');
const progressEl = $('#progress');
const cancelButton = $('#cancel');
const logEl = $('#log');

// Page options, for testing and debugging: ?timeout=ms (browser time limit), ?renderer=auto|wasm|server.
const pageOptions = new URLSearchParams(location.search);
if (pageOptions.has('timeout')) configure({ timeoutMs: Math.max(1, Number(pageOptions.get('timeout')) || getConfig().timeoutMs) });
const rendererChoice = ['auto', 'wasm', 'server'].includes(pageOptions.get('renderer')) ? pageOptions.get('renderer') : 'auto';

let controller = null;        // aborts the render in flight
let sequence = 0;             // renders started; a finished render older than this is ignored
let completed = 0;            // renders shown
let editTimer = 0;
let tickTimer = 0;
let current = null;           // {source, parameters, result, stl} of the model on screen
let inFlight = null;          // {started} of the render under way
let pendingRun = false;       // a customizer change waits for the render under way
let pendingTimer = 0;
const USER_CANCEL = 'Cancelled by the user.';

const viewer = new Viewer($('#viewer'));
// Dragging a slider asks for many renders: let a young render finish (its result is shown, and
// kept in memory) and then render the latest values, rather than kill the worker each time.
function parametersChanged() {
  saveWork();
  const age = inFlight ? performance.now() - inFlight.started : Infinity;
  if (age >= COALESCE_MS) { runNow(); return; }
  pendingRun = true;
  clearTimeout(pendingTimer);
  pendingTimer = setTimeout(() => { if (pendingRun) runNow(); }, COALESCE_MS - age);
}

const customizer = new Customizer($('#customizer'), { onChange: parametersChanged });
const editor = new Editor($('#editor'), {
  doc: '',
  onChange: (source) => {
    customizer.setParameters(parseParameters(source));
    if (!restoring) saveWork();
    controller?.abort(new DOMException('The source changed.', 'AbortError'));
    clearTimeout(editTimer);
    editTimer = setTimeout(runNow, EDIT_PAUSE_MS);
    setBusy(true);
  },
  onRun: () => runNow(),
});

function fmtMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function fmtNum(x) {
  return Number(x.toFixed(3)).toLocaleString('en-US', { maximumFractionDigits: 3 });
}

function setStatus(state, text, attrs = {}) {
  statusEl.dataset.state = state;
  for (const [k, v] of Object.entries(attrs)) statusEl.dataset[k] = v ?? '';
  statusText.textContent = text;
  progressEl.hidden = state !== 'rendering';
}

// The Cancel button is there while a render runs (or is about to: an edit waits for its pause).
function setBusy(busy) {
  if (!busy && document.activeElement === cancelButton) $('#render').focus();
  cancelButton.hidden = !busy;
}

// Cancel: stops the render under way (the browser's worker, or the server's job: DELETE
// /api/jobs/{id}) and any render waiting to start; the model on screen stays.
function cancel() {
  const rendering = Boolean(inFlight) || editTimer || pendingRun;
  clearTimeout(editTimer);
  clearTimeout(pendingTimer);
  editTimer = 0;
  pendingRun = false;
  if (!rendering) return;
  const took = inFlight ? performance.now() - inFlight.started : 0;
  controller?.abort(new DOMException(USER_CANCEL, 'AbortError'));
  sequence++;                   // whatever the cancelled render still says is ignored
  clearInterval(tickTimer);
  inFlight = null;
  setBusy(false);
  setStatus('cancelled', `Cancelled${took ? ` after ${fmtMs(took)}` : ''}.`, {
    renderer: '', engine: '', errorType: '', errorLine: '', job: '',
  });
  log('info', 'Render cancelled.');
}

function log(kind, text) {
  const line = document.createElement('div');
  line.className = `log-line log-${kind}`;
  line.textContent = text;
  logEl.append(line);
  while (logEl.childElementCount > 2000) logEl.firstElementChild.remove();
  logEl.scrollTop = logEl.scrollHeight;
}

// OpenSCAD's statistics after a render (cache sizes, times, the object's figures): shown
// muted, so that its echo, warnings and errors stand out.
const STATISTICS = /^(Geometries in cache|Geometry cache size|CGAL Polyhedrons in cache|CGAL cache size|Total rendering time|\s*Top level object is|\s+(Status|Genus|Vertices|Facets|Halfedges|Edges|Volumes|Convex|Simple|Faces):)/;

function logOpenscad(text) {
  for (const line of text.split('\n')) {
    if (!line.trim() || /Could not initialize localization/.test(line)) continue;
    const kind = /^ECHO:/.test(line) ? 'echo' : /^(WARNING|DEPRECATED):/.test(line) ? 'warning'
      : /^(ERROR|TRACE):/.test(line) ? 'error' : STATISTICS.test(line) ? 'stat' : 'info';
    log(kind, line);
  }
}

function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
}

// What went wrong, in words (the error's type stays in the status' data-error-type).
const ERROR_WORDS = {
  invalid_scad: 'OpenSCAD error', empty_model: 'Nothing to show', file_not_accessible: 'A file is missing',
  timeout: 'Took too long', memory_limit: 'Ran out of memory', output_too_large: 'Too large',
  renderer_crashed: 'OpenSCAD crashed', overloaded: 'The server is busy', bad_request: 'Not a valid request',
  payload_too_large: 'Too large to send', engine_unavailable: 'The server cannot render it now',
  sandbox_unavailable: 'The server cannot render now', wasm_unavailable: 'The browser cannot render it',
  wasm_failed: 'The browser renderer failed', network: 'The server cannot be reached', internal: 'Server error',
};
// A message as a person reads it: without OpenSCAD's "ERROR: " prefix (the status says it is one).
function plainMessage(text) {
  return String(text).replace(/^(ERROR:\s*)+/, '');
}

// The name downloads get: the source's first comment, as a file name ("A parametric tray." ->
// "a-parametric-tray"), else "model".
function modelName(source) {
  const first = /^\s*(?:\/\/+|\/\*+)\s*([^\n]*?)\s*(?:\*\/)?\s*$/m.exec(source.split('\n').find((l) => l.trim()) ?? '');
  const slug = (first?.[1] ?? '').toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48)
    .replace(/-+$/, '');
  return slug || 'model';
}

// Which of the server's engines answered, for the status line.
const ENGINE_NAMES = { wasm: 'OpenSCAD 2025 WASM engine', cli: 'OpenSCAD 2021 CLI engine' };
function describeEngine(r) {
  if (!r?.engine || !String(r.renderer ?? '').startsWith('server')) return '';
  return ` (${ENGINE_NAMES[r.engine] ?? r.engine}${r.engineFallback ? `: ${r.engineFallback}` : ''})`;
}

function describeFallback(err) {
  if (!err) return '';
  const why = {
    timeout: 'browser WASM timed out', memory_limit: 'browser WASM ran out of memory',
    wasm_unavailable: 'browser WASM unavailable',
    wasm_failed: /no library/.test(err.message) ? err.message.replace(/^The browser renderer has/, 'browser WASM has').replace(/\.$/, '') : 'browser WASM failed',
    renderer_crashed: 'browser WASM crashed',
  }[err.type] ?? `browser WASM: ${err.type}`;
  return ` (fallback: ${why})`;
}

async function runNow() {
  clearTimeout(editTimer);
  clearTimeout(pendingTimer);
  editTimer = 0;
  pendingRun = false;
  controller?.abort(new DOMException('A newer render replaced this one.', 'AbortError'));
  const ctl = new AbortController();
  controller = ctl;
  const my = ++sequence;
  inFlight = { started: performance.now() };
  const source = editor.getValue();
  const parameters = customizer.getValues();
  const t0 = performance.now();
  let phase = 'memory';
  let fallbackReason = null;
  let streamed = false;         // OpenSCAD's output already went to the log as it came
  let job = null;               // the server job's last news, and when it came
  const label = () => ({ memory: '', wasm: ' in the browser', server: ' on the server' }[phase] ?? '');
  const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const statusLine = () => {
    const now = performance.now();
    if (phase === 'server' && job?.state === 'queued') {
      return `Queued on the server${job.position ? ` (position ${job.position})` : ''}… ${secs(now - job.since)}`;
    }
    if (phase === 'server' && job?.state === 'running') {
      const elapsed = (job.elapsedSeconds ?? 0) * 1000 + (now - job.at);
      return `Rendering on the server${job.stage ? ` — ${job.stage}` : ''} — ${secs(elapsed)}`;
    }
    return `Rendering${label()}… ${secs(now - t0)}`;
  };
  clearInterval(tickTimer);
  tickTimer = setInterval(() => {
    if (my === sequence && statusEl.dataset.state === 'rendering') {
      setStatus('rendering', `${statusLine()}${describeFallback(fallbackReason)}`);
    }
  }, 100);
  setStatus('rendering', 'Rendering…', { renderer: '', engine: '', errorType: '', errorLine: '', job: '' });
  setBusy(true);
  logEl.textContent = '';
  const onProgress = (e) => {
    if (my !== sequence) return;
    if (e.phase === 'log') { streamed = true; logOpenscad(e.line); }
    else if (e.phase === 'wasm') phase = 'wasm';
    else if (e.phase === 'server' && e.state) {
      // The job's progress: queued (position), running (stage, elapsed), done, ...
      const since = job?.state === e.state ? job.since : performance.now();
      job = { ...e, at: performance.now(), since };
      statusEl.dataset.job = e.state;
      if (statusEl.dataset.state === 'rendering') setStatus('rendering', `${statusLine()}${describeFallback(fallbackReason)}`);
    } else if (e.phase === 'server') {
      phase = 'server';
      streamed = false;
      job = null;
      fallbackReason = e.reason;
      if (e.reason) log('warning', `Falling back to the server: ${e.reason.message}`);
    } else if (e.phase === 'retry') {
      log('warning', `Server: ${e.error.message} Retrying in ${fmtMs(e.waitMs)} (attempt ${e.attempt + 1}).`);
    }
  };
  try {
    const options = { parameters, renderer: rendererChoice, signal: ctl.signal, onProgress };
    const { result, stl } = await renderMesh(source, options);
    if (my !== sequence) return;
    await viewer.setModel(stl);
    $('#viewer').classList.remove('stale');
    if (my !== sequence) return;
    current = { source, parameters, result, stl };
    const select = $('#format');
    if (Boolean(stl.flat) !== TWO_D_FORMATS.has(select.value)) {
      const want = stl.flat ? ['svg', 'dxf'] : ['stl'];
      const option = [...select.options].find((o) => want.includes(o.value));
      if (option) select.value = option.value;
    }
    completed++;
    if (result.renderer === 'memory' || result.renderer.startsWith('server')) logOpenscad(result.log);
    editor.showWarnings(result.warnings);
    const size = stl.max.map((v, i) => v - stl.min[i]);
    $('#model-info').textContent = stl.flat
      ? `2D: ${size.slice(0, 2).map(fmtNum).join(' × ')} mm · ${stl.triangles.toLocaleString('en-US')} triangles`
      : `${size.map(fmtNum).join(' × ')} mm · ${stl.triangles.toLocaleString('en-US')} triangles`;
    const took = performance.now() - t0;
    if (!performance.getEntriesByName('scadserve:first-model').length) performance.mark('scadserve:first-model');
    setStatus('done',
      `Done in ${fmtMs(took)} · ${RENDERER_NAMES[result.renderer]}${describeEngine(result)}${describeFallback(result.fallback)} · ` +
      `${stl.flat ? '2D model, ' : ''}${stl.triangles.toLocaleString('en-US')} triangles`, {
        renderer: result.renderer, engine: result.engine ?? '', triangles: String(stl.triangles), durationMs: String(Math.round(took)),
        bbox: size.map((v) => v.toFixed(3)).join(','), seq: String(completed), fallback: result.fallback?.type ?? '',
        requestId: result.requestId, shownAt: performance.now().toFixed(1), dimensions: stl.flat ? '2' : '3',
      });
    log('info', `Done in ${fmtMs(took)}: ${RENDERER_NAMES[result.renderer]}${describeEngine(result)}${describeFallback(result.fallback)}.`);
  } catch (err) {
    if (my !== sequence || err?.name === 'AbortError') return;   // cancel() has said so already
    // The model on screen is the last one that rendered, not this source's: say so.
    if (current) $('#viewer').classList.add('stale');
    const type = err?.type ?? 'internal';
    const line = err?.line ?? null;
    if (err?.log && !streamed) logOpenscad(err.log);
    log('error', `${type}: ${err?.message ?? err}`);
    editor.showError(err?.message ?? String(err), line);
    completed++;
    setStatus('error', `${ERROR_WORDS[type] ?? 'Error'}${line ? ` on line ${line}` : ''}: ${plainMessage(err?.message ?? String(err))}` +
      `${err?.renderer ? ` · ${RENDERER_NAMES[err.renderer] ?? err.renderer}${describeEngine(err)}` : ''}`, {
      renderer: err?.renderer ?? '', engine: err?.engine ?? '', errorType: type, errorLine: line ? String(line) : '', triangles: '',
      seq: String(completed),
    });
  } finally {
    if (my === sequence) {
      clearInterval(tickTimer);
      inFlight = null;
      if (pendingRun) runNow();
      else if (!editTimer) setBusy(false);
    }
  }
}

async function download() {
  const format = $('#format').value;
  const source = editor.getValue();
  const parameters = customizer.getValues();
  const button = $('#download');
  button.disabled = true;
  try {
    // The model on screen when it is this source; otherwise (another format, a 2D model, an
    // edit not rendered yet) a render in that format, through memory, WASM or the server.
    const onScreen = current && current.source === source &&
      JSON.stringify(current.parameters) === JSON.stringify(parameters) && format === current.result.format;
    let bytes;
    if (onScreen) {
      bytes = current.result.bytes;
    } else {
      toast(`Rendering ${labelOf(format)}…`);
      bytes = (await render(source, { parameters, format, renderer: rendererChoice })).bytes;
    }
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${modelName(source)}.${extensionOf(format)}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    toast(`Download failed: ${err.message}`);
    log('error', `Download (${format}): ${err.type ?? ''} ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function share() {
  const fragment = await encodeShare({ source: editor.getValue(), parameters: customizer.getValues() });
  const url = `${location.origin}${location.pathname}#${fragment}`;
  history.replaceState(null, '', `${location.pathname}${location.search}#${fragment}`);
  const field = $('#share-url');
  field.value = url;
  field.hidden = false;
  field.select();
  try {
    await navigator.clipboard.writeText(url);
    toast('Share link copied to the clipboard.');
  } catch {
    toast('Share link ready: copy it from the box.');
  }
}

// The work in progress survives a reload: the source and the customizer's values are kept in
// the browser (localStorage) as they change, and put back when the page opens without a share
// link (a share link opens what it carries; the kept work is replaced at the next edit).
const WORK_KEY = 'scadserve:work';
let restoring = false;
function loadWork() {
  try {
    const w = JSON.parse(localStorage.getItem(WORK_KEY) ?? 'null');
    return typeof w?.source === 'string' ? w : null;
  } catch {
    return null;
  }
}
let saveTimer = 0;
function saveWork() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    try {
      localStorage.setItem(WORK_KEY, JSON.stringify({ source: editor.getValue(),
        parameters: customizer.getValues(), savedAt: Date.now() }));
    } catch { /* storage full or refused: nothing kept */ }
  }, 250);
}

async function loadFromLocation() {
  const shared = await decodeShare(location.hash);
  const kept = shared ? null : loadWork();
  const source = shared?.source ?? kept?.source ?? DEFAULT_SOURCE;
  restoring = true;
  editor.setValue(source);          // the change listener parses parameters and schedules a render
  restoring = false;
  customizer.setParameters(parseParameters(source));
  if (shared) customizer.setValues(shared.parameters);
  else if (kept) customizer.setValues(kept.parameters ?? {});
  runNow();   // (clears the log)
  if (kept) log('info', `Restored your work from ${new Date(kept.savedAt || Date.now()).toLocaleString()} (kept in this browser).`);
}

async function fillFormats() {
  const { all } = await formats();
  const select = $('#format');
  const known = ['stl', 'asciistl', 'off', 'amf', '3mf', 'wrl', 'dxf', 'svg'];
  const list = [...known.filter((f) => all.includes(f)), ...all.filter((f) => !known.includes(f) && f !== 'binstl')];
  select.textContent = '';
  for (const f of list) select.append(new Option(labelOf(f), f));
}

$('#render').addEventListener('click', () => runNow());
cancelButton.addEventListener('click', cancel);
$('#fit').addEventListener('click', () => viewer.fit());
for (const b of document.querySelectorAll('[data-view]')) b.addEventListener('click', () => viewer.view(b.dataset.view));
$('#grid').addEventListener('change', (e) => viewer.setHelpersVisible(e.target.checked));
$('#download').addEventListener('click', download);
$('#share').addEventListener('click', share);
$('#log-clear').addEventListener('click', () => { logEl.textContent = ''; });
window.addEventListener('hashchange', () => { if (/^#(s|source)=/.test(location.hash)) loadFromLocation(); });
window.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
    if (!e.defaultPrevented) { e.preventDefault(); runNow(); }   // the editor handles its own
    return;
  }
  if (e.key === 'Escape' && !cancelButton.hidden && !e.defaultPrevented &&
      !e.target.closest?.('.cm-panels, input, select, textarea')) {
    e.preventDefault();
    cancel();
    return;
  }
  if (e.target.closest?.('.cm-editor, input, select, textarea')) return;
  if (e.key === 'f' || e.key === 'F') viewer.fit();
});

// For tests, benchmarks and curious people.
window.scadserve = { render, configure, editor, viewer, customizer, runNow, cancel, get current() { return current; } };

// The page's own WASM worker (and the 8 MB module) only when the browser may render.
if (rendererChoice !== 'server') warm();
fillFormats();
loadFromLocation();
