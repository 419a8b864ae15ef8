// Remediation through @azure/arm-policyinsights 6.x (and @azure/arm-policy,
// @azure/arm-authorization): "Configure Azure Machine Learning workspaces to
// disable public network access" (Modify) assigned at a resource group with a
// system-assigned identity that is given Contributor there; an existing
// workspace with public network access is NonCompliant; a remediation
// created with the SDK runs to Succeeded, lists its deployment, the workspace
// has publicNetworkAccess Disabled and its record turns Compliant. Then
// "Configure diagnostic settings for Azure Machine Learning Workspaces"
// (DeployIfNotExists), its identity given Log Analytics Contributor: the
// remediation runs the template deployment, the diagnostic setting exists
// and the record turns Compliant.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import {
  ARM_SCOPE,
  LOCATION,
  TEST_TIMEOUT,
  assertRestError,
  authzClient,
  bootstrap,
  collect,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  eventually,
  insightsClient,
  lro,
  mlClient,
  mlId,
  policyClient,
  rgId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { simpleWorkspaceParameters } from "../lib/fixtures.mjs";

const PNA_MODIFY = "a10ee784-7409-4941-b091-663697637c0f"; // Configure ... workspaces to disable public network access
const CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const DIAG_DINE = "f59276f0-5740-4aaf-821d-45d185aa210e"; // Configure diagnostic settings for ... Workspaces to Log Analytics
const LOG_ANALYTICS_CONTRIBUTOR = "92aaf0da-9dab-42b6-94a3-d43ce8d16293";

function clients() {
  const b = bootstrap();
  const cred = credential();
  return {
    b,
    policy: policyClient(cred),
    insights: insightsClient(cred),
  };
}

describe("remediation (@azure/arm-policyinsights)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const { b, policy, insights } = clients();
  const ml = mlClient();
  const authz = authzClient();
  const rg = uniqueName("mlgov-e2e-remediation-");
  const ws = uniqueName("ws");
  const wsId = mlId(rg, "workspaces", ws);
  const s = scenario();
  let assignmentId;

  before(async () => {
    await createResourceGroup(rg);
    const w = await ml.workspaces.beginCreateOrUpdateAndWait(rg, ws, { ...simpleWorkspaceParameters(rg), publicNetworkAccess: "Enabled" }, lro);
    assert.equal(w.publicNetworkAccess, "Enabled");
  });
  after(async () => {
    await policy.policyAssignments.delete(rgId(rg), "no-public-network").catch(() => {});
    await policy.policyAssignments.delete(rgId(rg), "diagnostics").catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  const states = () => collect(insights.policyStates.listQueryResultsForResourceGroup("latest", b.subscriptionId, rg, {
    queryOptions: { filter: `policyAssignmentId eq '${assignmentId}'` },
  }));

  test("the Modify assignment with an identity and its role; the workspace is NonCompliant", { timeout: TEST_TIMEOUT * 2 }, async () => {
    const a = await policy.policyAssignments.create(rgId(rg), "no-public-network", {
      policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${PNA_MODIFY}`,
      location: LOCATION,
      identity: { type: "SystemAssigned" },
    });
    assignmentId = a.id;
    assert.ok(a.identity?.principalId, `the assignment's identity: ${JSON.stringify(a.identity)}`);
    await authz.roleAssignments.create(rgId(rg), randomUUID(), {
      roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`,
      principalId: a.identity.principalId,
      principalType: "ServicePrincipal",
    });
    await eventually("the NonCompliant record", async () =>
      (await states()).find((r) => sameId(r.resourceId, wsId) && r.complianceState === "NonCompliant"),
    );
    s.ok("assigned");
  });

  test("a remediation runs to Succeeded and changes the workspace", { timeout: TEST_TIMEOUT * 2 }, async (t) => {
    if (!s.requires(t, "assigned")) return;
    const created = await insights.remediations.createOrUpdateAtResourceGroup(rg, "fix-pna", { policyAssignmentId: assignmentId });
    assert.ok(["Accepted", "Evaluating", "Running", "Succeeded"].includes(created.provisioningState), created.provisioningState);
    assert.equal(created.resourceDiscoveryMode, "ExistingNonCompliant");
    assert.equal(created.resourceCount, 500);
    assert.equal(created.parallelDeployments, 10);
    assert.ok(created.createdOn instanceof Date, "createdOn is a date");
    const done = await eventually("the remediation's end", async () => {
      const r = await insights.remediations.getAtResourceGroup(rg, "fix-pna");
      return ["Succeeded", "Complete", "Failed", "Canceled"].includes(r.provisioningState) ? r : undefined;
    });
    assert.equal(done.provisioningState, "Succeeded", `remediation: ${JSON.stringify(done)}`);
    assert.deepEqual(done.deploymentStatus, { totalDeployments: 1, successfulDeployments: 1, failedDeployments: 0 });
    const deps = await collect(insights.remediations.listDeploymentsAtResourceGroup(rg, "fix-pna"));
    assert.equal(deps.length, 1);
    assert.ok(sameId(deps[0].remediatedResourceId, wsId), deps[0].remediatedResourceId);
    assert.equal(deps[0].status, "Succeeded");
    assert.equal(deps[0].resourceLocation, LOCATION);
    assert.ok(deps[0].lastUpdatedOn instanceof Date);
    const w = await ml.workspaces.get(rg, ws);
    assert.equal(w.publicNetworkAccess, "Disabled", "the workspace was remediated");
    const list = await collect(insights.remediations.listForResourceGroup(rg));
    assert.ok(list.some((r) => r.name === "fix-pna"), "listForResourceGroup");
    await assertRestError(insights.remediations.cancelAtResourceGroup(rg, "fix-pna"), 400, "InvalidCancelRemediationRequest");
    s.ok("remediated");
  });

  test("the workspace's record turns Compliant", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "remediated")) return;
    await eventually("the Compliant record", async () =>
      (await states()).find((r) => sameId(r.resourceId, wsId) && r.complianceState === "Compliant"),
    );
    await insights.remediations.deleteAtResourceGroup(rg, "fix-pna");
    await assertRestError(insights.remediations.getAtResourceGroup(rg, "fix-pna"), 404);
  });

  test("a DeployIfNotExists remediation deploys the diagnostic setting", { timeout: TEST_TIMEOUT * 3 }, async (t) => {
    if (!s.requires(t, "remediated")) return;
    const la = `${rgId(rg)}/providers/Microsoft.OperationalInsights/workspaces/la1`;
    const a = await policy.policyAssignments.create(rgId(rg), "diagnostics", {
      policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${DIAG_DINE}`,
      parameters: { logAnalytics: { value: la } },
      location: LOCATION,
      identity: { type: "SystemAssigned" },
    });
    await authz.roleAssignments.create(rgId(rg), randomUUID(), {
      roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${LOG_ANALYTICS_CONTRIBUTOR}`,
      principalId: a.identity.principalId,
      principalType: "ServicePrincipal",
    });
    const diagStates = () => collect(insights.policyStates.listQueryResultsForResourceGroup("latest", b.subscriptionId, rg, {
      queryOptions: { filter: `policyAssignmentId eq '${a.id}'` },
    }));
    await eventually("the NonCompliant record", async () =>
      (await diagStates()).find((r) => sameId(r.resourceId, wsId) && r.complianceState === "NonCompliant"),
    );
    await insights.remediations.createOrUpdateAtResourceGroup(rg, "fix-diag", { policyAssignmentId: a.id });
    const done = await eventually("the remediation's end", async () => {
      const r = await insights.remediations.getAtResourceGroup(rg, "fix-diag");
      return ["Succeeded", "Complete", "Failed", "Canceled"].includes(r.provisioningState) ? r : undefined;
    }, 30000);
    const deps = await collect(insights.remediations.listDeploymentsAtResourceGroup(rg, "fix-diag"));
    assert.equal(done.provisioningState, "Succeeded", `remediation: ${JSON.stringify(done)} deployments: ${JSON.stringify(deps)}`);
    assert.equal(deps.length, 1);
    assert.match(deps[0].deploymentId, /\/providers\/Microsoft\.Resources\/deployments\/PolicyDeployment_/i);
    // The diagnostic setting the template deployed, read as a generic resource.
    const token = await credential().getToken(ARM_SCOPE);
    const url = `${b.endpoint}${wsId}/providers/Microsoft.Insights/diagnosticSettings/MachineLearningServicesDiagnosticsLogsToWorkspace?api-version=2021-05-01-preview`;
    const resp = await fetch(url, { headers: { Authorization: `Bearer ${token.token}` } });
    assert.equal(resp.status, 200, await resp.clone().text());
    const ds = await resp.json();
    assert.ok(sameId(ds.properties.workspaceId, la), JSON.stringify(ds));
    await eventually("the Compliant record", async () =>
      (await diagStates()).find((r) => sameId(r.resourceId, wsId) && r.complianceState === "Compliant"),
    );
  });
});
