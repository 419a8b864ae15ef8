// Resource groups through @azure/arm-resources: create, get, list, update
// (tags), delete (long-running), get after delete.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";

import {
  LOCATION,
  TEST_TIMEOUT,
  assertRestError,
  collect,
  deleteResourceGroupQuietly,
  lro,
  resourcesClient,
  rgId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";

describe("resource groups (@azure/arm-resources)", { timeout: TEST_TIMEOUT * 6 }, () => {
  const client = resourcesClient();
  const rg = uniqueName("mlgov-e2e-rg-");
  const s = scenario();

  after(() => deleteResourceGroupQuietly(rg));

  test("create (PUT) returns the new group", { timeout: TEST_TIMEOUT }, async () => {
    const created = await client.resourceGroups.createOrUpdate(rg, {
      location: LOCATION,
      tags: { env: "e2e", owner: "mlgov" },
    });
    assert.equal(created.id, rgId(rg));
    assert.equal(created.name, rg);
    assert.equal(created.type, "Microsoft.Resources/resourceGroups");
    assert.equal(created.location, LOCATION);
    assert.deepEqual(created.tags, { env: "e2e", owner: "mlgov" });
    assert.equal(created.properties?.provisioningState, "Succeeded");
    s.ok("create");
  });

  test("create again (PUT on an existing group) is idempotent", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const again = await client.resourceGroups.createOrUpdate(rg, {
      location: LOCATION,
      tags: { env: "e2e", owner: "mlgov" },
    });
    assert.equal(again.id, rgId(rg));
    assert.equal(again.properties?.provisioningState, "Succeeded");
  });

  test("get", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const got = await client.resourceGroups.get(rg);
    assert.equal(got.id, rgId(rg));
    assert.equal(got.name, rg);
    assert.equal(got.type, "Microsoft.Resources/resourceGroups");
    assert.equal(got.location, LOCATION);
    assert.deepEqual(got.tags, { env: "e2e", owner: "mlgov" });
    assert.equal(got.properties?.provisioningState, "Succeeded");
  });

  test("get with a differently cased name finds the same group and keeps its casing", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const got = await client.resourceGroups.get(rg.toUpperCase());
    assert.equal(got.name, rg);
  });

  test("list contains the group", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const all = await collect(client.resourceGroups.list());
    const mine = all.find((g) => g.name === rg);
    assert.ok(mine, `list did not return ${rg}; got ${all.map((g) => g.name).join(", ")}`);
    assert.equal(mine.id, rgId(rg));
    assert.equal(mine.location, LOCATION);
  });

  test("update (PATCH) replaces the tags", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const updated = await client.resourceGroups.update(rg, { tags: { env: "e2e-updated", stage: "2" } });
    assert.equal(updated.id, rgId(rg));
    assert.deepEqual(updated.tags, { env: "e2e-updated", stage: "2" });
    assert.equal(updated.location, LOCATION);
    const got = await client.resourceGroups.get(rg);
    assert.deepEqual(got.tags, { env: "e2e-updated", stage: "2" });
    s.ok("update");
  });

  test("delete (beginDeleteAndWait) then get is 404 ResourceGroupNotFound", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    await client.resourceGroups.beginDeleteAndWait(rg, lro);
    await assertRestError(client.resourceGroups.get(rg), 404, "ResourceGroupNotFound");
    const all = await collect(client.resourceGroups.list());
    assert.ok(!all.some((g) => g.name === rg), "deleted group is still listed");
  });

  test("get of a group that never existed is 404 ResourceGroupNotFound", { timeout: TEST_TIMEOUT }, async () => {
    await assertRestError(client.resourceGroups.get(uniqueName("mlgov-e2e-missing-")), 404, "ResourceGroupNotFound");
  });
});
