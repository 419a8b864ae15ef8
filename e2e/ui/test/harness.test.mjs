// The harness itself, against what mlgov serves without the dashboard: the
// Azure CLI's authorization code flow with PKCE in real chromium, through
// mlgov's sign-in pages with signIn() (password; and under a conditional
// access policy the authenticator's enrolment, then its code), the code
// redeemed at the token endpoint; the sign-in pages shot at both widths and
// checked by axe-core.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";

import { claims, graph, postToken, server } from "../lib/arm.mjs";
import { axeCheck, launch, newPage, shoot, signIn } from "../lib/browser.mjs";

const AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const AZURE_ML_APP = "0736f41a-0425-4b46-bdb5-1563eff02385";
const ARM_SCOPES = "https://management.azure.com/.default openid profile offline_access";
const ML_SCOPES = "https://ml.azure.com/.default openid profile offline_access";

/** A loopback port nothing listens on (free a moment ago). */
async function unusedPort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * Starts the Azure CLI's code flow in page, with a redirect URI on a port
 * nothing listens on; the query the browser is sent there with is kept.
 * Resolves with { redirectUri, verifier, state, callback() }.
 */
async function startCodeFlow(page, scope) {
  const redirectUri = `http://127.0.0.1:${await unusedPort()}/callback`;
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const state = randomUUID();
  // The token service answers the password with a 302 to the redirect
  // URI; page.route does not see a redirect's target, but the request
  // event does (the load then fails, as nothing listens there).
  let received;
  page.on("request", (req) => {
    if (req.url().startsWith(redirectUri)) received = new URL(req.url());
  });
  const s = server();
  const q = new URLSearchParams({
    client_id: AZURE_CLI,
    response_type: "code",
    redirect_uri: redirectUri,
    scope,
    state,
    nonce: randomUUID(),
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const res = await page.goto(`${s.authorityHost}/${s.tenantId}/oauth2/v2.0/authorize?${q}`);
  assert.equal(res.status(), 200, `the authorization request: ${res.status()}`);
  return { redirectUri, verifier, state, callback: () => received };
}

/** Redeems the code the redirect URI received; returns the token response. */
async function redeem(flow, scope) {
  const cb = flow.callback();
  assert.ok(cb, "the browser never reached the redirect URI");
  assert.equal(cb.searchParams.get("error"), null, `the redirect carries an error: ${cb.searchParams.get("error_description")}`);
  assert.equal(cb.searchParams.get("state"), flow.state, "the state comes back unchanged");
  const code = cb.searchParams.get("code");
  assert.ok(code, `no code in ${cb}`);
  const { status, body } = await postToken({
    grant_type: "authorization_code",
    client_id: AZURE_CLI,
    code,
    redirect_uri: flow.redirectUri,
    code_verifier: flow.verifier,
    scope,
  });
  assert.equal(status, 200, `the code at the token endpoint: ${JSON.stringify(body)}`);
  assert.ok(body.access_token, "an access token");
  return body;
}

describe("the browser harness on mlgov's sign-in pages", { timeout: 180_000 }, () => {
  let browser;

  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  test("the code flow with PKCE: signIn, then the code redeems for the user's token", async () => {
    const s = server();
    const page = await newPage(browser);
    const flow = await startCodeFlow(page, ARM_SCOPES);
    await assert.doesNotReject(page.getByRole("button", { name: "Sign in" }).waitFor());
    const shots = await shoot(page, "signin-password");
    for (const f of shots) assert.ok(existsSync(f), `${f} was written`);
    await axeCheck(page);

    await signIn(page, s.user.upn, s.user.password);
    const tok = await redeem(flow, ARM_SCOPES);
    const c = claims(tok.access_token);
    assert.equal(c.upn, s.user.upn);
    assert.equal(c.oid, s.user.id);
    assert.equal(c.tid, s.tenantId);
    await page.context().close();
  });

  test("a wrong password: signIn rejects with the page's message, which axe also checks", async () => {
    const s = server();
    const page = await newPage(browser);
    const flow = await startCodeFlow(page, ARM_SCOPES);
    await assert.rejects(signIn(page, s.reader.upn, `${s.reader.password}-not`), /refused: .*invalid username or password/i);
    assert.equal(flow.callback(), undefined, "no redirect to the client");
    await assert.doesNotReject(page.getByText("Sign in to Microsoft Azure CLI").waitFor({ timeout: 2000 }), "the page still names the client");
    await shoot(page, "signin-error");
    await axeCheck(page);
    await page.context().close();
  });

  test("axeCheck fails on a serious violation, naming the rule and the element", async () => {
    const page = await newPage(browser);
    await page.setContent(
      '<!doctype html><html lang="en"><title>low contrast</title><main><h1>Check</h1>' +
        '<p id="faint" style="color:#c8c8c8;background:#fff">hard to read</p></main></html>',
    );
    await assert.rejects(axeCheck(page), (err) => {
      assert.match(err.message, /\[serious\] color-contrast/);
      assert.match(err.message, /#faint/);
      return true;
    });
    await page.context().close();
  });

  describe("under a conditional access policy that asks for MFA", () => {
    const made = {};
    const upn = `mfa-${randomBytes(4).toString("hex")}@ui.example`;
    const password = `Mfa-${randomBytes(6).toString("hex")}-passw0rd!`;

    before(async () => {
      const user = await graph("POST", "/users", {
        accountEnabled: true,
        displayName: "MFA harness user",
        mailNickname: upn.split("@")[0],
        userPrincipalName: upn,
        passwordProfile: { password },
      }, { expect: 201 });
      made.user = user.body.id;
      const policy = await graph("POST", "/identity/conditionalAccess/policies", {
        displayName: "MFA for Azure ML (browser harness)",
        state: "enabled",
        conditions: { users: { includeUsers: [made.user] }, applications: { includeApplications: [AZURE_ML_APP] } },
        grantControls: { operator: "OR", builtInControls: ["mfa"] },
      }, { expect: 201 });
      made.policy = policy.body.id;
    });

    after(async () => {
      if (made.policy) await graph("DELETE", `/identity/conditionalAccess/policies/${made.policy}`).catch(() => {});
      if (made.user) await graph("DELETE", `/users/${made.user}`).catch(() => {});
    });

    let totpSecret;

    test("signIn enrols an authenticator, and the token says mfa", async () => {
      const page = await newPage(browser);
      const flow = await startCodeFlow(page, ML_SCOPES);
      const seen = [];
      ({ totpSecret } = await signIn(page, upn, password, {
        onStep: async (stage, p) => {
          seen.push(stage);
          if (stage === "enrol") {
            await shoot(p, "signin-enrol");
            await axeCheck(p);
          }
        },
      }));
      assert.deepEqual(seen, ["password", "enrol"]);
      assert.match(totpSecret ?? "", /^[A-Z2-7]+=*$/, "the key shown was kept");
      const c = claims((await redeem(flow, ML_SCOPES)).access_token);
      assert.equal(c.upn, upn);
      assert.ok(c.amr?.includes("mfa"), `amr: ${c.amr}`);
      await page.context().close();
    });

    test("the next sign-in (a new browser session) asks for the code, and signIn gives it", async (t) => {
      if (!totpSecret) return t.skip("no authenticator was enrolled");
      const page = await newPage(browser);
      const flow = await startCodeFlow(page, ML_SCOPES);
      const seen = [];
      await signIn(page, upn, password, {
        totpSecret,
        onStep: async (stage, p) => {
          seen.push(stage);
          if (stage === "mfa" && seen.filter((x) => x === "mfa").length === 1) {
            await shoot(p, "signin-mfa");
            await axeCheck(p);
          }
        },
      });
      assert.equal(seen[0], "password");
      assert.ok(seen.includes("mfa"), `steps: ${seen}`);
      const c = claims((await redeem(flow, ML_SCOPES)).access_token);
      assert.ok(c.amr?.includes("mfa"), `amr: ${c.amr}`);
      await page.context().close();
    });
  });
});
