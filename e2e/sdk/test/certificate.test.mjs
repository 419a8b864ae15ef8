// Certificate credentials with the official clients: the administrator
// creates an application whose credential is a certificate
// (@microsoft/microsoft-graph-client, keyCredentials) and gives it Reader
// on a resource group (@azure/arm-authorization); @azure/identity's
// ClientCertificateCredential signs in with the certificate's private key
// (MSAL's client assertion) and @azure/arm-resources reads the group.
// Removing the certificate refuses the token the credential holds and
// any new sign-in. The certificate is made with openssl.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, randomUUID } from "node:crypto";

import { ClientCertificateCredential } from "@azure/identity";

import {
  ARM_SCOPE,
  TEST_TIMEOUT,
  assertRestError,
  authzClient,
  bootstrap,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  graphClient,
  resourcesClient,
  uniqueName,
} from "../lib/arm.mjs";

const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

/** A self-signed certificate and its key, as one PEM (what ClientCertificateCredential reads). */
function certificatePEM() {
  const pem = execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mlgov-e2e", "-days", "1",
    "-keyout", "-", "-out", "-"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const cert = pem.slice(pem.indexOf("-----BEGIN CERTIFICATE-----"));
  return { pem, der: new X509Certificate(cert).raw.toString("base64") };
}


describe("an application signing in with a certificate", { timeout: TEST_TIMEOUT * 4 }, () => {
  const b = bootstrap();
  const graph = graphClient(credential());
  const rg = uniqueName("certs");
  let appObjectId;

  after(async () => {
    if (appObjectId) await graph.api(`/applications/${appObjectId}`).delete().catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  test("ClientCertificateCredential, then the certificate removed", { timeout: TEST_TIMEOUT * 3 }, async () => {
    await createResourceGroup(rg);
    const { pem, der } = certificatePEM();
    const app = await graph.api("/applications").post({
      displayName: uniqueName("cert app "),
      keyCredentials: [{ type: "AsymmetricX509Cert", usage: "Verify", key: der, displayName: "e2e" }],
    });
    appObjectId = app.id;
    assert.equal(app.keyCredentials.length, 1);
    assert.equal(app.keyCredentials[0].key, null, "Graph never returns the certificate's key");
    const sp = await graph.api("/servicePrincipals").post({ appId: app.appId });
    await authzClient().roleAssignments.create(`/subscriptions/${b.subscriptionId}/resourceGroups/${rg}`, randomUUID(), {
      roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
      principalId: sp.id,
      principalType: "ServicePrincipal",
    });

    const cred = new ClientCertificateCredential(b.tenantId, app.appId, { certificate: pem }, {
      authorityHost: b.authorityHost,
      disableInstanceDiscovery: true,
    });
    const token = await cred.getToken(ARM_SCOPE);
    const claims = JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString());
    assert.equal(claims.appid, app.appId);
    assert.equal(claims.mlgov_cred, app.keyCredentials[0].keyId, "the certificate is the token's credential");
    const resources = resourcesClient(cred);
    assert.equal((await resources.resourceGroups.get(rg)).name, rg);

    // The certificate removed: the token MSAL keeps is refused, and so is a new sign-in.
    await graph.api(`/applications/${app.id}`).patch({ keyCredentials: [] });
    await assertRestError(resources.resourceGroups.get(rg), 401, "InvalidAuthenticationToken");
    const fresh = new ClientCertificateCredential(b.tenantId, app.appId, { certificate: pem }, {
      authorityHost: b.authorityHost,
      disableInstanceDiscovery: true,
    });
    await assert.rejects(fresh.getToken(ARM_SCOPE), /AADSTS700027/);
  });
});
