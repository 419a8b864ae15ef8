// Remediation through @azure/arm-policyinsights 6.x (and @azure/arm-policy,
// @azure/arm-authorization): "Configure Azure Machine Learning workspaces to
// disable public network access" (Modify) assigned at a resource group with a
// system-assigned identity that is given Contributor there; an existing
// workspace with public network access is NonCompliant; a remediation
// created with the SDK runs to Succeeded, lists its deployment, the workspace
// has publicNetworkAccess Disabled and its record turns Compliant.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { PolicyClient } from "@azure/arm-policy";
import { PolicyInsightsClient } from "@azure/arm-policyinsights";

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
  lro,
  mlClient,
  mlId,
  rgId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { simpleWorkspaceParameters } from "../lib/fixtures.mjs";

const PNA_MODIFY = "a10ee784-7409-4941-b091-663697637c0f"; // Configure ... workspaces to disable public network access
const CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c";

function clients() {
  const b = bootstrap();
  const cred = credential();
  return {
    b,
    policy: new PolicyClient(cred, b.subscriptionId, { endpoint: b.endpoint, credentials: { scopes: [ARM_SCOPE] } }),
    insights: new PolicyInsightsClient(cred, b.subscriptionId, { endpoint: b.endpoint, baseUri: b.endpoint, credentialScopes: [ARM_SCOPE] }),
  };
}

/** Polls fn until it returns a truthy value or ms pass. */
async function eventually(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
});
