// Live compliance through @azure/arm-policyinsights 6.x (and @azure/arm-policy
// for the assignment): "Compute instances should have idle shutdown" assigned
// with Audit at a resource group (other files run in parallel in the same
// subscription); a compute instance without idle shutdown shows NonCompliant
// in policyStates with its evaluated expressions, then Exempt once exempted;
// summarize counts match queryResults; triggerEvaluation completes.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  ARM_SCOPE,
  TEST_TIMEOUT,
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
import { computeInstanceParameters, createWorkspace } from "../lib/fixtures.mjs";

const IDLE = "679ddf89-ab8f-48a5-9029-e76054077449"; // Compute instances should have idle shutdown

function clients() {
  const b = bootstrap();
  const cred = credential();
  return {
    b,
    cred,
    policy: policyClient(cred),
    insights: insightsClient(cred),
  };
}

describe("compliance (@azure/arm-policyinsights)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const { b, cred, policy, insights } = clients();
  const ml = mlClient();
  const rg = uniqueName("mlgov-e2e-compliance-");
  const ws = uniqueName("ws");
  const ci = uniqueName("ci");
  const s = scenario();
  let assignmentId;

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
  });
  after(async () => {
    await policy.policyAssignments.delete(rgId(rg), "idle-shutdown").catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  const states = (options) => collect(insights.policyStates.listQueryResultsForResourceGroup("latest", b.subscriptionId, rg, options));

  test("Audit: the compute instance is NonCompliant in policyStates, with its reason", { timeout: TEST_TIMEOUT * 2 }, async () => {
    const a = await policy.policyAssignments.create(rgId(rg), "idle-shutdown", {
      policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${IDLE}`,
      parameters: { effect: { value: "Audit" } },
    });
    assignmentId = a.id;
    const c = await ml.computeOperations.beginCreateOrUpdateAndWait(rg, ws, ci, computeInstanceParameters(), lro);
    assert.equal(c.properties.provisioningState, "Succeeded", "the audited compute is created");
    const computeId = mlId(rg, "workspaces", ws, "computes", ci);
    await eventually("the NonCompliant record", async () =>
      (await states({ queryOptions: { filter: "complianceState eq 'NonCompliant'" } })).find((r) => sameId(r.resourceId, computeId)),
    );
    // The reason: $expand=PolicyEvaluationDetails, which the SDK sends at resource scope.
    const [rec] = await collect(
      insights.policyStates.listQueryResultsForResource("latest", computeId, { queryOptions: { expand: "PolicyEvaluationDetails" } }),
    );
    assert.ok(rec, "no record at the compute's own scope");
    assert.ok(sameId(rec.policyAssignmentId, assignmentId), `policyAssignmentId ${rec.policyAssignmentId}`);
    assert.equal(rec.policyDefinitionAction, "audit");
    assert.equal(rec.isCompliant, false);
    const exprs = rec.policyEvaluationDetails?.evaluatedExpressions ?? [];
    assert.ok(exprs.some((e) => /idleTimeBeforeShutdown/i.test(e.expression)), `the reason names idleTimeBeforeShutdown: ${JSON.stringify(rec)}`);
    s.ok("noncompliant");
  });

  test("summarize counts match queryResults", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "noncompliant")) return;
    const all = await states();
    const nonCompliant = new Set(all.filter((r) => r.complianceState === "NonCompliant").map((r) => r.resourceId.toLowerCase()));
    const sum = await insights.policyStates.summarizeForResourceGroup("latest", b.subscriptionId, rg);
    const results = sum.value[0].results;
    assert.equal(results.nonCompliantResources, nonCompliant.size);
    const total = (results.resourceDetails ?? []).reduce((n, d) => n + d.count, 0);
    assert.equal(total, new Set(all.map((r) => r.resourceId.toLowerCase())).size, "resourceDetails count every resource once");
    assert.ok(sum.value[0].policyAssignments.some((p) => sameId(p.policyAssignmentId, assignmentId)));
  });

  test("an exemption makes the record Exempt", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "noncompliant")) return;
    // @azure/arm-policy 7.x has no exemptions (stable api-versions lack them): the REST call.
    const token = await cred.getToken(ARM_SCOPE);
    const url = `${b.endpoint}${rgId(rg)}/providers/Microsoft.Authorization/policyExemptions/waive?api-version=2024-12-01-preview`;
    const resp = await fetch(url, {
      method: "PUT",
      headers: { Authorization: `Bearer ${token.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ properties: { policyAssignmentId: assignmentId, exemptionCategory: "Waiver" } }),
    });
    assert.equal(resp.status, 201, await resp.text());
    const computeId = mlId(rg, "workspaces", ws, "computes", ci);
    await eventually("the Exempt record", async () => (await states()).find((r) => sameId(r.resourceId, computeId) && r.complianceState === "Exempt"));
    // policyStates/default keeps the record the exemption replaced, before the current one.
    const history = await collect(insights.policyStates.listQueryResultsForResource("default", computeId));
    const mine = history.filter((r) => sameId(r.policyAssignmentId, assignmentId));
    assert.deepEqual(mine.map((r) => r.complianceState), ["NonCompliant", "Exempt"]);
    assert.ok(mine[0].timestamp < mine[1].timestamp, "the earlier record first");
  });

  test("triggerEvaluation completes", { timeout: TEST_TIMEOUT }, async () => {
    await insights.policyStates.beginTriggerResourceGroupEvaluationAndWait(b.subscriptionId, rg, lro);
  });
});
