// The reason of a compliance record, as data: the evaluated expressions
// of the policy rule and, for AuditIfNotExists and DeployIfNotExists,
// the related resources the existence check examined.
import {h, table, lastSegment, stateBadge} from '../dom.js';

const show = v => v === undefined ? '(undefined)' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);

export function details(state) {
  const d = state.policyEvaluationDetails || {};
  const exprs = d.evaluatedExpressions || [];
  const ine = d.ifNotExistsDetails;
  return h('div', {class: 'reason', dataset: {testid: 'reason'}},
    h('p', {}, stateBadge(state.complianceState), ' under ', h('strong', {}, state.policyAssignmentName || lastSegment(state.policyAssignmentId)),
      ' / ', state.policyDefinitionReferenceId || state.policyDefinitionName || lastSegment(state.policyDefinitionId),
      state.policyDefinitionAction ? ` (${state.policyDefinitionAction})` : ''),
    d.reason ? h('p', {class: 'error'}, d.reason) : null,
    exprs.length ? table([
      {label: 'Result', key: 'result', render: e => h('span', {class: 'badge ' + (String(e.result).toLowerCase() === 'true' ? 'state-noncompliant-cause' : 'state-ok')}, e.result)},
      {label: 'Kind', key: 'expressionKind'},
      {label: 'Field', key: 'expression', render: e => h('code', {}, e.expression)},
      {label: 'Path', key: 'path', render: e => e.path ? h('code', {}, e.path) : ''},
      {label: 'Operator', key: 'operator'},
      {label: 'Expected', key: 'targetValue', render: e => h('code', {}, show(e.targetValue))},
      {label: 'Actual', key: 'expressionValue', render: e => h('code', {}, show(e.expressionValue))},
    ], exprs, {caption: 'Evaluated expressions', testid: 'expressions'}) : null,
    ine ? h('div', {class: 'ine', dataset: {testid: 'related'}},
      h('h4', {}, 'Existence check'),
      h('dl', {class: 'facts'},
        ine.relatedResourceType ? [h('dt', {}, 'Related type'), h('dd', {}, h('code', {}, ine.relatedResourceType))] : null,
        ine.relatedResourceName ? [h('dt', {}, 'Name asked for'), h('dd', {}, h('code', {}, ine.relatedResourceName))] : null,
        ine.existenceScope ? [h('dt', {}, 'Looked in'), h('dd', {}, ine.existenceScope === 'Subscription' ? 'the subscription' : 'the resource group')] : null,
        h('dt', {}, 'Related resources examined'), h('dd', {}, String(ine.totalResources ?? 0)),
        ine.resourceId ? [h('dt', {}, 'Last examined'), h('dd', {}, h('code', {}, ine.resourceId))] : null,
        h('dt', {}, 'Satisfied by'), h('dd', {}, ine.matchedResourceId ? h('code', {}, ine.matchedResourceId) : 'none: no related resource met the existence condition'))) : null,
    !exprs.length && !ine && !d.reason ? h('p', {class: 'muted'}, 'No evaluation details for this record.') : null);
}
