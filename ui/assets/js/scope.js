// Scopes: management groups, subscriptions and resource groups the user
// may read, and the paths of the APIs at a scope.
import {h} from './dom.js';
import {V, all, arm} from './api.js';
import {config} from './auth.js';

export function insights(scope, what, extra = '') {
  return `${scope}/providers/Microsoft.PolicyInsights/policyStates/latest/${what}?api-version=${V.insights}${extra}`;
}

export function summarize(scope, signal) {
  return arm('POST', insights(scope, 'summarize'), {signal});
}

// queryResults runs one query (params: $filter, $apply, $top, ...).
export function queryResults(scope, params, signal) {
  const q = Object.entries(params).filter(([, v]) => v).map(([k, v]) => '&' + k + '=' + encodeURIComponent(v)).join('');
  return arm('POST', insights(scope, 'queryResults', q), {signal});
}

export function label(scope) {
  const p = String(scope).split('/').filter(Boolean);
  if (p.length >= 4 && p[0].toLowerCase() === 'providers' && p[1].toLowerCase() === 'microsoft.management') return 'Management group ' + p[3];
  if (p.length === 2) return 'Subscription ' + p[1];
  if (p.length === 4) return 'Resource group ' + p[3];
  return scope;
}

let known = null;

// readableScopes lists the scopes the user can open: management groups
// (when the user may read them), subscriptions and the resource groups
// of each (lists keep the items the user may read).
export async function readableScopes(signal) {
  if (known) return known;
  const out = [];
  try {
    for (const g of await all('/providers/Microsoft.Management/managementGroups', V.managementGroups, 1000, signal)) out.push({id: g.id, name: (g.properties && g.properties.displayName) || g.name, kind: 'mg'});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
  }
  let subs = [];
  try {
    subs = await all('/subscriptions', V.resources, 1000, signal);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    subs = [];
  }
  // The list holds the subscriptions the user may read; a user with a
  // role on a resource group only still reads that group's list in the
  // server's subscription.
  if (!subs.some(s => s.subscriptionId.toLowerCase() === config().subscriptionId.toLowerCase())) {
    subs.unshift({subscriptionId: config().subscriptionId, displayName: config().subscriptionId});
  }
  for (const s of subs) {
    out.push({id: '/subscriptions/' + s.subscriptionId, name: s.displayName || s.subscriptionId, kind: 'sub'});
    try {
      for (const g of await all(`/subscriptions/${s.subscriptionId}/resourcegroups`, V.resources, 2000, signal)) out.push({id: g.id, name: g.name, kind: 'rg', parent: '/subscriptions/' + s.subscriptionId});
    } catch (e) {
      if (e.name === 'AbortError') throw e;
    }
  }
  known = out;
  return out;
}

// defaultScope is the widest scope the user may read compliance at: the
// server's subscription, else the first resource group that answers.
let chosen = null;

export async function defaultScope(signal) {
  chosen ??= findDefault(signal).catch(e => { chosen = null; throw e; });
  return chosen;
}

async function findDefault(signal) {
  const sub = '/subscriptions/' + config().subscriptionId;
  try {
    await summarize(sub, signal);
    return sub;
  } catch (e) {
    if (e.status !== 403) throw e;
  }
  for (const s of await readableScopes(signal)) {
    if (s.kind === 'sub' && s.id.toLowerCase() === sub.toLowerCase()) continue;
    try {
      await summarize(s.id, signal);
      return s.id;
    } catch (e) {
      if (e.status !== 403) throw e;
    }
  }
  return sub;
}

// picker is a select of the readable scopes that opens the route at the
// chosen one.
export async function picker(current, onPick, signal) {
  const scopes = await readableScopes(signal);
  const sel = h('select', {id: 'scope', onchange: e => onPick(e.target.value)},
    scopes.map(s => h('option', {value: s.id, selected: s.id.toLowerCase() === current.toLowerCase() ? true : undefined},
      (s.kind === 'rg' ? '\u00a0\u00a0' : '') + (s.kind === 'mg' ? 'Management group: ' : s.kind === 'sub' ? 'Subscription: ' : 'Resource group: ') + s.name)));
  if (!scopes.some(s => s.id.toLowerCase() === current.toLowerCase())) sel.prepend(h('option', {value: current, selected: true}, label(current)));
  return h('div', {class: 'field inline'}, h('label', {for: 'scope'}, 'Scope'), sel);
}


export async function assignmentsAt(scope, signal) {
  return all(`${scope}/providers/Microsoft.Authorization/policyAssignments?$filter=atScope()`, V.assignments, 5000, signal);
}
