// The browser of the UI tests: Debian's chromium (CHROMIUM) driven by
// playwright-core, headless, trusting exactly the test server's certificate;
// signIn through mlgov's own sign-in pages (password, then the TOTP code
// when conditional access asks for MFA); screenshots at a laptop and a
// phone width; an axe-core accessibility check.
//
// Environment (set by e2e/dashboard_browser_test.go; see lib/arm.mjs):
//   CHROMIUM              the chromium executable
//   MLGOV_CA_CERT         the server's certificate (PEM), trusted by its key
//   MLGOV_UI_SCREENSHOTS  the folder shoot() writes into

import assert from "node:assert/strict";
import { createHash, createHmac, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import { chromium } from "playwright-core";

import { server } from "./arm.mjs";

const require = createRequire(import.meta.url);

/** The two widths every view is shot at: a laptop's and a phone's. */
export const VIEWPORTS = Object.freeze([
  Object.freeze({ width: 1280, height: 800 }),
  Object.freeze({ width: 390, height: 844 }),
]);

/**
 * Launches chromium headless. The server's self-signed certificate is
 * trusted by its public key (--ignore-certificate-errors-spki-list: an
 * error of a chain holding that key is ignored, and of no other), which
 * needs no certificate database; a page served with another certificate
 * still fails. options are passed to chromium.launch (args are added to).
 */
export async function launch(options = {}) {
  const s = server();
  const args = [
    `--ignore-certificate-errors-spki-list=${spkiHashes(s.caCertFile).join(",")}`,
    // Nothing outside the machine is reached (or tried: the CI machine's
    // network refuses it, slowly).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
  ];
  // chromium's sandbox needs user namespaces that root in a container lacks.
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return chromium.launch({
    executablePath: s.chromium,
    headless: true,
    ...options,
    args: [...args, ...(options.args ?? [])],
  });
}

/**
 * A page in a new context of browser (its own cookies: a fresh, signed-out
 * user), at the laptop viewport. options are passed to browser.newContext.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: VIEWPORTS[0], locale: "en-US", ...options });
  return context.newPage();
}

/** The base64 SHA-256 of each certificate's SubjectPublicKeyInfo in a PEM file. */
function spkiHashes(file) {
  const pem = readFileSync(file, "utf8");
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate`);
  return blocks.map((b) =>
    createHash("sha256")
      .update(new X509Certificate(b).publicKey.export({ type: "spki", format: "der" }))
      .digest("base64"),
  );
}

/**
 * Signs in on mlgov's sign-in page, which page shows or is navigating to:
 * the password form (api/oauth/interactive.go), then, when conditional
 * access asks for MFA, the verification code of options.totpSecret (a
 * base32 key) — or, when the user has no authenticator yet, enrols one with
 * the key the page shows. Resolves when the browser has left the sign-in
 * pages (the client's redirect URI has loaded), with { totpSecret } (the
 * key enrolled or given, for later sign-ins of the same user). Rejects
 * with the page's message when the sign-in is refused. options.onStep(stage,
 * page), when given, is awaited on each page before it is filled in
 * ("password", "enrol", "mfa"), e.g. to shoot or check it.
 */
export async function signIn(page, username, password, options = {}) {
  const timeout = options.timeout ?? 15_000;
  let totpSecret = options.totpSecret;
  await page.locator('form input[name="stage"][value="password"]').waitFor({ state: "attached", timeout });
  await options.onStep?.("password", page);
  await page.getByLabel("User name").fill(username);
  await page.getByLabel("Password").fill(password);
  await submit(page, timeout);
  let codes = 0;
  for (;;) {
    const stage = await signInStage(page);
    if (stage === null) return { totpSecret };
    const error = await pageError(page);
    switch (stage) {
      case "password":
        throw new Error(`sign-in of ${username} refused: ${error ?? "the password page came back"}`);
      case "failed":
        throw new Error(`sign-in of ${username} failed: ${error}`);
      case "enrol":
        totpSecret = (await page.locator("#secret").textContent()).trim();
        break;
      case "mfa":
        if (!totpSecret) throw new Error(`${username}'s sign-in asks for a verification code, and no options.totpSecret was given`);
        break;
      default:
        throw new Error(`sign-in of ${username}: a step this helper does not know: ${stage}`);
    }
    await options.onStep?.(stage, page);
    if (codes > 0) {
      // A code refused: once more with the next 30 s step's code (a code
      // is taken once; the previous sign-in may have used this one).
      if (codes > 1) throw new Error(`sign-in of ${username}: verification code refused twice: ${error}`);
      await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 500));
    }
    await page.getByLabel("Verification code").fill(totp(totpSecret));
    await submit(page, timeout);
    codes++;
  }
}

/** Clicks the sign-in form's button and waits for the next document to load. */
async function submit(page, timeout) {
  const loaded = page.waitForEvent("load", { timeout });
  await page.locator("form #next").click({ timeout });
  await loaded;
}

/**
 * The step of mlgov's sign-in page that page shows ("password", "mfa",
 * "enrol"), "failed" for its error page, or null when page is elsewhere.
 */
async function signInStage(page) {
  const u = new URL(page.url());
  if (u.origin !== new URL(server().authorityHost).origin) return null;
  if (!/\/oauth2\/(v2\.0\/authorize|flow)$/.test(u.pathname)) return null;
  const stage = page.locator('form input[name="stage"]');
  if ((await stage.count()) > 0) return stage.getAttribute("value");
  return "failed";
}

async function pageError(page) {
  const e = page.locator("#error");
  return (await e.count()) > 0 ? (await e.textContent()).trim() : null;
}

/** RFC 6238 TOTP of a base32 key: HMAC-SHA1, 6 digits, 30 s steps. */
export function totp(secret, now = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const key = [];
  let bits = 0;
  let acc = 0;
  for (const ch of secret.replace(/[\s=]+/g, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`TOTP key is not base32: ${ch}`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      key.push((acc >>> bits) & 0xff);
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const mac = createHmac("sha1", Buffer.from(key)).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/**
 * Screenshots of the whole page at each of VIEWPORTS, written to
 * MLGOV_UI_SCREENSHOTS as NAME-1280x800.png and NAME-390x844.png; the
 * viewport is put back afterwards. Resolves with the files written.
 */
export async function shoot(page, name) {
  assert.match(name, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a screenshot's name is a plain file name");
  const dir = server().screenshots;
  mkdirSync(dir, { recursive: true });
  const before = page.viewportSize();
  const files = [];
  try {
    for (const vp of VIEWPORTS) {
      await page.setViewportSize(vp);
      // Let the layout settle at the new width (two frames).
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const file = path.join(dir, `${name}-${vp.width}x${vp.height}.png`);
      await page.screenshot({ path: file, fullPage: true });
      files.push(file);
    }
  } finally {
    if (before) await page.setViewportSize(before);
  }
  return files;
}

let axeSource;

/**
 * Runs axe-core (from node_modules) on page and fails, listing them, on
 * every violation of impact serious or critical. options.exclude: CSS
 * selectors left out of the check; options.rules: axe's rules option.
 * Resolves with every violation found (minor and moderate ones included,
 * for a test to log).
 *
 * axe is evaluated in the page over the DevTools protocol rather than
 * added with page.addScriptTag: mlgov's pages forbid inline script by
 * their Content-Security-Policy, which blocks the tag (and should).
 */
export async function axeCheck(page, options = {}) {
  axeSource ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(axeSource);
  }
  const violations = await page.evaluate(
    async ({ exclude, rules }) => {
      const res = await window.axe.run(
        { include: [document], exclude: exclude.map((s) => [s]) },
        { resultTypes: ["violations"], ...(rules ? { rules } : {}) },
      );
      return res.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html, summary: n.failureSummary })),
      }));
    },
    { exclude: options.exclude ?? [], rules: options.rules },
  );
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length > 0) {
    assert.fail(`axe: ${bad.length} serious or critical accessibility violation(s) on ${page.url()}:\n${formatViolations(bad)}`);
  }
  return violations;
}

/** axe violations as readable text: one block per rule, one line per element. */
export function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `    ${n.target}: ${n.html}\n      ${(n.summary ?? "").replace(/\n/g, "\n      ")}`)
        .join("\n");
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes}`;
    })
    .join("\n");
}
