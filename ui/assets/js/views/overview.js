// The compliance overview at a scope: the percentage (Azure's formula over
// summarize's resource counts), by initiative and assignment, by resource
// type, by the scopes below, and the trend over time.
import {h, loaded, svg, replace, breakable, fmtPct, lastSegment, table, exportButtons, errorBox, fmtTime} from '../dom.js';
import {V, get, percentage, countsOf} from '../api.js';
import {summarize, queryResults, picker, defaultScope, assignmentsAt, label} from '../scope.js';

export default async function overview(box, params, {signal, link}) {
  const scope = params.get('scope') || await defaultScope(signal);
  const head = h('div', {class: 'view-head'}, h('h1', {}, 'Compliance'));
  const headline = h('section', {class: 'headline', 'aria-label': 'Overall compliance'}, h('p', {class: 'muted'}, 'Loading…'));
  const trend = h('section', {class: 'card', 'aria-labelledby': 'trend-h'}, h('h2', {id: 'trend-h'}, 'Trend'), h('p', {class: 'muted'}, 'Loading…'));
  const byAssignment = h('section', {class: 'card', 'aria-labelledby': 'ba-h'}, h('h2', {id: 'ba-h'}, 'By initiative and assignment'), h('p', {class: 'muted'}, 'Loading…'));
  const byType = h('section', {class: 'card', 'aria-labelledby': 'bt-h'}, h('h2', {id: 'bt-h'}, 'By resource type'), h('p', {class: 'muted'}, 'Loading…'));
  const byScope = h('section', {class: 'card', 'aria-labelledby': 'bs-h'}, h('h2', {id: 'bs-h'}, 'By scope'), h('p', {class: 'muted'}, 'Loading…'));
  box.append(head, headline, h('div', {class: 'grid'}, byAssignment, trend, byType, byScope));
  picker(scope, s => { location.hash = link('', {scope: s}); }, signal).then(p => head.append(p)).catch(() => {});

  const drawSummary = async () => {
    const sum = await summarize(scope, signal);
    const s = (sum.value && sum.value[0]) || {};
    const res = s.results || {};
    const c = countsOf(res.resourceDetails);
    const pct = percentage(res);
    replace(headline,
      h('div', {class: 'pct'}, h('span', {class: 'big', dataset: {testid: 'compliance-pct'}}, fmtPct(pct)), h('span', {class: 'muted'}, 'of resources compliant at ' + label(scope))),
      h('ul', {class: 'counts'},
        h('li', {}, h('span', {class: 'n', dataset: {testid: 'count-compliant'}}, c.compliant), ' compliant'),
        h('li', {}, h('a', {href: link('noncompliant', {scope})}, h('span', {class: 'n bad', dataset: {testid: 'count-noncompliant'}}, c.noncompliant), ' non-compliant')),
        h('li', {}, h('span', {class: 'n', dataset: {testid: 'count-exempt'}}, c.exempt), ' exempt'),
        h('li', {}, h('span', {class: 'n'}, c.conflict), ' conflicting'),
        h('li', {}, h('span', {class: 'n'}, res.nonCompliantPolicies ?? 0), ' non-compliant policies')));
    return s;
  };

  const drawAssignments = async (s) => {
    let names = new Map();
    try {
      for (const a of await assignmentsAt(scope, signal)) names.set(a.id.toLowerCase(), a.properties?.displayName || a.name);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
    }
    const rows = (s.policyAssignments || []).map(a => ({
      id: a.policyAssignmentId, name: names.get(String(a.policyAssignmentId).toLowerCase()) || lastSegment(a.policyAssignmentId),
      initiative: a.policySetDefinitionId ? lastSegment(a.policySetDefinitionId) : '',
      pct: percentage(a.results), nonCompliant: a.results?.nonCompliantResources ?? countsOf(a.results?.resourceDetails).noncompliant,
      definitions: a.policyDefinitions || [],
    }));
    rows.sort((x, y) => (x.pct ?? 101) - (y.pct ?? 101));
    const cols = [
      {label: 'Assignment', key: 'name', render: r => h('a', {href: link('noncompliant', {scope, assignment: r.id})}, r.name)},
      {label: 'Initiative', key: 'initiative'},
      {label: 'Compliance', key: 'pct', value: r => r.pct === null ? '' : r.pct.toFixed(1), render: r => bar(r.pct)},
      {label: 'Non-compliant resources', key: 'nonCompliant'},
    ];
    replace(byAssignment, h('h2', {id: 'ba-h'}, 'By initiative and assignment'),
      exportButtons('compliance-by-assignment', cols, async () => rows.map(({definitions, ...r}) => r)),
      table(cols, rows, {caption: 'Compliance by assignment', empty: 'No assignment applies at this scope.', testid: 'by-assignment'}),
      rows.filter(r => r.initiative).map(r => h('details', {class: 'initiative'}, h('summary', {}, r.name + ': policies of the initiative'),
        table([{label: 'Policy', key: 'ref'}, {label: 'Effect', key: 'effect'}, {label: 'Non-compliant resources', key: 'n'}],
          r.definitions.map(d => ({ref: d.policyDefinitionReferenceId || lastSegment(d.policyDefinitionId), effect: d.effect, n: d.results?.nonCompliantResources ?? 0})),
          {caption: 'Policies of ' + r.name}))));
  };

  // A resource is non-compliant when any of its records is (Azure's
  // roll-up); the groups count distinct resources.
  const groupCounts = async (by) => {
    const run = (filter) => queryResults(scope, {'$apply': (filter ? `filter(${filter})/` : '') + `groupby((resourceId, ${by}))/groupby((${by}), aggregate($count as count))`}, signal);
    const [total, bad] = await Promise.all([run(''), run("complianceState eq 'NonCompliant'")]);
    const m = new Map();
    for (const r of total.value || []) m.set(String(r[by]).toLowerCase(), {key: r[by], total: r.count, bad: 0});
    for (const r of bad.value || []) {
      const e = m.get(String(r[by]).toLowerCase());
      if (e) e.bad = r.count;
    }
    return [...m.values()].map(e => ({...e, pct: e.total ? 100 * (e.total - e.bad) / e.total : null})).sort((a, b) => (a.pct ?? 101) - (b.pct ?? 101));
  };

  const drawTypes = async () => {
    const rows = await groupCounts('resourceType');
    const cols = [
      {label: 'Resource type', key: 'key', render: r => h('a', {href: link('noncompliant', {scope, type: r.key})}, breakable(r.key))},
      {label: 'Resources', key: 'total'}, {label: 'Non-compliant', key: 'bad'},
      {label: 'Compliance', key: 'pct', value: r => r.pct === null ? '' : r.pct.toFixed(1), render: r => bar(r.pct)}];
    replace(byType, h('h2', {id: 'bt-h'}, 'By resource type'), exportButtons('compliance-by-type', cols, async () => rows),
      table(cols, rows, {caption: 'Compliance by resource type', empty: 'No resource has a compliance record here.', testid: 'by-type'}));
  };

  const drawScopes = async () => {
    const parts = scope.split('/').filter(Boolean);
    let by, mk;
    if (parts[0].toLowerCase() === 'providers') { by = 'subscriptionId'; mk = k => '/subscriptions/' + k; }
    else if (parts.length === 2) { by = 'resourceGroup'; mk = k => scope + '/resourceGroups/' + k; }
    else {
      replace(byScope, h('h2', {id: 'bs-h'}, 'By scope'), h('p', {class: 'muted'}, 'A resource group has no scopes below it; its resources are in the list of non-compliant resources.'));
      return;
    }
    const rows = await groupCounts(by);
    const cols = [
      {label: by === 'subscriptionId' ? 'Subscription' : 'Resource group', key: 'key', render: r => h('a', {href: link('', {scope: mk(r.key)})}, r.key)},
      {label: 'Resources', key: 'total'}, {label: 'Non-compliant', key: 'bad'},
      {label: 'Compliance', key: 'pct', value: r => r.pct === null ? '' : r.pct.toFixed(1), render: r => bar(r.pct)}];
    replace(byScope, h('h2', {id: 'bs-h'}, 'By scope'), exportButtons('compliance-by-scope', cols, async () => rows),
      table(cols, rows, {caption: 'Compliance by scope', empty: 'No scope below has compliance records.', testid: 'by-scope'}));
  };

  const drawTrend = async () => {
    const from = new Date(Date.now() - 30 * 86400000);
    let points;
    try {
      // No $to: the server's now, so that the last point is the live totals.
      const body = await get(`${scope}/providers/Mlgov.Governance/complianceHistory?$from=${from.toISOString()}`, V.governance, signal);
      points = (body.value || []).map(p => ({t: new Date(p.timestamp), pct: p.compliancePercentage})).filter(p => p.pct !== null && p.pct !== undefined);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      replace(trend, h('h2', {id: 'trend-h'}, 'Trend'), errorBox(e));
      return;
    }
    replace(trend, h('h2', {id: 'trend-h'}, 'Trend (30 days)'), chart(points),
      exportButtons('compliance-trend', [{label: 'Time', key: 't', value: p => p.t.toISOString()}, {label: 'Compliance %', key: 'pct'}], async () => points));
  };

  const guard = p => p.catch(e => { if (e.name !== 'AbortError') throw e; });
  const s = await drawSummary();
  // The headline is the overview's first answer: marked for the figures.
  performance.mark('mlgov:overview:headline');
  // The headline is up: the rest fills in as it arrives.
  const rest = [drawAssignments(s), drawTypes(), drawScopes(), drawTrend()].map(p => guard(p).catch(e => box.append(errorBox(e))));
  Promise.all(rest).then(() => { if (!signal.aborted) loaded(box); });

  // Live: the headline at once; the cards that read every record (by
  // type, by scope) once at a time, again after the one running if
  // events came meanwhile, so that a busy server is not asked for them
  // per write.
  let timer = null, running = false, again = false;
  const cards = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await Promise.all([guard(drawTypes()), guard(drawScopes())]).catch(() => {});
      } while (again && !signal.aborted);
    } finally {
      running = false;
    }
  };
  return (evt) => {
    if (evt.kind !== 'compliance' && evt.kind !== 'resource') return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      guard(drawSummary().then(drawAssignments)).catch(() => {});
      cards();
    }, 150);
  };
}

function bar(pct) {
  const v = pct === null || pct === undefined ? 0 : Math.max(0, Math.min(100, pct));
  return h('span', {class: 'bar'}, h('meter', {min: 0, max: 100, low: 80, high: 95, optimum: 100, value: v, 'aria-label': fmtPct(pct)}), ' ', fmtPct(pct));
}

// chart draws the trend as an SVG line with its points listed for
// screen readers.
function chart(points) {
  if (!points.length) return h('p', {class: 'muted'}, 'No history yet.');
  const W = 600, H = 180, L = 36, B = 22;
  const t0 = points[0].t.getTime(), t1 = Math.max(points[points.length - 1].t.getTime(), t0 + 1);
  const x = t => L + (W - L - 8) * (t.getTime() - t0) / (t1 - t0);
  const y = p => 8 + (H - B - 8) * (1 - p / 100);
  const d = points.map((p, i) => (i ? 'L' : 'M') + x(p.t).toFixed(1) + ',' + y(p.pct).toFixed(1)).join(' ');
  const g = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `Compliance from ${fmtPct(points[0].pct)} to ${fmtPct(points[points.length - 1].pct)}`},
    [0, 50, 100].map(v => [svg('line', {x1: L, x2: W - 8, y1: y(v), y2: y(v), class: 'grid-line'}), svg('text', {x: 2, y: y(v) + 4, class: 'axis'}, v + '%')]),
    svg('text', {x: L, y: H - 4, class: 'axis'}, fmtTime(points[0].t).slice(0, 10)),
    svg('text', {x: W - 8, y: H - 4, class: 'axis', 'text-anchor': 'end'}, fmtTime(points[points.length - 1].t).slice(0, 10)),
    svg('path', {d, class: 'line'}),
    points.length < 60 ? points.map(p => svg('circle', {cx: x(p.t), cy: y(p.pct), r: 2.5, class: 'dot'})) : null);
  return h('figure', {class: 'trend'}, g, h('figcaption', {class: 'muted'}, `${points.length} points; latest ${fmtPct(points[points.length - 1].pct)}`));
}
