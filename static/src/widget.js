// widget.js -- <scad-model>: a live OpenSCAD model any page can embed, many to a page, and the
// same element as an anywidget module for notebooks (the default export). docs/widget.md.
//
//   <script type="module" src="https://scad.example.org/scadserve-widget.js"></script>
//   <scad-model src="bracket.scad" parameters='{"width": 40}' controls></scad-model>
//   <scad-model>cube([10, 20, 5]);</scad-model>
//
// Built from the page's own parts: the render pipeline (render.js, one pool of browser workers
// and one compiled module for every widget, identical requests rendered once), the viewer
// (viewer.js, drawing through one WebGL context shared by all widgets), the customizer and the
// editor. A widget renders when it first comes near the screen.

import customizerCss from './customizer.css';
import { Customizer, el } from './customizer.js';
import { Editor } from './editor.js';
import { extensionOf } from './formats.js';
import { meshFigures, renderMesh } from './mesh.js';
import { parseParameters } from './params.js';
import { configure, getConfig, render } from './render.js';
import { Viewer } from './viewer.js';
import widgetCss from './widget.css';

// The browser renders with a small pool of workers shared by every widget on the page.
configure({ workers: Math.max(1, Math.min(2, (navigator.hardwareConcurrency || 2) - 1)) });

const ATTRIBUTES = ['src', 'parameters', 'controls', 'editor', 'format', 'renderer', 'server', 'download', 'share', 'poster'];

// One IntersectionObserver for all widgets: a widget renders when it comes within 200 px of
// the viewport, not before.
let observer = null;
function watch(widget) {
  observer ??= new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) e.target.visible();
  }, { rootMargin: '200px' });
  observer.observe(widget);
}

const PLACEHOLDER = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 90"><g fill="none" stroke="#9aa3b0" stroke-width="2">' +
  '<path d="M40 35l20-10 20 10v22l-20 10-20-10z"/><path d="M40 35l20 10 20-10M60 45v22"/></g></svg>');

export class ScadModel extends HTMLElement {
  static get observedAttributes() { return ATTRIBUTES; }

  #source = null;           // set through the property; else src, else the element's text
  #fetched = null;          // {url, text} of src
  #ui = null;
  #viewer = null;
  #customizer = null;
  #editor = null;
  #controller = null;
  #seen = false;            // has come near the screen
  #rendered = false;
  #pending = 0;             // a re-render asked for
  #lastSource = null;
  #filling = false;         // the editor is being given the source (not an edit)

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
  }

  // ---- the contract: properties and methods ------------------------------------------------

  get source() { return this.#source ?? this.#editor?.getValue() ?? this.#fetched?.text ?? this.textContent.trim(); }
  set source(text) {
    this.#source = String(text);
    if (this.#editor) {
      this.#filling = true;
      this.#editor.setValue(this.#source);
      this.#filling = false;
    }
    this.#schedule();
  }

  // The parameters in force: the attribute's, with the customizer's changes on top.
  // With controls, the customizer speaks for the parameters it shows (set back to the model's
  // default there, a value is the default again); the attribute's others still count.
  get parameters() {
    const attr = this.#attributeParameters();
    if (!this.#customizer) return attr;
    const shown = new Set(this.#customizer.params.map((p) => p.name));
    const rest = Object.fromEntries(Object.entries(attr).filter(([name]) => !shown.has(name)));
    return { ...rest, ...this.#customizer.getValues() };
  }
  set parameters(value) { this.setAttribute('parameters', JSON.stringify(value ?? {})); }

  // Renders now (whether or not on screen); resolves when the model is shown or the error is.
  render() {
    this.#seen = true;
    return this.#run();
  }

  // Downloads the model in format (default: the format attribute, or stl).
  async download(format = this.getAttribute('format') || 'stl') {
    const source = await this.#loadSource();
    const result = await render(source, { parameters: this.parameters, format, renderer: this.#renderer(),
      apiBase: this.#apiBase() });
    const url = URL.createObjectURL(new Blob([result.bytes], { type: 'application/octet-stream' }));
    const a = el('a', { href: url, download: `${this.#name()}.${extensionOf(format)}` });
    this.shadowRoot.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return result;
  }

  // A picture of the view as it is: a PNG Blob.
  toBlob(type = 'image/png') {
    if (!this.#viewer) return Promise.resolve(null);
    return this.#viewer.toBlob(type);
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  connectedCallback() {
    // A property set on the element before this script defined it shadows the accessor.
    for (const name of ['source', 'parameters']) {
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const value = this[name];
        delete this[name];
        this[name] = value;
      }
    }
    if (!this.#ui) this.#build();
    watch(this);
  }

  disconnectedCallback() {
    observer?.unobserve(this);
    this.#controller?.abort(new DOMException('The widget left the page.', 'AbortError'));
    // Moved rather than removed (connected again): it renders again when next on screen.
    if (!this.#rendered) this.#seen = false;
  }

  attributeChangedCallback(name, before, after) {
    if (!this.#ui || before === after) return;
    if (name === 'controls' || name === 'editor' || name === 'download' || name === 'share') this.#layout();
    if (name === 'parameters') this.#customizer?.setValues(this.#attributeParameters());
    if (name === 'poster') this.#ui.poster.src = after || PLACEHOLDER;
    if (['src', 'parameters', 'renderer', 'server'].includes(name)) this.#schedule();
  }

  // Called by the observer when the widget comes near the screen.
  visible() {
    if (this.#seen) return;
    this.#seen = true;
    this.#run();
  }

  // ---- inside --------------------------------------------------------------------------------

  #build() {
    const style = el('style', { text: `${customizerCss}\n${widgetCss}` });
    const status = el('div', { class: 'status', role: 'status', 'aria-live': 'polite', part: 'status' });
    const poster = el('img', { class: 'poster', alt: '', src: this.getAttribute('poster') || PLACEHOLDER });
    const view = el('div', { class: 'view', part: 'view' }, poster, status);
    const controls = el('div', { class: 'controls', part: 'controls', role: 'group', 'aria-label': 'Parameters' });
    const source = el('div', { class: 'source', part: 'editor' });
    const renderBtn = el('button', { type: 'button', class: 'render', text: 'Render' });
    const downloadBtn = el('button', { type: 'button', class: 'download', text: 'Download' });
    const shareBtn = el('button', { type: 'button', class: 'share', text: 'Share' });
    const bar = el('div', { class: 'bar', part: 'bar' }, renderBtn, downloadBtn, shareBtn);
    const frame = el('div', { class: 'frame' }, view, el('div', { class: 'side' }, controls, source), bar);
    this.shadowRoot.append(style, frame);
    this.#ui = { frame, view, status, poster, controls, source, bar, renderBtn, downloadBtn, shareBtn };
    renderBtn.addEventListener('click', () => this.render());
    downloadBtn.addEventListener('click', () => this.download().catch((err) => this.#say('error', `Download failed: ${err.message}`)));
    shareBtn.addEventListener('click', () => this.#share());
    this.#viewer = new Viewer(view, { shared: true,
      background: getComputedStyle(this).getPropertyValue('--scad-background').trim() || '#eef1f5' });
    this.#layout();
    this.#say('idle', 'Scroll here to render');
  }

  // Shows the panes the attributes ask for.
  #layout() {
    const ui = this.#ui;
    const controls = this.hasAttribute('controls'), editor = this.hasAttribute('editor');
    ui.controls.hidden = !controls;
    ui.source.hidden = !editor;
    ui.frame.classList.toggle('with-side', controls || editor);
    ui.downloadBtn.hidden = !this.hasAttribute('download');
    ui.shareBtn.hidden = !this.hasAttribute('share');
    ui.renderBtn.hidden = !editor;
    ui.bar.hidden = ui.downloadBtn.hidden && ui.shareBtn.hidden && ui.renderBtn.hidden;
    if (controls && !this.#customizer) {
      this.#customizer = new Customizer(ui.controls, { onChange: () => {
        this.dispatchEvent(new CustomEvent('scad-parameters-change', { detail: { parameters: this.parameters }, bubbles: true, composed: true }));
        this.#schedule(0);
      } });
      if (this.#lastSource !== null) {
        this.#customizer.setParameters(parseParameters(this.#lastSource));
        this.#customizer.setValues(this.#attributeParameters());
      }
    }
    if (editor && !this.#editor) {
      this.#editor = new Editor(ui.source, {
        doc: this.#lastSource ?? this.#source ?? (this.hasAttribute('src') ? '' : this.textContent.trim()),
        onChange: (text) => {
          if (this.#filling || text === this.#source) return;   // set here, not typed
          this.#source = text;
          this.#schedule(400);
        },
        onRun: () => this.render(),
      });
    }
  }

  #attributeParameters() {
    const text = this.getAttribute('parameters');
    if (!text) return {};
    try {
      const value = JSON.parse(text);
      return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  }

  #renderer() {
    const r = this.getAttribute('renderer') || 'auto';
    return ['auto', 'wasm', 'server'].includes(r) ? r : 'auto';
  }

  // The server's API: the server attribute's, else the one the script came from.
  #apiBase() {
    const server = this.getAttribute('server');
    return server ? new URL('api/', new URL(server, document.baseURI).href.replace(/\/?$/, '/')).href : getConfig().apiBase;
  }

  #name() {
    const src = this.getAttribute('src');
    const base = src ? src.split(/[?#]/)[0].split('/').pop().replace(/\.scad$/i, '') : '';
    return base || this.id || 'model';
  }

  async #loadSource() {
    if (this.#source !== null) return this.#source;     // the property, or an edit
    const src = this.getAttribute('src');
    if (!src) return this.textContent.trim();
    const url = new URL(src, document.baseURI).href;
    if (this.#fetched?.url !== url) {
      const res = await fetch(url);
      if (!res.ok) throw Object.assign(new Error(`${src}: HTTP ${res.status}`), { type: 'not_found' });
      this.#fetched = { url, text: await res.text() };
    }
    return this.#fetched.text;
  }

  #schedule(delayMs = 0) {
    if (!this.#seen) return;
    clearTimeout(this.#pending);
    this.#pending = setTimeout(() => this.#run(), delayMs);
  }

  #say(state, text) {
    this.#ui.status.textContent = text;
    this.#ui.status.dataset.state = state;
    this.dataset.state = state;
  }

  async #run() {
    clearTimeout(this.#pending);
    this.#controller?.abort(new DOMException('A newer render replaced this one.', 'AbortError'));
    const controller = new AbortController();
    this.#controller = controller;
    const t0 = performance.now();
    const renderer = this.#renderer();
    this.dispatchEvent(new CustomEvent('scad-render-start', { detail: { renderer }, bubbles: true, composed: true }));
    this.#say('rendering', 'Rendering…');
    try {
      const source = await this.#loadSource();
      if (source !== this.#lastSource) {
        this.#lastSource = source;
        this.#customizer?.setParameters(parseParameters(source));
        this.#customizer?.setValues(this.#attributeParameters());
        if (this.#editor && this.#editor.getValue() !== source) {
          this.#filling = true;
          this.#editor.setValue(source);
          this.#filling = false;
        }
      }
      const { result, stl } = await renderMesh(source, {
        parameters: this.parameters, renderer, signal: controller.signal, apiBase: this.#apiBase(),
        onProgress: (p) => {
          if (p.phase === 'server' && p.state === 'queued') this.#say('rendering', `Queued on the server${p.position ? ` (position ${p.position})` : ''}…`);
          else if (p.phase === 'server' && p.state === 'running') this.#say('rendering', 'Rendering on the server…');
        },
      });
      if (this.#controller !== controller) return;
      await this.#viewer.setModel(stl, { fit: !this.#rendered });
      this.#rendered = true;
      this.#editor?.showWarnings(result.warnings);
      this.#ui.poster.hidden = true;
      const figures = meshFigures(stl);
      const durationMs = Math.round(performance.now() - t0);
      this.#say('done', `${figures.triangles.toLocaleString('en-US')} triangles · ${result.renderer}`);
      this.dispatchEvent(new CustomEvent('scad-render', { bubbles: true, composed: true, detail: {
        renderer: result.renderer, triangles: figures.triangles, bbox: figures.bbox, key: result.key,
        durationMs, dimensions: figures.dimensions, engine: result.engine, requestId: result.requestId,
      } }));
    } catch (err) {
      if (this.#controller !== controller || err?.name === 'AbortError') return;
      const detail = { type: err?.type ?? 'internal', line: err?.line ?? null, message: err?.message ?? String(err) };
      this.#editor?.showError(detail.message, detail.line);
      this.#say('error', `${detail.type}${detail.line ? ` (line ${detail.line})` : ''}: ${detail.message}`);
      this.dispatchEvent(new CustomEvent('scad-error', { detail, bubbles: true, composed: true }));
    }
  }

  async #share() {
    const { encodeShare } = await import('./share.js');
    const fragment = await encodeShare({ source: await this.#loadSource(), parameters: this.parameters });
    const url = `${new URL('../', this.#apiBase()).href}#${fragment}`;
    try { await navigator.clipboard.writeText(url); this.#say('done', 'Share link copied'); } catch { this.#say('done', url); }
  }
}

if (!customElements.get('scad-model')) customElements.define('scad-model', ScadModel);

// The widgets' render pipeline, for a page that wants another time limit or pool size.
export { configure };

// ---- anywidget (marimo, Jupyter): render({model, el}) ----------------------------------------
// Traits read: source, parameters, server_url, format. Written back: status, key, error,
// triangles, bbox. The model's bytes come from the server (or the browser's own renderer)
// straight to this element, never through the kernel.
function renderWidget({ model, el: host }) {
  const widget = document.createElement('scad-model');
  widget.setAttribute('controls', '');
  const apply = () => {
    const server = model.get('server_url');
    if (server) widget.setAttribute('server', server); else widget.removeAttribute('server');
    const format = model.get('format');
    if (format) widget.setAttribute('format', format);
    widget.setAttribute('parameters', JSON.stringify(model.get('parameters') ?? {}));
    widget.source = model.get('source') ?? '';
  };
  const write = (values) => {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    model.save_changes();
  };
  widget.addEventListener('scad-render-start', () => write({ status: 'rendering', error: '' }));
  widget.addEventListener('scad-render', (e) => write({ status: 'done', key: e.detail.key ?? '', error: '',
    triangles: e.detail.triangles, bbox: e.detail.bbox }));
  widget.addEventListener('scad-error', (e) => write({ status: 'error', error: `${e.detail.type}: ${e.detail.message}` }));
  const onChange = () => apply();
  for (const name of ['source', 'parameters', 'server_url', 'format']) model.on(`change:${name}`, onChange);
  apply();
  host.append(widget);
  return () => {
    for (const name of ['source', 'parameters', 'server_url', 'format']) model.off?.(`change:${name}`, onChange);
    widget.remove();
  };
}

export default { render: renderWidget };
