// Package authn is mlgov's Entra-ID-compatible token service without the
// HTTP: tenants, service principals and their client secrets, signing
// keys, issuing access tokens (client-credentials grant) and verifying
// bearer tokens. api/oauth serves it over HTTP; the ARM API calls Verify
// on every request.
//
// Tokens are RS256 JWTs (2048-bit keys, kid = RFC 7638 thumbprint) with
// Entra's app-only claims: aud, iss, iat, nbf, exp, app_displayname,
// appid, appidacr, azp, azpacr, idp, idtyp "app", oid, roles (if any),
// sub, tid, uti, ver; and mlgov_cred, the keyId of the client secret the
// token was issued for (principals.go).
//
// Invariants:
//   - Everything persistent goes through store.Store as store.Object
//     values of kind "tenant" (key: tenant id), "servicePrincipal" (key:
//     tenant id + "/" + app id) and "signingKey" (key: kid), and the
//     sign-in log as store.Event values. Ids are lower-case GUIDs.
//   - Client secrets are never stored: only SHA-256(salt || secret) with a
//     per-secret random salt, compared in constant time.
//   - A rotated-out signing key stays in the JWKS and keeps verifying
//     until every token it signed has expired (TokenLifetime + Leeway +
//     KeyCacheTTL); after that RotateSigningKey deletes it.
//   - Verify accepts exactly one algorithm (RS256) and the four ARM
//     audiences, tokens living at most MaxTokenLifetime (a day), and only
//     tokens of live principals: the service principal tid/appid exists
//     with that oid, is enabled and still has the token's credential
//     (cached for PrincipalCacheTTL, 5s, and dropped at once by this
//     service's own writes: another replica's changes are honoured
//     within 5s). Every refusal is a *TokenError whose Kind is one of
//     the Err* sentinels and whose Code is the ARM 401 error code. Other
//     errors are internal (a failing store), never a 401.
//   - Token-endpoint failures are *OAuthError values carrying Entra's
//     error code and AADSTS number. Failed client-credential attempts
//     are throttled per client id and per client address and lock a
//     client out after many (Throttle); every attempt at the token
//     endpoint (ClientCredentials; not the in-process
//     TokenForClientSecret) against an existing tenant is written to the
//     sign-in log (store events of
//     SignInLogKey(tenant), signin.go) before the answer, and no token is
//     issued if it cannot be.
//   - Client secrets expire (DefaultSecretLifetime, two years, unless
//     configured) and tokens never outlive the secret they were issued
//     for.
//   - Time and randomness come from Config (Now, Rand); RSA key
//     generation uses the system's secure source (Go 1.26 ignores the
//     reader passed to rsa.GenerateKey).
//
// It must not import net/http or any api/ package (no HTTP routing or
// envelopes here), nor a concrete store.
package authn
