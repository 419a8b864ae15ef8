// Generic resource operations and tags at scope through @azure/arm-resources:
// tagsOperations.*AtScope on a resource group and on an ML workspace (the
// tags resource is a view of the scope's own tags, so the ML client sees
// what the tags API wrote), tagsOperations.list, and resources.* by id and
// by name on mlgov's own types (a storage account, a key vault, workspaces,
// a compute), the two resource lists with $filter/$expand/$top, and the
// refusals (moves, an unsupported $filter, a compute's deleteById).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  LOCATION,
  ML,
  TEST_TIMEOUT,
  assertDate,
  assertRestError,
  bootstrap,
  collect,
  createResourceGroup,
  deleteResourceGroupQuietly,
  lro,
  mlClient,
  mlId,
  resourcesClient,
  rgId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { amlComputeParameters, createWorkspace } from "../lib/fixtures.mjs";

const ML_API = "2022-10-01"; // the ML api-version a caller of the generic calls picks
const STORAGE_API = "2023-05-01";
const KV_API = "2023-07-01";
const TAGS_TYPE = "Microsoft.Resources/tags";

describe("tags at scope (@azure/arm-resources tagsOperations)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const client = resourcesClient();
  const ml = mlClient();
  const rg = uniqueName("mlgov-e2e-tags-");
  const ws = uniqueName("ws");
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg, { purpose: "mlgov-e2e" });
    await createWorkspace(rg, ws);
    s.ok("setup");
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("resource group: getAtScope shows the group's tags", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    const tags = await client.tagsOperations.getAtScope(rgId(rg));
    assert.equal(tags.id, `${rgId(rg)}/providers/${TAGS_TYPE}/default`);
    assert.equal(tags.name, "default");
    assert.equal(tags.type, TAGS_TYPE);
    assert.deepEqual(tags.properties.tags, { purpose: "mlgov-e2e" });
  });

  test("resource group: createOrUpdateAtScope replaces the group's tags", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    const put = await client.tagsOperations.beginCreateOrUpdateAtScopeAndWait(rgId(rg), { properties: { tags: { env: "e2e", team: "ml" } } }, lro);
    assert.deepEqual(put.properties.tags, { env: "e2e", team: "ml" });
    const group = await client.resourceGroups.get(rg);
    assert.deepEqual(group.tags, { env: "e2e", team: "ml" }, "the group's own tags are the tags written at scope");
    s.ok("rg-tags");
  });

  test("resource group: updateAtScope Merge, Delete, Replace", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "rg-tags")) return;
    const merged = await client.tagsOperations.beginUpdateAtScopeAndWait(rgId(rg), { operation: "Merge", properties: { tags: { team: "platform", stage: "1" } } }, lro);
    assert.deepEqual(merged.properties.tags, { env: "e2e", team: "platform", stage: "1" });
    const deleted = await client.tagsOperations.beginUpdateAtScopeAndWait(rgId(rg), { operation: "Delete", properties: { tags: { team: "platform", stage: "other" } } }, lro);
    assert.deepEqual(deleted.properties.tags, { env: "e2e", stage: "1" }, "Delete removes a pair whose value matches, keeps one whose value differs");
    const replaced = await client.tagsOperations.beginUpdateAtScopeAndWait(rgId(rg), { operation: "Replace", properties: { tags: { only: "this" } } }, lro);
    assert.deepEqual(replaced.properties.tags, { only: "this" });
    assert.deepEqual((await client.resourceGroups.get(rg)).tags, { only: "this" });
  });

  test("resource group: deleteAtScope removes every tag", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "rg-tags")) return;
    await client.tagsOperations.beginDeleteAtScopeAndWait(rgId(rg), lro);
    assert.deepEqual((await client.tagsOperations.getAtScope(rgId(rg))).properties.tags, {});
    assert.deepEqual((await client.resourceGroups.get(rg)).tags ?? {}, {});
  });

  test("workspace: the tags written at scope are the workspace's tags (ML client and getById)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    // A scope without the leading slash, as the REST examples write it.
    const scope = mlId(rg, "workspaces", ws).slice(1);
    const put = await client.tagsOperations.beginCreateOrUpdateAtScopeAndWait(scope, { properties: { tags: { cost: "42", owner: "e2e" } } }, lro);
    assert.equal(put.id, `${mlId(rg, "workspaces", ws)}/providers/${TAGS_TYPE}/default`);
    assert.deepEqual(put.properties.tags, { cost: "42", owner: "e2e" });
    const viaML = await ml.workspaces.get(rg, ws);
    assert.deepEqual(viaML.tags, { cost: "42", owner: "e2e" }, "workspace tags through @azure/arm-machinelearning");
    assert.equal(viaML.provisioningState, "Succeeded", "a tags write leaves the workspace Succeeded");
    const viaId = await client.resources.getById(mlId(rg, "workspaces", ws), ML_API);
    assert.deepEqual(viaId.tags, { cost: "42", owner: "e2e" }, "workspace tags through resources.getById");
    const merged = await client.tagsOperations.beginUpdateAtScopeAndWait(scope, { operation: "Merge", properties: { tags: { cost: "43" } } }, lro);
    assert.deepEqual(merged.properties.tags, { cost: "43", owner: "e2e" });
    assert.deepEqual((await ml.workspaces.get(rg, ws)).tags, { cost: "43", owner: "e2e" });
    // And the other way round: a PATCH of the workspace shows in the tags resource.
    await ml.workspaces.beginUpdateAndWait(rg, ws, { tags: { via: "ml" } }, lro);
    assert.deepEqual((await client.tagsOperations.getAtScope(scope)).properties.tags, { via: "ml" });
  });

  test("tagsOperations.list: the subscription's tag names with counts", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    const names = await collect(client.tagsOperations.list());
    const via = names.find((n) => n.tagName === "via");
    assert.ok(via, `tag name 'via' not listed: ${names.map((n) => n.tagName).join(", ")}`);
    assert.equal(via.id, `/subscriptions/${bootstrap().subscriptionId}/tagNames/via`);
    assert.equal(via.count.type, "Total");
    assert.ok(via.count.value >= 1);
    assert.ok(via.values.some((v) => v.tagValue === "ml" && v.count.value >= 1), "value 'ml' listed");
  });

  test("a scope that does not exist: 404 of its kind", { timeout: TEST_TIMEOUT }, async () => {
    await assertRestError(client.tagsOperations.getAtScope(rgId(uniqueName("mlgov-e2e-missing-"))), 404, "ResourceGroupNotFound");
    await assertRestError(
      client.tagsOperations.beginCreateOrUpdateAtScopeAndWait(mlId(rg, "workspaces", "nope"), { properties: { tags: { a: "b" } } }, lro),
      404,
      "ResourceNotFound",
    );
  });
});

describe("generic resource operations (@azure/arm-resources resources)", { timeout: TEST_TIMEOUT * 20 }, () => {
  const client = resourcesClient();
  const ml = mlClient();
  const rg = uniqueName("mlgov-e2e-generic-");
  const ws = uniqueName("ws");
  const ws2 = uniqueName("ws");
  const sa = uniqueName("st");
  const kv = uniqueName("kv");
  const cluster = uniqueName("cpu");
  const sub = () => bootstrap().subscriptionId;
  const storageId = () => `${rgId(rg)}/providers/Microsoft.Storage/storageAccounts/${sa}`;
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
    s.ok("setup");
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("createOrUpdateById, getById, checkExistenceById, updateById (storage account)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    const created = await client.resources.beginCreateOrUpdateByIdAndWait(storageId(), STORAGE_API, { location: LOCATION, tags: { env: "e2e" }, properties: {} }, lro);
    assert.equal(created.id, storageId());
    assert.equal(created.type, "Microsoft.Storage/storageAccounts");
    const got = await client.resources.getById(storageId(), STORAGE_API);
    assert.equal(got.location, LOCATION);
    assert.deepEqual(got.tags, { env: "e2e" });
    assert.deepEqual(await client.resources.checkExistenceById(storageId(), STORAGE_API), { body: true });
    assert.deepEqual(await client.resources.checkExistenceById(`${storageId()}x`, STORAGE_API), { body: false });
    const updated = await client.resources.beginUpdateByIdAndWait(storageId(), STORAGE_API, { tags: { env: "e2e", patched: "yes" } }, lro);
    assert.deepEqual(updated.tags, { env: "e2e", patched: "yes" });
    s.ok("storage");
  });

  test("createOrUpdateById, updateById, getById of a workspace (long-running, api-version 2022-10-01)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    const id = mlId(rg, "workspaces", ws2);
    const created = await client.resources.beginCreateOrUpdateByIdAndWait(id, ML_API, { location: LOCATION, identity: { type: "SystemAssigned" }, properties: { friendlyName: "generic" } }, lro);
    assert.equal(created.id, id);
    assert.equal(created.properties.provisioningState, "Succeeded");
    const updated = await client.resources.beginUpdateByIdAndWait(id, ML_API, { tags: { via: "updateById" } }, lro);
    assert.equal(updated.id, id, "the PATCH's final result is the workspace");
    assert.deepEqual(updated.tags, { via: "updateById" });
    const viaML = await ml.workspaces.get(rg, ws2);
    assert.equal(viaML.friendlyName, "generic");
    assert.deepEqual(viaML.tags, { via: "updateById" });
    s.ok("ws2");
  });

  test("createOrUpdate, get, update, checkExistence by name (key vault; compute under a parent path)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "setup")) return;
    const vault = await client.resources.beginCreateOrUpdateAndWait(rg, "Microsoft.KeyVault", "", "vaults", kv, KV_API, { location: LOCATION, properties: {} }, lro);
    assert.equal(vault.name, kv);
    assert.equal((await client.resources.get(rg, "Microsoft.KeyVault", "", "vaults", kv, KV_API)).type, "Microsoft.KeyVault/vaults");
    const parent = `workspaces/${ws}`;
    const c = await client.resources.beginCreateOrUpdateAndWait(rg, ML, parent, "computes", cluster, ML_API, amlComputeParameters(), lro);
    assert.equal(c.id, mlId(rg, "workspaces", ws, "computes", cluster));
    assert.equal(c.properties.provisioningState, "Succeeded");
    const patched = await client.resources.beginUpdateAndWait(rg, ML, parent, "computes", cluster, ML_API, { tags: { kind: "generic" } }, lro);
    assert.deepEqual(patched.tags, { kind: "generic" });
    const got = await client.resources.get(rg, ML, parent, "computes", cluster, ML_API);
    assert.equal(got.properties.properties.vmSize, "STANDARD_NC6", "the PATCH kept the compute's properties");
    assert.deepEqual(await client.resources.checkExistence(rg, ML, parent, "computes", cluster, ML_API), { body: true });
    assert.deepEqual(await client.resources.checkExistence(rg, ML, parent, "computes", "nope", ML_API), { body: false });
    s.ok("byname");
  });

  test("listByResourceGroup: tracked resources, nested ones as parent/child; $filter, $expand, $top", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "storage", "byname")) return;
    const all = await collect(client.resources.listByResourceGroup(rg));
    const names = all.map((r) => r.name).sort();
    for (const n of [sa, kv, ws, `${ws}/${cluster}`]) {
      assert.ok(names.includes(n), `${n} is not listed: ${names.join(", ")}`);
    }
    const compute = all.find((r) => r.name === `${ws}/${cluster}`);
    assert.equal(compute.type, `${ML}/workspaces/computes`);
    const storage = await collect(client.resources.listByResourceGroup(rg, { filter: "resourceType eq 'Microsoft.Storage/storageAccounts'" }));
    assert.deepEqual(storage.map((r) => r.name), [sa]);
    const tagged = await collect(client.resources.listByResourceGroup(rg, { filter: "tagName eq 'patched' and tagValue eq 'yes'" }));
    assert.deepEqual(tagged.map((r) => r.name), [sa]);
    const expanded = await collect(client.resources.listByResourceGroup(rg, { expand: "createdTime,changedTime,provisioningState" }));
    const w = expanded.find((r) => r.name === ws);
    assertDate(w.createdTime, "createdTime");
    assertDate(w.changedTime, "changedTime");
    assert.equal(w.provisioningState, "Succeeded");
    const paged = await collect(client.resources.listByResourceGroup(rg, { top: 1 }));
    assert.deepEqual(paged.map((r) => r.name).sort(), names, "pages of one list the same");
  });

  test("list (subscription) with $filter; an unsupported $filter is a 400", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "storage")) return;
    const mine = await collect(client.resources.list({ filter: `resourceGroup eq '${rg}' and substringof('${sa.slice(0, 6)}', name)`, top: 2 }));
    assert.deepEqual(mine.map((r) => r.id), [storageId()]);
    await assertRestError(collect(client.resources.list({ filter: "plan eq 'x'" })), 400, "InvalidFilter");
    await assertRestError(collect(client.resources.list({ expand: "properties" })), 400, "InvalidQueryParameter");
  });

  test("moveResources and validateMoveResources are refused", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "storage")) return;
    const move = { resources: [storageId()], targetResourceGroup: rgId(`${rg}-target`) };
    await assertRestError(client.resources.beginValidateMoveResourcesAndWait(rg, move, lro), 400, "OperationNotSupported");
    await assertRestError(client.resources.beginMoveResourcesAndWait(rg, move, lro), 400, "OperationNotSupported");
    assert.deepEqual(await client.resources.checkExistenceById(storageId(), STORAGE_API), { body: true });
  });

  test("deleteById of a compute needs underlyingResourceAction, which it cannot send: 400 naming it", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "byname")) return;
    const id = mlId(rg, "workspaces", ws, "computes", cluster);
    const err = await assertRestError(client.resources.beginDeleteByIdAndWait(id, ML_API, lro), 400, "InvalidQueryParameter");
    assert.match(err.message, /underlyingResourceAction/);
    await ml.computeOperations.beginDeleteAndWait(rg, ws, cluster, "Delete", lro);
    assert.deepEqual(await client.resources.checkExistenceById(id, ML_API), { body: false });
  });

  test("delete by name, deleteById (synchronous and long-running), then gone", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "storage", "byname", "ws2")) return;
    await client.resources.beginDeleteAndWait(rg, "Microsoft.KeyVault", "", "vaults", kv, KV_API, lro);
    assert.deepEqual(await client.resources.checkExistence(rg, "Microsoft.KeyVault", "", "vaults", kv, KV_API), { body: false });
    await client.resources.beginDeleteByIdAndWait(storageId(), STORAGE_API, lro);
    await assertRestError(client.resources.getById(storageId(), STORAGE_API), 404, "ResourceNotFound");
    const id = mlId(rg, "workspaces", ws2);
    await client.resources.beginDeleteByIdAndWait(id, ML_API, lro);
    await assertRestError(client.resources.getById(id, ML_API), 404, "ResourceNotFound");
    // Deleting what is gone: 204, which deleteById accepts.
    await client.resources.beginDeleteByIdAndWait(id, ML_API, lro);
    const left = (await collect(client.resources.listByResourceGroup(rg))).map((r) => r.name);
    assert.ok(!left.includes(sa) && !left.includes(kv) && !left.includes(ws2), `deleted resources still listed: ${left.join(", ")}`);
    assert.ok(left.includes(ws), "the other workspace stays");
    assert.equal(sub(), bootstrap().subscriptionId);
  });
});
