// A resource: its properties, its compliance per assignment (with the
// reason of each record), its activity, its identity, who can do what on
// it (the role assignments that apply, with the scope each comes from),
// its vulnerability findings and its network rules.
import {h, loaded, replace, lastSegment, table, exportButtons, errorBox, fmtTime, field, stateBadge, quote, card, drawInto} from '../dom.js';
import {V, get, all, arm, versionOf, parseId, touches} from '../api.js';
import {queryResults} from '../scope.js';
import {details} from './reason.js';

export default async function resource(box, params, {signal, link, status}) {
  const id = params.get('id');
  if (!id) {
    box.append(h('h1', {}, 'Resource'), h('p', {}, 'No resource named: open one from a list.'));
    return;
  }
  const p = parseId(id);
  const rgScope = p.resourceGroup ? `/subscriptions/${p.subscription}/resourceGroups/${p.resourceGroup}` : `/subscriptions/${p.subscription}`;
  box.append(h('div', {class: 'view-head'}, h('h1', {}, lastSegment(id)), h('p', {class: 'muted id'}, h('code', {}, id))));
  const props = card('props-h', 'Properties');
  const compliance = card('comp-h', 'Compliance');
  const access = card('access-h', 'Who can do what here');
  const activity = card('act-h', 'Activity');
  const identity = card('id-h', 'Identity');
  const findings = card('find-h', 'Vulnerability findings');
  const network = card('net-h', 'Network rules');
  box.append(compliance, h('div', {class: 'grid'}, props, identity, network, findings), access, activity);

  let body;
  const drawResource = async () => {
    body = await get(id, await versionOf(id), signal);
    replace(props, h('h2', {id: 'props-h'}, 'Properties'),
      h('dl', {class: 'facts'},
        h('dt', {}, 'Type'), h('dd', {}, body.type),
        body.location ? [h('dt', {}, 'Location'), h('dd', {}, body.location)] : null,
        body.properties?.provisioningState ? [h('dt', {}, 'Provisioning'), h('dd', {}, body.properties.provisioningState)] : null,
        body.tags && Object.keys(body.tags).length ? [h('dt', {}, 'Tags'), h('dd', {}, Object.entries(body.tags).map(([k, v]) => h('span', {class: 'tag'}, k + '=' + v)))] : null),
      h('details', {}, h('summary', {}, 'Properties as JSON'), h('pre', {class: 'json', tabindex: 0}, JSON.stringify(body.properties ?? {}, null, 2))));
    drawIdentity(body);
    drawNetwork(body);
  };

  const drawIdentity = (b) => {
    const idn = b.identity;
    replace(identity, h('h2', {id: 'id-h'}, 'Identity'), !idn || !idn.type || idn.type === 'None' ? h('p', {class: 'muted'}, 'No managed identity.') :
      h('dl', {class: 'facts'}, h('dt', {}, 'Type'), h('dd', {}, idn.type),
        idn.principalId ? [h('dt', {}, 'Principal id'), h('dd', {}, h('code', {}, idn.principalId))] : null,
        idn.tenantId ? [h('dt', {}, 'Tenant'), h('dd', {}, h('code', {}, idn.tenantId))] : null,
        Object.keys(idn.userAssignedIdentities || {}).length ? [h('dt', {}, 'User-assigned'), h('dd', {}, Object.keys(idn.userAssignedIdentities).map(u => h('div', {}, h('code', {}, u))))] : null));
  };

  const drawNetwork = (b) => {
    const pr = b.properties || {};
    const facts = [];
    const add = (k, v) => { if (v !== undefined && v !== null && v !== '') facts.push(h('dt', {}, k), h('dd', {}, typeof v === 'object' ? h('code', {}, JSON.stringify(v)) : String(v))); };
    add('Public network access', pr.publicNetworkAccess);
    add('IP allowlist', pr.ipAllowlist && pr.ipAllowlist.length ? pr.ipAllowlist.join(', ') : undefined);
    add('Isolation mode', pr.managedNetwork?.isolationMode);
    const rules = pr.managedNetwork?.outboundRules || {};
    add('Outbound rules', Object.keys(rules).length ? Object.entries(rules).map(([n, r]) => `${n}: ${r.type} ${r.destination?.serviceTag || r.destination?.serviceResourceId || r.destination || ''}`).join('; ') : undefined);
    add('Private endpoint connections', (pr.privateEndpointConnections || []).map(c => `${lastSegment(c.id)} (${c.properties?.privateLinkServiceConnectionState?.status || ''})`).join(', ') || undefined);
    add('Network rules', pr.networkAcls || pr.networkRuleSet);
    replace(network, h('h2', {id: 'net-h'}, 'Network rules'), facts.length ? h('dl', {class: 'facts'}, facts) : h('p', {class: 'muted'}, 'No network rules on this resource.'));
    if (p.type && p.type.toLowerCase() === 'microsoft.machinelearningservices/workspaces') {
      network.append(h('p', {}, h('a', {href: link('egress', {workspace: id})}, 'Egress decisions of this workspace')));
    }
  };

  const drawCompliance = async () => {
    const res = await queryResults(rgScope, {'$filter': `resourceId eq ${quote(id)}`, '$expand': 'PolicyEvaluationDetails'}, signal);
    const states = res.value || [];
    const bad = states.filter(s => s.complianceState === 'NonCompliant');
    replace(compliance, h('h2', {id: 'comp-h'}, 'Compliance'),
      h('p', {}, 'Overall: ', stateBadge(states.length ? (bad.length ? 'NonCompliant' : states.every(s => s.complianceState === 'Exempt') ? 'Exempt' : 'Compliant') : 'Unknown'),
        h('span', {dataset: {testid: 'overall-state'}, class: 'sr-only'}, states.length ? (bad.length ? 'NonCompliant' : states.every(s => s.complianceState === 'Exempt') ? 'Exempt' : 'Compliant') : 'Unknown')),
      table([
        {label: 'Assignment', key: 'policyAssignmentName', value: s => s.policyAssignmentName || lastSegment(s.policyAssignmentId)},
        {label: 'Policy', key: 'policyDefinitionName', value: s => s.policyDefinitionReferenceId || s.policyDefinitionName},
        {label: 'Effect', key: 'policyDefinitionAction'},
        {label: 'State', key: 'complianceState', render: s => h('span', {dataset: {testid: 'state'}}, stateBadge(s.complianceState))},
        {label: 'Evaluated', key: 'timestamp', value: s => fmtTime(s.timestamp)},
      ], states, {caption: 'Compliance per assignment', empty: 'No assignment applies to this resource.', testid: 'compliance'}),
      bad.map(details),
      bad.length ? exemptionForm(id, bad, async (name) => { status('Exemption ' + name + ' created.'); await drawCompliance(); }) : null);
  };

  const drawAccess = async () => {
    const [assignments, defs] = await Promise.all([
      all(`${id}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`, V.authorization, 5000, signal),
      all(`/subscriptions/${p.subscription}/providers/Microsoft.Authorization/roleDefinitions`, V.authorization, 5000, signal).catch(() => []),
    ]);
    const byId = new Map(defs.map(d => [lastSegment(d.id).toLowerCase(), d]));
    const rows = assignments.map(a => {
      const d = byId.get(lastSegment(a.properties.roleDefinitionId).toLowerCase());
      const perms = d?.properties?.permissions?.[0] || {};
      return {principalId: a.properties.principalId, principalType: a.properties.principalType || '', role: d?.properties?.roleName || lastSegment(a.properties.roleDefinitionId),
        scope: a.properties.scope, inherited: a.properties.scope.toLowerCase() !== id.toLowerCase(), actions: (perms.actions || []).join(', '), notActions: (perms.notActions || []).join(', '),
        dataActions: (perms.dataActions || []).join(', '), condition: a.properties.condition || '', assignment: a.id};
    });
    const cols = [
      {label: 'Principal', key: 'principalId', render: r => h('code', {}, r.principalId)}, {label: 'Type', key: 'principalType'}, {label: 'Role', key: 'role'},
      {label: 'Comes from', key: 'scope', render: r => h('span', {}, r.inherited ? 'inherited from ' : 'this resource', r.inherited ? h('code', {}, r.scope) : '')},
      {label: 'May do', key: 'actions', render: r => h('small', {}, r.actions || '(no control-plane actions)', r.notActions ? ' except ' + r.notActions : '', r.dataActions ? '; data: ' + r.dataActions : '')},
      {label: 'Condition', key: 'condition'}];
    replace(access, h('h2', {id: 'access-h'}, 'Who can do what here'), exportButtons('access', cols.concat([{label: 'Assignment id', key: 'assignment'}]), async () => rows),
      table(cols, rows, {caption: 'Role assignments that apply', empty: 'No role assignment applies here that you may read.', testid: 'access'}));
  };

  const drawActivity = async () => {
    const since = new Date(Date.now() - 90 * 86400000).toISOString();
    const rows = await all(`/subscriptions/${p.subscription}/providers/Microsoft.Insights/eventtypes/management/values?$filter=${encodeURIComponent(`eventTimestamp ge '${since}' and resourceUri eq '${id}'`)}`, V.activity, 200, signal);
    const cols = [{label: 'Time', key: 'eventTimestamp', value: e => fmtTime(e.eventTimestamp)}, {label: 'Operation', key: 'operationName', value: e => e.operationName?.value},
      {label: 'Status', key: 'status', value: e => e.status?.value}, {label: 'Caller', key: 'caller'}, {label: 'Correlation id', key: 'correlationId'}];
    replace(activity, h('h2', {id: 'act-h'}, 'Activity'), exportButtons('activity', cols, async () => rows), table(cols, rows, {caption: 'Activity of the resource', empty: 'No activity in the last 90 days.', testid: 'activity'}));
  };

  const drawFindings = async () => {
    let rows;
    try {
      rows = await all(`${id}/providers/Microsoft.Security/assessments`, V.security, 500, signal);
    } catch (e) {
      if (e.status === 404 || e.status === 400) { replace(findings, h('h2', {id: 'find-h'}, 'Vulnerability findings'), h('p', {class: 'muted'}, 'No findings.')); return; }
      throw e;
    }
    replace(findings, h('h2', {id: 'find-h'}, 'Vulnerability findings'), table([
      {label: 'Finding', key: 'name', value: a => a.properties?.displayName || a.name},
      {label: 'Severity', key: 'severity', value: a => a.properties?.metadata?.severity || a.properties?.additionalData?.severity || ''},
      {label: 'Status', key: 'status', value: a => a.properties?.status?.code},
    ], rows, {caption: 'Findings', empty: 'No findings.', testid: 'findings'}));
  };

  await Promise.all([drawInto(drawResource, props), drawInto(drawCompliance, compliance), drawInto(drawAccess, access), drawInto(drawActivity, activity), drawInto(drawFindings, findings)]);
  if (!signal.aborted) loaded(box);

  let timer = null;
  const pending = new Set();
  return (evt) => {
    if (!touches(evt, id)) return;
    const own = String(evt.id || '').toLowerCase() === id.toLowerCase();
    if (evt.kind === 'compliance') pending.add('compliance');
    else if (evt.kind === 'resource' && own) pending.add('resource');
    else if (evt.kind === 'activity') pending.add('activity');
    else return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (pending.has('resource')) drawInto(drawResource, props);
      if (pending.has('compliance') || pending.has('resource')) drawInto(drawCompliance, compliance);
      if (pending.has('activity')) drawInto(drawActivity, activity);
      pending.clear();
    }, 150);
  };
}

// exemptionForm exempts the resource from one of the assignments it is
// non-compliant with (a policy exemption at the resource).
function exemptionForm(id, bad, done) {
  const assignments = [...new Map(bad.map(s => [s.policyAssignmentId, s])).values()];
  const msg = h('div', {'aria-live': 'polite'});
  const days = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
  return h('details', {class: 'exempt'}, h('summary', {}, 'Exempt this resource'),
    h('form', {class: 'stack', onsubmit: async e => {
      e.preventDefault();
      const d = new FormData(e.target);
      const name = 'ui-' + Math.random().toString(36).slice(2, 10);
      const props = {policyAssignmentId: d.get('assignment'), exemptionCategory: d.get('category'), displayName: d.get('displayName') || undefined, description: d.get('description') || undefined};
      if (d.get('expires')) props.expiresOn = new Date(d.get('expires') + 'T23:59:59Z').toISOString();
      replace(msg, h('p', {class: 'muted'}, 'Saving…'));
      try {
        await arm('PUT', `${id}/providers/Microsoft.Authorization/policyExemptions/${name}`, {version: V.exemptions, body: {properties: props}});
        replace(msg);
        await done(name);
      } catch (err) {
        replace(msg, errorBox(err));
      }
    }},
    field('Assignment', h('select', {name: 'assignment', required: true}, assignments.map(s => h('option', {value: s.policyAssignmentId}, s.policyAssignmentName || lastSegment(s.policyAssignmentId))))),
    field('Category', h('select', {name: 'category'}, h('option', {value: 'Waiver'}, 'Waiver'), h('option', {value: 'Mitigated'}, 'Mitigated'))),
    field('Expires on', h('input', {type: 'date', name: 'expires', value: days})),
    field('Display name', h('input', {name: 'displayName'})),
    field('Description', h('textarea', {name: 'description', rows: 2})),
    h('button', {type: 'submit', class: 'primary'}, 'Create exemption'), msg));
}
