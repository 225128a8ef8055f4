// customizer.js -- the parameter panel: one control per customizer parameter of the model.

import { fitsParameter, sameValue } from './params.js';

// A DOM element: attributes (class, text, booleans; null, undefined and false left out) and
// children (falsy ones left out). The widget builds its shadow tree with it too.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children.filter(Boolean));
  return node;
}

function roundToStep(x, step) {
  if (!step) return x;
  const d = Math.max(0, Math.ceil(-Math.log10(step) + 1e-9));
  return Number(x.toFixed(Math.min(d, 12)));
}

export class Customizer {
  // onChange(values) gets the parameters that differ from the model's defaults.
  constructor(container, { onChange }) {
    this.container = container;
    this.onChange = onChange;
    this.params = [];
    this.values = {};        // name -> value, only those the user changed
    this.signature = '';
  }

  // The model's parameters changed (the source was edited): keep the user's values that still fit.
  setParameters(params) {
    const signature = JSON.stringify(params.map((p) => [p.name, p.value, p.type, p.group, p.control, p.description]));
    const kept = {};
    for (const p of params) {
      if (p.name in this.values && fitsParameter(p, this.values[p.name]) && !sameValue(p.value, this.values[p.name])) {
        kept[p.name] = this.values[p.name];
      }
    }
    this.params = params;
    this.values = kept;
    if (signature !== this.signature) {
      this.signature = signature;
      this.#build();
    }
  }

  // Values from a share link: only those that match a parameter of the model are taken.
  setValues(values) {
    this.values = {};
    for (const p of this.params) {
      if (p.name in values && fitsParameter(p, values[p.name]) && !sameValue(p.value, values[p.name])) {
        this.values[p.name] = values[p.name];
      }
    }
    this.#build();
  }

  // Values to send with a render: the user's changes only (defaults come from the source).
  getValues() { return { ...this.values }; }

  #set(p, value) {
    if (sameValue(value, p.value)) delete this.values[p.name];
    else this.values[p.name] = value;
    this.container.querySelector(`[data-param="${p.name}"]`)?.classList.toggle('changed', p.name in this.values);
    this.onChange(this.getValues(), p.name);
  }

  #build() {
    const root = this.container;
    root.textContent = '';
    if (!this.params.length) {
      root.append(el('p', { class: 'cz-empty', text: 'No customizer parameters. Top-level assignments such as  width = 10; // [1:50]  appear here.' }));
      return;
    }
    const head = el('div', { class: 'cz-head' },
      el('span', { text: `${this.params.length} parameter${this.params.length === 1 ? '' : 's'}` }),
      el('button', { type: 'button', class: 'cz-reset', id: 'params-reset', title: 'Back to the values in the source', text: 'Reset' }));
    head.querySelector('button').addEventListener('click', () => {
      this.values = {};
      this.#build();
      this.onChange(this.getValues(), null);
    });
    root.append(head);
    const groups = new Map();
    for (const p of this.params) {
      if (!groups.has(p.group)) groups.set(p.group, []);
      groups.get(p.group).push(p);
    }
    for (const [name, params] of groups) {
      const details = el('details', { class: 'cz-group', open: true }, el('summary', { text: name }));
      for (const p of params) details.append(this.#row(p));
      root.append(details);
    }
  }

  #row(p) {
    const value = p.name in this.values ? this.values[p.name] : p.value;
    const id = `param-${p.name}`;
    const row = el('div', { class: `cz-param${p.name in this.values ? ' changed' : ''}`, 'data-param': p.name },
      el('label', { for: id, text: p.name, title: `line ${p.line}` }),
      p.description ? el('div', { class: 'cz-desc', text: p.description }) : null);
    const c = p.control;
    const box = el('div', { class: 'cz-control' });
    if (c.kind === 'checkbox') {
      const input = el('input', { type: 'checkbox', id, checked: value });
      input.addEventListener('change', () => this.#set(p, input.checked));
      box.append(input);
    } else if (c.kind === 'slider') {
      const range = el('input', { type: 'range', id, min: c.min, max: c.max, step: c.step, value });
      const num = el('input', { type: 'number', class: 'cz-value', id: `${id}-value`, step: c.step, value, 'aria-label': `${p.name} value` });
      range.addEventListener('input', () => {
        const v = roundToStep(Number(range.value), c.step);
        num.value = v;
        this.#set(p, v);
      });
      // Typing: a value within the slider's range is used at once; one outside it waits for
      // the box to be left (or Enter), and is then brought within the range, as OpenSCAD does.
      num.addEventListener('input', () => {
        const x = Number(num.value);
        if (num.value === '' || !Number.isFinite(x) || x < c.min || x > c.max) return;
        range.value = num.value;
        this.#set(p, x);
      });
      num.addEventListener('change', () => {
        const x = Number(num.value);
        if (num.value === '' || !Number.isFinite(x)) { num.value = range.value; return; }
        const v = roundToStep(Math.min(c.max, Math.max(c.min, x)), c.step);
        num.value = v;
        range.value = v;
        this.#set(p, v);
      });
      box.append(range, num);
    } else if (c.kind === 'dropdown') {
      const select = el('select', { id });
      for (const o of c.options) {
        const opt = el('option', { value: String(o.value), text: o.label });
        if (o.value === value) opt.selected = true;
        select.append(opt);
      }
      if (!c.options.some((o) => o.value === value)) {
        select.prepend(el('option', { value: String(value), text: String(value), selected: true }));
      }
      select.addEventListener('change', () => {
        this.#set(p, p.type === 'number' ? Number(select.value) : select.value);
      });
      box.append(select);
    } else if (c.kind === 'spinbox') {
      const num = el('input', { type: 'number', id, step: c.step, value });
      num.addEventListener('input', () => {
        if (num.value === '' || !Number.isFinite(Number(num.value))) return;
        this.#set(p, Number(num.value));
      });
      box.append(num);
    } else if (c.kind === 'text') {
      const text = el('input', { type: 'text', id, value, maxlength: c.maxLength });
      text.addEventListener('input', () => this.#set(p, text.value));
      box.append(text);
    } else if (c.kind === 'vector') {
      const inputs = value.map((v, i) => el('input', {
        type: 'number', id: i === 0 ? id : `${id}-${i}`, step: c.step, min: c.min, max: c.max, value: v,
        'aria-label': `${p.name}[${i}]`,
      }));
      for (const input of inputs) {
        input.addEventListener('input', () => {
          const v = inputs.map((x) => Number(x.value));
          if (inputs.some((x) => x.value === '') || !v.every(Number.isFinite)) return;
          this.#set(p, v);
        });
      }
      box.classList.add('cz-vector');
      box.append(...inputs);
    }
    row.append(box);
    return row;
  }
}
