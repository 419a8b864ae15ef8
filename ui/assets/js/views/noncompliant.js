// Non-compliant resources at a scope, filtered by assignment, resource
// type and name, paged on the server; each with the reason as data (the
// evaluated expressions, the related resources of an existence check).
import {h, loaded, replace, breakable, lastSegment, table, exportButtons, errorBox, fmtTime, field, stateBadge, quote} from '../dom.js';
import {arm, sameOrigin} from '../api.js';
import {insights, picker, defaultScope, queryResults} from '../scope.js';
import {details} from './reason.js';

const PAGE = 50;

export default async function noncompliant(box, params, {signal, link}) {
  const scope = params.get('scope') || await defaultScope(signal);
  const f = {assignment: params.get('assignment') || '', type: params.get('type') || '', q: params.get('q') || '', state: params.get('state') || 'NonCompliant'};
  const filter = () => {
    const parts = [];
    if (f.state) parts.push('complianceState eq ' + quote(f.state));
    if (f.assignment) parts.push('policyAssignmentId eq ' + quote(f.assignment));
    if (f.type) parts.push('resourceType eq ' + quote(f.type));
    if (f.q) parts.push('contains(resourceId, ' + quote(f.q) + ')');
    return parts.join(' and ');
  };
  const head = h('div', {class: 'view-head'}, h('h1', {}, 'Non-compliant resources'));
  const go = (changes) => { location.hash = link('noncompliant', {scope, ...f, ...changes}); };
  const form = h('form', {class: 'filters', onsubmit: e => {
    e.preventDefault();
    const d = new FormData(e.target);
    go({assignment: d.get('assignment'), type: d.get('type'), q: d.get('q'), state: d.get('state')});
  }},
  field('State', h('select', {name: 'state'}, ['NonCompliant', 'Compliant', 'Exempt', 'Conflict', ''].map(s => h('option', {value: s, selected: s === f.state ? true : undefined}, s || 'Any')))),
  field('Assignment id', h('input', {name: 'assignment', value: f.assignment, size: 30})),
  field('Resource type', h('input', {name: 'type', value: f.type, placeholder: 'Microsoft.MachineLearningServices/workspaces/computes'})),
  field('Resource id contains', h('input', {name: 'q', value: f.q, type: 'search'})),
  h('button', {type: 'submit'}, 'Apply'));
  const list = h('div', {'aria-live': 'polite'});
  box.append(head, form, list);
  picker(scope, s => { location.hash = link('noncompliant', {...f, scope: s}); }, signal).then(p => head.append(p)).catch(() => {});

  const cols = [
    {label: 'Resource', key: 'resourceId', render: r => h('a', {href: link('resource', {id: r.resourceId})}, lastSegment(r.resourceId))},
    {label: 'Type', key: 'resourceType', render: r => breakable(r.resourceType)},
    {label: 'Resource group', key: 'resourceGroup'},
    {label: 'State', key: 'complianceState', render: r => stateBadge(r.complianceState)},
    {label: 'Assignment', key: 'policyAssignmentName', value: r => r.policyAssignmentName || lastSegment(r.policyAssignmentId)},
    {label: 'Policy', key: 'policyDefinitionName', value: r => r.policyDefinitionReferenceId || r.policyDefinitionName || lastSegment(r.policyDefinitionId)},
    {label: 'Effect', key: 'policyDefinitionAction'},
    {label: 'Evaluated', key: 'timestamp', value: r => fmtTime(r.timestamp)},
    {label: 'Reason', key: 'reason', value: () => '', render: r => h('button', {type: 'button', class: 'link', 'aria-expanded': 'false', onclick: e => toggleReason(e.target, r)}, 'Why?')},
  ];
  const exportCols = cols.filter(c => c.key !== 'reason').concat([{label: 'Resource id', key: 'resourceId'}, {label: 'Assignment id', key: 'policyAssignmentId'}, {label: 'Definition id', key: 'policyDefinitionId'}]);

  const toggleReason = async (btn, r) => {
    const tr = btn.closest('tr');
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('reason-row')) {
      next.remove();
      btn.setAttribute('aria-expanded', 'false');
      return;
    }
    btn.setAttribute('aria-expanded', 'true');
    const cell = h('td', {colspan: cols.length}, h('p', {class: 'muted'}, 'Loading…'));
    tr.after(h('tr', {class: 'reason-row'}, cell));
    try {
      const body = await queryResults(scope, {'$filter': `resourceId eq ${quote(r.resourceId)} and policyAssignmentId eq ${quote(r.policyAssignmentId)}`, '$expand': 'PolicyEvaluationDetails'}, signal);
      replace(cell, (body.value || []).filter(s => (s.policyDefinitionReferenceId || '') === (r.policyDefinitionReferenceId || '')).map(details));
    } catch (e) {
      replace(cell, errorBox(e));
    }
  };

  const url = () => insights(scope, 'queryResults', `&$top=${PAGE}&$filter=${encodeURIComponent(filter())}`);
  const pages = [];
  const load = async (target) => {
    replace(list, h('p', {class: 'muted'}, 'Loading…'));
    const body = await post(target, signal);
    pages.push(target);
    const rows = body.value || [];
    const count = body['@odata.count'];
    const next = body['@odata.nextLink'];
    replace(list,
      h('div', {class: 'list-head'}, h('span', {dataset: {testid: 'result-count'}}, rows.length + (next ? '+' : '') + ' records on this page' + (count !== undefined ? ` of ${count}` : '')),
        exportButtons('policy-states', exportCols, () => postAll(url(), signal))),
      table(cols, rows, {caption: 'Compliance records', empty: 'No resource matches.', testid: 'noncompliant'}),
      h('div', {class: 'pager'},
        pages.length > 1 ? h('button', {type: 'button', onclick: () => { pages.pop(); load(pages.pop()); }}, 'Previous page') : null,
        next ? h('button', {type: 'button', onclick: () => load(sameOrigin(next))}, 'Next page') : null));
    loaded(box);
  };
  await load(url());

  let timer = null;
  return (evt) => {
    if (evt.kind !== 'compliance' || pages.length > 1) return; // a later page stays put
    clearTimeout(timer);
    timer = setTimeout(() => { pages.length = 0; load(url()).catch(() => {}); }, 200);
  };
}

// queryResults is a POST; its nextLink is followed the same way.
function post(path, signal) { return arm('POST', path, {signal}); }

async function postAll(path, signal) {
  const out = [];
  let next = path;
  while (next && out.length < 100000) {
    const b = await post(next, signal);
    out.push(...(b.value || []));
    next = b['@odata.nextLink'] ? sameOrigin(b['@odata.nextLink']) : null;
  }
  return out;
}
