// Attestations through @azure/arm-policyinsights (PolicyInsightsClient,
// api-version 2024-10-01): a Manual policy (@azure/arm-policy) puts a new
// workspace in its defaultState (NonCompliant); an attestation at the
// workspace (beginCreateOrUpdateAtResourceAndWait) makes it Compliant;
// get, list and delete, after which the default comes back; a bad state
// is refused with the property named.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";

import {
  ARM_SCOPE,
  TEST_TIMEOUT,
  assertRestError,
  bootstrap,
  collect,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  eventually,
  insightsClient,
  lro,
  mlId,
  policyClient,
  rgId,
  sameId,
  uniqueName,
} from "../lib/arm.mjs";
import { createWorkspace } from "../lib/fixtures.mjs";

describe("attestations (@azure/arm-policyinsights)", { timeout: TEST_TIMEOUT * 5 }, () => {
  const b = bootstrap();
  const policy = policyClient(credential());
  const insights = insightsClient(credential());
  const rg = uniqueName("mlgov-e2e-attest-");
  const ws = uniqueName("ws");
  const defName = uniqueName("manual-review-");
  after(async () => {
    await policy.policyAssignments.delete(rgId(rg), "review").catch(() => {});
    await policy.policyDefinitions.delete(defName).catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  test("a Manual policy's default, an attestation's state, and the default again after its delete", async () => {
    await createResourceGroup(rg);
    const def = await policy.policyDefinitions.createOrUpdate(defName, {
      displayName: "Workspaces are reviewed (e2e)",
      mode: "Indexed",
      policyRule: { if: { field: "type", equals: "Microsoft.MachineLearningServices/workspaces" }, then: { effect: "manual", details: { defaultState: "NonCompliant" } } },
    });
    const a = await policy.policyAssignments.create(rgId(rg), "review", { policyDefinitionId: def.id });
    await createWorkspace(rg, ws);
    const wsId = mlId(rg, "workspaces", ws);
    const state = async () => (await collect(insights.policyStates.listQueryResultsForResourceGroup("latest", b.subscriptionId, rg, {
      queryOptions: { filter: `policyAssignmentId eq '${a.id}'` },
    }))).find((r) => sameId(r.resourceId, wsId))?.complianceState;
    await eventually("the defaultState", async () => (await state()) === "NonCompliant");

    const at = await insights.attestations.beginCreateOrUpdateAtResourceAndWait(wsId, "reviewed", {
      policyAssignmentId: a.id,
      complianceState: "Compliant",
      owner: "alice@contoso.com",
      comments: "Reviewed in the change board.",
      evidence: [{ description: "ticket", sourceUri: "https://example.com/tickets/1" }],
      assessmentDate: new Date("2026-12-01T00:00:00Z"),
    }, lro);
    assert.equal(at.complianceState, "Compliant");
    assert.equal(at.provisioningState, "Succeeded");
    assert.ok(at.lastComplianceStateChangeAt instanceof Date);
    await eventually("the attested state", async () => (await state()) === "Compliant");

    const got = await insights.attestations.getAtResource(wsId, "reviewed");
    assert.equal(got.owner, "alice@contoso.com");
    const list = await collect(insights.attestations.listForResource(wsId));
    assert.deepEqual(list.map((x) => x.name), ["reviewed"]);

    await insights.attestations.deleteAtResource(wsId, "reviewed");
    await eventually("the default after the delete", async () => (await state()) === "NonCompliant");

    await assertRestError(insights.attestations.beginCreateOrUpdateAtResourceAndWait(wsId, "bad", { policyAssignmentId: a.id, complianceState: "Fine" }, lro), 400, "InvalidAttestation");
  });
});
