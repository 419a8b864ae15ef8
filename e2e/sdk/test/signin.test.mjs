// Interactive sign-in with the unmodified clients: a user made through
// Graph signs in with @azure/identity's DeviceCodeCredential (the test
// plays the user in a "browser": Node's fetch with a small cookie jar,
// redirects not followed) and works on ARM with the role it was given;
// under a conditional access policy requiring MFA for Azure Machine
// Learning the same flow enrols an authenticator (TOTP computed here);
// and @azure/msal-node's PublicClientApplication does the authorization
// code flow with PKCE, then refreshes silently. What these clients need
// of mlgov: ../../SDK-CONTRACT.md §17.

import { describe, test, after, before } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";

import { DeviceCodeCredential } from "@azure/identity";
import { CryptoProvider, PublicClientApplication } from "@azure/msal-node";

import {
  ARM_SCOPE,
  LOCATION,
  TEST_TIMEOUT,
  assertRestError,
  authzClient,
  bootstrap,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  graphClient,
  lro,
  mlClient,
  resourcesClient,
  uniqueName,
} from "../lib/arm.mjs";
import { createWorkspace } from "../lib/fixtures.mjs";

const AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const AZURE_ML_APP = "0736f41a-0425-4b46-bdb5-1563eff02385";
const ML_SCOPE = "https://ml.azure.com/.default";
const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const PASSWORD = "Str0ng-passw0rd!e2e";


/** A JWT's payload, unverified (the test reads what was issued). */
function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

/** RFC 4648 base32 (upper case, padding optional) to bytes. */
function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const out = [];
  let bits = 0;
  let acc = 0;
  for (const ch of s.replace(/=+$/, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP: HMAC-SHA1, 6 digits, 30 s steps. */
function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, "0");
}

const unescapeHtml = (s) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/**
 * A user agent for the sign-in pages: fetch with a cookie jar (one origin,
 * name=value only), redirects not followed (the test reads Location).
 */
class Browser {
  jar = new Map();

  async request(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.jar.size > 0) headers.set("cookie", [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";").map((s) => s.trim());
      const i = pair.indexOf("=");
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      const expired = attrs.some((a) => /^max-age=(0|-\d+)$/i.test(a));
      if (expired || value === "") this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return { url, status: res.status, location: res.headers.get("location"), body: await res.text() };
  }

  get(url) {
    return this.request(url);
  }

  post(url, fields) {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Posts a page's sign-in form (its hidden fields) with the fields given. */
  submit(page, fields) {
    const form = page.body.match(/<form method="post" action="([^"]+)"/);
    assert.ok(form, `no form on the page (${page.status}): ${page.body}`);
    const hidden = {};
    for (const m of page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[m[1]] = unescapeHtml(m[2]);
    return this.post(new URL(unescapeHtml(form[1]), page.url), { ...hidden, ...fields });
  }
}

const stageOf = (page) => page.body.match(/name="stage" value="([a-z]+)"/)?.[1] ?? "";
const errorOf = (page) => unescapeHtml(page.body.match(/id="error">([\s\S]*?)<\/p>/)?.[1] ?? "");
const secretOf = (page) => page.body.match(/<code id="secret">([A-Z2-7=]+)<\/code>/)?.[1];

/** Asserts a page asks for a stage, with the page in the message when it does not. */
function assertStage(page, stage, what) {
  assert.equal(stageOf(page), stage, `${what}: expected the ${stage} stage, got ${page.status} ${errorOf(page) || page.body.slice(0, 400)}`);
}

/**
 * The user at the device verification page: the code, the password, and
 * (when asked) the enrolment of an authenticator. Returns what was seen.
 */
async function approveDevice(info, username, password) {
  assert.match(info.message, new RegExp(info.userCode), "the prompt names the user code");
  const b = new Browser();
  let p = await b.post(info.verificationUri, { code: info.userCode });
  assertStage(p, "password", "after entering the code");
  assert.ok([...b.jar.keys()].some((k) => k.startsWith("mlgov_flow_")), "the verification page sets the flow cookie");
  p = await b.submit(p, { username, password });
  const seen = { stages: [] };
  while (stageOf(p) === "enrol" || stageOf(p) === "mfa") {
    seen.stages.push(stageOf(p));
    assert.ok(seen.stages.length <= 2, `stuck at ${stageOf(p)}: ${errorOf(p)}`);
    if (stageOf(p) === "enrol") {
      seen.secret = secretOf(p);
      assert.ok(seen.secret, "the enrolment page shows the key");
    }
    assert.ok(seen.secret, "an mfa stage without a key known to the test");
    p = await b.submit(p, { otc: totp(seen.secret) });
  }
  assert.equal(p.status, 200, `after signing in: ${p.status} ${errorOf(p)}`);
  assert.ok(p.body.includes('id="done"'), `the device sign-in is not done: ${p.body.slice(0, 400)}`);
  return seen;
}

/**
 * A DeviceCodeCredential whose prompt callback signs the user in. The
 * callback is not awaited by MSAL, so its outcome is kept, and a failed
 * sign-in cancels the polling (instead of polling until the code expires).
 */
function deviceCredential(username, password) {
  const b = bootstrap();
  const abort = new AbortController();
  const state = { approval: null, prompts: 0 };
  const cred = new DeviceCodeCredential({
    tenantId: b.tenantId,
    clientId: AZURE_CLI,
    authorityHost: b.authorityHost,
    disableInstanceDiscovery: true,
    userPromptCallback: (info) => {
      state.prompts++;
      state.approval = approveDevice(info, username, password);
      state.approval.catch(() => abort.abort());
    },
  });
  return {
    cred,
    state,
    /** getToken, then the sign-in's own outcome (its assertion first when it failed). */
    async getToken(scope, options = {}) {
      let tok;
      let err;
      try {
        tok = await cred.getToken(scope, { ...options, abortSignal: abort.signal });
      } catch (e) {
        err = e;
      }
      assert.ok(state.approval, `the prompt callback was not called (getToken: ${err?.message})`);
      const seen = await state.approval;
      if (err) throw err;
      return { tok, seen };
    },
  };
}

describe("interactive sign-in with the unmodified clients", { timeout: TEST_TIMEOUT * 6 }, () => {
  const b = bootstrap();
  const graph = graphClient(credential());
  const rg = uniqueName("signin");
  const upn = `${uniqueName("user")}@corp.example`;
  const made = { user: null, policy: null };

  before(async () => {
    const user = await graph.api("/users").post({
      accountEnabled: true,
      displayName: "Sign-in e2e",
      mailNickname: upn.split("@")[0],
      userPrincipalName: upn,
      passwordProfile: { password: PASSWORD },
    });
    made.user = user.id;
    await createResourceGroup(rg);
    await createWorkspace(rg, "signinws");
    await authzClient().roleAssignments.create(`/subscriptions/${b.subscriptionId}/resourceGroups/${rg}`, randomUUID(), {
      roleDefinitionId: `/subscriptions/${b.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
      principalId: user.id,
      principalType: "User",
    });
  });

  after(async () => {
    if (made.policy) await graph.api(`/identity/conditionalAccess/policies/${made.policy}`).delete().catch(() => {});
    if (made.user) await graph.api(`/users/${made.user}`).delete().catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  test("DeviceCodeCredential: the user signs in at the verification page and reads with Reader", { timeout: TEST_TIMEOUT * 2 }, async () => {
    const dc = deviceCredential(upn, PASSWORD);
    // The SDK clients' bearer policy asks with enableCae: true, which
    // @azure/identity serves from a second MSAL app (its own cache, the
    // cp1 capability): asking the same way here lets their calls be
    // answered from the cache of this sign-in instead of a second prompt.
    const { tok, seen } = await dc.getToken(ARM_SCOPE, { enableCae: true });
    assert.deepEqual(seen.stages, [], "no MFA is asked for ARM");
    assert.ok(tok.token && tok.expiresOnTimestamp > Date.now() + 5 * 60_000, "a token that lives over 5 min");
    const c = claims(tok.token);
    assert.equal(c.upn, upn);
    assert.equal(c.oid, made.user);
    assert.equal(c.tid, b.tenantId);
    assert.equal(c.idtyp, "user");
    assert.ok(!c.amr?.includes("mfa"), `amr of a password sign-in: ${c.amr}`);

    // The SDKs with the user's credential: a second getToken is silent
    // (MSAL's cache, or its refresh token), so the prompt is not shown again.
    const rgs = resourcesClient(dc.cred);
    const got = await rgs.resourceGroups.get(rg);
    assert.equal(got.name, rg);
    const ws = await mlClient(dc.cred).workspaces.get(rg, "signinws");
    assert.equal(ws.name, "signinws");
    await assertRestError(rgs.resourceGroups.createOrUpdate(rg, { location: LOCATION, tags: { by: "reader" } }), 403, "AuthorizationFailed");
    await assertRestError(mlClient(dc.cred).workspaces.beginDeleteAndWait(rg, "signinws", lro), 403, "AuthorizationFailed");
    assert.equal(dc.state.prompts, 1, "the user was prompted once");
  });

  test("DeviceCodeCredential under an MFA policy for Azure ML: enrolment, then amr has mfa", { timeout: TEST_TIMEOUT * 2 }, async () => {
    const policy = await graph.api("/identity/conditionalAccess/policies").post({
      displayName: uniqueName("e2e MFA for Azure ML "),
      state: "enabled",
      conditions: {
        users: { includeUsers: [made.user] },
        applications: { includeApplications: [AZURE_ML_APP] },
      },
      grantControls: { operator: "OR", builtInControls: ["mfa"] },
    });
    made.policy = policy.id;
    const dc = deviceCredential(upn, PASSWORD);
    const { tok, seen } = await dc.getToken(ML_SCOPE);
    assert.deepEqual(seen.stages, ["enrol"], "the first MFA sign-in enrols an authenticator");
    const c = claims(tok.token);
    assert.equal(c.aud, "https://ml.azure.com");
    assert.equal(c.upn, upn);
    assert.ok(Array.isArray(c.amr) && c.amr.includes("mfa"), `amr: ${JSON.stringify(c.amr)}`);
  });

  test("@azure/msal-node: authorization code with PKCE, then a silent refresh", { timeout: TEST_TIMEOUT }, async () => {
    const authorityHost = new URL(b.authorityHost);
    const pca = new PublicClientApplication({
      auth: {
        clientId: AZURE_CLI,
        authority: `${b.authorityHost.replace(/\/$/, "")}/${b.tenantId}`,
        knownAuthorities: [authorityHost.host],
      },
    });
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const redirectUri = "http://localhost:8400/";
    const state = uniqueName("st");
    const nonce = uniqueName("n");
    const url = await pca.getAuthCodeUrl({
      scopes: [ARM_SCOPE],
      redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: "S256",
      state,
      nonce,
    });
    assert.ok(url.startsWith(`${b.authorityHost.replace(/\/$/, "")}/${b.tenantId}/oauth2/v2.0/authorize?`), url);

    const browser = new Browser();
    let p = await browser.get(url);
    assertStage(p, "password", "the authorization request");
    p = await browser.submit(p, { username: upn, password: PASSWORD });
    assert.equal(p.status, 302, `after the password: ${p.status} ${errorOf(p)}`);
    const back = new URL(p.location);
    assert.equal(`${back.origin}${back.pathname}`, redirectUri);
    assert.equal(back.searchParams.get("state"), state);
    const code = back.searchParams.get("code");
    assert.ok(code, `no code in ${p.location}`);

    // MSAL compares the state it is given with the redirect's, and the
    // nonce with the ID token's.
    const first = await pca.acquireTokenByCode(
      { code, scopes: [ARM_SCOPE], redirectUri, codeVerifier: verifier, state, nonce },
      { code, state: back.searchParams.get("state") },
    );
    assert.ok(first.accessToken);
    assert.equal(first.account.username, upn);
    assert.equal(first.account.tenantId, b.tenantId);
    assert.equal(first.account.localAccountId, made.user);
    assert.equal(first.idTokenClaims.preferred_username, upn);
    assert.equal(first.idTokenClaims.nonce, nonce);
    assert.equal(claims(first.accessToken).upn, upn);

    const [account] = await pca.getTokenCache().getAllAccounts();
    assert.equal(account?.username, upn, "the account in MSAL's cache");
    const second = await pca.acquireTokenSilent({ account, scopes: [ARM_SCOPE], forceRefresh: true });
    assert.ok(second.accessToken);
    assert.notEqual(second.accessToken, first.accessToken, "forceRefresh fetched a new token");
    assert.equal(second.fromCache, false);
    assert.equal(second.account.username, upn);
    const got = await resourcesClient({ getToken: async () => ({ token: second.accessToken, expiresOnTimestamp: second.expiresOn.getTime() }) }).resourceGroups.get(rg);
    assert.equal(got.name, rg);
  });
});
