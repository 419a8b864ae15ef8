// Role definitions through @azure/arm-authorization: the built-ins mlgov
// serves read-only (serve --role-definitions), listed with the SDK's
// $filter, read by scope and GUID and by id; a custom role write is
// refused until role assignments are served (issue 12).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthorizationManagementClient } from "@azure/arm-authorization";

import { ARM_SCOPE, TEST_TIMEOUT, assertRestError, bootstrap, collect, credential } from "../lib/arm.mjs";

const DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121";

function authzClient() {
  const b = bootstrap();
  return new AuthorizationManagementClient(credential(), b.subscriptionId, {
    endpoint: b.endpoint,
    baseUri: b.endpoint,
    credentialScopes: [ARM_SCOPE],
  });
}

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

  test("a custom role write is refused, not stored", { timeout: TEST_TIMEOUT }, async () => {
    const id = "5c2f6c1e-1f0a-4d5e-9f3b-2a7b8c9d0e1f";
    await assertRestError(
      client.roleDefinitions.createOrUpdate(sub, id, {
        roleName: "ML Job Submitter",
        roleType: "CustomRole",
        assignableScopes: [`/${sub}`],
        permissions: [{ actions: ["Microsoft.MachineLearningServices/workspaces/jobs/*"] }],
      }),
      405,
      "MethodNotAllowed",
    );
    await assertRestError(client.roleDefinitions.get(sub, id), 404, "RoleDefinitionDoesNotExist");
  });
});
