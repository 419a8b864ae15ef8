// The server the browser tests run against, as e2e/dashboard_browser_test.go
// describes it in the environment, and plain requests to its token endpoint,
// ARM API and Graph API for what a test sets up or checks behind the
// browser's back. Node's fetch trusts the server's certificate through
// NODE_EXTRA_CA_CERTS (set by the Go driver before node starts).
//
// (e2e/sdk/lib/arm.mjs does the same with the Azure SDK clients; it is not
// imported here because it loads them from e2e/sdk's own node_modules.)

const REQUIRED = {
  url: "MLGOV_URL",
  authorityHost: "MLGOV_AUTHORITY_HOST",
  tenantId: "MLGOV_TENANT_ID",
  subscriptionId: "MLGOV_SUBSCRIPTION_ID",
  clientId: "MLGOV_CLIENT_ID",
  clientSecret: "MLGOV_CLIENT_SECRET",
  caCertFile: "MLGOV_CA_CERT",
  chromium: "CHROMIUM",
  screenshots: "MLGOV_UI_SCREENSHOTS",
};

const USERS = {
  user: { upn: "MLGOV_UI_USER", id: "MLGOV_UI_USER_ID", displayName: "MLGOV_UI_USER_NAME", password: "MLGOV_UI_PASSWORD" },
  reader: {
    upn: "MLGOV_UI_READER",
    id: "MLGOV_UI_READER_ID",
    displayName: "MLGOV_UI_READER_NAME",
    password: "MLGOV_UI_READER_PASSWORD",
    resourceGroup: "MLGOV_UI_READER_RG",
  },
};

export const ARM_SCOPE = "https://management.azure.com/.default";
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

let cached;

/**
 * The test server: { url, authorityHost, tenantId, subscriptionId, clientId,
 * clientSecret, caCertFile, chromium, screenshots, user, reader }, where user
 * (Owner of the subscription) and reader (Reader on reader.resourceGroup)
 * are { upn, id, displayName, password }. Throws naming every missing
 * variable.
 */
export function server() {
  if (cached) return cached;
  const missing = [];
  const get = (name) => {
    const v = process.env[name];
    if (!v) missing.push(name);
    return v;
  };
  const s = {};
  for (const [k, name] of Object.entries(REQUIRED)) s[k] = get(name);
  for (const [who, fields] of Object.entries(USERS)) {
    s[who] = {};
    for (const [k, name] of Object.entries(fields)) s[who][k] = get(name);
  }
  if (missing.length > 0) {
    throw new Error(
      `not set: ${missing.join(", ")}. The browser tests run under e2e/dashboard_browser_test.go ` +
        "(go test ./e2e -run TestDashboardBrowser), which starts mlgov serve and sets them; see e2e/ui/README.md",
    );
  }
  s.url = s.url.replace(/\/+$/, "");
  s.authorityHost = s.authorityHost.replace(/\/+$/, "");
  cached = s;
  return s;
}

/** The token endpoint of the server's tenant. */
export function tokenEndpoint() {
  const s = server();
  return `${s.authorityHost}/${s.tenantId}/oauth2/v2.0/token`;
}

/** Posts a form to the token endpoint: { status, body } (body parsed when JSON). */
export async function postToken(form) {
  const res = await fetch(tokenEndpoint(), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await bodyOf(res) };
}

const tokens = new Map();

/** An access token of the administrator (client credentials) for scope, cached. */
export async function adminToken(scope = ARM_SCOPE) {
  const hit = tokens.get(scope);
  if (hit && hit.expires > Date.now() + 60_000) return hit.token;
  const s = server();
  const { status, body } = await postToken({
    grant_type: "client_credentials",
    client_id: s.clientId,
    client_secret: s.clientSecret,
    scope,
  });
  if (status !== 200 || !body?.access_token) {
    throw new Error(`client credentials token for ${scope}: ${status} ${JSON.stringify(body)}`);
  }
  tokens.set(scope, { token: body.access_token, expires: Date.now() + Number(body.expires_in ?? 300) * 1000 });
  return body.access_token;
}

/**
 * Sends a request to the server (path absolute, e.g.
 * "/subscriptions/…?api-version=…") as the administrator, or with
 * options.token: { status, headers, body } (body parsed when JSON). Throws
 * when options.expect (a status or a list of them) is given and not met.
 */
export async function send(method, path, body, options = {}) {
  const token = options.token ?? (await adminToken(options.scope ?? ARM_SCOPE));
  const res = await fetch(server().url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const out = { status: res.status, headers: res.headers, body: await bodyOf(res) };
  if (options.expect !== undefined) {
    const want = [options.expect].flat();
    if (!want.includes(out.status)) {
      throw new Error(`${method} ${path}: ${out.status} ${JSON.stringify(out.body)}, want ${want.join(" or ")}`);
    }
  }
  return out;
}

/** An ARM request as the administrator (see send). */
export function arm(method, path, body, options = {}) {
  return send(method, path, body, options);
}

/** A Graph request (path below /v1.0) as the administrator (see send). */
export function graph(method, path, body, options = {}) {
  return send(method, `/v1.0${path}`, body, { scope: GRAPH_SCOPE, ...options });
}

/** The subscription's ARM id, or a resource group's when rg is given. */
export function scopeId(rg) {
  const sub = `/subscriptions/${server().subscriptionId}`;
  return rg ? `${sub}/resourceGroups/${rg}` : sub;
}

/** A JWT's payload, unverified (a test reads what was issued). */
export function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

async function bodyOf(res) {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
