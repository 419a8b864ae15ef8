// Runs @azure/identity's ClientSecretCredential, unchanged, against the
// scenarios in MLGOV_SCENARIOS (a JSON array of {name, authorityHost,
// tenantId, clientId, clientSecret, scope, repeat}) and prints one JSON
// object: {name: {ok, token, expiresOnTimestamp, tokenType, sameOnRepeat}
// or {ok: false, error: {name, message}}}. Secrets come from the
// environment, not argv. Used by msal_test.go.
import { ClientSecretCredential } from "@azure/identity";

const scenarios = JSON.parse(process.env.MLGOV_SCENARIOS);
const out = {};
for (const s of scenarios) {
  try {
    const cred = new ClientSecretCredential(s.tenantId, s.clientId, s.clientSecret, {
      authorityHost: s.authorityHost,
      disableInstanceDiscovery: true,
    });
    const t = await cred.getToken(s.scope);
    const r = { ok: true, token: t.token, expiresOnTimestamp: t.expiresOnTimestamp, tokenType: t.tokenType };
    if (s.repeat) {
      const t2 = await cred.getToken(s.scope);
      r.sameOnRepeat = t2.token === t.token;
    }
    out[s.name] = r;
  } catch (e) {
    out[s.name] = { ok: false, error: { name: e?.name ?? "", message: String(e?.message ?? e) } };
  }
}
process.stdout.write(JSON.stringify(out));
