// The dashboard's sign-in with an external OpenID Connect issuer (serve
// --oidc-issuer with --ui-oidc-client-id), run by
// e2e/dashboard_browser_test.go's TestDashboardExternalSignIn against a
// Keycloak-shaped realm: the "Sign in with …" button, the issuer's page,
// back at the dashboard with the issuer's token, reading what the role of
// the issuer's mapped principal gives; the sign-in log says why it is not
// readable with that token.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { server } from "../lib/arm.mjs";
import { axeCheck, launch, newPage, shoot } from "../lib/browser.mjs";

describe("sign-in with the external issuer", { timeout: 120_000 }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test("a user of the issuer signs in and reads the overview", async () => {
    const s = server();
    const user = process.env.MLGOV_EXT_USER;
    assert.ok(user, "MLGOV_EXT_USER names the issuer's user");
    const page = await newPage(browser);
    await page.goto(`${s.url}/ui/`);
    const host = new URL(process.env.MLGOV_EXT_ISSUER).host;
    await page.getByRole("button", { name: `Sign in with ${host}` }).click();
    await page.getByLabel("Corp user name").fill(user);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByTestId("user").waitFor();
    assert.equal((await page.getByTestId("user").textContent()).trim(), `Corp ${user}`);
    await page.locator('[data-view="overview"][data-loaded="true"]').waitFor({ timeout: 15000 });
    // No compliance records in this server: nothing non-compliant (100%, as summarize says).
    assert.equal((await page.getByTestId("compliance-pct").textContent()).trim(), "100.0%");
    assert.equal(await page.getByTestId("count-noncompliant").textContent(), "0");
    await shoot(page, "overview-external");
    await axeCheck(page);
    await page.goto(`${s.url}/ui/#/signins`);
    await page.locator('[data-view="signins"][data-loaded="true"]').waitFor({ timeout: 15000 });
    assert.match(await page.getByTestId("signins-refused").textContent(), /another issuer/);
    await page.context().close();
  });
});
