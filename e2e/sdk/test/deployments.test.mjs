// ARM template deployments through @azure/arm-resourcesdeployments (the
// package that carries Microsoft.Resources/deployments since
// @azure/arm-resources 7: DeploymentsClient, api-version 2026-06-01): a
// template with a subnet, a private endpoint to a workspace, a private DNS
// zone with the endpoint's zone group and a diagnostic setting on the
// workspace deploys (beginCreateOrUpdateAndWait), lists its operations,
// exports its template, validates, answers whatIf; with a Deny assignment
// (@azure/arm-policy) on the DNS zones the same template is refused with
// the policy error in the error's details; "Configure Azure Machine
// Learning workspace to use private DNS zones" assigned with an identity
// (@azure/arm-policy, @azure/arm-authorization) and remediated
// (@azure/arm-policyinsights) gives an endpoint deployed without a zone
// group its group, through a deployment the deployments client reads,
// and the endpoint turns Compliant; cancel of a finished deployment is a
// 409; the list, checkExistence and delete.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";

import { randomUUID } from "node:crypto";

import { DeploymentsClient } from "@azure/arm-resourcesdeployments";

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
  mlId,
  policyClient,
  resourcesClient,
  rgId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { createWorkspace } from "../lib/fixtures.mjs";

function deploymentsClient() {
  const b = bootstrap();
  return new DeploymentsClient(credential(), b.subscriptionId, { endpoint: b.endpoint, credentials: { scopes: [ARM_SCOPE] } });
}

const ZONE = "privatelink.api.azureml.ms";
const DNS_DINE = "ee40564d-486e-4f68-a5ca-7a621edae0fb"; // Configure Azure Machine Learning workspace to use private DNS zones
const CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c";

const template = {
  $schema: "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  contentVersion: "1.0.0.0",
  parameters: {
    prefix: { type: "string", minLength: 3 },
    workspaceId: { type: "string" },
    logAnalytics: { type: "string" },
  },
  variables: { vnet: "[concat(parameters('prefix'), '-vnet')]", pe: "[concat(parameters('prefix'), '-pe')]" },
  resources: [
    {
      type: "Microsoft.Network/virtualNetworks", apiVersion: "2023-09-01", name: "[variables('vnet')]", location: "[resourceGroup().location]",
      properties: { addressSpace: { addressPrefixes: ["10.1.0.0/16"] } },
    },
    {
      type: "Microsoft.Network/virtualNetworks/subnets", apiVersion: "2023-09-01", name: "[concat(variables('vnet'), '/pe')]",
      dependsOn: ["[variables('vnet')]"], properties: { addressPrefix: "10.1.0.0/24" },
    },
    {
      type: "Microsoft.Network/privateEndpoints", apiVersion: "2023-09-01", name: "[variables('pe')]", location: "[resourceGroup().location]",
      dependsOn: ["[resourceId('Microsoft.Network/virtualNetworks/subnets', variables('vnet'), 'pe')]"],
      properties: {
        subnet: { id: "[resourceId('Microsoft.Network/virtualNetworks/subnets', variables('vnet'), 'pe')]" },
        privateLinkServiceConnections: [{ name: "workspace", properties: { privateLinkServiceId: "[parameters('workspaceId')]", groupIds: ["amlworkspace"] } }],
      },
    },
    { type: "Microsoft.Network/privateDnsZones", apiVersion: "2020-06-01", name: ZONE, location: "global", properties: {} },
    {
      type: "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", apiVersion: "2023-09-01", name: "[concat(variables('pe'), '/default')]",
      dependsOn: ["[variables('pe')]", ZONE],
      properties: { privateDnsZoneConfigs: [{ name: "ml", properties: { privateDnsZoneId: `[resourceId('Microsoft.Network/privateDnsZones', '${ZONE}')]` } }] },
    },
    {
      type: "Microsoft.Insights/diagnosticSettings", apiVersion: "2021-05-01-preview", name: "to-logs", scope: "[parameters('workspaceId')]",
      properties: { workspaceId: "[parameters('logAnalytics')]", logs: [{ categoryGroup: "allLogs", enabled: true }] },
    },
  ],
  outputs: {
    endpoint: { type: "string", value: "[resourceId('Microsoft.Network/privateEndpoints', variables('pe'))]" },
    subnet: { type: "string", value: "[reference(variables('pe')).subnet.id]" },
  },
};

describe("template deployments (@azure/arm-resourcesdeployments)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const client = deploymentsClient();
  const rg = uniqueName("mlgov-e2e-deploy-");
  const ws = uniqueName("ws");
  const s = scenario();
  const params = (prefix) => ({
    prefix: { value: prefix },
    workspaceId: { value: mlId(rg, "workspaces", ws) },
    logAnalytics: { value: `${rgId(rg)}/providers/Microsoft.OperationalInsights/workspaces/logs` },
  });
  const body = (prefix) => ({ properties: { mode: "Incremental", template, parameters: params(prefix) } });

  after(() => deleteResourceGroupQuietly(rg));

  test("the template deploys through beginCreateOrUpdateAndWait", async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
    const d = await client.deployments.beginCreateOrUpdateAndWait(rg, "network", body("net"), lro);
    assert.equal(d.properties?.provisioningState, "Succeeded", JSON.stringify(d.properties?.error));
    assert.equal(d.name, "network");
    assert.ok(sameId(d.properties.outputs.endpoint.value, `${rgId(rg)}/providers/Microsoft.Network/privateEndpoints/net-pe`));
    assert.ok(sameId(d.properties.outputs.subnet.value, `${rgId(rg)}/providers/Microsoft.Network/virtualNetworks/net-vnet/subnets/pe`));
    assert.equal(d.properties.outputResources.length, 6);
    assert.equal(d.properties.mode, "Incremental");
    s.ok("deployed");
  });

  test("its operations, its template, the list and checkExistence", async (t) => {
    if (!s.requires(t, "deployed")) return;
    const ops = await collect(client.deploymentOperations.list(rg, "network"));
    assert.equal(ops.length, 6);
    for (const op of ops) {
      assert.equal(op.properties.provisioningState, "Succeeded");
      assert.equal(op.properties.provisioningOperation, "Create");
      assert.ok(op.properties.targetResource.id);
    }
    const diag = ops.find((o) => o.properties.targetResource.resourceType === "Microsoft.Insights/diagnosticSettings");
    assert.ok(sameId(diag.properties.targetResource.id, `${mlId(rg, "workspaces", ws)}/providers/Microsoft.Insights/diagnosticSettings/to-logs`));
    const one = await client.deploymentOperations.get(rg, "network", ops[0].operationId);
    assert.equal(one.operationId, ops[0].operationId);
    const ex = await client.deployments.exportTemplate(rg, "network");
    assert.deepEqual(ex.template, template);
    const list = await collect(client.deployments.listByResourceGroup(rg));
    assert.deepEqual(list.map((d) => d.name), ["network"]);
    assert.equal((await client.deployments.checkExistence(rg, "network")).body ?? true, true);
  });

  test("validate and whatIf", async (t) => {
    if (!s.requires(t, "deployed")) return;
    const v = await client.deployments.validate(rg, "check", body("val"), lro);
    assert.equal(v.properties?.provisioningState, "Succeeded", JSON.stringify(v.error));
    assert.equal(v.properties.validatedResources.length, 6);
    const same = await client.deployments.whatIf(rg, "again", body("net"), lro);
    assert.equal(same.status, "Succeeded");
    const kinds = same.changes.map((c) => c.changeType);
    assert.equal(kinds.length, 6);
    assert.ok(kinds.every((k) => k === "NoChange" || k === "Deploy"), `redeploying changes nothing: ${kinds}`);
    const fresh = await client.deployments.whatIf(rg, "fresh", body("new"), lro);
    assert.ok(fresh.changes.some((c) => c.changeType === "Create" && c.resourceId.endsWith("/privateEndpoints/new-pe")), JSON.stringify(fresh.changes.map((c) => [c.resourceId, c.changeType])));
  });

  test("a Deny assignment refuses the deployment with the policy error in its details", async (t) => {
    if (!s.requires(t, "deployed")) return;
    const pc = policyClient();
    const def = await pc.policyDefinitions.createOrUpdate(uniqueName("no-dns-zones-"), {
      displayName: "No private DNS zones (e2e)",
      mode: "All",
      policyRule: { if: { field: "type", equals: "Microsoft.Network/privateDnsZones" }, then: { effect: "deny" } },
    });
    const assignment = await pc.policyAssignments.create(rgId(rg), "no-dns-zones", { policyDefinitionId: def.id });
    try {
      // Refused before it starts (preflight): the poller's error is ARM's
      // code and message (this client keeps no details of an initial
      // response; the Go API tests read them), and nothing is stored.
      const err = await assertRestError(client.deployments.beginCreateOrUpdateAndWait(rg, "denied", body("den"), lro), 400, "InvalidTemplateDeployment");
      assert.match(err.message, /policy violation/);
      await assertRestError(client.deployments.get(rg, "denied"), 404);
      await assert.rejects(client.deployments.validate(rg, "denied", body("den"), lro), /long-running operation has failed/);
      // Refused while it runs: the zone's tags read the endpoint, so the
      // zone is known only when written; the deployment fails with the
      // policy error in its error's details and in the failed operation.
      const late = structuredClone(template);
      late.resources[3].dependsOn = ["[variables('pe')]"];
      late.resources[3].tags = { subnet: "[reference(variables('pe')).subnet.id]" };
      late.resources[4].dependsOn = ["[variables('pe')]"];
      await assert.rejects(client.deployments.beginCreateOrUpdateAndWait(rg, "late", { properties: { mode: "Incremental", template: late, parameters: params("lat") } }, lro));
      const rec = await client.deployments.get(rg, "late");
      assert.equal(rec.properties.provisioningState, "Failed");
      assert.equal(rec.properties.error.code, "DeploymentFailed");
      assert.ok(rec.properties.error.details.some((d) => d.code === "RequestDisallowedByPolicy"), JSON.stringify(rec.properties.error));
      const ops = await collect(client.deploymentOperations.list(rg, "late"));
      const failed = ops.filter((o) => o.properties.provisioningState === "Failed");
      assert.equal(failed.length, 1, JSON.stringify(ops.map((o) => o.properties)));
      assert.equal(failed[0].properties.statusCode, "Forbidden");
      assert.equal(failed[0].properties.statusMessage.error.code, "RequestDisallowedByPolicy");
    } finally {
      await pc.policyAssignments.delete(rgId(rg), "no-dns-zones");
      await pc.policyDefinitions.delete(def.name);
    }
  });

  test("Configure workspace to use private DNS zones: a remediation gives the endpoint its zone group", async (t) => {
    if (!s.requires(t, "deployed")) return;
    // An endpoint to the workspace without a zone group, deployed by a
    // template without one.
    const bare = structuredClone(template);
    bare.resources.splice(4, 1);
    const d = await client.deployments.beginCreateOrUpdateAndWait(rg, "bare", { properties: { mode: "Incremental", template: bare, parameters: params("rem") } }, lro);
    assert.equal(d.properties.provisioningState, "Succeeded");
    const pe = `${rgId(rg)}/providers/Microsoft.Network/privateEndpoints/rem-pe`;
    // The built-in with an identity, given a role that covers its
    // deployment (its own, Network Contributor, is not among the built-in
    // roles of ../shared).
    const b = bootstrap();
    const pc = policyClient();
    const insights = insightsClient();
    const zoneId = `${rgId(rg)}/providers/Microsoft.Network/privateDnsZones/${ZONE}`;
    const a = await pc.policyAssignments.create(rgId(rg), "pe-dns", {
      policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${DNS_DINE}`,
      parameters: { privateDnsZoneId: { value: zoneId } },
      location: LOCATION,
      identity: { type: "SystemAssigned" },
    });
    try {
      await authzClient().roleAssignments.create(rgId(rg), randomUUID(), {
        roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`,
        principalId: a.identity.principalId,
        principalType: "ServicePrincipal",
      });
      const states = () => collect(insights.policyStates.listQueryResultsForResourceGroup("latest", b.subscriptionId, rg, {
        queryOptions: { filter: `policyAssignmentId eq '${a.id}'` },
      }));
      await eventually("rem-pe NonCompliant", async () => (await states()).find((r) => sameId(r.resourceId, pe) && r.complianceState === "NonCompliant"));
      await insights.remediations.createOrUpdateAtResourceGroup(rg, "fix-dns", { policyAssignmentId: a.id });
      const done = await eventually("the remediation's end", async () => {
        const r = await insights.remediations.getAtResourceGroup(rg, "fix-dns");
        return ["Succeeded", "Complete", "Failed", "Canceled"].includes(r.provisioningState) ? r : undefined;
      });
      const deps = await collect(insights.remediations.listDeploymentsAtResourceGroup(rg, "fix-dns"));
      assert.equal(done.provisioningState, "Succeeded", `remediation ${JSON.stringify(done)}; deployments ${JSON.stringify(deps)}`);
      const mine = deps.filter((x) => sameId(x.remediatedResourceId, pe));
      assert.equal(mine.length, 1, JSON.stringify(deps));
      assert.equal(mine[0].status, "Succeeded");
      // The deployment it ran, through the deployments client.
      const depName = mine[0].deploymentId.split("/").pop();
      const dep = await client.deployments.get(rg, depName);
      assert.equal(dep.properties.provisioningState, "Succeeded");
      const ops = await collect(client.deploymentOperations.list(rg, depName));
      assert.ok(ops.some((o) => sameId(o.properties.targetResource.id, `${pe}/privateDnsZoneGroups/deployedByPolicy`)), JSON.stringify(ops));
      // The zone group it made, and the endpoint Compliant.
      const group = await resourcesClient().resources.getById(`${pe}/privateDnsZoneGroups/deployedByPolicy`, "2023-09-01");
      assert.ok(sameId(group.properties.privateDnsZoneConfigs[0].properties.privateDnsZoneId, zoneId), JSON.stringify(group));
      await eventually("rem-pe Compliant", async () => (await states()).find((r) => sameId(r.resourceId, pe) && r.complianceState === "Compliant"));
    } finally {
      await pc.policyAssignments.delete(rgId(rg), "pe-dns");
    }
  });

  test("cancel of a finished deployment is refused; delete removes the record", async (t) => {
    if (!s.requires(t, "deployed")) return;
    await assertRestError(client.deployments.cancel(rg, "network"), 409);
    await client.deployments.beginDeleteAndWait(rg, "network", lro);
    await assertRestError(client.deployments.get(rg, "network"), 404);
  });
});
