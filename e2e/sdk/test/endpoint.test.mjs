// Online endpoints through @azure/arm-machinelearning: create, get, list,
// update (tags), delete — all long-running except get and list.

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
  lro,
  mlClient,
  mlId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { createWorkspace, onlineEndpointParameters } from "../lib/fixtures.mjs";

function assertEndpoint(e, rg, ws, name, what) {
  assert.ok(e, `${what}: no endpoint returned (the final LRO response needs the endpoint body)`);
  assert.equal(e.id, mlId(rg, "workspaces", ws, "onlineEndpoints", name), `${what}: id`);
  assert.equal(e.name, name, `${what}: name`);
  assert.equal(e.type, `${ML}/workspaces/onlineEndpoints`, `${what}: type`);
  assert.equal(e.location, LOCATION, `${what}: location`);
  assert.equal(e.kind, "Managed", `${what}: kind`);
  assert.equal(e.properties?.provisioningState, "Succeeded", `${what}: properties.provisioningState`);
  assert.equal(e.properties.authMode, "Key", `${what}: properties.authMode`);
  assert.equal(e.identity?.type, "SystemAssigned", `${what}: identity.type`);
  assert.ok(e.identity.principalId, `${what}: identity.principalId is missing`);
  assert.equal(e.identity.tenantId, bootstrap().tenantId, `${what}: identity.tenantId`);
  assertSystemData(e.systemData, what);
}

describe("online endpoints (@azure/arm-machinelearning)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const client = mlClient();
  const rg = uniqueName("mlgov-e2e-ep-");
  const ws = uniqueName("ws");
  const ep = uniqueName("ep-");
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("create (beginCreateOrUpdateAndWait)", { timeout: TEST_TIMEOUT }, async () => {
    const e = await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, ws, ep, onlineEndpointParameters(), lro);
    assertEndpoint(e, rg, ws, ep, "create");
    assert.deepEqual(e.tags, { kind: "endpoint" });
    assert.equal(e.properties.description, "e2e online endpoint");
    s.ok("create");
  });

  test("get", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const e = await client.onlineEndpoints.get(rg, ws, ep);
    assertEndpoint(e, rg, ws, ep, "get");
    assert.deepEqual(e.tags, { kind: "endpoint" });
    assert.deepEqual(e.properties.properties, { origin: "e2e" });
  });

  test("list contains the endpoint", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const all = await collect(client.onlineEndpoints.list(rg, ws));
    const mine = all.find((e) => e.name === ep);
    assert.ok(mine, `list lacks ${ep}; got [${all.map((e) => e.name).join(", ")}]`);
    assert.equal(mine.id, mlId(rg, "workspaces", ws, "onlineEndpoints", ep));
  });

  test("update (beginUpdateAndWait) replaces the tags", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const e = await client.onlineEndpoints.beginUpdateAndWait(rg, ws, ep, { tags: { kind: "endpoint", stage: "updated" } }, lro);
    assertEndpoint(e, rg, ws, ep, "update");
    assert.deepEqual(e.tags, { kind: "endpoint", stage: "updated" });
    const got = await client.onlineEndpoints.get(rg, ws, ep);
    assert.deepEqual(got.tags, { kind: "endpoint", stage: "updated" });
    assert.equal(got.properties?.description, "e2e online endpoint", "PATCH must keep the properties");
  });

  test("delete (beginDeleteAndWait) then get is 404 and the list no longer has it", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    await client.onlineEndpoints.beginDeleteAndWait(rg, ws, ep, lro);
    await assertRestError(client.onlineEndpoints.get(rg, ws, ep), 404, "ResourceNotFound");
    const all = await collect(client.onlineEndpoints.list(rg, ws));
    assert.ok(!all.some((e) => e.name === ep), "deleted endpoint is still listed");
  });
});
