// Azure RBAC through @azure/arm-authorization: the built-in role
// definitions (serve --role-definitions), listed with the SDK's $filter,
// read by scope and GUID and by id; custom roles written, read and
// deleted; role assignments created, read, listed with ARM's filters and
// deleted.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { randomUUID } from "node:crypto";

import {
  ARM_SCOPE,
  TEST_TIMEOUT,
  assertRestError,
  authzClient,
  bootstrap,
  collect,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  uniqueName,
} from "../lib/arm.mjs";

const DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121";

describe("role definitions (@azure/arm-authorization)", { timeout: TEST_TIMEOUT * 4 }, () => {
  const client = authzClient();
  const sub = `subscriptions/${bootstrap().subscriptionId}`;

  test("list with a roleName filter at a subscription", { timeout: TEST_TIMEOUT }, async () => {
    const defs = await collect(client.roleDefinitions.list(sub, { filter: "roleName eq 'AzureML Data Scientist'" }));
    assert.equal(defs.length, 1);
    const d = defs[0];
    assert.equal(d.id, `/${sub}/providers/Microsoft.Authorization/roleDefinitions/${DATA_SCIENTIST}`);
    assert.equal(d.name, DATA_SCIENTIST);
    assert.equal(d.type, "Microsoft.Authorization/roleDefinitions");
    assert.equal(d.roleName, "AzureML Data Scientist");
    assert.equal(d.roleType, "BuiltInRole");
    assert.deepEqual(d.assignableScopes, ["/"]);
    assert.ok(d.permissions[0].notActions.includes("Microsoft.MachineLearningServices/workspaces/computes/*/write"));
  });

  test("list all, get by scope and GUID, getById", { timeout: TEST_TIMEOUT }, async () => {
    const all = await collect(client.roleDefinitions.list(sub));
    assert.ok(all.length >= 30, `${all.length} role definitions`);
    assert.ok(all.some((d) => d.roleName === "Owner") && all.some((d) => d.roleName === "Reader"));
    const got = await client.roleDefinitions.get(sub, DATA_SCIENTIST);
    assert.equal(got.roleName, "AzureML Data Scientist");
    const byId = await client.roleDefinitions.getById(`/providers/Microsoft.Authorization/roleDefinitions/${DATA_SCIENTIST}`);
    assert.equal(byId.id, `/providers/Microsoft.Authorization/roleDefinitions/${DATA_SCIENTIST}`);
    await assertRestError(client.roleDefinitions.get(sub, "00000000-0000-0000-0000-000000000000"), 404, "RoleDefinitionDoesNotExist");
  });

  test("a custom role: created, read, listed, refused while assigned, deleted", { timeout: TEST_TIMEOUT }, async () => {
    const id = randomUUID();
    const name = uniqueName("ML Job Submitter ");
    const created = await client.roleDefinitions.createOrUpdate(sub, id, {
      roleName: name,
      roleType: "CustomRole",
      description: "Submits and reads jobs",
      assignableScopes: [`/${sub}`],
      permissions: [{ actions: ["Microsoft.MachineLearningServices/workspaces/read", "Microsoft.MachineLearningServices/workspaces/jobs/*"] }],
    });
    assert.equal(created.name, id);
    assert.equal(created.roleName, name);
    assert.equal(created.roleType, "CustomRole");
    const got = await client.roleDefinitions.get(sub, id);
    assert.deepEqual(got.permissions[0].actions, ["Microsoft.MachineLearningServices/workspaces/read", "Microsoft.MachineLearningServices/workspaces/jobs/*"]);
    const customs = await collect(client.roleDefinitions.list(sub, { filter: "type eq 'CustomRole'" }));
    assert.ok(customs.some((d) => d.name === id), "the custom role is listed with type eq 'CustomRole'");
    // A role with the same name is refused.
    await assertRestError(
      client.roleDefinitions.createOrUpdate(sub, randomUUID(), { roleName: name, assignableScopes: [`/${sub}`], permissions: [{ actions: ["*/read"] }] }),
      409,
      "RoleDefinitionWithSameNameExists",
    );
    // Assigned, it cannot be deleted; unassigned, it can.
    const oid = await adminObjectID();
    const asName = randomUUID();
    const asg = await client.roleAssignments.create(`/${sub}`, asName, { roleDefinitionId: created.id, principalId: oid, principalType: "ServicePrincipal" });
    await assertRestError(client.roleDefinitions.delete(sub, id), 409, "RoleDefinitionHasAssignments");
    await client.roleAssignments.deleteById(asg.id);
    await client.roleDefinitions.delete(sub, id);
    await assertRestError(client.roleDefinitions.get(sub, id), 404, "RoleDefinitionDoesNotExist");
  });
});

describe("role assignments (@azure/arm-authorization)", { timeout: TEST_TIMEOUT * 4 }, () => {
  const client = authzClient();
  const sub = `/subscriptions/${bootstrap().subscriptionId}`;
  const readerRole = `${sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`;

  test("create, get, getById, listForScope with filters, listForSubscription, delete", { timeout: TEST_TIMEOUT }, async () => {
    const rg = uniqueName("rbac");
    await createResourceGroup(rg);
    try {
      const scope = `${sub}/resourceGroups/${rg}`;
      const oid = await adminObjectID();
      const name = randomUUID();
      const created = await client.roleAssignments.create(scope, name, { roleDefinitionId: readerRole, principalId: oid });
      assert.equal(created.name, name);
      assert.equal(created.scope, scope);
      assert.equal(created.principalType, "ServicePrincipal", "the principal type is the directory's");
      assert.equal(created.roleDefinitionId, readerRole);
      assert.equal(created.createdBy, oid);
      const got = await client.roleAssignments.get(scope, name);
      assert.equal(got.id, created.id);
      const byId = await client.roleAssignments.getById(created.id);
      assert.equal(byId.principalId, oid);
      const atRG = await collect(client.roleAssignments.listForScope(scope));
      assert.ok(atRG.some((a) => a.name === name));
      const mine = await collect(client.roleAssignments.listForScope(scope, { filter: `principalId eq '${oid}'` }));
      assert.ok(mine.every((a) => a.principalId === oid) && mine.some((a) => a.name === name));
      const others = await collect(client.roleAssignments.listForScope(scope, { filter: "principalId eq '00000000-0000-4000-8000-000000000001'" }));
      assert.equal(others.length, 0);
      const atSub = await collect(client.roleAssignments.listForSubscription({ filter: "atScope()" }));
      assert.ok(!atSub.some((a) => a.name === name), "atScope() at the subscription leaves out what is below it");
      const inSub = await collect(client.roleAssignments.listForSubscription());
      assert.ok(inSub.some((a) => a.name === name), "the subscription's list holds what is below it");
      // The same role for the same principal at the same scope twice.
      await assertRestError(client.roleAssignments.create(scope, randomUUID(), { roleDefinitionId: readerRole, principalId: oid }), 409, "RoleAssignmentExists");
      // A condition is refused, not taken as unconditional.
      await assertRestError(
        client.roleAssignments.create(scope, randomUUID(), {
          roleDefinitionId: `${sub}/providers/Microsoft.Authorization/roleDefinitions/${DATA_SCIENTIST}`,
          principalId: oid,
          condition: "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'x'",
          conditionVersion: "2.0",
        }),
        400,
        "ConditionNotSupported",
      );
      // A principal the directory does not have.
      await assertRestError(client.roleAssignments.create(scope, randomUUID(), { roleDefinitionId: readerRole, principalId: randomUUID() }), 400, "PrincipalNotFound");
      // Deny assignments: read-only, and mlgov makes none.
      assert.deepEqual(await collect(client.denyAssignments.listForScope(scope)), []);
      assert.deepEqual(await collect(client.denyAssignments.listForResourceGroup(rg, { filter: "atScope()" })), []);
      await assertRestError(client.denyAssignments.get(scope, randomUUID()), 404, "DenyAssignmentNotFound");
      await client.roleAssignments.delete(scope, name);
      await assertRestError(client.roleAssignments.get(scope, name), 404, "ResourceNotFound");
    } finally {
      await deleteResourceGroupQuietly(rg);
    }
  });
});

// adminObjectID is the object id (oid claim) of the bootstrap
// administrator's token.
async function adminObjectID() {
  const tok = await credential().getToken(ARM_SCOPE);
  return JSON.parse(Buffer.from(tok.token.split(".")[1], "base64url").toString()).oid;
}
