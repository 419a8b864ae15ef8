// The egress decisions of a workspace's jobs (what the egress proxy
// allowed and denied, by which rule).
import {h, loaded, replace, table, exportButtons, errorBox, fmtTime, field} from '../dom.js';
import {arm, sameOrigin, parseId} from '../api.js';

export default async function egress(box, params, {signal, link}) {
  const ws = params.get('workspace') || '';
  const decision = params.get('decision') || '';
  const job = params.get('job') || '';
  box.append(h('div', {class: 'view-head'}, h('h1', {}, 'Egress decisions')),
    h('form', {class: 'filters', onsubmit: e => { e.preventDefault(); location.hash = link('egress', Object.fromEntries(new FormData(e.target))); }},
      field('Workspace id', h('input', {name: 'workspace', value: ws, size: 60, required: true, placeholder: '/subscriptions/…/resourceGroups/…/providers/Microsoft.MachineLearningServices/workspaces/…'})),
      field('Job', h('input', {name: 'job', value: job})),
      field('Decision', h('select', {name: 'decision'}, ['', 'Allowed', 'Denied'].map(s => h('option', {value: s, selected: s === decision ? true : undefined}, s || 'Any')))),
      h('button', {type: 'submit'}, 'Show')));
  const list = h('div', {});
  box.append(list);
  if (!ws) {
    list.append(h('p', {class: 'muted'}, 'Name a workspace (its resource page links here).'));
    return;
  }
  const p = parseId(ws);
  const q = new URLSearchParams();
  if (job) q.set('job', job);
  if (decision) q.set('decision', decision);
  const base = `/egress/${encodeURIComponent(p.subscription)}/${encodeURIComponent(p.resourceGroup)}/${encodeURIComponent(p.names[0] || '')}/log?${q}`;
  const cols = [
    {label: 'Time', key: 'time', value: d => fmtTime(d.time)}, {label: 'Job', key: 'jobId', value: d => String(d.jobId || '').split('/').pop()},
    {label: 'Destination', key: 'host', value: d => d.host + (d.port ? ':' + d.port : '')}, {label: 'Method', key: 'method'},
    {label: 'Decision', key: 'decision', render: d => h('span', {class: 'badge status-' + String(d.decision).toLowerCase()}, d.decision)},
    {label: 'Rule', key: 'rule'}, {label: 'Reason', key: 'reason'}];
  const stack = [];
  const load = async (from) => {
    const body = await arm('GET', from, {signal});
    stack.push(from);
    const rows = body.value || [];
    replace(list, exportButtons('egress', cols, async () => rows), table(cols, rows, {caption: 'Egress decisions', empty: 'No egress recorded.', testid: 'egress'}),
      h('div', {class: 'pager'}, stack.length > 1 ? h('button', {type: 'button', onclick: () => { stack.pop(); load(stack.pop()); }}, 'Newer') : null,
        body.nextLink ? h('button', {type: 'button', onclick: () => load(sameOrigin(body.nextLink))}, 'Older') : null));
    loaded(box);
  };
  try {
    await load(base);
  } catch (e) {
    if (e.name !== 'AbortError') list.append(errorBox(e));
  }
}
