// The dashboard's shell: sign-in, the navigation, the router (routes are
// in the fragment: #/route?param=value) and the live updates.
import {h, replace, errorBox} from './dom.js';
import {loadConfig, config, completeSignIn, session, signIn, signOut, forget} from './auth.js';
import {setOnUnauthorized} from './api.js';
import * as live from './live.js';
import overview from './views/overview.js';
import noncompliant from './views/noncompliant.js';
import resource from './views/resource.js';
import policy from './views/policy.js';
import activity from './views/activity.js';
import signins from './views/signins.js';
import egress from './views/egress.js';

const routes = {
  '': {title: 'Compliance', view: overview, nav: true},
  'noncompliant': {title: 'Non-compliant resources', view: noncompliant, nav: true},
  'policy': {title: 'Assignments and exemptions', view: policy, nav: true},
  'activity': {title: 'Activity log', view: activity, nav: true},
  'signins': {title: 'Sign-in log', view: signins, nav: true},
  'egress': {title: 'Egress', view: egress, nav: true},
  'resource': {title: 'Resource', view: resource},
};

function parseRoute(hash = location.hash) {
  const s = hash.replace(/^#\/?/, '');
  const [path, query] = s.split('?');
  return {path: path || '', params: new URLSearchParams(query || '')};
}

// link builds a route's fragment.
function link(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const qs = q.toString();
  return '#/' + path + (qs ? '?' + qs : '');
}

function status(msg) {
  replace(document.getElementById('status'), msg || '');
}

let current = null; // {ctl: AbortController, onChange}

async function render() {
  const {path, params} = parseRoute();
  const route = routes[path];
  const main = document.getElementById('main');
  current?.ctl.abort();
  const ctl = new AbortController();
  current = {ctl, onChange: null};
  status('');
  drawNav(path);
  if (!route) {
    replace(main, h('h1', {}, 'Not found'), h('p', {}, 'The dashboard has no page ', h('code', {}, path), '. ', h('a', {href: '#/'}, 'Go to the overview.')));
    return;
  }
  document.title = route.title + ' · mlgov';
  const box = h('div', {class: 'view', dataset: {view: path || 'overview'}});
  replace(main, box);
  try {
    const onChange = await route.view(box, params, {signal: ctl.signal, link, status});
    if (!ctl.signal.aborted) current.onChange = onChange || null;
  } catch (e) {
    if (ctl.signal.aborted || e.name === 'AbortError') return;
    box.append(errorBox(e));
  }
}

function drawNav(active) {
  const nav = document.getElementById('nav');
  replace(nav, h('ul', {}, Object.entries(routes).filter(([, r]) => r.nav).map(([p, r]) =>
    h('li', {}, h('a', {href: '#/' + p, 'aria-current': p === active ? 'page' : undefined}, r.title)))));
}

function drawWho() {
  const s = session();
  const who = document.getElementById('who');
  if (!s) {
    replace(who);
    return;
  }
  replace(who, h('span', {class: 'user', dataset: {testid: 'user'}, title: s.user.upn || ''}, s.user.name),
    h('span', {class: 'live-dot', id: 'live', title: 'Live updates'}, ''),
    h('button', {type: 'button', onclick: signOut}, 'Sign out'));
}

function signedOut(err) {
  const main = document.getElementById('main');
  replace(document.getElementById('nav'));
  replace(document.getElementById('who'));
  live.stop();
  replace(main, h('section', {class: 'signin'},
    h('h1', {}, 'mlgov'),
    h('p', {}, 'Compliance, resources, access and activity of this control plane. Sign in with your account of the tenant.'),
    err ? errorBox(err) : null,
    h('div', {class: 'actions'},
      h('button', {type: 'button', class: 'primary', onclick: () => signIn(location.hash || '#/')}, 'Sign in'),
      config().external ? h('button', {type: 'button', onclick: () => signIn(location.hash || '#/', undefined, 'external')}, 'Sign in with ' + config().external.name) : null)));
  document.title = 'Sign in · mlgov';
}

async function start() {
  const toggle = document.querySelector('.menu-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    document.getElementById('nav').classList.toggle('open', open);
  });
  try {
    await loadConfig();
  } catch (e) {
    replace(document.getElementById('main'), errorBox(e));
    return;
  }
  let err = null;
  try {
    const route = await completeSignIn();
    if (route) location.hash = route;
  } catch (e) {
    err = e;
  }
  setOnUnauthorized(e => {
    if (e.code === 'NotSignedIn' || e.code === 'ExpiredAuthenticationToken' || e.code === 'InvalidAuthenticationToken' || e.status === 401) {
      forget();
      signedOut(e.code === 'NotSignedIn' ? null : e);
    }
  });
  if (!session()) {
    signedOut(err);
    return;
  }
  drawWho();
  window.addEventListener('hashchange', () => {
    document.getElementById('nav').classList.remove('open');
    toggle.setAttribute('aria-expanded', 'false');
    render();
  });
  live.start(evt => current?.onChange?.(evt), state => {
    const dot = document.getElementById('live');
    if (dot) {
      dot.className = 'live-dot ' + state;
      dot.title = state === 'on' ? 'Live updates: connected' : 'Live updates: reconnecting';
    }
  });
  await render();
}

start();
