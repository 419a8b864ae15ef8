// Management locks through @azure/arm-locks (ManagementLockClient, api-version
// 2020-05-01): create, get, list and delete at a resource group and at a
// resource (*AtResourceLevel), and by scope (*ByScope, whose scope the SDK
// sends with its slashes encoded: decoded as ARM does, SDK-CONTRACT.md §12), the lists at
// the group, the resource and the subscription (with $filter=atScope()), a
// bad level refused; and the writes the locks refuse
// with 409 ScopeLocked through @azure/arm-resources (deleting the locked group,
// updating a resource under a ReadOnly lock), allowed again once the locks
// are removed. No lock is put on the subscription: the files of the suite
// share one server and run side by side.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";

import { ManagementLockClient } from "@azure/arm-locks";

import {
  ARM_SCOPE,
  LOCATION,
  TEST_TIMEOUT,
  assertRestError,
  assertSystemData,
  bootstrap,
  collect,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  lro,
  resourcesClient,
  rgId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";

const STORAGE_API = "2023-05-01";
const LOCK_TYPE = "Microsoft.Authorization/locks";

function locksClient() {
  const b = bootstrap();
  return new ManagementLockClient(credential(), b.subscriptionId, {
    endpoint: b.endpoint,
    credentialScopes: [ARM_SCOPE],
  });
}

describe("management locks (@azure/arm-locks)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const locks = locksClient();
  const resources = resourcesClient();
  const rg = uniqueName("mlgov-e2e-locks-");
  const st = uniqueName("st");
  const storageId = () => `${rgId(rg)}/providers/Microsoft.Storage/storageAccounts/${st}`;
  const s = scenario();

  // The storage account as the *AtResourceLevel calls name it.
  const atStorage = () => [rg, "Microsoft.Storage", "", "storageAccounts", st];

  after(async () => {
    for (const remove of [
      () => locks.managementLocks.deleteAtResourceLevel(...atStorage(), "readonly"),
      () => locks.managementLocks.deleteAtResourceGroupLevel(rg, "nodelete"),
    ]) {
      try {
        await remove();
      } catch {
        // already gone
      }
    }
    await deleteResourceGroupQuietly(rg);
  });

  test("createOrUpdateAtResourceGroupLevel, getAtResourceGroupLevel", { timeout: TEST_TIMEOUT }, async () => {
    await createResourceGroup(rg);
    await resources.resources.beginCreateOrUpdateByIdAndWait(storageId(), STORAGE_API, { location: LOCATION, properties: {} }, lro);
    const created = await locks.managementLocks.createOrUpdateAtResourceGroupLevel(rg, "nodelete", { level: "CanNotDelete", notes: "e2e" });
    assert.ok(sameId(created.id, `${rgId(rg)}/providers/${LOCK_TYPE}/nodelete`), `id ${created.id}`);
    assert.equal(created.name, "nodelete");
    assert.equal(created.type, LOCK_TYPE);
    assert.equal(created.level, "CanNotDelete");
    assert.equal(created.notes, "e2e");
    assertSystemData(created.systemData, "lock");
    const got = await locks.managementLocks.getAtResourceGroupLevel(rg, "nodelete");
    assert.equal(got.level, "CanNotDelete");
    assert.ok(sameId(got.id, created.id));
    s.ok("rg-lock");
  });

  test("createOrUpdateByScope, getByScope, listByScope, deleteByScope (the scope sent encoded)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "rg-lock")) return;
    const scope = rgId(rg);
    const created = await locks.managementLocks.createOrUpdateByScope(scope, "byscope", { level: "CanNotDelete", notes: "by scope" });
    assert.ok(sameId(created.id, `${scope}/providers/${LOCK_TYPE}/byscope`), `id ${created.id}`);
    assert.equal((await locks.managementLocks.getByScope(scope, "byscope")).notes, "by scope");
    assert.equal((await locks.managementLocks.getAtResourceGroupLevel(rg, "byscope")).level, "CanNotDelete");
    const names = (await collect(locks.managementLocks.listByScope(scope))).map((l) => l.name).sort();
    assert.ok(names.includes("byscope") && names.includes("nodelete"), names.join(","));
    await locks.managementLocks.deleteByScope(scope, "byscope");
    await assertRestError(locks.managementLocks.getByScope(scope, "byscope"), 404, "ResourceNotFound");
  });

  test("a bad level is refused with 400", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "rg-lock")) return;
    const err = await assertRestError(locks.managementLocks.createOrUpdateAtResourceGroupLevel(rg, "bad", { level: "NotSpecified" }), 400, "InvalidRequestContent");
    assert.match(err.message, /NotSpecified/);
  });

  test("deleting the locked group is refused with 409 ScopeLocked (@azure/arm-resources)", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "rg-lock")) return;
    const err = await assertRestError(resources.resourceGroups.beginDeleteAndWait(rg, lro), 409, "ScopeLocked");
    assert.match(err.message, /cannot perform delete operation because following scope\(s\) are locked/);
    const stErr = await assertRestError(resources.resources.beginDeleteByIdAndWait(storageId(), STORAGE_API, lro), 409, "ScopeLocked");
    assert.ok(stErr.message.toLowerCase().includes(rgId(rg).toLowerCase()), stErr.message);
    // A CanNotDelete lock lets the resource change.
    await resources.resources.beginUpdateByIdAndWait(storageId(), STORAGE_API, { tags: { under: "CanNotDelete" } }, lro);
  });

  test("createOrUpdateAtResourceLevel: ReadOnly refuses the resource's update", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "rg-lock")) return;
    const ro = await locks.managementLocks.createOrUpdateAtResourceLevel(...atStorage(), "readonly", { level: "ReadOnly" });
    assert.equal(ro.level, "ReadOnly");
    assert.ok(sameId(ro.id, `${storageId()}/providers/${LOCK_TYPE}/readonly`), `id ${ro.id}`);
    assert.ok(sameId((await locks.managementLocks.getAtResourceLevel(...atStorage(), "readonly")).id, ro.id));
    const err = await assertRestError(resources.resources.beginUpdateByIdAndWait(storageId(), STORAGE_API, { tags: { under: "ReadOnly" } }, lro), 409, "ScopeLocked");
    assert.match(err.message, /cannot perform write operation/);
    assert.equal((await resources.resources.getById(storageId(), STORAGE_API)).tags?.under, "CanNotDelete", "the refused update changed nothing");
    s.ok("resource-lock");
  });

  test("listAtResourceGroupLevel, listAtResourceLevel, listAtSubscriptionLevel (and atScope())", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "resource-lock")) return;
    const names = (items) => items.map((l) => l.name).sort();
    const atGroup = await collect(locks.managementLocks.listAtResourceGroupLevel(rg));
    assert.deepEqual(names(atGroup), ["nodelete", "readonly"], "the group's lists hold the locks at and below it");
    const atGroupScope = await collect(locks.managementLocks.listAtResourceGroupLevel(rg, { filter: "atScope()" }));
    assert.ok(!atGroupScope.some((l) => l.name === "readonly"), "atScope() leaves out the locks below the group");
    assert.ok(atGroupScope.some((l) => l.name === "nodelete"));
    const atResource = await collect(locks.managementLocks.listAtResourceLevel(...atStorage()));
    assert.deepEqual(names(atResource), ["nodelete", "readonly"], "a resource's list holds the locks above it");
    const atSub = await collect(locks.managementLocks.listAtSubscriptionLevel());
    for (const n of ["nodelete", "readonly"]) {
      assert.ok(atSub.some((l) => l.name === n && l.id.toLowerCase().includes(rg.toLowerCase())), `${n} in the subscription's list`);
    }
    const atSubScope = await collect(locks.managementLocks.listAtSubscriptionLevel({ filter: "atScope()" }));
    assert.ok(!atSubScope.some((l) => l.id.toLowerCase().includes(rg.toLowerCase())), "atScope() at the subscription: its own locks only");
  });

  test("deleteAtResourceLevel, deleteAtResourceGroupLevel: the writes go through again", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "resource-lock")) return;
    await locks.managementLocks.deleteAtResourceLevel(...atStorage(), "readonly");
    await resources.resources.beginUpdateByIdAndWait(storageId(), STORAGE_API, { tags: { under: "nothing" } }, lro);
    await locks.managementLocks.deleteAtResourceGroupLevel(rg, "nodelete");
    await assertRestError(locks.managementLocks.getAtResourceGroupLevel(rg, "nodelete"), 404);
    await resources.resourceGroups.beginDeleteAndWait(rg, lro);
    await assertRestError(resources.resourceGroups.get(rg), 404, "ResourceGroupNotFound");
  });
});
