// Access control end to end, with the official clients only: the
// administrator builds a team in the directory with
// @microsoft/microsoft-graph-client (a group; an application, its secret
// and its service principal; the principal in the group), gives the
// group AzureML Data Scientist on one workspace with
// @azure/arm-authorization; the principal signs in with @azure/identity
// and, through @azure/arm-machinelearning and @azure/arm-resources,
// submits a job, is refused a compute (AuthorizationFailed) and sees
// neither the other resource group nor its workspace in lists.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";

import { ClientSecretCredential } from "@azure/identity";
import { ManagedServiceIdentityClient } from "@azure/arm-msi";

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
  graphClient,
  lro,
  mlClient,
  mlId,
  resourcesClient,
  uniqueName,
} from "../lib/arm.mjs";
import { amlComputeParameters, commandJobParameters, createWorkspace } from "../lib/fixtures.mjs";

const DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121";


describe("a team's access, built with Graph and Azure RBAC", { timeout: TEST_TIMEOUT * 6 }, () => {
  const b = bootstrap();
  const graph = graphClient(credential());
  const authz = authzClient();
  const rgTeam = uniqueName("team");
  const rgOther = uniqueName("other");
  const made = { group: null, app: null };

  after(async () => {
    if (made.app) await graph.api(`/applications/${made.app}`).delete().catch(() => {});
    if (made.group) await graph.api(`/groups/${made.group}`).delete().catch(() => {});
    await deleteResourceGroupQuietly(rgTeam);
    await deleteResourceGroupQuietly(rgOther);
  });

  test("the directory, the role, and what the member may do", { timeout: TEST_TIMEOUT * 5 }, async () => {
    await createResourceGroup(rgTeam);
    await createResourceGroup(rgOther);
    const ws = await createWorkspace(rgTeam, "teamws");
    await createWorkspace(rgOther, "otherws");

    // The directory, through Graph.
    const group = await graph.api("/groups").post({
      displayName: uniqueName("data scientists "),
      mailEnabled: false,
      mailNickname: uniqueName("ds"),
      securityEnabled: true,
    });
    made.group = group.id;
    const app = await graph.api("/applications").post({ displayName: uniqueName("trainer ") });
    made.app = app.id;
    const pw = await graph.api(`/applications/${app.id}/addPassword`).post({ passwordCredential: { displayName: "e2e" } });
    assert.ok(pw.secretText?.length >= 30, "addPassword returns the secret once");
    const sp = await graph.api("/servicePrincipals").post({ appId: app.appId });
    assert.equal(sp.appId, app.appId);
    await graph.api(`/groups/${group.id}/members/$ref`).post({ "@odata.id": `${b.endpoint}/v1.0/directoryObjects/${sp.id}` });
    const members = await graph.api(`/groups/${group.id}/members`).get();
    assert.deepEqual(
      members.value.map((m) => m.id),
      [sp.id],
    );
    const found = await graph.api("/groups").filter(`displayName eq '${group.displayName}'`).get();
    assert.equal(found.value.length, 1);

    // The group's role, through Azure RBAC.
    const asg = await authz.roleAssignments.create(ws.id, randomUUID(), {
      roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${DATA_SCIENTIST}`,
      principalId: group.id,
    });
    assert.equal(asg.principalType, "Group");

    // The member signs in and works.
    const cred = new ClientSecretCredential(b.tenantId, app.appId, pw.secretText, {
      authorityHost: b.authorityHost,
      disableInstanceDiscovery: true,
    });
    const ml = mlClient(cred);
    const job = await ml.jobs.createOrUpdate(rgTeam, "teamws", uniqueName("job"), commandJobParameters(mlId(rgTeam, "workspaces", "teamws", "computes", "cpu")));
    assert.equal(job.properties.jobType, "Command");
    await assertRestError(ml.computeOperations.beginCreateOrUpdateAndWait(rgTeam, "teamws", "cpu", amlComputeParameters(), lro), 403, "AuthorizationFailed");
    const workspaces = await collect(ml.workspaces.listBySubscription());
    assert.deepEqual(
      workspaces.map((w) => w.name),
      ["teamws"],
      "the member lists only the workspace its group has a role on",
    );
    const groups = await collect(resourcesClient(cred).resourceGroups.list());
    assert.ok(!groups.some((g) => g.name === rgOther), "the member does not see the other resource group");
    await assertRestError(ml.workspaces.get(rgOther, "otherws"), 403, "AuthorizationFailed");

    // Out of the group: the role goes with it (group memberships are
    // read again within 5 s).
    await graph.api(`/groups/${group.id}/members/${sp.id}/$ref`).delete();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await ml.jobs.createOrUpdate(rgTeam, "teamws", uniqueName("job"), commandJobParameters(mlId(rgTeam, "workspaces", "teamws", "computes", "cpu")));
      } catch (e) {
        assert.equal(e.statusCode, 403);
        break;
      }
      assert.ok(Date.now() < deadline, "the member removed from the group can still submit jobs after 10 s");
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});

describe("an online endpoint scored through the gateway (@azure/arm-machinelearning)", { timeout: TEST_TIMEOUT * 4 }, () => {
  const rg = uniqueName("score");
  let model;
  after(async () => {
    model?.close();
    await deleteResourceGroupQuietly(rg);
  });

  test("getToken of an AMLToken endpoint, then a call to its scoringUri", { timeout: TEST_TIMEOUT * 3 }, async () => {
    // The deployment's model server: it answers what it was sent.
    model = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ path: req.url, body, authorization: req.headers.authorization ?? null }));
      });
    });
    await new Promise((r) => model.listen(0, "127.0.0.1", r));
    const targetUrl = `http://127.0.0.1:${model.address().port}/score`;

    await createResourceGroup(rg);
    await createWorkspace(rg, "scorews");
    const ml = mlClient();
    await ml.onlineEndpoints.beginCreateOrUpdateAndWait(rg, "scorews", "ep", { location: "eastus", properties: { authMode: "AMLToken" } }, lro);
    await ml.onlineDeployments.beginCreateOrUpdateAndWait(rg, "scorews", "ep", "blue", {
      location: "eastus",
      properties: { endpointComputeType: "Managed", properties: { "mlgov.targetUrl": targetUrl } },
    }, lro);
    const ep = await ml.onlineEndpoints.beginCreateOrUpdateAndWait(rg, "scorews", "ep", {
      location: "eastus",
      properties: { authMode: "AMLToken", traffic: { blue: 100 } },
    }, lro);
    assert.ok(ep.properties.scoringUri.startsWith(`${bootstrap().endpoint}/endpoints/`), ep.properties.scoringUri);
    const tok = await ml.onlineEndpoints.getToken(rg, "scorews", "ep");
    assert.equal(tok.tokenType, "Bearer");
    assert.ok(tok.expiryTimeUtc > Date.now() / 1000, "the token expires in the future");

    const call = (bearer) =>
      fetch(ep.properties.scoringUri, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify({ data: [[1, 2, 3]] }),
      });
    const ok = await call(tok.accessToken);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("azureml-model-deployment"), "blue");
    const got = await ok.json();
    assert.deepEqual(got, { path: "/score", body: JSON.stringify({ data: [[1, 2, 3]] }), authorization: null });
    const refused = await call("not-a-token");
    assert.equal(refused.status, 401);
    await assertRestError(ml.onlineEndpoints.listKeys(rg, "scorews", "ep"), 400, "OperationNotSupported");
  });
});

describe("a user-assigned identity is a principal (@azure/arm-msi)", { timeout: TEST_TIMEOUT * 3 }, () => {
  const b = bootstrap();
  const rg = uniqueName("msi");
  after(() => deleteResourceGroupQuietly(rg));

  test("create, get, list; a role for it without principalType; delete", { timeout: TEST_TIMEOUT * 2 }, async () => {
    await createResourceGroup(rg);
    const msi = new ManagedServiceIdentityClient(credential(), b.subscriptionId, {
      endpoint: b.endpoint,
      credentialScopes: [ARM_SCOPE],
    });
    const id = await msi.userAssignedIdentities.createOrUpdate(rg, "trainer-id", { location: "eastus", tags: { team: "ml" } });
    assert.equal(id.tenantId, b.tenantId);
    assert.match(id.principalId, /^[0-9a-f-]{36}$/);
    assert.match(id.clientId, /^[0-9a-f-]{36}$/);
    const got = await msi.userAssignedIdentities.get(rg, "trainer-id");
    assert.equal(got.principalId, id.principalId);
    const listed = await collect(msi.userAssignedIdentities.listByResourceGroup(rg));
    assert.deepEqual(
      listed.map((i) => i.name),
      ["trainer-id"],
    );
    const authz = authzClient();
    const asg = await authz.roleAssignments.create(`/subscriptions/${b.subscriptionId}/resourceGroups/${rg}`, randomUUID(), {
      roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`,
      principalId: id.principalId,
    });
    assert.equal(asg.principalType, "ServicePrincipal", "a managed identity is a service principal of the directory");
    await msi.userAssignedIdentities.delete(rg, "trainer-id");
    await assertRestError(msi.userAssignedIdentities.get(rg, "trainer-id"), 404, "ResourceNotFound");
  });
});
