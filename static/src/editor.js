// editor.js -- the OpenSCAD source editor: CodeMirror 6 with OpenSCAD highlighting and error marks.

import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import {
  StreamLanguage, bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting,
} from '@codemirror/language';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, StateEffect, StateField } from '@codemirror/state';
import {
  Decoration, EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers,
} from '@codemirror/view';

const KEYWORDS = new Set(['module', 'function', 'if', 'else', 'for', 'let', 'each', 'include', 'use',
  'intersection_for', 'assert', 'echo', 'assign']);
const ATOMS = new Set(['true', 'false', 'undef', 'PI']);
const BUILTINS = new Set(['cube', 'sphere', 'cylinder', 'polyhedron', 'square', 'circle', 'polygon', 'text',
  'import', 'surface', 'translate', 'rotate', 'scale', 'resize', 'mirror', 'multmatrix', 'color', 'offset',
  'hull', 'minkowski', 'union', 'difference', 'intersection', 'linear_extrude', 'rotate_extrude',
  'projection', 'render', 'children', 'parent_module', 'abs', 'sign', 'sin', 'cos', 'tan', 'acos', 'asin',
  'atan', 'atan2', 'floor', 'round', 'ceil', 'ln', 'log', 'pow', 'sqrt', 'exp', 'len', 'min', 'max', 'norm',
  'cross', 'concat', 'lookup', 'str', 'chr', 'ord', 'search', 'version', 'version_num', 'rands',
  'is_undef', 'is_list', 'is_num', 'is_bool', 'is_string', 'is_function', 'object', 'textmetrics',
  'fontmetrics', 'roof']);

// OpenSCAD highlighting as a stream parser: small, and good enough for a language this regular.
const openscad = StreamLanguage.define({
  name: 'openscad',
  startState: () => ({ inComment: false }),
  token(stream, state) {
    if (state.inComment) {
      if (stream.skipTo('*/')) { stream.next(); stream.next(); state.inComment = false; } else stream.skipToEnd();
      return 'comment';
    }
    if (stream.eatSpace()) return null;
    if (stream.match('//')) { stream.skipToEnd(); return 'comment'; }
    if (stream.match('/*')) { state.inComment = true; return 'comment'; }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return 'string';
    if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) return 'number';
    if (stream.match(/^\$[A-Za-z0-9_]+/)) return 'variable-2';
    if (stream.match(/^<[^>\n]*>/) ) return 'string';
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (word) {
      const w = word[0];
      if (KEYWORDS.has(w)) return 'keyword';
      if (ATOMS.has(w)) return 'atom';
      if (BUILTINS.has(w)) return 'builtin';
      return 'variableName';
    }
    if (stream.match(/^[-+*/%^!<>=&|?:#]+/)) return 'operator';
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: '//', block: { open: '/*', close: '*/' } } },
});

// A whole-line highlight for the line an error points at; lint gives the gutter mark and message.
const setErrorLine = StateEffect.define();
const errorLineField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(setErrorLine)) {
        deco = e.value == null ? Decoration.none
          : Decoration.set([Decoration.line({ class: 'cm-errorLine', attributes: { 'data-error-line': String(e.value.line) } }).range(e.value.from)]);
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

export class Editor {
  // onChange(source) after every edit; onRun() on Ctrl+Enter / Cmd+Enter.
  constructor(parent, { doc = '', onChange, onRun }) {
    const runKey = { key: 'Mod-Enter', run: () => { onRun(); return true; }, preventDefault: true };
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc,
        extensions: [
          lineNumbers(), highlightActiveLineGutter(), lintGutter(), history(), drawSelection(),
          indentOnInput(), bracketMatching(), highlightActiveLine(), highlightSelectionMatches(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }), openscad, errorLineField,
          EditorState.tabSize.of(4),
          keymap.of([runKey, ...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
          EditorView.updateListener.of((u) => { if (u.docChanged) onChange(this.getValue()); }),
          EditorView.contentAttributes.of({ 'aria-label': 'OpenSCAD source' }),
        ],
      }),
    });
  }

  getValue() { return this.view.state.doc.toString(); }

  setValue(text) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  // Mark an error: line is 1-based (clamped to the document), or null for an error without one.
  showError(message, line) {
    const doc = this.view.state.doc;
    if (!line) { this.clearErrors(); return; }
    const l = doc.line(Math.min(Math.max(1, line), doc.lines));
    this.view.dispatch(
      setDiagnostics(this.view.state, [{ from: l.from, to: l.to, severity: 'error', message }]),
      { effects: [setErrorLine.of({ from: l.from, line: l.number }), EditorView.scrollIntoView(l.from, { y: 'nearest' })] },
    );
  }

  // Warnings that carry a line number get a gutter mark too.
  showWarnings(warnings) {
    const doc = this.view.state.doc;
    const diags = warnings.filter((w) => w.line && w.line <= doc.lines).map((w) => {
      const l = doc.line(w.line);
      return { from: l.from, to: l.to, severity: 'warning', message: w.message };
    });
    this.view.dispatch(setDiagnostics(this.view.state, diags), { effects: setErrorLine.of(null) });
  }

  clearErrors() {
    this.view.dispatch(setDiagnostics(this.view.state, []), { effects: setErrorLine.of(null) });
  }

  focus() { this.view.focus(); }
}
