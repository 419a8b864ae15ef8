// Command jobs through @azure/arm-machinelearning: create (plain PUT), get,
// list, cancel (long-running POST), delete (long-running DELETE).

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";

import {
  ML,
  TEST_TIMEOUT,
  assertRestError,
  assertSystemData,
  collect,
  createResourceGroup,
  deleteResourceGroupQuietly,
  lro,
  mlClient,
  mlId,
  sameId,
  scenario,
  uniqueName,
} from "../lib/arm.mjs";
import { amlComputeParameters, commandJobParameters, createWorkspace } from "../lib/fixtures.mjs";

// Job states (JobStatus) in which a job has not finished.
const ACTIVE = ["NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing", "NotResponding", "Paused", "Unknown"];

function assertJob(j, rg, ws, name, computeId, what) {
  assert.ok(j, `${what}: no job returned`);
  assert.equal(j.id, mlId(rg, "workspaces", ws, "jobs", name), `${what}: id`);
  assert.equal(j.name, name, `${what}: name`);
  assert.equal(j.type, `${ML}/workspaces/jobs`, `${what}: type`);
  assert.equal(j.properties?.jobType, "Command", `${what}: properties.jobType`);
  assert.equal(j.properties.command, "python train.py --epochs 1", `${what}: properties.command`);
  assert.equal(j.properties.environmentId, "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:1", `${what}: properties.environmentId`);
  assert.ok(sameId(j.properties.computeId, computeId), `${what}: properties.computeId`);
  assert.equal(j.properties.experimentName, "mlgov-e2e", `${what}: properties.experimentName`);
  assert.equal(j.properties.displayName, "e2e-train", `${what}: properties.displayName`);
  assert.deepEqual(j.properties.tags, { kind: "job" }, `${what}: properties.tags`);
  assert.equal(typeof j.properties.status, "string", `${what}: properties.status is missing`);
  assertSystemData(j.systemData, what);
}

describe("command jobs (@azure/arm-machinelearning)", { timeout: TEST_TIMEOUT * 10 }, () => {
  const client = mlClient();
  const rg = uniqueName("mlgov-e2e-job-");
  const ws = uniqueName("ws");
  const cluster = uniqueName("cpu");
  const job = uniqueName("job-");
  const computeId = mlId(rg, "workspaces", ws, "computes", cluster);
  const s = scenario();

  before(async () => {
    await createResourceGroup(rg);
    await createWorkspace(rg, ws);
    const c = await client.computeOperations.beginCreateOrUpdateAndWait(rg, ws, cluster, amlComputeParameters(), lro);
    assert.equal(c?.properties?.provisioningState, "Succeeded", "job's compute cluster");
  });
  after(() => deleteResourceGroupQuietly(rg));

  test("create (createOrUpdate, synchronous PUT)", { timeout: TEST_TIMEOUT }, async () => {
    const j = await client.jobs.createOrUpdate(rg, ws, job, commandJobParameters(computeId));
    assertJob(j, rg, ws, job, computeId, "create");
    assert.ok(ACTIVE.includes(j.properties.status), `a new job should be active, status is ${j.properties.status}`);
    assert.deepEqual(j.properties.environmentVariables, { MLGOV_E2E: "1" });
    assert.equal(j.properties.inputs?.epochs?.jobInputType, "literal");
    assert.equal(j.properties.limits?.timeout, "PT30M");
    s.ok("create");
  });

  test("get", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const j = await client.jobs.get(rg, ws, job);
    assertJob(j, rg, ws, job, computeId, "get");
    assert.equal(j.properties.description, "e2e command job");
    assert.deepEqual(j.properties.properties, { origin: "e2e" });
  });

  test("list contains the job", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    const all = await collect(client.jobs.list(rg, ws));
    const mine = all.find((j) => j.name === job);
    assert.ok(mine, `list lacks ${job}; got [${all.map((j) => j.name).join(", ")}]`);
    assert.equal(mine.properties?.jobType, "Command");
  });

  test("cancel (beginCancelAndWait) then status is Canceled", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    await client.jobs.beginCancelAndWait(rg, ws, job, lro);
    const j = await client.jobs.get(rg, ws, job);
    assert.equal(j.properties?.status, "Canceled");
  });

  test("delete (beginDeleteAndWait) then get is 404 and the list no longer has it", { timeout: TEST_TIMEOUT }, async (t) => {
    if (!s.requires(t, "create")) return;
    await client.jobs.beginDeleteAndWait(rg, ws, job, lro);
    await assertRestError(client.jobs.get(rg, ws, job), 404, "ResourceNotFound");
    const all = await collect(client.jobs.list(rg, ws));
    assert.ok(!all.some((j) => j.name === job), "deleted job is still listed");
  });
});
