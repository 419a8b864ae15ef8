// The ARM and PolicyInsights API, called with the signed-in user's
// token exactly as the SDKs call it: every view shows what these calls
// return and nothing else.
import {token, graphToken} from './auth.js';

export const V = {
  resources: '2021-04-01',
  insights: '2019-10-01',
  assignments: '2022-06-01',
  definitions: '2021-06-01',
  exemptions: '2022-07-01-preview',
  remediations: '2021-10-01',
  authorization: '2022-04-01',
  activity: '2015-04-01',
  managementGroups: '2021-04-01',
  governance: '2026-12-01',
  security: '2020-01-01',
};

export class ApiError extends Error {
  constructor(status, code, message, target) {
    super(message);
    this.status = status;
    this.code = code;
    this.target = target;
  }
}

// onUnauthorized is called when the API refuses the token (set by app.js).
let onUnauthorized = () => {};
export function setOnUnauthorized(fn) { onUnauthorized = fn; }

// withVersion adds api-version to a path that has none.
export function withVersion(path, version) {
  if (/[?&]api-version=/.test(path)) return path;
  return path + (path.includes('?') ? '&' : '?') + 'api-version=' + version;
}

async function send(method, url, body, tok, signal) {
  const headers = {Authorization: 'Bearer ' + tok};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal});
  const text = await r.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!r.ok) {
    const e = (json && (json.error || json)) || {};
    const err = new ApiError(r.status, e.code || String(r.status), e.message || text || r.statusText, e.target);
    if (r.status === 401) onUnauthorized(err);
    throw err;
  }
  return {json, headers: r.headers, status: r.status};
}

// request sends one ARM request (path relative to the origin, with its
// api-version or one given): {json, headers, status}.
export async function request(method, path, {body, version, signal} = {}) {
  const tok = await token();
  if (!tok) {
    const err = new ApiError(401, 'NotSignedIn', 'Sign in to continue.');
    onUnauthorized(err);
    throw err;
  }
  return send(method, version ? withVersion(path, version) : path, body, tok, signal);
}

// arm sends one ARM request and returns its JSON body.
export async function arm(method, path, opts) {
  return (await request(method, path, opts)).json;
}

export const get = (path, version, signal) => arm('GET', path, {version, signal});

// page returns one page of a list and the link to the next one.
export async function page(path, version, signal) {
  const body = await get(path, version, signal);
  return {items: (body && body.value) || [], next: body && (body.nextLink || body['@odata.nextLink']) || null, body};
}

// all follows nextLink to the end (at most max items).
export async function all(path, version, max = 100000, signal) {
  const out = [];
  let next = path;
  let v = version;
  while (next && out.length < max) {
    const p = await page(sameOrigin(next), v, signal);
    out.push(...p.items);
    next = p.next;
    v = undefined; // a nextLink carries its own
  }
  return out.slice(0, max);
}

// sameOrigin keeps the path and query of a link the server built.
export function sameOrigin(link) {
  if (link.startsWith('/')) return link;
  const u = new URL(link);
  return u.pathname + u.search;
}

// graph reads Microsoft Graph (the directory, the sign-in log).
export async function graph(path, signal) {
  const tok = await graphToken();
  if (!tok) throw new ApiError(403, 'GraphNotAvailable', 'Microsoft Graph is read with a session of mlgov\u2019s own token service; this one signed in with another issuer.');
  return (await send('GET', path, undefined, tok, signal)).json;
}

// percentage is a summarize results object's compliancePercentage
// (Azure's formula, worked out by the server: govern.CompliancePercentage).
export function percentage(results) {
  const p = results && results.compliancePercentage;
  return typeof p === 'number' ? p : null;
}

// touches reports whether a live event concerns a resource id: its own
// events, those of resources below it (its exemptions), and compliance
// told for a scope above it (a scan's).
export function touches(evt, id) {
  const me = String(id).toLowerCase();
  const of = String(evt.id || evt.resourceId || '').toLowerCase();
  if (of && (of === me || of.startsWith(me + '/'))) return true;
  const scope = String(evt.scope || '').toLowerCase();
  return scope !== '' && (me === scope || me.startsWith(scope + '/'));
}

// countsOf turns resourceDetails ([{complianceState, count}]) into counts.
export function countsOf(details) {
  const c = {compliant: 0, noncompliant: 0, exempt: 0, conflict: 0, unknown: 0};
  for (const d of details || []) {
    const k = String(d.complianceState || '').toLowerCase().replace(/[^a-z]/g, '');
    if (k in c) c[k] += d.count || 0;
  }
  return c;
}

// Resource ids.
export function parseId(id) {
  const p = String(id).split('/').filter(Boolean);
  const out = {subscription: null, resourceGroup: null, provider: null, types: [], names: []};
  for (let i = 0; i < p.length; i++) {
    const k = p[i].toLowerCase();
    if (k === 'subscriptions' && !out.subscription && !out.provider) out.subscription = p[++i];
    else if (k === 'resourcegroups' && !out.resourceGroup && !out.provider) out.resourceGroup = p[++i];
    else if (k === 'providers') { out.provider = p[++i]; }
    else if (out.provider) { out.types.push(p[i]); out.names.push(p[++i]); }
  }
  out.type = out.provider ? out.provider + '/' + out.types.join('/') : null;
  return out;
}

const versions = new Map();

// versionOf finds an api-version the server serves for a resource's
// type (the tenant's provider lists them; every user may read it),
// cached per namespace.
export async function versionOf(id) {
  const p = parseId(id);
  if (!p.provider) return V.resources;
  const ns = p.provider.toLowerCase();
  if (!versions.has(ns)) {
    versions.set(ns, get(`/providers/${p.provider}`, V.resources).then(body => {
      const m = new Map();
      for (const t of body.resourceTypes || []) m.set(t.resourceType.toLowerCase(), (t.apiVersions || [])[0]);
      return m;
    }).catch(e => { versions.delete(ns); throw e; }));
  }
  const m = await versions.get(ns);
  return m.get(p.types.join('/').toLowerCase()) || [...m.values()][0] || V.resources;
}
