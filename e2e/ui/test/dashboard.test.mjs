// The web dashboard (/ui/) in real chromium, as its users use it: the
// platform admin signs in with the code flow and PKCE, sees the overview
// with the percentage the PolicyInsights summarize API gives, opens a
// non-compliant compute and sees the expression that failed, exempts it
// and sees it become Exempt; a compute created by the SDK in another
// process appears with its compliance without a reload; a reader of one
// resource group sees that group only. Every view is shot at 1280×800 and
// 390×844 and checked by axe-core.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";

import { arm, graph, scopeId, server } from "../lib/arm.mjs";
import { axeCheck, launch, newPage, shoot, signIn } from "../lib/browser.mjs";

const run = promisify(execFile);
const ML = "Microsoft.MachineLearningServices";
const TEAM = () => server().reader.resourceGroup; // the reader's group
const OTHER = "ui-other";
const POLICY = "ui-compute-local-auth";
// The built-in "Configure Azure Machine Learning workspaces to disable
// public network access" (Modify), and the Contributor role.
const PNA_MODIFY = "a10ee784-7409-4941-b091-663697637c0f";
const CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c";

const wsId = (rg, ws) => `${scopeId(rg)}/providers/${ML}/workspaces/${ws}`;
const computeId = (rg, ws, c) => `${wsId(rg, ws)}/computes/${c}`;

/** summarize's compliance percentage (Azure's formula, the server's), as the dashboard shows it. */
function expectedPercentage(summary) {
  const p = summary.value[0].results.compliancePercentage;
  assert.equal(typeof p, "number", "summarize gives compliancePercentage");
  return `${p.toFixed(1)}%`;
}

async function statesOf(scope) {
  const r = await arm("POST", `${scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2019-10-01`, undefined, { expect: 200 });
  return r.body.value;
}

async function eventually(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms${last ? ": " + last.message : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function putCompute(rg, ws, name, disableLocalAuth) {
  await arm("PUT", `${computeId(rg, ws, name)}?api-version=2024-04-01`, {
    location: "westeurope",
    properties: { computeType: "AmlCompute", disableLocalAuth, properties: { vmSize: "STANDARD_DS3_V2", scaleSettings: { minNodeCount: 0, maxNodeCount: 2 } } },
  }, { expect: [200, 201] });
}

/** Opens a route of the dashboard and waits until its view has loaded. */
async function open(page, route) {
  await page.goto(`${server().url}/ui/#/${route}`);
  await page.locator(`[data-view][data-loaded="true"]`).waitFor({ timeout: 15000 });
}

/** Signs a user in from the dashboard's own Sign in button. */
async function signInToDashboard(page, who) {
  await page.goto(`${server().url}/ui/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await signIn(page, who.upn, who.password);
  await page.getByTestId("user").waitFor();
  assert.equal((await page.getByTestId("user").textContent()).trim(), who.displayName, "the signed-in user's name");
}

/** Shoots a view at both widths, checks it with axe, and that it fits a phone's width. */
async function check(page, name) {
  await shoot(page, name);
  await axeCheck(page);
  const before = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const { over, wide } = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r({
    over: document.documentElement.scrollWidth - window.innerWidth,
    // The innermost elements that stick out, to name in a failure.
    wide: [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 &&
      ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
      .slice(0, 5).map((e) => `<${e.tagName.toLowerCase()} class="${e.className}"> ${(e.textContent || "").slice(0, 60)}`),
  }))));
  await page.setViewportSize(before);
  assert.ok(over <= 0, `${name} is ${over}px wider than a 390px screen: ${wide.join("; ")}`);
}

describe("the web dashboard", { timeout: 240_000 }, () => {
  let browser;
  before(async () => {
    const s = server();
    const sub = scopeId();
    // A custom Audit policy on the computes' local authentication,
    // assigned at the subscription; a workspace in each group, with a
    // non-compliant and a compliant compute in the reader's group and a
    // non-compliant one in the other.
    await arm("PUT", `${sub}/providers/Microsoft.Authorization/policyDefinitions/${POLICY}?api-version=2021-06-01`, {
      properties: {
        displayName: "Computes have local authentication disabled", mode: "All", policyType: "Custom",
        policyRule: {
          if: { allOf: [
            { field: "type", equals: `${ML}/workspaces/computes` },
            { field: `${ML}/workspaces/computes/disableLocalAuth`, notEquals: true },
          ] },
          then: { effect: "audit" },
        },
      },
    }, { expect: [200, 201] });
    await arm("PUT", `${sub}/providers/Microsoft.Authorization/policyAssignments/${POLICY}?api-version=2022-06-01`, {
      properties: { displayName: "Computes without local auth", policyDefinitionId: `${sub}/providers/Microsoft.Authorization/policyDefinitions/${POLICY}` },
    }, { expect: [200, 201] });
    for (const rg of [TEAM(), OTHER]) {
      await arm("PUT", `${wsId(rg, "ws-" + rg)}?api-version=2024-04-01`, { location: "westeurope", properties: {} }, { expect: [200, 201, 202] });
      await eventually(`workspace ws-${rg}`, async () => (await arm("GET", `${wsId(rg, "ws-" + rg)}?api-version=2024-04-01`)).body?.properties?.provisioningState === "Succeeded");
    }
    await putCompute(TEAM(), "ws-" + TEAM(), "cpu-bad", false);
    await putCompute(TEAM(), "ws-" + TEAM(), "cpu-good", true);
    await putCompute(OTHER, "ws-" + OTHER, "cpu-other-bad", false);
    await eventually("the computes' compliance records", async () => (await statesOf(sub)).filter((r) => r.policyAssignmentName === POLICY).length === 3);
    browser = await launch();
    assert.ok(s.chromium);
  });
  after(async () => {
    await browser?.close();
  });

  let page;
  test("the admin signs in and sees the overview with summarize's percentage", async () => {
    page = await newPage(browser);
    await signInToDashboard(page, server().user);
    const summary = await arm("POST", `${scopeId()}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version=2019-10-01`, undefined, { expect: 200 });
    const want = expectedPercentage(summary.body);
    await page.locator('[data-view="overview"][data-loaded="true"]').waitFor({ timeout: 15000 });
    assert.equal((await page.getByTestId("compliance-pct").textContent()).trim(), want, "the overview's percentage");
    const nc = summary.body.value[0].results.resourceDetails.find((d) => d.complianceState.toLowerCase() === "noncompliant")?.count ?? 0;
    assert.equal(Number(await page.getByTestId("count-noncompliant").textContent()), nc, "non-compliant resources");
    // By assignment, by type and by scope are there, each group counted.
    assert.match(await page.getByTestId("by-assignment").textContent(), /Computes without local auth/);
    assert.match(await page.getByTestId("by-type").textContent(), /workspaces\/\s*computes/);
    const byScope = await page.getByTestId("by-scope").textContent();
    assert.ok(byScope.includes(TEAM()) && byScope.includes(OTHER), `by scope: ${byScope}`);
    // The trend ends with the live totals: the headline's percentage.
    assert.match(await page.locator("figure.trend figcaption").textContent(), new RegExp(`latest ${want.replace(".", "\\.")}`));
    await check(page, "overview");
  });

  test("a non-compliant compute shows the expression that failed", async () => {
    await open(page, "noncompliant");
    await check(page, "noncompliant");
    // The list exports as CSV, every page of it.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    const csv = await readFile(await download.path(), "utf8");
    const lines = csv.trim().split("\r\n");
    assert.match(lines[0], /^Resource,Type,Resource group,State,/, `the CSV's header: ${lines[0]}`);
    assert.equal(lines.length - 1, 2, `one line per non-compliant record: ${csv}`);
    for (const c of [computeId(TEAM(), "ws-" + TEAM(), "cpu-bad"), computeId(OTHER, "ws-" + OTHER, "cpu-other-bad")]) {
      assert.ok(lines.some((l) => l.toLowerCase().startsWith(c.toLowerCase() + ",")), `${c} in ${csv}`);
    }
    await page.getByTestId("noncompliant").getByRole("link", { name: "cpu-bad", exact: true }).click();
    await page.locator('[data-view="resource"][data-loaded="true"]').waitFor({ timeout: 15000 });
    const expr = page.getByTestId("expressions").locator("tr", { hasText: "disableLocalAuth" });
    await expr.waitFor();
    const row = await expr.textContent();
    assert.match(row, /NotEquals/, `the failed expression's operator: ${row}`);
    assert.match(row, /properties\.disableLocalAuth/, `its path: ${row}`);
    assert.match(row, /true/, `expected value: ${row}`);
    assert.match(row, /false/, `actual value: ${row}`);
    assert.equal(await page.getByTestId("overall-state").textContent(), "NonCompliant");
    await check(page, "resource");
  });

  test("an exemption created on the page makes the resource Exempt", async () => {
    await page.getByText("Exempt this resource").click();
    await page.getByLabel("Display name").fill("Waiver for the test cluster");
    await page.getByRole("button", { name: "Create exemption" }).click();
    await page.locator("#status", { hasText: "created" }).waitFor();
    // The page shows the new state once the server has it (live, no reload).
    await page.waitForFunction(() => document.querySelector('[data-testid="overall-state"]')?.textContent === "Exempt", null, { timeout: 10000 });
    const rec = (await statesOf(scopeId(TEAM()))).find((r) => r.resourceId.toLowerCase() === computeId(TEAM(), "ws-" + TEAM(), "cpu-bad").toLowerCase());
    assert.equal(rec?.complianceState, "Exempt", "the API's record agrees");
  });

  test("a compute created by the SDK in another process appears live with its compliance", async () => {
    await open(page, "noncompliant");
    await page.evaluate(() => { window.__sameDocument = true; });
    const sdkDir = process.env.MLGOV_SDK_DIR;
    assert.ok(sdkDir, "MLGOV_SDK_DIR names e2e/sdk (with its node_modules)");
    const { stdout } = await run(process.execPath, [path.join(sdkDir, "bin", "create-compute.mjs"), TEAM(), "ws-" + TEAM(), "cpu-live", "false"], { env: process.env, timeout: 60000 });
    assert.match(stdout, /cpu-live/);
    const row = page.getByTestId("noncompliant").locator("tr", { hasText: "cpu-live" });
    await row.waitFor({ timeout: 5000 });
    assert.match(await row.textContent(), /NonCompliant/, "its compliance");
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  });

  test("the other views: assignments and exemptions, activity, sign-ins, egress", async () => {
    const sub = scopeId();
    await open(page, "policy");
    assert.match(await page.getByTestId("exemptions").textContent(), /Waiver for the test cluster/);
    // A compliance scan on demand, followed to its end.
    await page.getByRole("button", { name: "Run a compliance scan" }).click();
    await page.locator("#status", { hasText: "Compliance scan finished." }).waitFor({ timeout: 30000 });
    await check(page, "policy");
    await open(page, "activity");
    assert.match(await page.getByTestId("activity").textContent(), /computes\/write/);
    // Filtered by status on the page, by correlation id on the server.
    await page.getByLabel("Status").selectOption("Succeeded");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator('[data-view="activity"][data-loaded="true"]').waitFor();
    const statuses = await page.getByTestId("activity").locator("td[data-label=Status]").allTextContents();
    assert.ok(statuses.length > 0 && statuses.every((x) => x === "Succeeded"), `statuses: ${statuses}`);
    await check(page, "activity");
    // A write refused by policy appears without a reload.
    await open(page, "activity");
    await page.evaluate(() => { window.__sameDocument = true; });
    await arm("PUT", `${sub}/providers/Microsoft.Authorization/policyDefinitions/ui-no-forbidden?api-version=2021-06-01`, {
      properties: { displayName: "No computes named forbidden-*", mode: "All", policyType: "Custom",
        policyRule: { if: { allOf: [{ field: "type", equals: `${ML}/workspaces/computes` }, { field: "name", like: "forbidden-*" }] }, then: { effect: "deny" } } },
    }, { expect: [200, 201] });
    await arm("PUT", `${sub}/providers/Microsoft.Authorization/policyAssignments/ui-no-forbidden?api-version=2022-06-01`, {
      properties: { policyDefinitionId: `${sub}/providers/Microsoft.Authorization/policyDefinitions/ui-no-forbidden` },
    }, { expect: [200, 201] });
    const denied = await eventually("the assignment in force", async () => {
      const r = await arm("PUT", `${computeId(TEAM(), "ws-" + TEAM(), "forbidden-1")}?api-version=2024-04-01`, {
        location: "westeurope", properties: { computeType: "AmlCompute", disableLocalAuth: true, properties: { vmSize: "STANDARD_DS3_V2" } } });
      return r.status === 403 ? r : undefined;
    });
    assert.equal(denied.body.error.code, "RequestDisallowedByPolicy");
    const corr = denied.headers.get("x-ms-correlation-request-id");
    await page.getByTestId("activity").locator("tr", { hasText: "policies/deny/action" }).filter({ hasText: corr }).first().waitFor({ timeout: 5000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
    // The sign-in log, for a Global Administrator of the directory.
    await open(page, "signins");
    assert.ok(await page.getByTestId("signins-refused").isVisible(), "refused before the directory role");
    await graph("POST", "/roleManagement/directory/roleAssignments",
      { roleDefinitionId: "62e90394-69f5-4237-9190-012177145e10", principalId: server().user.id, directoryScopeId: "/" }, { expect: 201 });
    await open(page, `signins?user=${encodeURIComponent(server().user.upn)}`);
    const users = await page.getByTestId("signins").locator("td[data-label=User]").allTextContents();
    assert.ok(users.length > 0 && users.every((u) => u === server().user.upn), `the filtered sign-ins: ${users}`);
    await check(page, "signins");
    await open(page, `egress?workspace=${encodeURIComponent(wsId(TEAM(), "ws-" + TEAM()))}`);
    await check(page, "egress");
  });

  test("a remediation started on the page runs, its progress shown to the end", async () => {
    // The built-in Modify "disable public network access" at the other
    // group, its identity Contributor there; the workspace is NonCompliant.
    const rg = scopeId(OTHER);
    const a = await arm("PUT", `${rg}/providers/Microsoft.Authorization/policyAssignments/no-public-network?api-version=2022-06-01`, {
      location: "westeurope", identity: { type: "SystemAssigned" },
      properties: { displayName: "No public network access", policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${PNA_MODIFY}` },
    }, { expect: [200, 201] });
    await arm("PUT", `${rg}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`, {
      properties: { roleDefinitionId: `${scopeId()}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`, principalId: a.body.identity.principalId, principalType: "ServicePrincipal" },
    }, { expect: 201 });
    await eventually("the workspace's NonCompliant record", async () =>
      (await statesOf(rg)).some((r) => r.policyAssignmentName === "no-public-network" && r.complianceState === "NonCompliant"));
    await open(page, `policy?scope=${encodeURIComponent(rg)}`);
    await page.getByText("Start a remediation").click();
    await page.getByLabel("Name", { exact: true }).last().fill("fix-pna");
    await page.getByLabel("Assignment", { exact: true }).last().selectOption({ label: "No public network access" });
    await page.getByRole("button", { name: "Start remediation" }).click();
    await page.locator("#status", { hasText: "Remediation fix-pna started." }).waitFor();
    // Watched without a reload until it has ended.
    const row = page.getByTestId("remediations").locator("tr", { hasText: "fix-pna" });
    await page.waitForFunction(() => /Succeeded/.test(document.querySelector('[data-testid="remediations"]')?.textContent ?? ""), null, { timeout: 30000 });
    assert.match(await row.textContent(), /1 of 1/, "one deployment done");
    const w = await arm("GET", `${wsId(OTHER, "ws-" + OTHER)}?api-version=2024-04-01`, undefined, { expect: 200 });
    assert.equal(w.body.properties.publicNetworkAccess, "Disabled", "the workspace was remediated");
    await check(page, "remediation");
  });

  test("a reader of one resource group sees that group only", async () => {
    const rp = await newPage(browser);
    await signInToDashboard(rp, server().reader);
    await rp.locator('[data-view="overview"][data-loaded="true"]').waitFor({ timeout: 15000 });
    const scopes = await rp.locator("#scope option").allTextContents();
    assert.ok(scopes.some((s) => s.includes(TEAM())), `the reader's scopes: ${scopes}`);
    assert.ok(!scopes.some((s) => s.includes(OTHER)), `the reader's scopes hold another group: ${scopes}`);
    const text = await rp.locator("main").textContent();
    assert.ok(!text.includes(OTHER), "the overview names nothing of the other group");
    await check(rp, "overview-reader");
    await open(rp, "noncompliant?state=");
    const rows = await rp.getByTestId("noncompliant").textContent();
    assert.ok(rows.includes("cpu-live") && !rows.includes("cpu-other-bad"), `the reader's records: ${rows}`);
    // The other group's compute, asked for by id: refused as the API refuses it.
    await open(rp, `resource?id=${encodeURIComponent(computeId(OTHER, "ws-" + OTHER, "cpu-other-bad"))}`);
    assert.match(await rp.locator("main").textContent(), /AuthorizationFailed/);
    await rp.context().close();
  });
});
