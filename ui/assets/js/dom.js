// DOM helpers: elements are built from data with text nodes only (no
// HTML strings), so nothing the API returns can become markup.

// h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// loaded marks a view as loaded: data-loaded on its box (tests wait for
// it) and a performance mark, mlgov:loaded:{view}, timed from the
// navigation (what the performance figures measure).
export function loaded(box) {
  box.dataset.loaded = 'true';
  performance.mark('mlgov:loaded:' + (box.dataset.view || 'view'));
}

// svg builds an SVG element.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// replace puts children in place of el's content.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// fmtPct shows a percentage with one decimal, as the API gives it
// (rounded).
export function fmtPct(p) {
  return p === null || p === undefined || isNaN(p) ? '–' : `${Number(p).toFixed(1)}%`;
}

// breakable renders an id or type with break opportunities after its
// slashes and dots, so that long ones wrap in narrow columns.
export function breakable(s) {
  const out = [];
  for (const part of String(s ?? '').split(/(?<=[/.])/)) out.push(part, document.createElement('wbr'));
  return out;
}

// lastSegment is the name at the end of a resource id.
export function lastSegment(id) {
  const parts = String(id || '').split('/').filter(Boolean);
  return parts[parts.length - 1] || '';
}

// stateBadge renders a compliance state.
export function stateBadge(state) {
  const s = String(state || 'Unknown');
  return h('span', {class: 'badge state-' + s.toLowerCase()}, s);
}

// download saves text as a file.
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], {type}));
  const a = h('a', {href: url, download: name});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// csv renders rows (objects) with the given columns (RFC 4180 quoting;
// cells that a spreadsheet would run as a formula are prefixed with ').
export function csv(columns, rows) {
  const cell = v => {
    let s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s;
  };
  const lines = [columns.map(c => cell(c.label)).join(',')];
  for (const r of rows) lines.push(columns.map(c => cell(c.value ? c.value(r) : r[c.key])).join(','));
  return lines.join('\r\n') + '\r\n';
}

// table renders rows with columns [{label, key, value?(row), render?(row)}].
export function table(columns, rows, {caption, empty = 'Nothing to show.', testid} = {}) {
  if (!rows.length) return h('p', {class: 'muted', dataset: testid ? {testid} : undefined}, empty);
  return h('div', {class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption || 'Table'},
    h('table', {dataset: testid ? {testid} : undefined},
      caption ? h('caption', {class: 'sr-only'}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map(c => h('th', {scope: 'col'}, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', {dataset: r.__rowid ? {id: r.__rowid} : undefined},
        columns.map(c => h('td', {'data-label': c.label}, c.render ? c.render(r) : (c.value ? c.value(r) : r[c.key]))))))));
}

// exportButtons offers a list as CSV and JSON. fetchAll returns every
// row (all pages), not just the one shown.
export function exportButtons(name, columns, fetchAll) {
  const go = async (kind) => {
    const rows = await fetchAll();
    if (kind === 'csv') download(name + '.csv', 'text/csv', csv(columns, rows));
    else download(name + '.json', 'application/json', JSON.stringify(rows, null, 2));
  };
  return h('span', {class: 'export'},
    h('button', {type: 'button', onclick: () => go('csv')}, 'Export CSV'),
    h('button', {type: 'button', onclick: () => go('json')}, 'Export JSON'));
}

// field is a labelled form control.
export function field(label, control, hint) {
  const id = control.id || ('f-' + Math.random().toString(36).slice(2));
  control.id = id;
  return h('div', {class: 'field'}, h('label', {for: id}, label), control, hint ? h('small', {class: 'muted'}, hint) : null);
}

// errorBox shows an error as the API gave it.
export function errorBox(err) {
  const code = err && err.code ? err.code + ': ' : '';
  return h('div', {class: 'error', role: 'alert'}, code + (err && err.message ? err.message : String(err)));
}

// quote is a string as an OData literal ('' doubles a quote).
export function quote(s) { return "'" + String(s).replaceAll("'", "''") + "'"; }

// card is a titled section of a view, loading until it is drawn.
export function card(id, title) {
  return h('section', {class: 'card', 'aria-labelledby': id}, h('h2', {id}, title), h('p', {class: 'muted'}, 'Loading…'));
}

// drawInto runs a part's draw, showing its error in el (an aborted read,
// the user gone elsewhere, is no error).
export function drawInto(fn, el) {
  return fn().catch(e => { if (e.name !== 'AbortError') el.append(errorBox(e)); });
}
