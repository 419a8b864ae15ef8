// The sign-in log (Microsoft Graph auditLogs/signIns; the directory's
// administrators may read it) with filters.
import {h, loaded, replace, table, exportButtons, errorBox, fmtTime, field, quote} from '../dom.js';
import {graph, sameOrigin} from '../api.js';

export default async function signins(box, params, {signal, link}) {
  const f = Object.fromEntries(['from', 'user', 'app', 'status', 'correlation'].map(k => [k, params.get(k) || '']));
  box.append(h('div', {class: 'view-head'}, h('h1', {}, 'Sign-in log')),
    h('form', {class: 'filters', onsubmit: e => { e.preventDefault(); location.hash = link('signins', Object.fromEntries(new FormData(e.target))); }},
      field('From', h('input', {type: 'datetime-local', name: 'from', value: f.from})),
      field('User (UPN)', h('input', {name: 'user', value: f.user})),
      field('Application id', h('input', {name: 'app', value: f.app})),
      field('Status', h('select', {name: 'status'}, ['', 'success', 'failure'].map(s => h('option', {value: s, selected: s === f.status ? true : undefined}, s || 'Any')))),
      field('Correlation id', h('input', {name: 'correlation', value: f.correlation})),
      h('button', {type: 'submit'}, 'Apply')));
  const list = h('div', {});
  box.append(list);
  const filter = [];
  if (f.from) filter.push(`createdDateTime ge ${new Date(f.from).toISOString()}`);
  if (f.user) filter.push(`userPrincipalName eq ${quote(f.user)}`);
  if (f.app) filter.push(`appId eq ${quote(f.app)}`);
  if (f.correlation) filter.push(`correlationId eq ${quote(f.correlation)}`);
  if (f.status === 'success') filter.push('status/errorCode eq 0');
  if (f.status === 'failure') filter.push('status/errorCode ne 0');
  const base = '/v1.0/auditLogs/signIns?$top=100' + (filter.length ? '&$filter=' + encodeURIComponent(filter.join(' and ')) : '');
  const cols = [
    {label: 'Time', key: 'createdDateTime', value: s => fmtTime(s.createdDateTime)},
    {label: 'User', key: 'userPrincipalName', value: s => s.userPrincipalName || s.servicePrincipalName || s.appDisplayName},
    {label: 'Application', key: 'appDisplayName'},
    {label: 'Address', key: 'ipAddress'},
    {label: 'Result', key: 'status', value: s => s.status?.errorCode ? `failed (${s.status.errorCode}) ${s.status.failureReason || ''}` : 'succeeded'},
    {label: 'Conditional access', key: 'conditionalAccessStatus'},
    {label: 'Correlation id', key: 'correlationId'}];
  const stack = [];
  const load = async (from) => {
    const body = await graph(from, signal);
    stack.push(from);
    const rows = body.value || [];
    const next = body['@odata.nextLink'];
    replace(list, exportButtons('sign-ins', cols, async () => rows), table(cols, rows, {caption: 'Sign-ins', empty: 'No sign-in matches.', testid: 'signins'}),
      h('div', {class: 'pager'}, stack.length > 1 ? h('button', {type: 'button', onclick: () => { stack.pop(); load(stack.pop()); }}, 'Newer') : null,
        next ? h('button', {type: 'button', onclick: () => load(sameOrigin(next))}, 'Older') : null));
    loaded(box);
  };
  try {
    await load(base);
  } catch (e) {
    if (e.name === 'AbortError') return;
    list.append(e.status === 403 ? h('p', {class: 'muted', dataset: {testid: 'signins-refused'}},
      e.code === 'GraphNotAvailable' ? e.message : 'Only the directory\u2019s administrators may read the sign-in log.') : errorBox(e));
    loaded(box);
  }
}
