// Token acquisition through @azure/identity (MSAL underneath) against the
// Entra-compatible authority of `mlgov serve`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { ARM_SCOPE, TEST_TIMEOUT, bootstrap, credential } from "../lib/arm.mjs";

function jwtPayload(token) {
  const parts = token.split(".");
  assert.equal(parts.length, 3, "the access token should be a JWT (header.payload.signature)");
  return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}

const ARM_AUDIENCES = [
  "https://management.azure.com/",
  "https://management.azure.com",
  "https://management.core.windows.net/",
  "https://management.core.windows.net",
];

test("token: ClientSecretCredential gets an ARM access token", { timeout: TEST_TIMEOUT }, async () => {
  const b = bootstrap();
  const before = Date.now();
  const tok = await credential().getToken(ARM_SCOPE);
  assert.ok(tok, "getToken returned null");
  assert.equal(typeof tok.token, "string");
  assert.ok(tok.token.length > 0, "empty access token");
  assert.equal(tok.tokenType ?? "Bearer", "Bearer");
  assert.ok(
    tok.expiresOnTimestamp > before + 5 * 60 * 1000,
    `token should live for more than 5 minutes, expires at ${new Date(tok.expiresOnTimestamp).toISOString()}`,
  );

  const claims = jwtPayload(tok.token);
  assert.ok(ARM_AUDIENCES.includes(claims.aud), `aud ${claims.aud} is not an ARM audience`);
  assert.equal(claims.tid, b.tenantId, "tid claim");
  assert.equal(claims.appid ?? claims.azp, b.clientId, "appid/azp claim");
  assert.ok(claims.oid, "oid claim (the principal id used by RBAC) is missing");
  assert.ok(typeof claims.exp === "number" && claims.exp * 1000 > before, "exp claim");
});

test("token: a second getToken is served (from MSAL's cache or the server) without error", { timeout: TEST_TIMEOUT }, async () => {
  const cred = credential();
  const a = await cred.getToken(ARM_SCOPE);
  const b = await cred.getToken(ARM_SCOPE);
  assert.ok(a.token && b.token);
});

test("token: a wrong client secret is refused by the token endpoint", { timeout: TEST_TIMEOUT }, async () => {
  await assert.rejects(credential("not-the-secret").getToken(ARM_SCOPE), (err) => {
    // MSAL surfaces the OAuth error code of the token endpoint's JSON error body.
    assert.match(String(err?.message), /invalid_client|unauthorized_client|AADSTS7000215/i, `unexpected error: ${err?.name}: ${err?.message}`);
    return true;
  });
});
