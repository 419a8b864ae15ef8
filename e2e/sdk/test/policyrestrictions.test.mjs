// checkPolicyRestrictions through @azure/arm-policyinsights 6.x
// (policyRestrictions.checkAtResourceGroupScope, checkAtSubscriptionScope),
// with custom definitions assigned by @azure/arm-policy at this file's
// resource group: an allowed-locations Deny restricts the pending field
// location (the values refused among those given; the values required when
// none are given), the content as given is evaluated (NonCompliant with its
// evaluated expressions), Audit only with includeAuditEffect, a Modify makes
// its tag Required with its default value, and a bad request is refused
// with the ARM error naming the property.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  ARM_SCOPE,
  ML,
  TEST_TIMEOUT,
  assertRestError,
  bootstrap,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  insightsClient,
  policyClient,
  rgId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";

const WORKSPACES = `${ML}/workspaces`;
const CONTRIBUTOR = "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c";

function clients() {
  const b = bootstrap();
  const cred = credential();
  return {
    b,
    policy: policyClient(cred),
    insights: insightsClient(cred),
  };
}

describe("checkPolicyRestrictions (@azure/arm-policyinsights)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const { policy, insights } = clients();
  const rg = uniqueName("mlgov-e2e-restrictions-");
  const suffix = uniqueName("");
  const s = scenario();
  const defs = [];
  const ids = {};

  const isWorkspace = { field: "type", equals: WORKSPACES };
  async function defineAndAssign(key, policyRule, parameters = {}, values = {}, extra = {}) {
    const name = `${key}-${suffix}`;
    const d = await policy.policyDefinitions.createOrUpdate(name, { policyType: "Custom", mode: "Indexed", displayName: name, parameters, policyRule });
    defs.push(name);
    const a = await policy.policyAssignments.create(rgId(rg), key, { policyDefinitionId: d.id, parameters: values, ...extra });
    ids[key] = a.id;
  }

  before(async () => {
    await createResourceGroup(rg);
    await defineAndAssign(
      "locations",
      { if: { allOf: [isWorkspace, { not: { field: "location", in: "[parameters('allowed')]" } }] }, then: { effect: "deny" } },
      { allowed: { type: "Array" } },
      { allowed: { value: ["eastus", "westus2"] } },
      { nonComplianceMessages: [{ message: "Workspaces go to eastus or westus2." }] },
    );
    await defineAndAssign("public", {
      if: { allOf: [isWorkspace, { field: `${WORKSPACES}/publicNetworkAccess`, notEquals: "Disabled" }] },
      then: { effect: "audit" },
    });
    await defineAndAssign(
      "cost-tag",
      { if: isWorkspace, then: { effect: "modify", details: { roleDefinitionIds: [CONTRIBUTOR], operations: [{ operation: "addOrReplace", field: "tags['costCenter']", value: "ml" }] } } },
      {},
      {},
      { location: "eastus", identity: { type: "SystemAssigned" } },
    );
    s.ok("assigned");
  });
  after(async () => {
    for (const key of Object.keys(ids)) await policy.policyAssignments.delete(rgId(rg), key).catch(() => {});
    for (const name of defs) await policy.policyDefinitions.delete(name).catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  const content = (extra = {}) => ({ type: WORKSPACES, name: "ws1", ...extra });

  test("pending field location: the values a Deny refuses, the values it requires", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "assigned")) return;
    const r = await insights.policyRestrictions.checkAtResourceGroupScope(rg, {
      resourceDetails: { resourceContent: content(), apiVersion: "2024-04-01" },
      pendingFields: [{ field: "location", values: ["eastus", "westeurope", "westus2"] }, { field: "name" }],
    });
    const loc = r.fieldRestrictions.find((f) => f.field === "location");
    assert.ok(loc, `no restriction on location: ${JSON.stringify(r)}`);
    assert.equal(loc.restrictions.length, 1, JSON.stringify(loc));
    const [x] = loc.restrictions;
    assert.equal(x.result, "Deny");
    assert.deepEqual(x.values, ["westeurope"]);
    assert.equal(x.policyEffect, "Deny");
    assert.equal(x.reason, "Workspaces go to eastus or westus2.");
    assert.ok(sameId(x.policy.policyAssignmentId, ids.locations), x.policy.policyAssignmentId);
    assert.ok(!r.fieldRestrictions.some((f) => f.field === "name"), "name is not restricted");

    const req = await insights.policyRestrictions.checkAtResourceGroupScope(rg, {
      resourceDetails: { resourceContent: content() },
      pendingFields: [{ field: "location" }],
    });
    const [y] = req.fieldRestrictions.find((f) => f.field === "location")?.restrictions ?? [];
    assert.equal(y?.result, "Required", JSON.stringify(req));
    assert.deepEqual(y.values, ["eastus", "westus2"]);
  });

  test("the content: Deny reported NonCompliant with its evaluated expressions; Audit with includeAuditEffect", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "assigned")) return;
    const body = { resourceDetails: { resourceContent: content({ location: "westeurope" }), apiVersion: "2024-04-01" } };
    const r = await insights.policyRestrictions.checkAtResourceGroupScope(rg, body);
    const evals = r.contentEvaluationResult.policyEvaluations;
    const deny = evals.find((e) => sameId(e.policyInfo.policyAssignmentId, ids.locations));
    assert.ok(deny, JSON.stringify(r));
    assert.equal(deny.evaluationResult, "NonCompliant");
    assert.equal(deny.effectDetails.policyEffect, "Deny");
    const exprs = deny.evaluationDetails.evaluatedExpressions;
    assert.ok(exprs.some((e) => e.expression === "location" && e.expressionKind === "Field" && e.result === "False"), JSON.stringify(exprs));
    assert.ok(!evals.some((e) => sameId(e.policyInfo.policyAssignmentId, ids.public)), "Audit without includeAuditEffect");

    const withAudit = await insights.policyRestrictions.checkAtResourceGroupScope(rg, { ...body, includeAuditEffect: true });
    const audit = withAudit.contentEvaluationResult.policyEvaluations.find((e) => sameId(e.policyInfo.policyAssignmentId, ids.public));
    assert.equal(audit?.effectDetails.policyEffect, "Audit", JSON.stringify(withAudit));

    // At subscription scope, resourceDetails.scope puts the resource in the resource group.
    const atSub = await insights.policyRestrictions.checkAtSubscriptionScope({ resourceDetails: { ...body.resourceDetails, scope: rgId(rg) } });
    assert.ok(atSub.contentEvaluationResult.policyEvaluations.some((e) => sameId(e.policyInfo.policyAssignmentId, ids.locations)), JSON.stringify(atSub));
  });

  test("pending field tags: the tag a Modify sets is Required with its defaultValue", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "assigned")) return;
    const r = await insights.policyRestrictions.checkAtResourceGroupScope(rg, {
      resourceDetails: { resourceContent: content({ location: "eastus" }), apiVersion: "2024-04-01" },
      pendingFields: [{ field: "tags" }],
    });
    const [x] = r.fieldRestrictions.find((f) => f.field === "tags.costCenter")?.restrictions ?? [];
    assert.equal(x?.result, "Required", JSON.stringify(r));
    assert.equal(x.defaultValue, "ml");
    assert.equal(x.policyEffect, "Modify");
    assert.ok(sameId(x.policy.policyAssignmentId, ids["cost-tag"]));
  });

  test("a content without its type is refused with the property named", { timeout: TEST_TIMEOUT }, async () => {
    const err = await assertRestError(
      insights.policyRestrictions.checkAtResourceGroupScope(rg, { resourceDetails: { resourceContent: { name: "ws1" } } }),
      400,
      "InvalidCheckRestrictionsRequest",
    );
    assert.match(err.message, /resourceContent\.type/);
  });
});
