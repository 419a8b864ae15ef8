// Computes through @azure/arm-machinelearning: a compute instance and an
// AmlCompute cluster — create, get, list, update, stop/start/restart, delete.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  LOCATION,
  ML,
  TEST_TIMEOUT,
  assertRestError,
  assertSystemData,
  collect,
  createResourceGroup,
  deleteResourceGroupQuietly,
  lro,
  mlClient,
  mlId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { amlComputeParameters, computeInstanceParameters, createWorkspace } from "../lib/fixtures.mjs";

function assertCompute(c, rg, ws, name, computeType, what) {
  assert.ok(c, `${what}: no compute returned (the final LRO response needs the compute body)`);
  assert.equal(c.id, mlId(rg, "workspaces", ws, "computes", name), `${what}: id`);
  assert.equal(c.name, name, `${what}: name`);
  assert.equal(c.type, `${ML}/workspaces/computes`, `${what}: type`);
  assert.equal(c.location, LOCATION, `${what}: location`);
  assert.equal(c.properties?.computeType, computeType, `${what}: properties.computeType`);
  assert.equal(c.properties.provisioningState, "Succeeded", `${what}: properties.provisioningState`);
  assert.equal(c.properties.disableLocalAuth, true, `${what}: properties.disableLocalAuth`);
  assertSystemData(c.systemData, what);
}

describe("computes (@azure/arm-machinelearning)", { timeout: TEST_TIMEOUT * 16 }, () => {
  const client = mlClient();
  const rg = uniqueName("mlgov-e2e-compute-");
  const ws = uniqueName("ws");
  const ci = uniqueName("ci");
  const cluster = uniqueName("cpu");
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("compute instance: create (beginCreateOrUpdateAndWait)", { timeout: TEST_TIMEOUT }, async () => {
    const c = await client.computeOperations.beginCreateOrUpdateAndWait(rg, ws, ci, computeInstanceParameters(), lro);
    assertCompute(c, rg, ws, ci, "ComputeInstance", "create CI");
    assert.equal(c.properties.properties?.vmSize, "STANDARD_DS3_V2");
    assert.deepEqual(c.tags, { kind: "ci" });
    s.ok("ci");
  });

  test("compute instance: get shows it running", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "ci")) return;
    const c = await client.computeOperations.get(rg, ws, ci);
    assertCompute(c, rg, ws, ci, "ComputeInstance", "get CI");
    assert.equal(c.properties.description, "e2e compute instance");
    assert.equal(c.properties.properties?.vmSize, "STANDARD_DS3_V2");
    assert.equal(c.properties.properties?.applicationSharingPolicy, "Personal");
    assert.equal(c.properties.properties?.state, "Running");
  });

  test("AmlCompute cluster: create (beginCreateOrUpdateAndWait)", { timeout: TEST_TIMEOUT }, async () => {
    const c = await client.computeOperations.beginCreateOrUpdateAndWait(rg, ws, cluster, amlComputeParameters(), lro);
    assertCompute(c, rg, ws, cluster, "AmlCompute", "create cluster");
    assert.deepEqual(c.properties.properties?.scaleSettings, { maxNodeCount: 1, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: "PT5M" });
    s.ok("cluster");
  });

  test("AmlCompute cluster: get", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "cluster")) return;
    const c = await client.computeOperations.get(rg, ws, cluster);
    assertCompute(c, rg, ws, cluster, "AmlCompute", "get cluster");
    assert.equal(c.properties.properties?.vmSize, "STANDARD_NC6");
    assert.equal(c.properties.properties?.vmPriority, "Dedicated");
    assert.equal(c.properties.properties?.scaleSettings?.maxNodeCount, 1);
    assert.deepEqual(c.tags, { kind: "cluster" });
  });

  test("list contains both computes", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "ci", "cluster")) return;
    const all = await collect(client.computeOperations.list(rg, ws));
    const byName = new Map(all.map((c) => [c.name, c]));
    assert.ok(byName.has(ci), `list lacks ${ci}; got [${[...byName.keys()].join(", ")}]`);
    assert.ok(byName.has(cluster), `list lacks ${cluster}; got [${[...byName.keys()].join(", ")}]`);
    assert.equal(byName.get(ci).properties?.computeType, "ComputeInstance");
    assert.equal(byName.get(cluster).properties?.computeType, "AmlCompute");
  });

  test("AmlCompute cluster: update scale settings (beginUpdateAndWait)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "cluster")) return;
    const scale = { maxNodeCount: 4, minNodeCount: 1, nodeIdleTimeBeforeScaleDown: "PT10M" };
    const c = await client.computeOperations.beginUpdateAndWait(rg, ws, cluster, { properties: { scaleSettings: scale } }, lro);
    assertCompute(c, rg, ws, cluster, "AmlCompute", "update cluster");
    assert.deepEqual(c.properties.properties?.scaleSettings, scale);
    const got = await client.computeOperations.get(rg, ws, cluster);
    assert.deepEqual(got.properties.properties?.scaleSettings, scale);
    assert.equal(got.properties.properties?.vmSize, "STANDARD_NC6", "PATCH must keep the other properties");
  });

  test("compute instance: stop (beginStopAndWait) then state is Stopped", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "ci")) return;
    await client.computeOperations.beginStopAndWait(rg, ws, ci, lro);
    const c = await client.computeOperations.get(rg, ws, ci);
    assert.equal(c.properties?.properties?.state, "Stopped");
    assert.equal(c.properties.provisioningState, "Succeeded");
    s.ok("stopped");
  });

  test("compute instance: start (beginStartAndWait) then state is Running", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "stopped")) return;
    await client.computeOperations.beginStartAndWait(rg, ws, ci, lro);
    const c = await client.computeOperations.get(rg, ws, ci);
    assert.equal(c.properties?.properties?.state, "Running");
  });

  test("compute instance: restart (beginRestartAndWait) leaves it Running", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "ci")) return;
    await client.computeOperations.beginRestartAndWait(rg, ws, ci, lro);
    const c = await client.computeOperations.get(rg, ws, ci);
    assert.equal(c.properties?.properties?.state, "Running");
  });

  test("compute instance: delete (underlyingResourceAction=Delete) then get is 404", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "ci")) return;
    await client.computeOperations.beginDeleteAndWait(rg, ws, ci, "Delete", lro);
    await assertRestError(client.computeOperations.get(rg, ws, ci), 404, "ResourceNotFound");
  });

  test("AmlCompute cluster: delete (underlyingResourceAction=Delete) then get is 404 and list is empty", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "cluster")) return;
    await client.computeOperations.beginDeleteAndWait(rg, ws, cluster, "Delete", lro);
    await assertRestError(client.computeOperations.get(rg, ws, cluster), 404, "ResourceNotFound");
    const all = await collect(client.computeOperations.list(rg, ws));
    assert.deepEqual(all.map((c) => c.name).filter((n) => n === ci || n === cluster), []);
  });

  test("get of a compute in a workspace that does not exist is 404", { timeout: TEST_TIMEOUT }, async () => {
    await assertRestError(client.computeOperations.get(rg, uniqueName("nows"), ci), 404);
  });
});
