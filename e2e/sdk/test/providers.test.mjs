// Resource providers through @azure/arm-resources: the alias discovery a
// policy author does with `az provider show --namespace
// Microsoft.MachineLearningServices --expand "resourceTypes/aliases"`.

import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { ML, TEST_TIMEOUT, assertRestError, bootstrap, collect, resourcesClient } from "../lib/arm.mjs";

describe("resource providers (@azure/arm-resources)", { timeout: TEST_TIMEOUT * 4 }, () => {
  const client = resourcesClient();

  test("get a served namespace: registered, its types and api-versions, no aliases", { timeout: TEST_TIMEOUT }, async () => {
    const p = await client.providers.get(ML);
    assert.equal(p.namespace, ML);
    assert.equal(p.id, `/subscriptions/${bootstrap().subscriptionId}/providers/${ML}`);
    assert.equal(p.registrationState, "Registered");
    const computes = p.resourceTypes.find((t) => t.resourceType === "workspaces/computes");
    assert.ok(computes, "workspaces/computes is listed");
    assert.ok(computes.apiVersions.includes("2024-04-01"), `api-versions ${computes.apiVersions}`);
    assert.ok(computes.locations.includes("eastus"), "eastus is a location of computes");
    assert.ok(p.resourceTypes.every((t) => (t.aliases ?? []).length === 0), "aliases only with $expand");
  });

  test("get with $expand=resourceTypes/aliases: the aliases the engine uses", { timeout: TEST_TIMEOUT }, async () => {
    const p = await client.providers.get(ML.toLowerCase(), { expand: "resourceTypes/aliases" });
    assert.equal(p.namespace, ML);
    const computes = p.resourceTypes.find((t) => t.resourceType === "workspaces/computes");
    const a = computes.aliases.find((x) => x.name === `${ML}/workspaces/computes/disableLocalAuth`);
    assert.ok(a, "the disableLocalAuth alias of computes is listed");
    assert.equal(a.defaultPath, "properties.disableLocalAuth");
  });

  test("list: served namespaces are registered", { timeout: TEST_TIMEOUT }, async () => {
    const all = await collect(client.providers.list());
    const ml = all.find((p) => p.namespace === ML);
    assert.equal(ml?.registrationState, "Registered");
    assert.ok(all.some((p) => p.namespace === "Microsoft.Storage"), "Microsoft.Storage is listed");
  });

  test("tenant-level get", { timeout: TEST_TIMEOUT }, async () => {
    const p = await client.providers.getAtTenantScope(ML);
    assert.equal(p.namespace, ML);
    assert.equal(p.id, undefined);
  });

  test("an unknown namespace is 404 InvalidResourceNamespace", { timeout: TEST_TIMEOUT }, async () => {
    await assertRestError(client.providers.get("Nope.Nothing"), 404, "InvalidResourceNamespace");
  });
});
