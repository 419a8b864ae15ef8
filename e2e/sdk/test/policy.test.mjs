// Governance through @azure/arm-policy 7.x and @azure/arm-machinelearning:
// built-in and custom definitions assigned at a resource group (other test
// files run at the same time in the same subscription), enforced on the
// writes that follow. Needs the Machine Learning built-ins loaded by the
// server (the Go runner passes --policy-definitions when ../shared is there).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  ARM_SCOPE,
  LOCATION,
  TEST_TIMEOUT,
  assertRestError,
  bootstrap,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  lro,
  mlClient,
  policyClient,
  rgId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { amlComputeParameters, createWorkspace } from "../lib/fixtures.mjs";

// The built-ins of the seed document (policy-language.md §20).
const LOCAL_AUTH = "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f"; // Computes should have local authentication methods disabled
const PNA_MODIFY = "a10ee784-7409-4941-b091-663697637c0f"; // Configure workspaces to disable public network access
const builtinId = (name) => `/providers/Microsoft.Authorization/policyDefinitions/${name}`;

/** The PolicyViolation infos of a RequestDisallowedByPolicy RestError. */
function violations(err) {
  const body = JSON.parse(err.response?.bodyAsText ?? "{}");
  const infos = (body.error?.additionalInfo ?? []).filter((i) => i.type === "PolicyViolation").map((i) => i.info);
  assert.ok(infos.length > 0, `no PolicyViolation in ${err.response?.bodyAsText}`);
  return infos;
}

describe("policy (@azure/arm-policy)", { timeout: TEST_TIMEOUT * 20 }, () => {
  const policy = policyClient();
  const ml = mlClient();
  const rg = uniqueName("mlgov-e2e-policy-");
  const ws = uniqueName("ws");
  const suffix = uniqueName("");
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
  });
  after(async () => {
    for await (const a of policy.policyAssignments.listForResourceGroup(rg)) {
      await policy.policyAssignments.delete(rgId(rg), a.name).catch(() => {});
    }
    for (const n of [`deny-spark-${suffix}`, `deny-public-ip-${suffix}`]) {
      await policy.policyDefinitions.delete(n).catch(() => {});
    }
    await deleteResourceGroupQuietly(rg);
  });

  test("built-in: getBuiltIn", { timeout: TEST_TIMEOUT }, async () => {
    const d = await policy.policyDefinitions.getBuiltIn(LOCAL_AUTH);
    assert.equal(d.name, LOCAL_AUTH);
    assert.equal(d.policyType, "BuiltIn");
    assert.match(d.displayName, /local authentication/i);
    s.ok("builtins");
  });

  test("Deny: a compute with local auth (SSH) is refused, naming the assignment and definition", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "builtins")) return;
    const a = await policy.policyAssignments.create(rgId(rg), "no-local-auth", {
      displayName: "Computes without local auth",
      policyDefinitionId: builtinId(LOCAL_AUTH),
      parameters: { effect: { value: "Deny" } },
    });
    assert.ok(sameId(a.scope, rgId(rg)), `scope ${a.scope}`);
    assert.equal(a.enforcementMode, "Default");
    const params = amlComputeParameters();
    params.properties.disableLocalAuth = false;
    const err = await assertRestError(
      ml.computeOperations.beginCreateOrUpdateAndWait(rg, ws, "sshcluster", params, lro),
      403,
      "RequestDisallowedByPolicy",
    );
    const [v] = violations(err);
    assert.ok(sameId(v.policyAssignmentId, a.id), `policyAssignmentId ${v.policyAssignmentId}`);
    assert.equal(v.policyDefinitionId, builtinId(LOCAL_AUTH));
    assert.equal(v.policyDefinitionEffect, "Deny");
    assert.ok(v.evaluationDetails.evaluatedExpressions.length > 0, "evaluated expressions");
    // Compliant: local auth disabled.
    const ok = await ml.computeOperations.beginCreateOrUpdateAndWait(rg, ws, "aadcluster", amlComputeParameters(), lro);
    assert.equal(ok.properties.disableLocalAuth, true);
    // The update of an assignment answers 201 too (all the SDK accepts).
    await policy.policyAssignments.create(rgId(rg), "no-local-auth", {
      policyDefinitionId: builtinId(LOCAL_AUTH),
      parameters: { effect: { value: "Audit" } },
    });
    s.ok("deny");
  });

  test("Modify (with identity): a new workspace is stored with publicNetworkAccess Disabled", { timeout: TEST_TIMEOUT * 4 }, async (t) => {
    if (!s.requires(t, "builtins")) return;
    const a = await policy.policyAssignments.create(rgId(rg), "pna-modify", {
      location: LOCATION,
      identity: { type: "SystemAssigned" },
      policyDefinitionId: builtinId(PNA_MODIFY),
    });
    assert.equal(a.identity?.type, "SystemAssigned");
    assert.ok(a.identity.principalId, "the assignment's identity has a principal");
    const name = uniqueName("wsm");
    const w = await ml.workspaces.beginCreateOrUpdateAndWait(rg, name, { location: LOCATION, publicNetworkAccess: "Enabled" }, lro);
    assert.equal(w.publicNetworkAccess, "Disabled");
    const g = await ml.workspaces.get(rg, name);
    assert.equal(g.publicNetworkAccess, "Disabled");
  });

  test("the seed's custom definitions: deny Spark jobs, deny computes with a public IP", { timeout: TEST_TIMEOUT * 2 }, async (t) => {
    const spark = await policy.policyDefinitions.createOrUpdate(`deny-spark-${suffix}`, {
      displayName: "Deny serverless Spark compute jobs",
      mode: "All",
      policyRule: {
        if: { allOf: [{ field: "Microsoft.MachineLearningServices/workspaces/jobs/jobType", in: ["Spark"] }] },
        then: { effect: "Deny" },
      },
    });
    assert.equal(spark.policyType, "Custom");
    const pip = await policy.policyDefinitions.createOrUpdate(`deny-public-ip-${suffix}`, {
      displayName: "Deny compute instance and compute cluster creation with public IP",
      mode: "All",
      parameters: { effectType: { type: "String", defaultValue: "Deny", allowedValues: ["Deny", "Disabled"] } },
      policyRule: {
        if: {
          allOf: [
            { field: "type", equals: "Microsoft.MachineLearningServices/workspaces/computes" },
            { field: "Microsoft.MachineLearningServices/workspaces/computes/computeType", notEquals: "AKS" },
            { field: "Microsoft.MachineLearningServices/workspaces/computes/enableNodePublicIP", equals: true },
          ],
        },
        then: { effect: "[parameters('effectType')]" },
      },
    });
    // The subscription's list holds the built-ins and its own, as Azure's
    // does; the policyType filter narrows it to its own.
    const listed = [];
    for await (const d of policy.policyDefinitions.list()) listed.push(d);
    assert.ok(listed.some((d) => d.name === LOCAL_AUTH && d.policyType === "BuiltIn"), "the built-in is listed");
    assert.ok(listed.some((d) => d.id.toLowerCase() === spark.id.toLowerCase()), "the custom definition is listed");
    const customs = [];
    for await (const d of policy.policyDefinitions.list({ filter: "policyType eq 'Custom'" })) customs.push(d);
    assert.ok(customs.length >= 2 && customs.every((d) => d.policyType === "Custom"), `customs only: ${customs.map((d) => d.name)}`);
    await policy.policyAssignments.create(rgId(rg), "no-spark", { policyDefinitionId: spark.id });
    await policy.policyAssignments.create(rgId(rg), "no-public-ip", {
      policyDefinitionId: pip.id,
      nonComplianceMessages: [{ message: "Computes must not have public IPs." }],
    });
    const err = await assertRestError(
      ml.computeOperations.beginCreateOrUpdateAndWait(rg, ws, "pubcluster", amlComputeParameters(), lro),
      403,
      "RequestDisallowedByPolicy",
    );
    assert.match(err.message, /Computes must not have public IPs/);
    assert.ok(sameId(violations(err)[0].policyDefinitionId, pip.id));
    const job = {
      properties: {
        jobType: "Spark",
        codeId: "azureml://registries/x/codes/y/versions/1",
        entry: { spark_job_entry_type: "SparkJobPythonEntry", file: "main.py" },
        resources: { instanceType: "standard_e4s_v3", runtimeVersion: "3.3" },
      },
    };
    const jerr = await assertRestError(ml.jobs.createOrUpdate(rg, ws, uniqueName("spark"), job), 403, "RequestDisallowedByPolicy");
    assert.ok(sameId(violations(jerr)[0].policyDefinitionId, spark.id));
    const names = [];
    for await (const a of policy.policyAssignments.listForResourceGroup(rg)) names.push(a.name);
    for (const n of ["no-spark", "no-public-ip"]) assert.ok(names.includes(n), `listForResourceGroup: ${names}`);
  });
});
