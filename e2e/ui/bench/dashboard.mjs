// Issue 15's performance figures, measured in chromium against a server
// holding 100,000 resources and their compliance records (set up by
// BenchmarkDashboard100k in e2e/dashboard_bench_test.go, which runs this
// script; it is not under test/, so `node --test` does not pick it up).
//
// Signs in once as the Owner user (MLGOV_UI_USER), then, MLGOV_BENCH_RUNS
// times (default 5), in that signed-in tab (the session lives in the tab's
// sessionStorage):
//
//   overview   a navigation to /ui/#/ (from about:blank: a new document,
//              its timeOrigin the navigation's start): headlineMs is when
//              the mark mlgov:overview:headline was set (the percentage is
//              drawn), loadedMs when mlgov:loaded:overview was (every card
//              filled: by assignment, by type, by scope, trend).
//              readyMs is when input made at the headline would have been
//              handled: the headline, or the end of a long task (50 ms or
//              more, the longtask timeline) running then.
//   input      the same navigation again; as soon as the headline is
//              there, a real mouse click on the nav link "Non-compliant
//              resources": inputMs is when the page handled it (its
//              hashchange ran), from the navigation's start, and
//              inputDelayMs how long the page took from the click event's
//              creation to that handler (the harness's own latency
//              excluded). inputMs is the "interactive" figure: the
//              percentage is shown and the page has taken input.
//   filtered   on #/noncompliant, the filter form filled in (resource
//              type MLGOV_BENCH_TYPE, assignment MLGOV_BENCH_ASSIGNMENT,
//              state NonCompliant) and Apply clicked: filteredMs from the
//              submit event to the view's next mlgov:loaded:noncompliant.
//   direct     a navigation straight to that filtered URL: directMs from
//              its start to mlgov:loaded:noncompliant (app start included).
//
// Writes { runs: [{overview:{headlineMs, loadedMs}, input:{...},
// filteredMs, filteredRows, directMs}, ...] } as JSON to MLGOV_BENCH_OUT
// (or stdout).

import { writeFileSync } from "node:fs";

import { server } from "../lib/arm.mjs";
import { launch, VIEWPORTS, signIn } from "../lib/browser.mjs";

const s = server();
const runs = Number(process.env.MLGOV_BENCH_RUNS || 5);
const type = process.env.MLGOV_BENCH_TYPE || "Microsoft.MachineLearningServices/workspaces/computes";
const assignment = process.env.MLGOV_BENCH_ASSIGNMENT || "";
const scope = `/subscriptions/${s.subscriptionId}`;
const timeout = Number(process.env.MLGOV_BENCH_TIMEOUT_MS || 120_000);

// Every document records the first input handled and the submits, from
// the start of its navigation (performance.now()).
function record() {
  const b = (window.__bench = { hashchanges: [], clicks: [], submits: [], longtasks: [] });
  // Tasks of 50 ms or more: input arriving during one waits for its end.
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) b.longtasks.push([e.startTime, e.startTime + e.duration]);
  }).observe({ type: "longtask", buffered: true });
  addEventListener("click", (e) => b.clicks.push({ at: performance.now(), created: e.timeStamp }), true);
  addEventListener("hashchange", () => b.hashchanges.push(performance.now()), true);
  addEventListener("submit", (e) => b.submits.push({ at: performance.now(), created: e.timeStamp }), true);
}

// markTime resolves with the startTime of the first mark name at or after
// after (ms from the document's navigation start), as soon as it is set:
// one evaluation waiting on a PerformanceObserver, not a poll.
const markTime = (page, name, after = 0) =>
  page.evaluate(
    ([n, a, ms]) =>
      new Promise((resolve, reject) => {
        const found = (list) => list.filter((m) => m.name === n && m.startTime >= a)[0];
        const now = found(performance.getEntriesByName(n));
        if (now) return resolve(now.startTime);
        const timer = setTimeout(() => reject(new Error(`no mark ${n} within ${ms} ms`)), ms);
        new PerformanceObserver((l, obs) => {
          const m = found(l.getEntries());
          if (m) {
            obs.disconnect();
            clearTimeout(timer);
            resolve(m.startTime);
          }
        }).observe({ type: "mark" });
      }),
    [name, after, timeout],
  );

async function freshNavigation(page, url) {
  await page.goto("about:blank");
  await page.goto(url, { waitUntil: "commit", timeout });
}

const browser = await launch();
const context = await browser.newContext({ viewport: VIEWPORTS[0], locale: "en-US" });
await context.addInitScript(record);
const page = await context.newPage();
page.on("pageerror", (e) => console.error("page error:", e.message));
await page.goto(`${s.url}/ui/`);
await page.getByRole("button", { name: "Sign in" }).click();
await signIn(page, s.user.upn, s.user.password);
await page.getByTestId("user").waitFor({ timeout });
// Warm-up: the overview once, to its end (the browser's cache holds the
// assets afterwards, as it does for a user who has opened the dashboard).
await markTime(page, "mlgov:loaded:overview");

const q = new URLSearchParams({ scope, type, state: "NonCompliant" });
if (assignment) q.set("assignment", assignment);
const filteredURL = `${s.url}/ui/#/noncompliant?${q}`;
const results = [];
for (let i = 0; i < runs; i++) {
  const r = {};
  // (a) the overview, loaded to its end.
  await freshNavigation(page, `${s.url}/ui/#/`);
  r.overview = { headlineMs: await markTime(page, "mlgov:overview:headline"), loadedMs: await markTime(page, "mlgov:loaded:overview") };
  r.overview.pct = (await page.getByTestId("compliance-pct").textContent()).trim();
  // The overview's slowest requests (where its full load goes).
  r.overview.slowest = await page.evaluate(() =>
    performance.getEntriesByType("resource")
      .map((e) => [decodeURIComponent(new URL(e.name).pathname.replace(/^.*\/providers\//, "…/") + new URL(e.name).search).slice(0, 140), Math.round(e.startTime), Math.round(e.duration)])
      .sort((a, b) => b[2] - a[2])
      .slice(0, 8),
  );
  // When input made at the headline would have been handled: at once,
  // unless a long task was running then (its end).
  const busy = await page.evaluate(() => window.__bench.longtasks);
  r.overview.readyMs = busy.reduce((t, [s0, e]) => (s0 <= t && t < e ? e : t), r.overview.headlineMs);

  // (a') the overview again: a click as soon as the headline is drawn.
  await freshNavigation(page, `${s.url}/ui/#/`);
  const link = page.locator('#nav a[href="#/noncompliant"]');
  await link.waitFor({ timeout });
  const box = await link.boundingBox();
  const headlineMs = await markTime(page, "mlgov:overview:headline");
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => window.__bench.hashchanges.length > 0, null, { timeout, polling: 5 });
  const b = await page.evaluate(() => window.__bench);
  const click = b.clicks[0];
  r.input = { headlineMs, clickAt: click.created, inputMs: b.hashchanges[0], inputDelayMs: b.hashchanges[0] - click.created };

  // (b) a filtered page of non-compliant resources: the form submitted.
  await markTime(page, "mlgov:loaded:noncompliant");
  const form = page.locator("form.filters");
  await form.getByLabel("Resource type").fill(type);
  await form.getByLabel("Assignment id").fill(assignment);
  await form.getByLabel("State").selectOption("NonCompliant");
  const before = await page.evaluate(() => performance.now());
  await form.getByRole("button", { name: "Apply" }).click();
  const submit = await page.waitForFunction((a) => window.__bench.submits.find((x) => x.at >= a) ?? null, before, { timeout, polling: 5 }).then((h) => h.jsonValue());
  const shown = await markTime(page, "mlgov:loaded:noncompliant", submit.at);
  r.filteredMs = shown - submit.created;
  r.filteredRows = await page.locator('[data-testid="noncompliant"] tbody tr').count();
  r.filteredURL = page.url();

  // (b') the same filtered page by a navigation of its own.
  await freshNavigation(page, filteredURL);
  r.directMs = await markTime(page, "mlgov:loaded:noncompliant");
  results.push(r);
  console.error(`run ${i + 1}/${runs}: ${JSON.stringify(r)}`);
}
await browser.close();
const out = JSON.stringify({ runs: results }, null, 1);
if (process.env.MLGOV_BENCH_OUT) writeFileSync(process.env.MLGOV_BENCH_OUT, out);
else console.log(out);
