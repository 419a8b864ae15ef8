// The activity log of a subscription with filters: time range, resource
// group, correlation id (on the server), caller, operation and status
// (over the pages the server returns). Refused writes (a policy's deny)
// arrive live.
import {h, loaded, replace, table, exportButtons, errorBox, fmtTime, field, quote} from '../dom.js';
import {V, page, sameOrigin} from '../api.js';
import {config} from '../auth.js';
import {defaultScope} from '../scope.js';

const MAX_SCAN = 5000;

export default async function activity(box, params, {signal, link}) {
  const f = Object.fromEntries(['from', 'to', 'rg', 'correlation', 'caller', 'operation', 'status', 'sub'].map(k => [k, params.get(k) || '']));
  // A user who may read only a resource group reads its events: the
  // default scope's group is the filter then.
  if (!f.sub && !f.rg) {
    const parts = (await defaultScope(signal)).split('/').filter(Boolean);
    if (parts[0].toLowerCase() === 'subscriptions') {
      f.sub = parts[1];
      if (parts.length >= 4) f.rg = parts[3];
    }
  }
  const sub = f.sub || config().subscriptionId;
  if (!f.from) f.from = new Date(Date.now() - 7 * 86400000).toISOString().slice(0, 16);
  const serverFilter = () => {
    const parts = [`eventTimestamp ge ${quote(new Date(f.from).toISOString())}`];
    if (f.to) parts.push(`eventTimestamp le ${quote(new Date(f.to).toISOString())}`);
    if (f.rg) parts.push(`resourceGroupName eq ${quote(f.rg)}`);
    if (f.correlation) parts.push(`correlationId eq ${quote(f.correlation)}`);
    return parts.join(' and ');
  };
  const keep = e => (!f.caller || String(e.caller || '').toLowerCase().includes(f.caller.toLowerCase()))
    && (!f.operation || String(e.operationName?.value || '').toLowerCase().includes(f.operation.toLowerCase()))
    && (!f.status || String(e.status?.value || '').toLowerCase() === f.status.toLowerCase());
  box.append(h('div', {class: 'view-head'}, h('h1', {}, 'Activity log')));
  box.append(h('form', {class: 'filters', onsubmit: e => {
    e.preventDefault();
    location.hash = link('activity', Object.fromEntries(new FormData(e.target)));
  }},
  h('input', {type: 'hidden', name: 'sub', value: sub}),
  field('From', h('input', {type: 'datetime-local', name: 'from', value: f.from})),
  field('To', h('input', {type: 'datetime-local', name: 'to', value: f.to})),
  field('Resource group', h('input', {name: 'rg', value: f.rg})),
  field('Caller', h('input', {name: 'caller', value: f.caller})),
  field('Operation', h('input', {name: 'operation', value: f.operation, placeholder: 'e.g. computes/write'})),
  field('Status', h('select', {name: 'status'}, ['', 'Succeeded', 'Failed', 'Started', 'Accepted'].map(s => h('option', {value: s, selected: s === f.status ? true : undefined}, s || 'Any')))),
  field('Correlation id', h('input', {name: 'correlation', value: f.correlation})),
  h('button', {type: 'submit'}, 'Apply')));
  const list = h('div', {});
  box.append(list);

  const cols = [
    {label: 'Time', key: 'eventTimestamp', value: e => fmtTime(e.eventTimestamp)},
    {label: 'Operation', key: 'operationName', value: e => e.operationName?.value},
    {label: 'Status', key: 'status', value: e => e.status?.value, render: e => h('span', {class: 'badge status-' + String(e.status?.value || '').toLowerCase()}, e.status?.value)},
    {label: 'Caller', key: 'caller'},
    {label: 'Resource', key: 'resourceId', render: e => e.resourceId ? h('a', {href: link('resource', {id: e.resourceId})}, e.resourceId.split('/').slice(-1)[0]) : ''},
    {label: 'Correlation id', key: 'correlationId', render: e => h('a', {href: link('activity', {...f, correlation: e.correlationId})}, e.correlationId)},
    {label: 'Message', key: 'message', value: e => e.properties?.statusMessage || e.properties?.message || e.description || ''},
  ];
  const base = `/subscriptions/${sub}/providers/Microsoft.Insights/eventtypes/management/values?$filter=${encodeURIComponent(serverFilter())}`;
  // Pages are read until a page of matches is full or MAX_SCAN events
  // were read; next continues from there.
  const read = async (from, want) => {
    const rows = [];
    let next = from, scanned = 0, first = true;
    while (next && rows.length < want && scanned < MAX_SCAN) {
      const p = await page(next, first && !from.includes('$skiptoken') ? V.activity : undefined, signal);
      first = false;
      scanned += p.items.length;
      rows.push(...p.items.filter(keep));
      next = p.next ? sameOrigin(p.next) : null;
    }
    return {rows, next};
  };
  const stack = [];
  const load = async (from) => {
    const {rows, next} = await read(from, 100);
    stack.push(from);
    replace(list, h('div', {class: 'list-head'}, h('span', {}, rows.length + ' events'), exportButtons('activity-log', cols, async () => (await read(base, 100000)).rows)),
      table(cols, rows, {caption: 'Activity log', empty: 'No event matches.', testid: 'activity'}),
      h('div', {class: 'pager'},
        stack.length > 1 ? h('button', {type: 'button', onclick: () => { stack.pop(); load(stack.pop()); }}, 'Newer') : null,
        next ? h('button', {type: 'button', onclick: () => load(next)}, 'Older') : null));
    loaded(box);
  };
  try {
    await load(base);
  } catch (e) {
    if (e.name !== 'AbortError') list.append(errorBox(e));
  }
  let timer = null;
  return (evt) => {
    if (evt.kind !== 'activity' || stack.length > 1) return;
    clearTimeout(timer);
    timer = setTimeout(() => { stack.length = 0; load(base).catch(() => {}); }, 200);
  };
}
