// Machine Learning workspaces through @azure/arm-machinelearning: create with
// a system- and user-assigned identity and customer-managed-key encryption
// (shaped after arm-examples/Workspace/create.json), get, list, update, delete.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  LOCATION,
  ML,
  TEST_TIMEOUT,
  assertRestError,
  assertSystemData,
  bootstrap,
  collect,
  createResourceGroup,
  deleteResourceGroupQuietly,
  getById,
  lro,
  mlClient,
  mlId,
  sameId,
  scenario,
  uaiId,
  uniqueName,
} from "../lib/arm.mjs";
import { createWorkspaceKey, workspaceParameters } from "../lib/fixtures.mjs";

function assertWorkspace(ws, rg, name, params, what) {
  const b = bootstrap();
  assert.equal(ws.id, mlId(rg, "workspaces", name), `${what}: id`);
  assert.equal(ws.name, name, `${what}: name`);
  assert.equal(ws.type, `${ML}/workspaces`, `${what}: type`);
  assert.equal(ws.location, LOCATION, `${what}: location`);
  assert.equal(ws.provisioningState, "Succeeded", `${what}: provisioningState`);

  // Identity: the system-assigned identity gets a principal in the caller's tenant,
  // each user-assigned identity is echoed back with its principalId and clientId.
  assert.equal(ws.identity?.type, "SystemAssigned,UserAssigned", `${what}: identity.type`);
  assert.ok(ws.identity.principalId, `${what}: identity.principalId is missing`);
  assert.equal(ws.identity.tenantId, b.tenantId, `${what}: identity.tenantId`);
  const uai = params.identity.userAssignedIdentities;
  const uaiKey = Object.keys(uai)[0];
  const echoed = getById(ws.identity.userAssignedIdentities, uaiKey);
  assert.ok(echoed, `${what}: identity.userAssignedIdentities lacks ${uaiKey}`);
  assert.ok(echoed.principalId, `${what}: user-assigned identity principalId is missing`);
  assert.ok(echoed.clientId, `${what}: user-assigned identity clientId is missing`);
  assert.ok(sameId(ws.primaryUserAssignedIdentity, uaiKey), `${what}: primaryUserAssignedIdentity`);

  // Encryption (customer-managed key) round-trips.
  assert.equal(ws.encryption?.status, "Enabled", `${what}: encryption.status`);
  assert.ok(sameId(ws.encryption.identity?.userAssignedIdentity, uaiKey), `${what}: encryption.identity.userAssignedIdentity`);
  assert.ok(
    sameId(ws.encryption.keyVaultProperties?.keyVaultArmId, params.encryption.keyVaultProperties.keyVaultArmId),
    `${what}: encryption.keyVaultProperties.keyVaultArmId`,
  );
  assert.equal(
    ws.encryption.keyVaultProperties.keyIdentifier,
    params.encryption.keyVaultProperties.keyIdentifier,
    `${what}: encryption.keyVaultProperties.keyIdentifier`,
  );

  assert.ok(sameId(ws.keyVault, params.keyVault), `${what}: keyVault`);
  assert.ok(sameId(ws.storageAccount, params.storageAccount), `${what}: storageAccount`);
  assert.ok(sameId(ws.containerRegistry, params.containerRegistry), `${what}: containerRegistry`);
  assert.ok(sameId(ws.applicationInsights, params.applicationInsights), `${what}: applicationInsights`);
  assert.equal(ws.hbiWorkspace, false, `${what}: hbiWorkspace`);
  assertSystemData(ws.systemData, what);
}

describe("workspaces (@azure/arm-machinelearning)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const client = mlClient();
  const rg = uniqueName("mlgov-e2e-ws-");
  const name = uniqueName("ws");
  const uai = uaiId(rg, "testuai");
  let params = workspaceParameters(rg, uai);
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg);
    params = workspaceParameters(rg, uai, await createWorkspaceKey(rg, bootstrap().tenantId));
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("create (beginCreateOrUpdateAndWait) with SystemAssigned,UserAssigned identity and CMK encryption", { timeout: TEST_TIMEOUT }, async () => {
    const ws = await client.workspaces.beginCreateOrUpdateAndWait(rg, name, params, lro);
    assert.ok(ws, "beginCreateOrUpdateAndWait returned no workspace (the final LRO response needs the workspace body)");
    assertWorkspace(ws, rg, name, params, "create result");
    assert.equal(ws.friendlyName, "HelloName");
    assert.equal(ws.description, "test description");
    assert.deepEqual(ws.tags, { env: "e2e", team: "ml" });
    s.ok("create");
  });

  test("get", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const ws = await client.workspaces.get(rg, name);
    assertWorkspace(ws, rg, name, params, "get");
    assert.equal(ws.friendlyName, "HelloName");
    assert.equal(ws.description, "test description");
    assert.deepEqual(ws.tags, { env: "e2e", team: "ml" });
  });

  test("listByResourceGroup contains the workspace", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const all = await collect(client.workspaces.listByResourceGroup(rg));
    const mine = all.find((w) => w.name === name);
    assert.ok(mine, `listByResourceGroup did not return ${name}; got [${all.map((w) => w.name).join(", ")}]`);
    assert.equal(mine.id, mlId(rg, "workspaces", name));
    assert.equal(mine.type, `${ML}/workspaces`);
    assert.equal(mine.identity?.type, "SystemAssigned,UserAssigned");
  });

  test("listBySubscription contains the workspace", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const all = await collect(client.workspaces.listBySubscription());
    assert.ok(
      all.some((w) => w.id === mlId(rg, "workspaces", name)),
      `listBySubscription did not return ${name}`,
    );
  });

  test("update (beginUpdateAndWait) replaces tags and changes description and friendlyName", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const before = await client.workspaces.get(rg, name);
    const ws = await client.workspaces.beginUpdateAndWait(
      rg,
      name,
      { tags: { env: "e2e-updated" }, description: "updated description", friendlyName: "New friendly name" },
      lro,
    );
    assert.ok(ws, "beginUpdateAndWait returned no workspace (the final LRO response needs the workspace body)");
    assert.equal(ws.id, mlId(rg, "workspaces", name));
    assert.deepEqual(ws.tags, { env: "e2e-updated" }, "PATCH replaces tags wholesale");
    assert.equal(ws.description, "updated description");
    assert.equal(ws.friendlyName, "New friendly name");
    assert.equal(ws.provisioningState, "Succeeded");

    const got = await client.workspaces.get(rg, name);
    assert.deepEqual(got.tags, { env: "e2e-updated" });
    assert.equal(got.description, "updated description");
    assert.equal(got.friendlyName, "New friendly name");
    // Unchanged by the PATCH: identity and encryption.
    assertWorkspace(got, rg, name, params, "get after update");
    assert.ok(got.systemData.lastModifiedAt >= before.systemData.lastModifiedAt, "lastModifiedAt moved backwards");
    assert.equal(got.systemData.createdAt.getTime(), before.systemData.createdAt.getTime(), "createdAt changed on update");
  });

  test("workspaceConnections.create (200, as the REST specification lists), get and list", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const body = { properties: { category: "ContainerRegistry", authType: "None", target: "myacr.azurecr.io" } };
    const created = await client.workspaceConnections.create(rg, name, "acr", body);
    assert.equal(created.name, "acr");
    assert.equal(created.properties?.category, "ContainerRegistry");
    const again = await client.workspaceConnections.create(rg, name, "acr", body);
    assert.equal(again.properties?.target, "myacr.azurecr.io");
    const got = await client.workspaceConnections.get(rg, name, "acr");
    assert.ok(sameId(got.id, mlId(rg, "workspaces", name, "connections", "acr")), `id ${got.id}`);
    const all = await collect(client.workspaceConnections.list(rg, name));
    assert.ok(all.some((c) => c.name === "acr"), "list lacks the connection");
  });

  test("delete (beginDeleteAndWait) then get is 404 and the list no longer has it", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    await client.workspaces.beginDeleteAndWait(rg, name, lro);
    await assertRestError(client.workspaces.get(rg, name), 404, "ResourceNotFound");
    const all = await collect(client.workspaces.listByResourceGroup(rg));
    assert.ok(!all.some((w) => w.name === name), "deleted workspace is still listed");
  });

  test("get in a resource group that does not exist is 404 ResourceGroupNotFound", { timeout: TEST_TIMEOUT }, async () => {
    await assertRestError(client.workspaces.get(uniqueName("mlgov-e2e-missing-"), name), 404, "ResourceGroupNotFound");
  });
});
