// Assignments and exemptions at a scope: the assignments that apply, the
// exemptions (those about to expire first), a compliance scan on demand,
// and remediations with their progress.
import {h, loaded, replace, lastSegment, table, exportButtons, errorBox, fmtTime, field, card, drawInto} from '../dom.js';
import {V, all, arm, request, sameOrigin} from '../api.js';
import {picker, defaultScope, assignmentsAt} from '../scope.js';

const SOON = 14 * 86400000;

export default async function policy(box, params, {signal, link, status}) {
  const scope = params.get('scope') || await defaultScope(signal);
  const head = h('div', {class: 'view-head'}, h('h1', {}, 'Assignments and exemptions'));
  const assigns = card('as-h', 'Assignments');
  const exemptions = card('ex-h', 'Exemptions');
  const remediations = card('rem-h', 'Remediations');
  box.append(head, assigns, exemptions, remediations);
  picker(scope, s => { location.hash = link('policy', {scope: s}); }, signal).then(p => head.append(p)).catch(() => {});
  const sub = scope.split('/').filter(Boolean)[0].toLowerCase() === 'subscriptions' ? '/subscriptions/' + scope.split('/').filter(Boolean)[1] : null;

  let assignments = [];
  const drawAssignments = async () => {
    assignments = await assignmentsAt(scope, signal);
    const cols = [
      {label: 'Assignment', key: 'name', value: a => a.properties?.displayName || a.name, render: a => h('a', {href: link('noncompliant', {scope, assignment: a.id})}, a.properties?.displayName || a.name)},
      {label: 'Scope', key: 'scope', value: a => a.properties?.scope},
      {label: 'Definition', key: 'def', value: a => lastSegment(a.properties?.policyDefinitionId)},
      {label: 'Enforcement', key: 'enforcementMode', value: a => a.properties?.enforcementMode || 'Default'},
      {label: 'Id', key: 'id'}];
    replace(assigns, h('h2', {id: 'as-h'}, 'Assignments'),
      h('div', {class: 'actions'}, sub ? h('button', {type: 'button', onclick: e => scan(e.target)}, 'Run a compliance scan') : null, exportButtons('assignments', cols, async () => assignments)),
      table(cols.slice(0, 4), assignments, {caption: 'Assignments', empty: 'No assignment applies at this scope.', testid: 'assignments'}));
  };

  const scan = async (btn) => {
    btn.disabled = true;
    status('Compliance scan started…');
    try {
      const r = await request('POST', sub + '/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation', {version: V.insights});
      const loc = r.headers.get('Location');
      while (loc && !signal.aborted) {
        await new Promise(res => setTimeout(res, 1000));
        if ((await request('GET', sameOrigin(loc))).status !== 202) break;
      }
      status('Compliance scan finished.');
    } catch (e) {
      status('The compliance scan failed: ' + e.message);
    } finally {
      btn.disabled = false;
    }
  };

  const drawExemptions = async () => {
    const rows = await all(`${scope}/providers/Microsoft.Authorization/policyExemptions`, V.exemptions, 5000, signal);
    const now = Date.now();
    const exp = x => x.properties?.expiresOn ? new Date(x.properties.expiresOn).getTime() : Infinity;
    rows.sort((a, b) => exp(a) - exp(b));
    const cols = [
      {label: 'Exemption', key: 'name', value: x => x.properties?.displayName || x.name},
      {label: 'Exempted scope', key: 'scope', value: x => x.id.replace(/\/providers\/Microsoft\.Authorization\/policyExemptions\/.*$/i, '')},
      {label: 'Assignment', key: 'assignment', value: x => lastSegment(x.properties?.policyAssignmentId)},
      {label: 'Category', key: 'category', value: x => x.properties?.exemptionCategory},
      {label: 'Expires', key: 'expiresOn', value: x => x.properties?.expiresOn ? fmtTime(x.properties.expiresOn) : 'never',
        render: x => {
          const t = exp(x);
          const txt = x.properties?.expiresOn ? fmtTime(x.properties.expiresOn) : 'never';
          return t < now ? h('span', {class: 'badge state-noncompliant'}, 'expired ' + txt) : t - now < SOON ? h('span', {class: 'badge state-conflict'}, 'soon: ' + txt) : txt;
        }}];
    const soon = rows.filter(x => exp(x) - now < SOON);
    replace(exemptions, h('h2', {id: 'ex-h'}, 'Exemptions'),
      h('p', {dataset: {testid: 'expiring'}}, soon.length ? `${soon.length} expired or expiring within 14 days.` : 'None expires within 14 days.'),
      exportButtons('exemptions', cols, async () => rows),
      table(cols, rows, {caption: 'Exemptions', empty: 'No exemption at this scope.', testid: 'exemptions'}),
      exemptionForm());
  };

  const exemptionForm = () => {
    const msg = h('div', {'aria-live': 'polite'});
    return h('details', {}, h('summary', {}, 'Create an exemption'), h('form', {class: 'stack', onsubmit: async e => {
      e.preventDefault();
      const d = new FormData(e.target);
      const at = String(d.get('scope') || scope).replace(/\/$/, '');
      const props = {policyAssignmentId: d.get('assignment'), exemptionCategory: d.get('category'), displayName: d.get('displayName') || undefined};
      if (d.get('expires')) props.expiresOn = new Date(d.get('expires') + 'T23:59:59Z').toISOString();
      try {
        await arm('PUT', `${at}/providers/Microsoft.Authorization/policyExemptions/${d.get('name')}`, {version: V.exemptions, body: {properties: props}});
        replace(msg, h('p', {class: 'ok', role: 'status'}, 'Exemption created.'));
        await drawExemptions();
      } catch (err) {
        replace(msg, errorBox(err));
      }
    }},
    field('Name', h('input', {name: 'name', required: true, pattern: '[^<>*%&:\\\\?/+]{1,64}'})),
    field('Scope (resource, resource group or subscription id)', h('input', {name: 'scope', value: scope, size: 60})),
    field('Assignment', h('select', {name: 'assignment', required: true}, assignments.map(a => h('option', {value: a.id}, a.properties?.displayName || a.name)))),
    field('Category', h('select', {name: 'category'}, h('option', {value: 'Waiver'}, 'Waiver'), h('option', {value: 'Mitigated'}, 'Mitigated'))),
    field('Expires on', h('input', {type: 'date', name: 'expires'})),
    field('Display name', h('input', {name: 'displayName'})),
    h('button', {type: 'submit', class: 'primary'}, 'Create exemption'), msg));
  };

  const drawRemediations = async () => {
    const rows = await all(`${scope}/providers/Microsoft.PolicyInsights/remediations`, V.remediations, 1000, signal);
    const cols = [
      {label: 'Remediation', key: 'name'},
      {label: 'Assignment', key: 'assignment', value: r => lastSegment(r.properties?.policyAssignmentId)},
      {label: 'State', key: 'state', value: r => r.properties?.provisioningState},
      {label: 'Progress', key: 'progress', value: r => {
        const s = r.properties?.deploymentStatus || {};
        return `${(s.successfulDeployments || 0) + (s.failedDeployments || 0)} of ${s.totalDeployments || 0} (${s.failedDeployments || 0} failed)`;
      }, render: r => {
        const s = r.properties?.deploymentStatus || {};
        const done = (s.successfulDeployments || 0) + (s.failedDeployments || 0);
        return h('span', {}, h('progress', {max: s.totalDeployments || 1, value: done, 'aria-label': 'Deployments done'}), ` ${done} of ${s.totalDeployments || 0}`, s.failedDeployments ? `, ${s.failedDeployments} failed` : '');
      }},
      {label: 'Created', key: 'createdOn', value: r => fmtTime(r.properties?.createdOn)}];
    const msg = h('div', {'aria-live': 'polite'});
    replace(remediations, h('h2', {id: 'rem-h'}, 'Remediations'), exportButtons('remediations', cols, async () => rows),
      table(cols, rows, {caption: 'Remediations', empty: 'No remediation at this scope.', testid: 'remediations'}),
      h('details', {}, h('summary', {}, 'Start a remediation'), h('form', {class: 'stack', onsubmit: async e => {
        e.preventDefault();
        const d = new FormData(e.target);
        const body = {properties: {policyAssignmentId: d.get('assignment'), policyDefinitionReferenceId: d.get('ref') || undefined, resourceDiscoveryMode: 'ExistingNonCompliant'}};
        try {
          await arm('PUT', `${scope}/providers/Microsoft.PolicyInsights/remediations/${d.get('name')}`, {version: V.remediations, body});
          status('Remediation ' + d.get('name') + ' started.');
          await drawRemediations();
        } catch (err) {
          replace(msg, errorBox(err));
        }
      }},
      field('Name', h('input', {name: 'name', required: true})),
      field('Assignment', h('select', {name: 'assignment', required: true}, assignments.map(a => h('option', {value: a.id}, a.properties?.displayName || a.name)))),
      field('Policy reference id (initiatives)', h('input', {name: 'ref'})),
      h('button', {type: 'submit', class: 'primary'}, 'Start remediation'), msg)));
    // Watched while one runs: read again every two seconds until each
    // has ended.
    clearTimeout(watch);
    if (rows.some(r => !['Succeeded', 'Failed', 'Canceled', 'Complete'].includes(r.properties?.provisioningState)) && !signal.aborted) {
      watch = setTimeout(() => drawInto(drawRemediations, remediations), 2000);
    }
    return rows;
  };
  let watch = null;
  signal.addEventListener('abort', () => clearTimeout(watch));

  await drawInto(drawAssignments, assigns);
  await Promise.all([drawInto(drawExemptions, exemptions), drawInto(drawRemediations, remediations)]);
  if (!signal.aborted) loaded(box);

  let timer = null;
  return (evt) => {
    if (evt.kind !== 'resource' && evt.kind !== 'activity') return;
    const t = String(evt.id || evt.resourceId || '').toLowerCase();
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (t.includes('/policyexemptions/')) drawInto(drawExemptions, exemptions);
      if (t.includes('/remediations/') || t.includes('microsoft.resources/deployments')) drawInto(drawRemediations, remediations);
      if (t.includes('/policyassignments/')) drawInto(drawAssignments, assigns);
    }, 200);
  };
}
