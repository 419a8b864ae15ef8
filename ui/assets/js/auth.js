// Sign-in: the authorization code flow with PKCE (RFC 7636, S256) against
// mlgov's token service, as a single-page application. Tokens live in
// sessionStorage (this tab only) and are refreshed with the refresh token
// before they expire.

const SESSION = 'mlgov.session';
const PENDING = 'mlgov.pkce';

let cfg;

export async function loadConfig() {
  const r = await fetch('/ui/config.json', {cache: 'no-store'});
  if (!r.ok) throw new Error('The dashboard could not read its configuration (' + r.status + ').');
  cfg = await r.json();
  return cfg;
}

export function config() { return cfg; }

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function random(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

// A provider is where users sign in: mlgov's token service, or the
// external issuer the server trusts (config.external).
function provider(name) {
  if (name === 'external' && cfg.external) {
    const e = cfg.external;
    return {name, clientId: e.clientId, scope: e.scope, authorize: e.authorizationEndpoint, token: e.tokenEndpoint, endSession: e.endSessionEndpoint};
  }
  return {name: 'mlgov', clientId: cfg.clientId, scope: cfg.scope, authorize: cfg.authority + '/oauth2/v2.0/authorize',
    token: cfg.authority + '/oauth2/v2.0/token', endSession: cfg.authority + '/oauth2/v2.0/logout'};
}

// signIn sends the browser to the sign-in page of a provider ('mlgov' or
// 'external'); it comes back to the dashboard's redirect URI, at returnTo
// (a fragment route).
export async function signIn(returnTo, prompt, via = 'mlgov') {
  const p = provider(via);
  const verifier = random(32);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({verifier, state, returnTo: returnTo || '#/', provider: p.name}));
  const q = new URLSearchParams({client_id: p.clientId, response_type: 'code', redirect_uri: cfg.redirectUri,
    response_mode: 'query', scope: p.scope, state, code_challenge: challenge, code_challenge_method: 'S256'});
  if (prompt) q.set('prompt', prompt);
  location.assign(p.authorize + (p.authorize.includes('?') ? '&' : '?') + q);
}

// completeSignIn redeems the code the sign-in page sent back (when the
// page was opened with one); it returns the route to show.
export async function completeSignIn() {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  const route = pending && pending.returnTo ? pending.returnTo : '#/';
  history.replaceState(null, '', cfg.redirectUri + route);
  if (q.has('error')) throw new Error('Sign-in failed: ' + (q.get('error_description') || q.get('error')));
  if (!pending || pending.state !== q.get('state')) throw new Error('Sign-in failed: the answer does not belong to a sign-in this tab started. Sign in again.');
  const p = provider(pending.provider);
  const tok = await tokenRequest(p, {grant_type: 'authorization_code', code: q.get('code'), redirect_uri: cfg.redirectUri,
    code_verifier: pending.verifier, scope: p.scope});
  save(tok, p.name);
  return route;
}

async function tokenRequest(p, params) {
  const r = await fetch(p.token, {method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({client_id: p.clientId, ...params})});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(body.error_description || body.error || ('The token service answered ' + r.status));
    e.code = body.error;
    throw e;
  }
  return body;
}

function claims(jwt) {
  try {
    const p = jwt.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    return JSON.parse(decodeURIComponent(escape(atob(p))));
  } catch {
    return {};
  }
}

function save(tok, via) {
  const c = claims(tok.access_token);
  const prev = session() || {};
  const upn = c.upn || c.unique_name || c.preferred_username || c.email || '';
  sessionStorage.setItem(SESSION, JSON.stringify({
    provider: via || prev.provider || 'mlgov',
    accessToken: tok.access_token, expiresAt: Date.now() + (Number(tok.expires_in) || 3600) * 1000,
    refreshToken: tok.refresh_token || prev.refreshToken,
    user: {name: c.name || upn || c.oid || c.sub, upn, oid: c.oid || c.sub, tid: c.tid},
    graph: prev.graph,
  }));
}

export function session() {
  return JSON.parse(sessionStorage.getItem(SESSION) || 'null');
}

let refreshing = null;

// token returns an ARM access token, refreshed when it expires within a
// minute; null when the user is not signed in (or may no longer be).
export async function token() {
  const s = session();
  if (!s) return null;
  if (s.expiresAt - Date.now() > 60000) return s.accessToken;
  if (!s.refreshToken) return null;
  const p = provider(s.provider);
  refreshing ??= tokenRequest(p, {grant_type: 'refresh_token', refresh_token: s.refreshToken, scope: p.scope})
    .then(t => save(t, p.name)).finally(() => { refreshing = null; });
  try {
    await refreshing;
  } catch {
    sessionStorage.removeItem(SESSION);
    return null;
  }
  return session().accessToken;
}

// graphToken returns a Microsoft Graph token of the same session (the
// sign-in log is read through Graph).
export async function graphToken() {
  const s = session();
  if (!s || !s.refreshToken || s.provider === 'external') return null;
  if (s.graph && s.graph.expiresAt - Date.now() > 60000) return s.graph.accessToken;
  const tok = await tokenRequest(provider('mlgov'), {grant_type: 'refresh_token', refresh_token: s.refreshToken, scope: cfg.graphScope});
  const cur = session();
  cur.graph = {accessToken: tok.access_token, expiresAt: Date.now() + (Number(tok.expires_in) || 3600) * 1000};
  if (tok.refresh_token) cur.refreshToken = tok.refresh_token;
  sessionStorage.setItem(SESSION, JSON.stringify(cur));
  return cur.graph.accessToken;
}

// signOut forgets the tokens and ends the browser's session at the token
// service, which sends the browser back to the dashboard.
export function signOut() {
  const p = provider((session() || {}).provider);
  sessionStorage.removeItem(SESSION);
  if (!p.endSession) {
    location.assign(cfg.redirectUri);
    return;
  }
  const q = new URLSearchParams({client_id: p.clientId, post_logout_redirect_uri: cfg.redirectUri});
  location.assign(p.endSession + (p.endSession.includes('?') ? '&' : '?') + q);
}

export function forget() { sessionStorage.removeItem(SESSION); }
