// Every operation group of @azure/arm-machinelearning 2.1.1 that mlgov
// serves, beyond the lifecycles the other files cover: the list actions
// (keys, secrets, tokens, nodes, logs), the location-scoped APIs (usages,
// VM sizes, quotas), the provider's operations, assets and their versions,
// schedules, batch endpoints and deployments, online deployments, private
// link resources and features. e2e/SDK-CONTRACT.md lists, per group, what
// is served and what is not.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  LOCATION,
  ML,
  TEST_TIMEOUT,
  assertRestError,
  collect,
  createResourceGroup,
  deleteResourceGroupQuietly,
  lro,
  mlClient,
  mlId,
  rgId,
  uniqueName,
} from "../lib/arm.mjs";
import { amlComputeParameters, createWorkspace, onlineEndpointParameters } from "../lib/fixtures.mjs";

describe("ML operation groups (@azure/arm-machinelearning)", { timeout: TEST_TIMEOUT * 20 }, () => {
  const client = mlClient();
  const rg = uniqueName("mlgov-e2e-groups-");
  const ws = uniqueName("ws");

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("operations.list names the served types' operations", { timeout: TEST_TIMEOUT }, async () => {
    const ops = await collect(client.operations.list());
    const names = ops.map((o) => o.name);
    for (const want of [`${ML}/workspaces/write`, `${ML}/workspaces/listKeys/action`, `${ML}/locations/updateQuotas/action`]) {
      assert.ok(names.includes(want), `${want} missing from ${names.length} operations`);
    }
    assert.equal(ops[0].display?.provider, "Microsoft Machine Learning Services");
  });

  test("workspaces: listKeys, listStorageAccountKeys, listNotebookKeys, resyncKeys", { timeout: TEST_TIMEOUT }, async () => {
    const keys = await client.workspaces.listKeys(rg, ws);
    assert.ok(keys.userStorageKey, "userStorageKey");
    assert.ok(keys.appInsightsInstrumentationKey, "appInsightsInstrumentationKey (the workspace links Application Insights)");
    assert.equal(keys.userStorageResourceId, `${rgId(rg)}/providers/Microsoft.Storage/storageAccounts/teststorage`);
    const storage = await client.workspaces.listStorageAccountKeys(rg, ws);
    assert.equal(storage.userStorageKey, keys.userStorageKey, "the same storage key from both actions");
    const nb = await client.workspaces.listNotebookKeys(rg, ws);
    assert.deepEqual(nb, keys.notebookAccessKeys);
    await client.workspaces.beginResyncKeysAndWait(rg, ws, lro);
    assert.deepEqual(await client.workspaces.listKeys(rg, ws), keys, "keys after resyncKeys");
    const got = await client.workspaces.get(rg, ws);
    assert.ok(!JSON.stringify(got).includes(keys.userStorageKey), "the workspace GET shows no key");
  });

  test("workspaces: prepareNotebook, listNotebookAccessToken, diagnose, outbound dependencies", { timeout: TEST_TIMEOUT }, async () => {
    const nb = await client.workspaces.beginPrepareNotebookAndWait(rg, ws, lro);
    assert.match(nb.fqdn ?? "", /\.notebooks\.azure\.net$/);
    const tok = await client.workspaces.listNotebookAccessToken(rg, ws);
    assert.equal(tok.hostName, nb.fqdn);
    assert.equal(tok.notebookResourceId, nb.resourceId);
    assert.equal(tok.tokenType, "Bearer");
    assert.ok(tok.accessToken && tok.expiresIn > 0);
    const d = await client.workspaces.beginDiagnoseAndWait(rg, ws, { ...lro, parameters: { value: {} } });
    // The linked storage account, key vault and Application Insights are
    // not resources of this control plane: each is a warning.
    assert.equal(d.value?.storageAccountResults?.length, 1);
    assert.equal(d.value.storageAccountResults[0].level, "Warning");
    assert.deepEqual(d.value.containerRegistryResults, []);
    const out = await client.workspaces.listOutboundNetworkDependenciesEndpoints(rg, ws);
    assert.ok(out.value.some((e) => e.properties?.category === "Azure Storage"));
  });

  test("usages, virtualMachineSizes and quotas (list and update)", { timeout: TEST_TIMEOUT }, async () => {
    const sizes = await client.virtualMachineSizes.list(LOCATION);
    const ds3 = sizes.value.find((s) => s.name === "Standard_DS3_v2");
    assert.equal(ds3?.vCPUs, 4);
    const usages = await collect(client.usages.list(LOCATION));
    assert.ok(usages.some((u) => u.name?.value === "Total Cluster Dedicated Regional vCPUs"));
    const quotaId = `${mlId(rg, "workspaces", ws)}/quotas/Standard_DSv2_Family_Cluster_Dedicated_vCPUs`;
    const res = await client.quotas.update(LOCATION, {
      location: LOCATION,
      value: [{ id: quotaId, type: `${ML}/workspaces/quotas`, limit: 8, unit: "Count" }],
    });
    assert.equal(res.value?.[0]?.status, "Success");
    const quotas = await collect(client.quotas.list(LOCATION));
    assert.equal(quotas.find((q) => q.id === quotaId)?.limit, 8);
  });

  test("computeOperations: listNodes of a cluster, listKeys of an attached VM", { timeout: TEST_TIMEOUT }, async () => {
    await client.computeOperations.beginCreateOrUpdateAndWait(rg, ws, "cluster1", amlComputeParameters(), lro);
    const nodes = await collect(client.computeOperations.listNodes(rg, ws, "cluster1"));
    assert.deepEqual(nodes, [], "an idle cluster has no nodes");
    await client.computeOperations.beginCreateOrUpdateAndWait(rg, ws, "vm1", {
      location: LOCATION,
      properties: {
        computeType: "VirtualMachine",
        resourceId: `${rgId(rg)}/providers/Microsoft.Compute/virtualMachines/vm1`,
        properties: { administratorAccount: { username: "azureuser", password: "e2e-vm-p4ss" } },
      },
    }, lro);
    const secrets = await client.computeOperations.listKeys(rg, ws, "vm1");
    assert.equal(secrets.computeType, "VirtualMachine");
    assert.equal(secrets.administratorAccount?.password, "e2e-vm-p4ss");
    const vm = await client.computeOperations.get(rg, ws, "vm1");
    assert.ok(!JSON.stringify(vm).includes("e2e-vm-p4ss"), "the compute GET shows no password");
    await assertRestError(client.computeOperations.listKeys(rg, ws, "cluster1"), 400, "OperationNotSupported");
  });

  test("datastores: createOrUpdate keeps the secret for listSecrets", { timeout: TEST_TIMEOUT }, async () => {
    const body = {
      properties: {
        datastoreType: "AzureBlob",
        accountName: "teststorage",
        containerName: "data",
        credentials: { credentialsType: "AccountKey", secrets: { secretsType: "AccountKey", key: "e2e-account-key" } },
      },
    };
    const ds = await client.datastores.createOrUpdate(rg, ws, "blob1", body);
    assert.equal(ds.properties.credentials.credentialsType, "AccountKey");
    assert.equal(ds.properties.credentials.secrets, undefined, "the PUT's answer shows no secret");
    const secrets = await client.datastores.listSecrets(rg, ws, "blob1");
    assert.equal(secrets.secretsType, "AccountKey");
    assert.equal(secrets.key, "e2e-account-key");
    assert.equal((await collect(client.datastores.list(rg, ws))).length, 1);
  });

  test("onlineEndpoints listKeys and regenerateKeys; onlineDeployments getLogs and listSkus", { timeout: TEST_TIMEOUT * 2 }, async () => {
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, ws, "ep1", onlineEndpointParameters(), lro);
    const k1 = await client.onlineEndpoints.listKeys(rg, ws, "ep1");
    assert.ok(k1.primaryKey && k1.secondaryKey);
    await client.onlineEndpoints.beginRegenerateKeysAndWait(rg, ws, "ep1", { keyType: "Primary" }, lro);
    const k2 = await client.onlineEndpoints.listKeys(rg, ws, "ep1");
    assert.notEqual(k2.primaryKey, k1.primaryKey, "a new primary key");
    assert.equal(k2.secondaryKey, k1.secondaryKey, "the secondary key kept");
    const dep = await client.onlineDeployments.beginCreateOrUpdateAndWait(rg, ws, "ep1", "blue", {
      location: LOCATION,
      sku: { name: "Default", capacity: 1 },
      properties: { endpointComputeType: "Managed", model: "azureml:fraud:1", instanceType: "Standard_DS3_v2" },
    }, lro);
    assert.equal(dep.properties.provisioningState, "Succeeded");
    const logs = await client.onlineDeployments.getLogs(rg, ws, "ep1", "blue", { containerType: "InferenceServer", tail: 10 });
    assert.match(logs.content ?? "", /deployment blue of endpoint ep1/);
    const skus = await collect(client.onlineDeployments.listSkus(rg, ws, "ep1", "blue"));
    assert.equal(skus[0]?.sku?.name, "Default");
    assert.equal((await collect(client.onlineDeployments.list(rg, ws, "ep1"))).length, 1);
  });

  test("batchEndpoints listKeys; batchDeployments create and list", { timeout: TEST_TIMEOUT * 2 }, async () => {
    const be = await client.batchEndpoints.beginCreateOrUpdateAndWait(rg, ws, "batch1", {
      location: LOCATION,
      properties: { authMode: "AADToken", description: "e2e batch endpoint" },
    }, lro);
    assert.equal(be.properties.provisioningState, "Succeeded");
    const keys = await client.batchEndpoints.listKeys(rg, ws, "batch1");
    assert.ok(keys.primaryKey && keys.secondaryKey);
    const bd = await client.batchDeployments.beginCreateOrUpdateAndWait(rg, ws, "batch1", "d1", {
      location: LOCATION,
      properties: { description: "e2e batch deployment", compute: "cluster1", model: { referenceType: "Id", assetId: "azureml:fraud:1" } },
    }, lro);
    assert.equal(bd.properties.provisioningState, "Succeeded");
    assert.equal((await collect(client.batchDeployments.list(rg, ws, "batch1"))).length, 1);
  });

  test("assets: containers and versions of code, components, data, environments and models", { timeout: TEST_TIMEOUT }, async () => {
    await client.codeContainers.createOrUpdate(rg, ws, "src", { properties: { description: "code" } });
    await client.codeVersions.createOrUpdate(rg, ws, "src", "1", { properties: { codeUri: "https://teststorage.blob.core.windows.net/code/src" } });
    await client.componentContainers.createOrUpdate(rg, ws, "train", { properties: {} });
    await client.componentVersions.createOrUpdate(rg, ws, "train", "1", { properties: { componentSpec: { name: "train", type: "command" } } });
    await client.dataContainers.createOrUpdate(rg, ws, "raw", { properties: { dataType: "uri_folder" } });
    await client.dataVersions.createOrUpdate(rg, ws, "raw", "1", { properties: { dataType: "uri_folder", dataUri: "azureml://datastores/blob1/paths/raw/" } });
    await client.environmentContainers.createOrUpdate(rg, ws, "sklearn", { properties: {} });
    const env = await client.environmentVersions.createOrUpdate(rg, ws, "sklearn", "1", { properties: { image: "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04" } });
    assert.equal(env.properties.environmentType, "UserCreated");
    await client.modelContainers.createOrUpdate(rg, ws, "fraud", { properties: { description: "fraud model" } });
    const mv = await client.modelVersions.createOrUpdate(rg, ws, "fraud", "1", { properties: { modelUri: "azureml://datastores/blob1/paths/model/", modelType: "mlflow_model" } });
    assert.equal(mv.id, mlId(rg, "workspaces", ws, "models", "fraud", "versions", "1"));
    await assertRestError(
      client.modelVersions.createOrUpdate(rg, ws, "fraud", "1", { properties: { modelUri: "azureml://datastores/blob1/paths/other/" } }),
      409, "Conflict");
    assert.equal((await collect(client.modelVersions.list(rg, ws, "fraud"))).length, 1);
    assert.equal((await collect(client.codeContainers.list(rg, ws))).length, 1);
    await client.modelVersions.delete(rg, ws, "fraud", "1");
    await assertRestError(client.modelVersions.get(rg, ws, "fraud", "1"), 404, "ResourceNotFound");
  });

  test("schedules, privateLinkResources, workspaceFeatures, privateEndpointConnections", { timeout: TEST_TIMEOUT }, async () => {
    const sch = await client.schedules.beginCreateOrUpdateAndWait(rg, ws, "nightly", {
      properties: {
        displayName: "nightly training",
        action: {
          actionType: "CreateJob",
          jobDefinition: { jobType: "Command", command: "python train.py", environmentId: "azureml:sklearn:1" },
        },
        trigger: { triggerType: "Cron", expression: "0 2 * * *" },
      },
    }, lro);
    assert.equal(sch.properties.isEnabled, true);
    assert.equal((await collect(client.schedules.list(rg, ws))).length, 1);
    const pl = await client.privateLinkResources.list(rg, ws);
    assert.equal(pl.value?.[0]?.groupId, "amlworkspace");
    assert.deepEqual(await collect(client.workspaceFeatures.list(rg, ws)), []);
    assert.deepEqual(await collect(client.privateEndpointConnections.list(rg, ws)), []);
  });
});
