// params.js -- finds a model's customizer parameters, as OpenSCAD's customizer does: top-level
// assignments of literal values, described by the comment above them, shaped by the annotation
// comment after them (// [0:1:100], // [a, b, c], // [10:S, 20:M], // 0.5, // 8), and grouped by
// /* [Group] */ comments ([Hidden] hides, [Global] shows). No DOM in here.

function tokenize(src) {
  const tokens = [];
  let i = 0, line = 1;
  const n = src.length;
  const push = (t, value, start, startLine, extra = {}) => tokens.push({ t, value, start, end: i, line: startLine, endLine: line, ...extra });
  while (i < n) {
    const c = src[i];
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    const start = i, startLine = line;
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      push('comment', src.slice(start + 2, i), start, startLine, { block: false });
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      const stop = close < 0 ? n : close + 2;
      for (let k = i; k < stop; k++) if (src[k] === '\n') line++;
      i = stop;
      push('comment', src.slice(start + 2, close < 0 ? n : close), start, startLine, { block: true });
      continue;
    }
    if (c === '"') {
      let value = '';
      i++;
      while (i < n && src[i] !== '"') {
        if (src[i] === '\\' && i + 1 < n) {
          const e = src[i + 1];
          value += { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' }[e] ?? `\\${e}`;
          i += 2;
        } else {
          if (src[i] === '\n') line++;
          value += src[i++];
        }
      }
      i++;
      push('str', value, start, startLine);
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i, i + 64));
    if (num) {
      i += num[0].length;
      push('num', Number(num[0]), start, startLine);
      continue;
    }
    const id = /^\$?[A-Za-z_][A-Za-z0-9_]*|^\$[A-Za-z0-9_]+/.exec(src.slice(i, i + 256));
    if (id) {
      i += id[0].length;
      push('id', id[0], start, startLine);
      continue;
    }
    const prev = tokens.findLast((t) => t.t !== 'comment');
    if (c === '<' && prev?.t === 'id' && (prev.value === 'include' || prev.value === 'use')) {
      const close = src.indexOf('>', i);
      i = close < 0 ? n : close + 1;
      push('path', src.slice(start + 1, i - 1), start, startLine);
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) { i += 2; push('p', two, start, startLine); continue; }
    i++;
    push('p', c, start, startLine);
  }
  return tokens;
}

// A literal value from expression tokens, or undefined if the expression is not a literal.
function literal(toks) {
  let pos = 0;
  const value = () => {
    const t = toks[pos];
    if (!t) return undefined;
    if (t.t === 'num') { pos++; return t.value; }
    if (t.t === 'str') { pos++; return t.value; }
    if (t.t === 'id' && (t.value === 'true' || t.value === 'false')) { pos++; return t.value === 'true'; }
    if (t.t === 'p' && (t.value === '-' || t.value === '+') && toks[pos + 1]?.t === 'num') {
      pos += 2;
      return t.value === '-' ? -toks[pos - 1].value : toks[pos - 1].value;
    }
    if (t.t === 'p' && t.value === '[') {
      pos++;
      const items = [];
      if (toks[pos]?.t === 'p' && toks[pos].value === ']') { pos++; return items; }
      for (;;) {
        const v = value();
        if (v === undefined) return undefined;
        items.push(v);
        const sep = toks[pos++];
        if (sep?.t === 'p' && sep.value === ']') return items;
        if (!(sep?.t === 'p' && sep.value === ',')) return undefined;
      }
    }
    return undefined;
  };
  const v = value();
  return pos === toks.length ? v : undefined;
}

const NUM = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function decimals(x) {
  const s = String(x);
  if (/e-/i.test(s)) return Number(s.split(/e-/i)[1]);
  return s.includes('.') ? s.split('.')[1].length : 0;
}

function unquote(s) {
  const t = s.trim();
  return /^".*"$/.test(t) ? t.slice(1, -1) : t;
}

// The control for a parameter, from its default value and its annotation comment (or null).
function controlFor(value, note) {
  const text = (note ?? '').trim();
  const bracket = /^\[(.*)\]$/s.exec(text);
  const isNum = typeof value === 'number';
  const isNumVector = Array.isArray(value) && value.length >= 1 && value.length <= 4 && value.every((v) => typeof v === 'number');
  if (typeof value === 'boolean') return { kind: 'checkbox' };
  if (bracket) {
    const inner = bracket[1].trim();
    const parts = inner.split(':').map((s) => s.trim());
    if ((isNum || isNumVector) && parts.every((p) => NUM.test(p)) && parts.length <= 3) {
      const nums = parts.map(Number);
      const [min, step, max] = nums.length === 1 ? [0, null, nums[0]] : nums.length === 2 ? [nums[0], null, nums[1]] : nums;
      const stepValue = step ?? (Number.isInteger(min) && Number.isInteger(max) && (isNumVector ? value.every(Number.isInteger) : Number.isInteger(value)) ? 1 : 10 ** -Math.max(1, decimals(value)));
      return isNum ? { kind: 'slider', min, max, step: stepValue } : { kind: 'vector', min, max, step: stepValue };
    }
    if (isNum || typeof value === 'string') {
      const options = inner.split(',').map((item) => {
        const colon = item.indexOf(':');
        const raw = colon < 0 ? item : item.slice(0, colon);
        const label = colon < 0 ? unquote(raw) : item.slice(colon + 1).trim();
        return { value: isNum ? Number(raw.trim()) : unquote(raw), label };
      }).filter((o) => (isNum ? Number.isFinite(o.value) : true));
      if (options.length) return { kind: 'dropdown', options };
    }
  }
  if (isNum) {
    const step = NUM.test(text) ? Math.abs(Number(text)) : 0;
    return { kind: 'spinbox', step: step > 0 ? step : Number.isInteger(value) ? 1 : 10 ** -decimals(value) };
  }
  if (typeof value === 'string') {
    const max = NUM.test(text) ? Number(text) : 0;
    return { kind: 'text', maxLength: max > 0 ? max : null };
  }
  if (isNumVector) {
    const step = NUM.test(text) ? Math.abs(Number(text)) : 0;
    return { kind: 'vector', min: null, max: null, step: step > 0 ? step : value.every(Number.isInteger) ? 1 : 0.1 };
  }
  return null;   // other vectors are parameters OpenSCAD shows, but we have no control for them
}

// Parameters of a model, in source order: [{name, value, type, description, group, control, line}].
export function parseParameters(src) {
  const tokens = tokenize(src);
  const params = new Map();
  let group = null;
  let depth = 0;
  let stmtStart = true;
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k];
    if (tok.t === 'comment') {
      const g = tok.block && depth === 0 && /^\s*\[\s*([^\]]*?)\s*\]\s*$/.exec(tok.value);
      if (g) group = g[1];
      continue;
    }
    let next = k + 1;
    while (tokens[next]?.t === 'comment') next++;
    if (depth === 0 && stmtStart && tok.t === 'id' && tokens[next]?.t === 'p' && tokens[next].value === '=') {
      // a top-level assignment: its expression runs to the ';' at this depth
      let d = 0, end = next + 1;
      const expr = [];
      for (; end < tokens.length; end++) {
        const t = tokens[end];
        if (t.t === 'comment') continue;
        if (t.t === 'p' && '([{'.includes(t.value)) d++;
        if (t.t === 'p' && ')]}'.includes(t.value)) d--;
        if (d === 0 && t.t === 'p' && t.value === ';') break;
        expr.push(t);
      }
      const semi = tokens[end];
      const value = literal(expr);
      if (value !== undefined && semi) {
        const after = tokens[end + 1];
        const note = after?.t === 'comment' && after.line === semi.endLine ? after.value : null;
        const before = tokens[k - 1];
        const ownLine = before?.t === 'comment' && before.endLine === tok.line - 1 &&
          !/^\s*\[[^\]]*\]\s*$/.test(before.value) && (tokens[k - 2]?.endLine ?? 0) < before.line;
        const description = ownLine ? before.value.replace(/^\s*\*?/gm, '').trim() : '';
        const control = controlFor(value, note);
        const type = typeof value === 'boolean' ? 'boolean' : typeof value === 'number' ? 'number' : typeof value === 'string' ? 'string' : 'vector';
        const old = params.get(tok.value);
        const entry = { name: tok.value, value, type, description, group: group ?? 'Parameters', control, line: tok.line };
        if (old) params.set(tok.value, { ...entry, line: old.line, group: old.group, description: description || old.description });
        else params.set(tok.value, entry);
      }
      k = end;
      stmtStart = true;
      continue;
    }
    if (tok.t === 'p' && '([{'.includes(tok.value)) depth++;
    if (tok.t === 'p' && ')]}'.includes(tok.value)) depth = Math.max(0, depth - 1);
    stmtStart = depth === 0 && ((tok.t === 'p' && (tok.value === ';' || tok.value === '}')) || tok.t === 'path');
  }
  return [...params.values()].filter((p) => p.control && !/^hidden$/i.test(p.group) && !p.name.startsWith('$'));
}

// Is `value` acceptable for parameter `p` (same type and shape as its default)?
export function fitsParameter(p, value) {
  if (p.type === 'vector') {
    return Array.isArray(value) && value.length === p.value.length && value.every((v, i) => typeof v === typeof p.value[i]);
  }
  return typeof value === typeof p.value;
}

export function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}
