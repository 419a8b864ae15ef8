// Management groups and landing zones through the real clients:
// @azure/arm-managementgroups (groups, their hierarchy and descendants, a
// subscription's place), @azure/arm-subscriptions (a subscription made by an
// alias), @azure/arm-resources-subscriptions (the subscription read back),
// @azure/arm-policy (an assignment at a group, inherited by the subscription
// moved under it), @azure/arm-policyinsights (the group's policy states). Then the example ML data landing zone
// (examples/landingzones/ml-data-landing-zone.json) is vended for a team over
// REST; the team's principal deploys a private workspace (allowed), is refused
// a public one, and cannot delete the zone's assignment above its subscription.
// Nothing here touches the default subscription: the suite's files share
// one server and run side by side.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { ClientSecretCredential } from "@azure/identity";

import {
  ARM_SCOPE,
  LOCATION,
  ML,
  TEST_TIMEOUT,
  aliasClient,
  assertRestError,
  bootstrap,
  collect,
  credential,
  eventually,
  graphClient,
  insightsClient,
  lro,
  managementGroupsClient,
  mlClient,
  policyClient,
  resourcesClient,
  sameId,
  subscriptionsClient,
  uniqueName,
} from "../lib/arm.mjs";

const NO_PUBLIC = "/providers/Microsoft.Authorization/policyDefinitions/438c38d2-3772-465a-a9cc-7a6666a275ce";
const mgId = (name) => `/providers/Microsoft.Management/managementGroups/${name}`;
const WS_API = "2024-04-01";

/** A new subscription, made by an alias, in group (its id). */
async function newSubscription(name, group) {
  const alias = await aliasClient().alias.beginCreateAndWait(
    name,
    { properties: { displayName: name, workload: "DevTest", additionalProperties: { managementGroupId: mgId(group) } } },
    lro,
  );
  assert.equal(alias.properties.provisioningState, "Succeeded");
  return alias.properties.subscriptionId;
}

/** Calls mlgov's REST API with the administrator's token. */
async function rest(method, path, body) {
  const b = bootstrap();
  const tok = await credential().getToken(ARM_SCOPE);
  const res = await fetch(`${b.endpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("management groups and landing zones", { timeout: TEST_TIMEOUT * 10 }, () => {
  const mg = managementGroupsClient();
  const b = bootstrap();
  const parent = uniqueName("e2e-platform-");
  const child = uniqueName("e2e-corp-");
  const made = {};

  after(async () => {
    const graph = graphClient(credential());
    if (made.group) await graph.api(`/groups/${made.group}`).delete().catch(() => {});
    if (made.app) await graph.api(`/applications/${made.app}`).delete().catch(() => {});
  });

  test("a hierarchy; a subscription moved under a group inherits its assignment", { timeout: TEST_TIMEOUT * 4 }, async () => {
    const root = await mg.managementGroups.get(b.tenantId);
    assert.equal(root.displayName, "Tenant Root Group");
    const p = await mg.managementGroups.beginCreateOrUpdateAndWait(parent, { displayName: "E2E platform" }, lro);
    assert.ok(sameId(p.details.parent.id, mgId(b.tenantId)), "a new group is under the root");
    const c = await mg.managementGroups.beginCreateOrUpdateAndWait(child, { displayName: "E2E corp", details: { parent: { id: mgId(parent) } } }, lro);
    assert.equal(c.details.parent.name, parent);
    const renamed = await mg.managementGroups.update(child, { displayName: "E2E corporate" });
    assert.equal(renamed.displayName, "E2E corporate");
    const all = await collect(mg.managementGroups.list());
    assert.ok(all.some((g) => g.name === child) && all.some((g) => g.name === parent));
    await assertRestError(mg.managementGroups.beginCreateOrUpdateAndWait(parent, { details: { parent: { id: mgId(child) } } }, lro), 400, "InvalidManagementGroupHierarchy");

    // A subscription made by an alias, in the parent group.
    const sub = await newSubscription(uniqueName("e2e-sub-"), parent);
    made.sub = sub;
    const s = await subscriptionsClient().subscriptions.get(sub);
    assert.equal(s.subscriptionId, sub);
    assert.equal(s.state, "Enabled");
    assert.ok((await collect(subscriptionsClient().subscriptions.list())).some((x) => x.subscriptionId === sub), "listed");
    const under = await collect(mg.managementGroupSubscriptions.listSubscriptionsUnderManagementGroup(parent));
    assert.deepEqual(under.map((x) => x.name), [sub]);

    // The child group's assignment: Deny public workspaces.
    const asg = await policyClient().policyAssignments.create(mgId(child), "e2e-no-public", {
      policyDefinitionId: NO_PUBLIC,
      parameters: { effect: { value: "Deny" } },
    });
    assert.ok(sameId(asg.scope, mgId(child)));
    const resources = resourcesClient(credential(), sub);
    await resources.resourceGroups.createOrUpdate("e2e-ml", { location: LOCATION });
    const ml = mlClient(credential(), sub);
    const wsParams = (access) => ({ location: LOCATION, identity: { type: "SystemAssigned" }, publicNetworkAccess: access });
    // In the parent group the child's assignment does not apply.
    await ml.workspaces.beginCreateOrUpdateAndWait("e2e-ml", "before", wsParams("Enabled"), lro);

    // Moved under the child group: inherited.
    await mg.managementGroupSubscriptions.create(child, sub);
    assert.deepEqual((await collect(mg.managementGroupSubscriptions.listSubscriptionsUnderManagementGroup(parent))).length, 0, "moved out of the parent");
    const desc = await collect(mg.managementGroups.listDescendants(parent));
    assert.ok(desc.some((d) => d.name === child) && desc.some((d) => d.name === sub), "the parent's descendants");
    const inherited = await collect(policyClient(credential(), sub).policyAssignments.list({ filter: "atScope()" }));
    assert.deepEqual(inherited.map((a) => a.name), ["e2e-no-public"], "the group's assignment, listed at the subscription");
    const err = await assertRestError(ml.workspaces.beginCreateOrUpdateAndWait("e2e-ml", "public", wsParams("Enabled"), lro), 403, "RequestDisallowedByPolicy");
    assert.match(err.message, /e2e-no-public/);
    await ml.workspaces.beginCreateOrUpdateAndWait("e2e-ml", "private", wsParams("Disabled"), lro);
    // Compliance at the group: the workspace written before the move is
    // re-evaluated under the group's assignment.
    const insights = insightsClient();
    const before = await eventually("the group's records", async () => {
      const recs = await collect(insights.policyStates.listQueryResultsForManagementGroup("latest", child));
      return recs.find((x) => x.resourceId.endsWith("/workspaces/before") && x.policyAssignmentName === "e2e-no-public");
    });
    assert.equal(before.complianceState, "NonCompliant");
    assert.equal(before.subscriptionId, sub);
    const summary = await insights.policyStates.summarizeForManagementGroup("latest", child);
    assert.ok(summary.value[0].results.nonCompliantResources >= 1, JSON.stringify(summary.value[0].results));

    // Back to the root: no longer inherited; the group can then go.
    await mg.managementGroupSubscriptions.delete(child, sub);
    await ml.workspaces.beginCreateOrUpdateAndWait("e2e-ml", "after", wsParams("Enabled"), lro);
    await assertRestError(mg.managementGroups.beginDeleteAndWait(parent, lro), 400, "ManagementGroupHasChildren");
    await policyClient().policyAssignments.delete(mgId(child), "e2e-no-public");
    await mg.managementGroups.beginDeleteAndWait(child, lro);
    await assertRestError(mg.managementGroups.get(child), 404);
  });

  test("the ML data landing zone, vended for a team", { timeout: TEST_TIMEOUT * 4 }, async () => {
    const graph = graphClient(credential());
    const group = await graph.api("/groups").post({ displayName: uniqueName("landing team "), mailEnabled: false, mailNickname: uniqueName("lz"), securityEnabled: true });
    made.group = group.id;
    const app = await graph.api("/applications").post({ displayName: uniqueName("lz member ") });
    made.app = app.id;
    const pw = await graph.api(`/applications/${app.id}/addPassword`).post({ passwordCredential: { displayName: "e2e" } });
    const sp = await graph.api("/servicePrincipals").post({ appId: app.appId });
    await graph.api(`/groups/${group.id}/members/$ref`).post({ "@odata.id": `${b.endpoint}/v1.0/directoryObjects/${sp.id}` });

    // Vended over REST, as mlgov landingzone create does.
    const template = JSON.parse(readFileSync(new URL("../../../examples/landingzones/ml-data-landing-zone.json", import.meta.url), "utf8"));
    const name = uniqueName("e2e-zone-");
    const path = `/providers/Mlgov.Governance/landingZones/${name}?api-version=2026-12-01`;
    const put = await rest("PUT", path, { properties: { template, team: group.id } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    let zone;
    for (const end = Date.now() + 30000; ; ) {
      zone = (await rest("GET", path)).body;
      if (["Succeeded", "Failed"].includes(zone.properties.provisioningState)) break;
      assert.ok(Date.now() < end, "the landing zone did not end");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(zone.properties.provisioningState, "Succeeded", JSON.stringify(zone.properties.error));
    const sub = zone.properties.subscriptionId;
    const out = zone.properties.outputs;
    const place = await managementGroupsClient().managementGroupSubscriptions.getSubscription("ml-data-zones", sub);
    assert.ok(sameId(place.parent.id, mgId("ml-data-zones")));

    // The team's principal, Owner of its subscription.
    const cred = new ClientSecretCredential(b.tenantId, app.appId, pw.secretText, { authorityHost: b.authorityHost, disableInstanceDiscovery: true });
    assert.ok((await collect(subscriptionsClient(cred).subscriptions.list())).some((x) => x.subscriptionId === sub), "the team sees its subscription");
    const teamRes = resourcesClient(cred, sub);
    await teamRes.resourceGroups.createOrUpdate("ml", { location: "westeurope" });
    const wsId = (n) => `/subscriptions/${sub}/resourceGroups/ml/providers/${ML}/workspaces/${n}`;
    const workspace = (access) => ({
      location: "westeurope",
      identity: { type: "SystemAssigned" },
      properties: {
        publicNetworkAccess: access,
        managedNetwork: { isolationMode: "AllowOnlyApprovedOutbound" },
        encryption: { status: "Enabled", keyVaultProperties: { keyVaultArmId: out.keyVaultId.value, keyIdentifier: out.keyIdentifier.value } },
      },
    });
    const ws = await teamRes.resources.beginCreateOrUpdateByIdAndWait(wsId("private"), WS_API, workspace("Disabled"), lro);
    assert.equal(ws.properties.publicNetworkAccess, "Disabled");
    const err = await assertRestError(teamRes.resources.beginCreateOrUpdateByIdAndWait(wsId("public"), WS_API, workspace("Enabled"), lro), 403, "RequestDisallowedByPolicy");
    assert.match(err.message, /data landing zone are private/, "the zone assignment's non-compliance message");
    // What is above the subscription is out of the team's reach.
    await assertRestError(policyClient(cred, sub).policyAssignments.delete(mgId("ml-data-zones"), "ml-no-public-access"), 403, "AuthorizationFailed");
    await assertRestError(managementGroupsClient(cred).managementGroupSubscriptions.delete("ml-data-zones", sub), 403, "AuthorizationFailed");
    const still = await policyClient().policyAssignments.get(mgId("ml-data-zones"), "ml-no-public-access");
    assert.equal(still.parameters.effect.value, "Deny");
  });
});
