// Package oauth serves mlgov's Entra-ID-compatible token endpoints over
// HTTP, for every tenant the store knows:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration  OpenID discovery
//	GET  /{tenant}/discovery/v2.0/keys                     JWKS
//	POST /{tenant}/oauth2/v2.0/token                       client-credentials grant
//
// so that @azure/identity's ClientSecretCredential, given
// authorityHost = the server's base URL and disableInstanceDiscovery:
// true, gets ARM tokens unchanged. Token logic lives in authn; this package
// only parses requests and writes Entra-shaped responses: errors are
// {"error","error_description":"AADSTSnnn: ...\r\nTrace ID: ...\r\n
// Correlation ID: ...\r\nTimestamp: ...","error_codes":[n],"timestamp",
// "trace_id","correlation_id"} with 401 for invalid_client and 400
// otherwise; unknown tenants are AADSTS90002 (invalid_tenant on the
// discovery endpoints, invalid_request on the token endpoint, as Entra).
// A throttled or locked-out client (authn.OAuthError.RetryAfter set; see
// authn.Throttle) gets 429 with a Retry-After header (whole seconds) and
// the same OAuth error body (temporarily_unavailable AADSTS50196, or
// invalid_client AADSTS50053 for a lockout). The client address authn
// throttles and logs is the TCP peer's (no forwarding header is
// trusted); the correlation id is the client's client-request-id.
// Requests refused before client authentication (a body that is not a
// form, another grant type, a client assertion, malformed Basic
// credentials) are not sign-in attempts: authn neither counts nor logs
// them. Internal errors are 500 server_error without details, logged
// with the trace and correlation ids.
//
// What MSAL Node needs (read in @azure/identity 4.13.1, @azure/msal-node
// 5.6.0, @azure/msal-common 16.16.1, and checked by TestMSALRoundTrip):
//
//   - Authority = authorityHost + "/" + tenantId (identity's getAuthority).
//     MSAL refuses a non-https authority (authority_uri_insecure) and
//     identity refuses a non-https authorityHost.
//   - Instance discovery: with disableInstanceDiscovery: true identity sets
//     knownAuthorities = [authority]; MSAL compares host:port
//     (UrlString.getDomainFromUrl keeps the port) and builds the cloud
//     metadata from the host itself, so nothing is fetched. Without it MSAL
//     GETs https://login.microsoftonline.com/common/discovery/instance —
//     Microsoft's host, never ours — and an unknown host is an untrusted
//     authority. So /common/discovery/instance is not served here.
//   - Discovery URL: {authority}/v2.0/.well-known/openid-configuration
//     (Authority.defaultOpenIdConfigurationEndpoint, AAD protocol mode).
//   - The document is accepted only if it has all of issuer,
//     authorization_endpoint, token_endpoint and jwks_uri
//     (isOpenIdConfigResponse checks presence only). Every discovery
//     failure (non-2xx such as our 400 invalid_tenant, a missing field, a
//     refused issuer) reaches the caller as endpoints_resolution_error
//     (msal-common's createDiscoveredInstance drops the cause), which
//     identity reports as CredentialUnavailableError (tested).
//   - issuer is validated (Authority.validateIssuer): it must be a URL
//     with the same scheme, host and port as the authority (the path may
//     differ), unless its host is a known Microsoft host or in
//     knownAuthorities. Hence authn's issuer is {base}/{tenant}/v2.0 on
//     the same origin; a foreign issuer fails with issuer_validation_failed
//     (tested).
//   - Endpoints are used as given after Authority.replacePath: MSAL takes
//     the tenant from the first path segment of authorization_endpoint,
//     rewrites "/{that}/" in the endpoint it uses to the authority's tenant
//     and substitutes {tenant}/{tenantid}. We publish
//     {base}/{tenant-id}/oauth2/v2.0/authorize, as Entra does, so the
//     rewrite is a no-op; the authorize endpoint itself is not served.
//     jwks_uri must be present but MSAL never fetches it (it does not
//     validate access tokens).
//   - tenant_region_scope, cloud_instance_name, cloud_graph_host_name and
//     msgraph_host are not read for this flow; regional endpoints are used
//     only when azureRegion is configured.
//   - Token request: POST token_endpoint, form-encoded: client_id, scope,
//     grant_type=client_credentials, client_secret, client-request-id,
//     x-client-SKU/VER/OS/CPU, x-ms-lib-capability, x-client-current-
//     telemetry, x-client-last-telemetry (the test records the keys).
//   - Token response: any of error, error_description, suberror makes it an
//     error; MSAL formats error_codes[0], timestamp, trace_id and
//     correlation_id into its message. Success needs access_token and
//     expires_in (number or numeric string; without it MSAL silently
//     treats the token as expiring now); ext_expires_in, refresh_in
//     and scope are optional (without scope the request scopes are used);
//     token_type defaults to Bearer. No id_token or client_info is needed.
//   - The token is cached in memory per (host:port, tenant, client,
//     scopes): a second getToken makes no request (tested).
//   - Device code (msal-node 7.2.1 DeviceCodeClient, behind identity's
//     DeviceCodeCredential): the device code endpoint is token_endpoint
//     with "/token" replaced by "/devicecode"; polls send
//     grant_type=device_code (not RFC 8628's URN; Entra takes both, and
//     so does the token endpoint here) and treat every error but
//     authorization_pending as final (there is no slow_down handling).
//     Tested by e2e/sdk/test/signin.test.mjs (e2e/SDK-CONTRACT.md §17).
//
// It must not import a concrete store, nor build ARM error envelopes
// (that is api's job for the ARM routes).
package oauth
