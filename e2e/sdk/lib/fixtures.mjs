// Request bodies (in the SDK models of @azure/arm-machinelearning 2.1.1, whose
// workspace model is flattened: `friendlyName`, `encryption`, ... sit beside
// `location` and are sent inside `properties`) and set-up helpers shared by
// the test files.

import assert from "node:assert/strict";

import { LOCATION, lro, mlClient, mlId, resourcesClient, rgId, uaiId } from "./arm.mjs";

const KEYVAULT_API = "2023-07-01";

/**
 * The key vault and the key a customer-managed-key workspace names (mlgov holds
 * the key: it must exist before the workspace), through @azure/arm-resources'
 * generic calls. Returns the key's keyUriWithVersion.
 */
export async function createWorkspaceKey(rg, tenantId, vault = "testkv", key = "testkey") {
  const resources = resourcesClient();
  const vaultId = `${rgId(rg)}/providers/Microsoft.KeyVault/vaults/${vault}`;
  await resources.resources.beginCreateOrUpdateByIdAndWait(vaultId, KEYVAULT_API,
    { location: LOCATION, properties: { tenantId, sku: { family: "A", name: "standard" } } }, lro);
  const k = await resources.resources.beginCreateOrUpdateByIdAndWait(`${vaultId}/keys/${key}`, KEYVAULT_API,
    { properties: { kty: "RSA", keySize: 2048, keyOps: ["wrapKey", "unwrapKey"] } }, lro);
  assert.ok(k.properties?.keyUriWithVersion?.startsWith(`https://${vault}.vault.azure.net/keys/${key}/`), JSON.stringify(k.properties));
  return k.properties.keyUriWithVersion;
}

/**
 * Workspace create parameters after arm-examples/Workspace/create.json (identity + CMK
 * encryption with the key of createWorkspaceKey).
 */
export function workspaceParameters(rg, uai = uaiId(rg, "testuai"), keyIdentifier = "https://testkv.vault.azure.net/keys/testkey") {
  const provider = (ns, type, name) => `${rgId(rg)}/providers/${ns}/${type}/${name}`;
  const keyVault = provider("Microsoft.KeyVault", "vaults", "testkv");
  return {
    location: LOCATION,
    tags: { env: "e2e", team: "ml" },
    identity: {
      type: "SystemAssigned,UserAssigned",
      userAssignedIdentities: { [uai]: {} },
    },
    friendlyName: "HelloName",
    description: "test description",
    containerRegistry: provider("Microsoft.ContainerRegistry", "registries", "testRegistry"),
    keyVault,
    applicationInsights: provider("microsoft.insights", "components", "testinsights"),
    storageAccount: provider("Microsoft.Storage", "storageAccounts", "testStorageAccount"),
    encryption: {
      status: "Enabled",
      identity: { userAssignedIdentity: uai },
      keyVaultProperties: {
        keyVaultArmId: keyVault,
        keyIdentifier,
        identityClientId: "",
      },
    },
    hbiWorkspace: false,
    primaryUserAssignedIdentity: uai,
  };
}

/** A minimal system-assigned workspace, for files that only need a parent. */
export function simpleWorkspaceParameters(rg) {
  const provider = (ns, type, name) => `${rgId(rg)}/providers/${ns}/${type}/${name}`;
  return {
    location: LOCATION,
    identity: { type: "SystemAssigned" },
    friendlyName: "e2e parent workspace",
    keyVault: provider("Microsoft.KeyVault", "vaults", "testkv"),
    storageAccount: provider("Microsoft.Storage", "storageAccounts", "teststorage"),
    applicationInsights: provider("microsoft.insights", "components", "testinsights"),
  };
}

/** Creates a parent workspace and checks it is usable. */
export async function createWorkspace(rg, name) {
  const ws = await mlClient().workspaces.beginCreateOrUpdateAndWait(rg, name, simpleWorkspaceParameters(rg), lro);
  assert.equal(ws?.id, mlId(rg, "workspaces", name), "parent workspace id");
  assert.equal(ws.provisioningState, "Succeeded", "parent workspace provisioningState");
  return ws;
}

/** Compute instance after arm-examples/Compute/createOrUpdate/ComputeInstanceMinimal.json. */
export function computeInstanceParameters() {
  return {
    location: LOCATION,
    tags: { kind: "ci" },
    properties: {
      computeType: "ComputeInstance",
      description: "e2e compute instance",
      disableLocalAuth: true,
      properties: {
        vmSize: "STANDARD_DS3_V2",
        applicationSharingPolicy: "Personal",
        sshSettings: { sshPublicAccess: "Disabled" },
      },
    },
  };
}

/** AmlCompute cluster after arm-examples/Compute/createOrUpdate/BasicAmlCompute.json. */
export function amlComputeParameters() {
  return {
    location: LOCATION,
    tags: { kind: "cluster" },
    properties: {
      computeType: "AmlCompute",
      description: "e2e cluster",
      disableLocalAuth: true,
      properties: {
        vmSize: "STANDARD_NC6",
        vmPriority: "Dedicated",
        osType: "Linux",
        isolatedNetwork: false,
        scaleSettings: { maxNodeCount: 1, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: "PT5M" },
        remoteLoginPortPublicAccess: "NotSpecified",
        enableNodePublicIp: true,
      },
    },
  };
}

/** Command job after arm-examples/Job/CommandJob/createOrUpdate.json, reduced to what a real job needs. */
export function commandJobParameters(computeId) {
  return {
    properties: {
      jobType: "Command",
      description: "e2e command job",
      displayName: "e2e-train",
      experimentName: "mlgov-e2e",
      command: "python train.py --epochs 1",
      environmentId: "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:1",
      computeId,
      environmentVariables: { MLGOV_E2E: "1" },
      inputs: {
        epochs: { jobInputType: "literal", value: "1", description: "number of epochs" },
      },
      limits: { jobLimitsType: "Command", timeout: "PT30M" },
      properties: { origin: "e2e" },
      tags: { kind: "job" },
    },
  };
}

/** Online endpoint after arm-examples/Workspace/OnlineEndpoint/createOrUpdate.json. */
export function onlineEndpointParameters() {
  return {
    location: LOCATION,
    kind: "Managed",
    tags: { kind: "endpoint" },
    identity: { type: "SystemAssigned" },
    properties: {
      authMode: "Key",
      description: "e2e online endpoint",
      properties: { origin: "e2e" },
      traffic: {},
    },
  };
}
