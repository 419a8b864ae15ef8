package armtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/authn"
)

const azureCLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	b := make([]byte, 32)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(h[:])
}

// authorizeURL is an authorization request of the Azure CLI's client.
func (s *Server) authorizeURL(redirect, scope, challenge, state string, extra ...string) string {
	q := url.Values{"client_id": {azureCLI}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {state}, "nonce": {"n-" + state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return s.URL + "/" + s.TenantID + "/oauth2/v2.0/authorize?" + q.Encode()
}

// claimsOf decodes a JWT's payload (unverified: the test reads what was
// issued).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func errorCode(m map[string]any) string {
	d, _ := m["error_description"].(string)
	if i := strings.IndexByte(d, ':'); strings.HasPrefix(d, "AADSTS") && i > 0 {
		return d[:i]
	}
	return d
}

// TestInteractiveSignIn: the authorization code flow with PKCE and the
// device code flow, with MFA by TOTP (enrolled during the first sign-in
// that needs it) where a conditional access policy requires it for the
// Azure Machine Learning app; refresh tokens rotated (a replayed one
// ends the session), a replayed code ending its session, sign-out and
// revocation refusing the session's access tokens at once, a new
// password ending every session, and the sign-in log.
func TestInteractiveSignIn(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		const pw, upn = "Str0ng-passw0rd!", "carol@corp.example"
		carol := s.graph(t, admin, "POST", "/users", map[string]any{"displayName": "Carol", "userPrincipalName": upn,
			"passwordProfile": map[string]any{"password": pw}}, 201)
		cid := carol["id"].(string)
		ws := s.mustWorkspace(t, "rg1", "ws1")
		s.assignRole(t, ws, roleIDByName(t, s, "AzureML Data Scientist"), cid, "User")
		s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", map[string]any{
			"displayName": "MFA for Azure ML", "state": "enabled",
			"conditions": map[string]any{
				"users":        map[string]any{"includeUsers": []any{cid}},
				"applications": map[string]any{"includeApplications": []any{"0736f41a-0425-4b46-bdb5-1563eff02385"}},
			},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}},
		}, 201)
		const redirect = "http://localhost:8400/callback"
		mlScope := "https://ml.azure.com/.default openid profile offline_access"

		// Refusals before any sign-in: a redirect URI the client may not
		// use is shown, never followed; a request without PKCE goes back
		// to the client with the error.
		b := s.newBrowser(t)
		verifier, challenge := pkce()
		if p := b.Get(s.authorizeURL("https://evil.example/cb", mlScope, challenge, "s0")); p.Status != 400 || p.Location != "" || !strings.Contains(p.Body, "AADSTS50011") {
			t.Errorf("a foreign redirect URI: %d %q %s", p.Status, p.Location, p.ErrorText())
		}
		if p := b.Get(s.authorizeURL(redirect, mlScope, "", "s0")); p.Status != 302 || !strings.Contains(p.Location, "error=invalid_request") || !strings.Contains(p.Location, "state=s0") {
			t.Errorf("no PKCE: %d %q", p.Status, p.Location)
		}

		// An application of the tenant redirects only to its registered
		// URIs; web redirect URIs (a confidential client's) are refused.
		app := s.graph(t, admin, "POST", "/applications", map[string]any{"displayName": "dashboard",
			"spa": map[string]any{"redirectUris": []any{"https://dashboard.example/auth"}}, "isFallbackPublicClient": true}, 201)
		if app["spa"].(map[string]any)["redirectUris"].([]any)[0] != "https://dashboard.example/auth" || app["isFallbackPublicClient"] != true {
			t.Errorf("the application: %v", app)
		}
		if m := s.graph(t, admin, "POST", "/applications", map[string]any{"displayName": "web", "web": map[string]any{"redirectUris": []any{"https://x.example/cb"}}}, 400); graphErrorCode(m) != "Request_BadRequest" {
			t.Errorf("web redirect URIs: %v", m)
		}
		s.graph(t, admin, "POST", "/servicePrincipals", map[string]any{"appId": app["appId"]}, 201)
		appAuthorize := func(redirect string) Page {
			q := url.Values{"client_id": {app["appId"].(string)}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {"openid"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			return b.Get(s.URL + "/" + s.TenantID + "/oauth2/v2.0/authorize?" + q.Encode())
		}
		if p := appAuthorize("https://dashboard.example/auth"); p.Stage() != "password" {
			t.Errorf("the application's registered redirect URI: %d %s", p.Status, p.ErrorText())
		}
		if p := appAuthorize("http://localhost:8400/callback"); p.Status != 400 || !strings.Contains(p.Body, "AADSTS50011") {
			t.Errorf("the application with an unregistered redirect URI: %d %s", p.Status, p.ErrorText())
		}

		// The code flow: password, then enrolment of an authenticator
		// (the policy needs MFA and carol has none).
		p := b.Get(s.authorizeURL(redirect, mlScope, challenge, "s1"))
		if p.Status != 200 || p.Stage() != "password" {
			t.Fatalf("authorize: %d %s", p.Status, p.Body)
		}
		if q := b.Submit(p, url.Values{"username": {upn}, "password": {"Wr0ng-password!"}}); q.Stage() != "password" || !strings.Contains(q.ErrorText(), "invalid username or password") || !strings.Contains(q.Body, "Sign in to <b>Microsoft Azure CLI</b>") {
			t.Errorf("a wrong password: %d %s", q.Status, q.ErrorText())
		}
		p = b.Submit(p, url.Values{"username": {upn}, "password": {pw}})
		secret := p.Secret()
		if p.Stage() != "enrol" || secret == "" || !strings.Contains(p.Body, "otpauth://totp/") {
			t.Fatalf("after the password under an MFA policy: %d %s", p.Status, p.Body)
		}
		if q := b.Submit(p, url.Values{"otc": {"000000"}}); q.Stage() != "enrol" || q.ErrorText() == "" {
			t.Errorf("a wrong code: %d %s", q.Status, q.ErrorText())
		}
		now := time.Now()
		code, _ := authn.TOTPCode(secret, now)
		p = b.Submit(p, url.Values{"otc": {code}})
		if p.Status != 302 || !strings.HasPrefix(p.Location, redirect+"?") {
			t.Fatalf("after the first code: %d %q %s", p.Status, p.Location, p.ErrorText())
		}
		back, _ := url.Parse(p.Location)
		if back.Query().Get("state") != "s1" || back.Query().Get("code") == "" {
			t.Fatalf("redirect: %s", p.Location)
		}
		authCode := back.Query().Get("code")
		redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {azureCLI}, "code": {authCode}, "redirect_uri": {redirect},
			"code_verifier": {verifier}, "scope": {mlScope}, "client_info": {"1"}}
		bad := url.Values{}
		for k, v := range redeem {
			bad[k] = v
		}
		otherVerifier, _ := pkce()
		bad.Set("code_verifier", otherVerifier)
		if st, m := s.postToken(t, bad); st != 400 || errorCode(m) != "AADSTS501481" {
			t.Errorf("a wrong verifier: %d %v", st, m)
		}
		st, tok := s.postToken(t, redeem)
		if st != 200 || tok["refresh_token"] == nil || tok["id_token"] == nil || tok["client_info"] == nil {
			t.Fatalf("redeeming the code: %d %v", st, tok)
		}
		at := claimsOf(t, tok["access_token"].(string))
		if at["aud"] != "https://ml.azure.com" || at["oid"] != cid || !slices.Contains(toStrings(at["amr"]), "mfa") || at["idtyp"] != "user" {
			t.Errorf("the access token: %v", at)
		}
		if id := claimsOf(t, tok["id_token"].(string)); id["nonce"] != "n-s1" || id["aud"] != azureCLI || id["preferred_username"] != upn {
			t.Errorf("the ID token: %v", id)
		}

		// A refresh token gets an ARM token (no MFA policy there; the
		// session did MFA anyway) and is replaced.
		rt := tok["refresh_token"].(string)
		refresh := func(rt, scope string) (int, map[string]any) {
			return s.postToken(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {azureCLI}, "refresh_token": {rt}, "scope": {scope}})
		}
		st, arm := refresh(rt, "https://management.azure.com/.default offline_access")
		if st != 200 || arm["refresh_token"] == nil || arm["refresh_token"] == rt {
			t.Fatalf("refresh: %d %v", st, arm)
		}
		armToken := arm["access_token"].(string)
		if r := s.DoAs(t, armToken, "GET", ws+"?api-version=2024-04-01", ""); r.Status != 200 {
			t.Errorf("carol reads her workspace: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, armToken, "PUT", ws+"/computes/c1?api-version=2024-04-01", `{"location":"eastus","properties":{"computeType":"AmlCompute"}}`); r.Status != 403 {
			t.Errorf("carol creates a compute: %d", r.Status)
		}
		rt2 := arm["refresh_token"].(string)

		// The replayed code ends the session: its tokens stop at once.
		if st, m := s.postToken(t, redeem); st != 400 || errorCode(m) != "AADSTS54005" {
			t.Errorf("the code again: %d %v", st, m)
		}
		if r := s.DoAs(t, armToken, "GET", ws+"?api-version=2024-04-01", ""); r.Status != 401 {
			t.Errorf("a token of the ended session: %d %s", r.Status, r.Body)
		}
		if st, m := refresh(rt2, "https://management.azure.com/.default offline_access"); st != 400 || errorCode(m) != "AADSTS50173" {
			t.Errorf("a refresh token of the ended session: %d %v", st, m)
		}

		// Signing in again: the browser's session ended too, so the
		// password is asked again, then the code (enrolled now). The code
		// just used is refused (no replay); the next step's is taken.
		verifier, challenge = pkce()
		p = b.Get(s.authorizeURL(redirect, mlScope, challenge, "s2"))
		if p.Stage() != "password" {
			t.Fatalf("second sign-in: %d %s", p.Status, p.Body)
		}
		p = b.Submit(p, url.Values{"username": {upn}, "password": {pw}})
		if p.Stage() != "mfa" {
			t.Fatalf("second sign-in after the password: %d %s", p.Status, p.Body)
		}
		if q := b.Submit(p, url.Values{"otc": {code}}); q.Stage() != "mfa" || !strings.Contains(q.ErrorText(), "already used") {
			t.Errorf("a replayed TOTP code: %d %s", q.Status, q.ErrorText())
		}
		next, _ := authn.TOTPCode(secret, now.Add(30*time.Second))
		p = b.Submit(p, url.Values{"otc": {next}})
		if p.Status != 302 {
			t.Fatalf("second sign-in, the code: %d %s", p.Status, p.ErrorText())
		}
		back, _ = url.Parse(p.Location)
		st, tok = s.postToken(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {azureCLI}, "code": {back.Query().Get("code")},
			"redirect_uri": {redirect}, "code_verifier": {verifier}, "scope": {"https://management.azure.com/.default offline_access"}})
		if st != 200 {
			t.Fatalf("second code: %d %v", st, tok)
		}
		armToken, rt = tok["access_token"].(string), tok["refresh_token"].(string)
		st, m := refresh(rt, "https://management.azure.com/.default offline_access")
		if st != 200 {
			t.Fatalf("refresh: %d %v", st, m)
		}
		// The refresh token just replaced, presented again: theft.
		if st, m := refresh(rt, "https://management.azure.com/.default offline_access"); st != 400 || errorCode(m) != "AADSTS50173" {
			t.Errorf("a replaced refresh token: %d %v", st, m)
		}
		if r := s.DoAs(t, armToken, "GET", ws+"?api-version=2024-04-01", ""); r.Status != 401 {
			t.Errorf("after a refresh token replay the session's tokens: %d", r.Status)
		}

		// Single sign-on, then sign-out: after a sign-in to ARM (no MFA
		// policy there), a new authorization request of the same browser
		// skips the password; logging out ends the session and its tokens.
		verifier, challenge = pkce()
		p = b.Get(s.authorizeURL(redirect, "https://management.azure.com/.default", challenge, "s3"))
		if p.Stage() != "password" {
			t.Fatalf("third sign-in: %d %s", p.Status, p.Body)
		}
		if p = b.Submit(p, url.Values{"username": {upn}, "password": {pw}}); p.Status != 302 || !strings.Contains(p.Location, "code=") {
			t.Fatalf("third sign-in: %d %s", p.Status, p.ErrorText())
		}
		verifier, challenge = pkce()
		p = b.Get(s.authorizeURL(redirect, "https://management.azure.com/.default offline_access", challenge, "s4"))
		if p.Status != 302 || !strings.Contains(p.Location, "code=") {
			t.Fatalf("single sign-on: %d %s", p.Status, p.Body)
		}
		back, _ = url.Parse(p.Location)
		st, tok = s.postToken(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {azureCLI}, "code": {back.Query().Get("code")},
			"redirect_uri": {redirect}, "code_verifier": {verifier}})
		if st != 200 {
			t.Fatalf("single sign-on code: %d %v", st, tok)
		}
		armToken = tok["access_token"].(string)
		if r := s.DoAs(t, armToken, "GET", ws+"?api-version=2024-04-01", ""); r.Status != 200 {
			t.Errorf("before sign-out: %d", r.Status)
		}
		p = b.Get(s.URL + "/" + s.TenantID + "/oauth2/v2.0/logout?" + url.Values{"client_id": {azureCLI}, "post_logout_redirect_uri": {"http://localhost:8400/bye"}}.Encode())
		if p.Status != 302 || p.Location != "http://localhost:8400/bye" {
			t.Errorf("sign-out: %d %q", p.Status, p.Location)
		}
		if r := s.DoAs(t, armToken, "GET", ws+"?api-version=2024-04-01", ""); r.Status != 401 {
			t.Errorf("after sign-out: %d", r.Status)
		}
		if p := b.Get(s.authorizeURL(redirect, mlScope, challenge, "s5", "prompt", "none")); p.Status != 302 || !strings.Contains(p.Location, "error=login_required") {
			t.Errorf("prompt=none after sign-out: %d %q", p.Status, p.Location)
		}
		if p := b.Get(s.authorizeURL(redirect, mlScope, challenge, "s5")); p.Stage() != "password" {
			t.Errorf("after sign-out the browser signs in again: %d %s", p.Status, p.Body)
		}

		// The device code flow (ARM: no MFA), approved in another
		// browser; pending until then, single use.
		st, dc := s.postForm(t, "/"+s.TenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {azureCLI}, "scope": {"https://management.azure.com/.default offline_access openid"}})
		if st != 200 || dc["user_code"] == nil || dc["verification_uri"] != s.URL+"/devicelogin" {
			t.Fatalf("device code: %d %v", st, dc)
		}
		poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {azureCLI}, "device_code": {dc["device_code"].(string)}}
		if st, m := s.postToken(t, poll); st != 400 || m["error"] != "authorization_pending" {
			t.Errorf("polling before approval: %d %v", st, m)
		}
		d := s.newBrowser(t)
		if p := d.Post("/devicelogin", url.Values{"code": {"BCDFGHJKL"}}); p.Status != 400 || !strings.Contains(p.Body, "AADSTS70020") {
			t.Errorf("a wrong user code: %d %s", p.Status, p.ErrorText())
		}
		p = d.Post("/devicelogin", url.Values{"code": {strings.ToLower(dc["user_code"].(string))}})
		p = d.Submit(p, url.Values{"username": {upn}, "password": {pw}})
		if p.Status != 200 || !strings.Contains(p.Body, `id="done"`) {
			t.Fatalf("device sign-in: %d %s", p.Status, p.Body)
		}
		st, tok = s.postToken(t, poll)
		if st != 200 || tok["refresh_token"] == nil {
			t.Fatalf("device token: %d %v", st, tok)
		}
		if amr := toStrings(claimsOf(t, tok["access_token"].(string))["amr"]); slices.Contains(amr, "mfa") {
			t.Errorf("a device sign-in without MFA says mfa: %v", amr)
		}
		if st, m := s.postToken(t, poll); st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("the device code again: %d %v", st, m)
		}
		devToken, devRT := tok["access_token"].(string), tok["refresh_token"].(string)
		// That session did no MFA: Azure ML needs it, so its refresh
		// token cannot get an Azure ML token.
		if st, m := refresh(devRT, "https://ml.azure.com/.default offline_access"); st != 400 || errorCode(m) != "AADSTS50076" {
			t.Errorf("a single-factor session's refresh for Azure ML: %d %v", st, m)
		}
		// A refresh naming no scope gets the resource last granted.
		if st, m := refresh(devRT, ""); st != 200 || !strings.HasPrefix(claimsOf(t, m["access_token"].(string))["aud"].(string), "https://management.azure.com") {
			t.Errorf("a refresh without a scope: %d %v", st, m)
		}
		// Revocation (mlgov logout) ends it, with the refresh token just
		// replaced too.
		if st, _ := s.postForm(t, "/"+s.TenantID+"/oauth2/v2.0/revoke", url.Values{"token": {devRT}, "client_id": {azureCLI}}); st != 200 {
			t.Errorf("revoke: %d", st)
		}
		if r := s.DoAs(t, devToken, "GET", ws+"?api-version=2024-04-01", ""); r.Status != 401 {
			t.Errorf("after revocation: %d", r.Status)
		}

		// A new password ends the sessions made with the old one.
		st, dc = s.postForm(t, "/"+s.TenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {azureCLI}, "scope": {"https://management.azure.com/.default offline_access"}})
		p = d.Post("/devicelogin", url.Values{"code": {dc["user_code"].(string)}})
		d.Submit(p, url.Values{"username": {upn}, "password": {pw}})
		_, tok = s.postToken(t, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {azureCLI}, "device_code": {dc["device_code"].(string)}})
		s.graph(t, admin, "PATCH", "/users/"+cid, map[string]any{"passwordProfile": map[string]any{"password": "An0ther-passw0rd!"}}, 204)
		if st, m := refresh(tok["refresh_token"].(string), "https://management.azure.com/.default"); st != 400 || errorCode(m) != "AADSTS50173" {
			t.Errorf("a refresh token after a password change: %d %v", st, m)
		}

		// The authenticator app in Graph: listed without its secret;
		// deleting it makes the next MFA sign-in enrol again.
		ms := s.graph(t, admin, "GET", "/users/"+cid+"/authentication/softwareOathMethods", nil, 200)["value"].([]any)
		if len(ms) != 1 || ms[0].(map[string]any)["secretKey"] != nil {
			t.Fatalf("methods: %v", ms)
		}
		s.graph(t, admin, "DELETE", "/users/"+cid+"/authentication/softwareOathMethods/"+ms[0].(map[string]any)["id"].(string), nil, 204)
		_, challenge = pkce()
		e := s.newBrowser(t)
		p = e.Get(s.authorizeURL(redirect, mlScope, challenge, "s6"))
		// Another browser cannot continue the flow.
		if q := s.newBrowser(t).Submit(p, url.Values{"username": {upn}, "password": {"An0ther-passw0rd!"}}); q.Status != 400 || !strings.Contains(q.ErrorText(), "another browser") {
			t.Errorf("a flow continued in another browser: %d %s", q.Status, q.Body)
		}
		p = e.Submit(p, url.Values{"username": {upn}, "password": {"An0ther-passw0rd!"}})
		if p.Stage() != "enrol" || p.Secret() == secret {
			t.Fatalf("after the authenticator's removal: %s, the same secret %v", p.Stage(), p.Secret() == secret)
		}
		// Five wrong codes end the flow.
		for i := range 5 {
			q := e.Submit(p, url.Values{"otc": {"000000"}})
			if i < 4 && q.Stage() != "enrol" || i == 4 && !strings.Contains(q.ErrorText(), "Too many wrong") {
				t.Fatalf("wrong code %d: %d %s", i+1, q.Status, q.ErrorText())
			}
		}
		if q := e.Submit(p, url.Values{"otc": {"000000"}}); !strings.Contains(q.ErrorText(), "not in progress") {
			t.Errorf("the flow after five wrong codes: %d %s", q.Status, q.ErrorText())
		}

		// The sign-in log: interactive sign-ins with their requirement
		// and the policy's outcome.
		var mfaOK, wrongCode bool
		for _, v := range s.graph(t, admin, "GET", "/auditLogs/signIns", nil, 200)["value"].([]any) {
			e := v.(map[string]any)
			if e["isInteractive"] != true {
				continue
			}
			status := e["status"].(map[string]any)
			if status["errorCode"] == float64(0) && e["authenticationRequirement"] == "multiFactorAuthentication" && e["resourceDisplayName"] == "Azure Machine Learning" {
				for _, ap := range e["appliedConditionalAccessPolicies"].([]any) {
					if ap.(map[string]any)["result"] == "success" {
						mfaOK = true
					}
				}
			}
			if status["errorCode"] == float64(500121) {
				wrongCode = true
			}
		}
		if !mfaOK || !wrongCode {
			t.Errorf("sign-in log: MFA satisfied %v, a wrong code %v", mfaOK, wrongCode)
		}
	})
}

// postForm posts a form to a path of the server (the token endpoint's
// and the device authorization's) and decodes the JSON answer.
func (s *Server) postForm(t *testing.T, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client.PostForm(s.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// TestDeviceCodeGrantMSALName: a device code is redeemed under
// grant_type=device_code, the name @azure/msal-node's DeviceCodeClient
// (and so @azure/identity's DeviceCodeCredential) polls with, exactly as
// under RFC 8628's URN: pending until the user signs in on the
// verification page, then the tokens MSAL needs (access, refresh, ID
// token and client_info), then single use.
func TestDeviceCodeGrantMSALName(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		const pw, upn = "Str0ng-passw0rd!", "erin@corp.example"
		erin := s.graph(t, admin, "POST", "/users", map[string]any{"displayName": "Erin", "userPrincipalName": upn,
			"passwordProfile": map[string]any{"password": pw}}, 201)
		scope := "https://management.azure.com/.default openid profile offline_access"
		st, dc := s.postForm(t, "/"+s.TenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {azureCLI}, "scope": {scope}})
		if st != 200 {
			t.Fatalf("device code: %d %v", st, dc)
		}
		poll := url.Values{"grant_type": {"device_code"}, "client_id": {azureCLI}, "device_code": {dc["device_code"].(string)},
			"scope": {scope}, "client_info": {"1"}}
		if st, m := s.postToken(t, poll); st != 400 || m["error"] != "authorization_pending" {
			t.Fatalf("polling before approval: %d %v", st, m)
		}
		if p := s.newBrowser(t).DeviceSignIn(dc["user_code"].(string), upn, pw); !p.Done() {
			t.Fatalf("device sign-in: %d %s", p.Status, p.Body)
		}
		st, tok := s.postToken(t, poll)
		if st != 200 || tok["refresh_token"] == nil || tok["id_token"] == nil || tok["client_info"] == nil {
			t.Fatalf("device token: %d %v", st, tok)
		}
		if at := claimsOf(t, tok["access_token"].(string)); at["oid"] != erin["id"] || at["upn"] != upn {
			t.Errorf("the access token: %v", at)
		}
		if st, m := s.postToken(t, poll); st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("the device code again: %d %v", st, m)
		}
	})
}
