// Shared setup for the SDK compatibility tests: reads the bootstrap file that
// `mlgov serve` writes, builds the credential and the unmodified Azure SDK
// clients pointed at the server, and holds small assertion helpers.
//
// Environment:
//   MLGOV_BOOTSTRAP      path of DIR/bootstrap.json (required)
//   NODE_EXTRA_CA_CERTS  the bootstrap's caCertFile; must be set before node
//                        starts (the Go runner e2e/sdk_test.go does this)
//   MLGOV_E2E_POLL_MS    LRO polling interval in ms (default 100)

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

import { ClientSecretCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { AzureMachineLearningWorkspaces } from "@azure/arm-machinelearning";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { PolicyClient } from "@azure/arm-policy";
import { ManagementGroupsAPI } from "@azure/arm-managementgroups";
import { SubscriptionClient as ResourceSubscriptionClient } from "@azure/arm-resources-subscriptions";
import { SubscriptionClient as SubscriptionAliasClient } from "@azure/arm-subscriptions";
import { PolicyInsightsClient } from "@azure/arm-policyinsights";
import { SecurityCenter } from "@azure/arm-security";
import { Client as GraphClient } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

export const ARM_SCOPE = "https://management.azure.com/.default";
export const LOCATION = "eastus";
export const ML = "Microsoft.MachineLearningServices";

const BOOTSTRAP_FIELDS = [
  "tenantId",
  "subscriptionId",
  "clientId",
  "clientSecret",
  "endpoint",
  "authorityHost",
  "caCertFile",
];

let cachedBootstrap;

/** Reads and checks the bootstrap file named by MLGOV_BOOTSTRAP. */
export function bootstrap() {
  if (cachedBootstrap) return cachedBootstrap;
  const path = process.env.MLGOV_BOOTSTRAP;
  if (!path) {
    throw new Error(
      "MLGOV_BOOTSTRAP is not set: point it at the bootstrap.json written by `mlgov serve --data DIR` " +
        "(and set NODE_EXTRA_CA_CERTS to its caCertFile before starting node)",
    );
  }
  const b = JSON.parse(readFileSync(path, "utf8"));
  for (const f of BOOTSTRAP_FIELDS) {
    if (typeof b[f] !== "string" || b[f] === "") {
      throw new Error(`${path}: field ${f} is missing or not a non-empty string`);
    }
  }
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    // Node reads NODE_EXTRA_CA_CERTS only at start-up, so setting it here is too late.
    console.warn(
      `warning: NODE_EXTRA_CA_CERTS is not set; TLS to ${b.endpoint} will fail unless ${b.caCertFile} is trusted otherwise`,
    );
  }
  cachedBootstrap = b;
  return b;
}

/** The credential exactly as an SDK user would build it for mlgov. */
export function credential(secret) {
  const b = bootstrap();
  return new ClientSecretCredential(b.tenantId, b.clientId, secret ?? b.clientSecret, {
    authorityHost: b.authorityHost,
    disableInstanceDiscovery: true,
  });
}

/** @azure/arm-resources (modular client: `endpoint` + `credentials.scopes`). */
export function resourcesClient(cred = credential(), subscriptionId = bootstrap().subscriptionId) {
  const b = bootstrap();
  return new ResourceManagementClient(cred, subscriptionId, {
    endpoint: b.endpoint,
    credentials: { scopes: [ARM_SCOPE] },
  });
}

/** @azure/arm-machinelearning (autorest client: `endpoint`/`baseUri` + `credentialScopes`). */
export function mlClient(cred = credential(), subscriptionId = bootstrap().subscriptionId) {
  const b = bootstrap();
  return new AzureMachineLearningWorkspaces(cred, subscriptionId, {
    endpoint: b.endpoint,
    baseUri: b.endpoint,
    credentialScopes: [ARM_SCOPE],
  });
}

/** @azure/arm-authorization (autorest client, like arm-machinelearning). */
export function authzClient(cred = credential()) {
  const b = bootstrap();
  return new AuthorizationManagementClient(cred, b.subscriptionId, {
    endpoint: b.endpoint,
    baseUri: b.endpoint,
    credentialScopes: [ARM_SCOPE],
  });
}

/** @azure/arm-policy (modular client, like arm-resources). */
export function policyClient(cred = credential(), subscriptionId = bootstrap().subscriptionId) {
  const b = bootstrap();
  return new PolicyClient(cred, subscriptionId, { endpoint: b.endpoint, credentials: { scopes: [ARM_SCOPE] } });
}

/** @azure/arm-policyinsights (autorest client, like arm-machinelearning). */
export function insightsClient(cred = credential()) {
  const b = bootstrap();
  return new PolicyInsightsClient(cred, b.subscriptionId, { endpoint: b.endpoint, baseUri: b.endpoint, credentialScopes: [ARM_SCOPE] });
}

/** @azure/arm-security (autorest client, like arm-machinelearning). */
export function securityClient(cred = credential()) {
  const b = bootstrap();
  return new SecurityCenter(cred, b.subscriptionId, { endpoint: b.endpoint, baseUri: b.endpoint, credentialScopes: [ARM_SCOPE] });
}

/** @azure/arm-managementgroups (autorest client; no subscription). */
export function managementGroupsClient(cred = credential()) {
  return new ManagementGroupsAPI(cred, { endpoint: bootstrap().endpoint, credentialScopes: [ARM_SCOPE] });
}

/** @azure/arm-resources-subscriptions: subscriptions and tenants. */
export function subscriptionsClient(cred = credential()) {
  return new ResourceSubscriptionClient(cred, { endpoint: bootstrap().endpoint, credentialScopes: [ARM_SCOPE] });
}

/** @azure/arm-subscriptions: subscription aliases. */
export function aliasClient(cred = credential()) {
  return new SubscriptionAliasClient(cred, { endpoint: bootstrap().endpoint, credentialScopes: [ARM_SCOPE] });
}

/** Polls fn every 100 ms until it returns a truthy value (returned), failing after ms. */
export async function eventually(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** @microsoft/microsoft-graph-client as a user builds it for a Graph API at a custom host. */
export function graphClient(cred = credential()) {
  const b = bootstrap();
  return GraphClient.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: ["https://graph.microsoft.com/.default"] }),
    baseUrl: `${b.endpoint}/`,
    customHosts: new Set([new URL(b.endpoint).hostname]),
  });
}

/** Options for every begin*AndWait call: poll fast. */
export const lro = Object.freeze({
  updateIntervalInMs: Number(process.env.MLGOV_E2E_POLL_MS ?? 100),
});

/** A name unique to this run, so repeated runs against one server do not collide. */
export function uniqueName(prefix) {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

export function rgId(rg) {
  return `/subscriptions/${bootstrap().subscriptionId}/resourceGroups/${rg}`;
}

export function mlId(rg, ...typeNamePairs) {
  return `${rgId(rg)}/providers/${ML}/${typeNamePairs.join("/")}`;
}

/** A user-assigned identity ARM id in the same resource group (shaped after arm-examples/Workspace/create.json). */
export function uaiId(rg, name) {
  return `${rgId(rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
}

/** Collects an SDK paged iterator into an array. */
export async function collect(iter) {
  const out = [];
  for await (const item of iter) out.push(item);
  return out;
}

/** Asserts that a value is a valid Date (the SDKs deserialize date-time fields into Date). */
export function assertDate(value, what) {
  assert.ok(value instanceof Date, `${what} should deserialize to a Date, got ${value}`);
  assert.ok(!Number.isNaN(value.getTime()), `${what} is not a valid date-time`);
}

/** Asserts ARM systemData as written by a service-principal caller. */
export function assertSystemData(sd, what) {
  assert.ok(sd, `${what}: systemData is missing`);
  assertDate(sd.createdAt, `${what}: systemData.createdAt`);
  assertDate(sd.lastModifiedAt, `${what}: systemData.lastModifiedAt`);
  assert.equal(sd.createdByType, "Application", `${what}: systemData.createdByType for a client-secret service principal`);
  assert.equal(sd.lastModifiedByType, "Application", `${what}: systemData.lastModifiedByType`);
  assert.ok(sd.createdBy, `${what}: systemData.createdBy is empty`);
}

/** Case-insensitive ARM id comparison (ARM matches ids case-insensitively). */
export function sameId(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

/** Looks up a key of a map keyed by ARM ids, case-insensitively. */
export function getById(map, id) {
  if (!map) return undefined;
  const key = Object.keys(map).find((k) => sameId(k, id));
  return key === undefined ? undefined : map[key];
}

/**
 * Awaits a promise that must reject with the SDK's RestError carrying the
 * given HTTP status and (when given) ARM error code.
 */
export async function assertRestError(promise, statusCode, code) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a RestError with status ${statusCode}, but the call succeeded`);
  assert.equal(err.name, "RestError", `expected a RestError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.statusCode, statusCode, `status of ${err.message}`);
  assert.ok(typeof err.code === "string" && err.code !== "", `RestError.code is empty (message: ${err.message})`);
  if (code !== undefined) assert.equal(err.code, code, `code of ${err.message}`);
  assert.ok(err.message && !err.message.startsWith("{"), `RestError.message should be the ARM error message, got ${err.message}`);
  return err;
}

/**
 * Tracks whether the steps of a sequential scenario succeeded, so that a step
 * whose prerequisite failed is skipped instead of failing with a confusing
 * follow-on error.
 */
export function scenario() {
  const done = new Set();
  return {
    /** Marks a step done. */
    ok(step) {
      done.add(step);
    },
    /** Skips the current test unless every named step is done. */
    requires(t, ...steps) {
      const missing = steps.filter((s) => !done.has(s));
      if (missing.length > 0) {
        t.skip(`prerequisite failed: ${missing.join(", ")}`);
        return false;
      }
      return true;
    },
  };
}

/** Creates a resource group for a test file (plain PUT, as ARM resource groups are synchronous). */
export async function createResourceGroup(name, tags = { purpose: "mlgov-e2e" }) {
  const rg = await resourcesClient().resourceGroups.createOrUpdate(name, { location: LOCATION, tags });
  assert.equal(rg.name, name);
  return rg;
}

/** Best-effort clean-up of a resource group at the end of a test file. */
export async function deleteResourceGroupQuietly(name) {
  try {
    await resourcesClient().resourceGroups.beginDeleteAndWait(name, lro);
  } catch (e) {
    if (e?.statusCode !== 404) console.warn(`clean-up of resource group ${name} failed: ${e?.message ?? e}`);
  }
}

/** Per-test timeout (ms): a poller that never reaches a terminal state fails instead of hanging. */
export const TEST_TIMEOUT = Number(process.env.MLGOV_E2E_TEST_TIMEOUT_MS ?? 60_000);
