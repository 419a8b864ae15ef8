package e2e

// TestDashboardBrowser runs the browser tests in e2e/ui — node --test over
// e2e/ui/test/*.test.mjs, which drive Debian's chromium with playwright-core
// (e2e/ui/lib/browser.mjs) — against a freshly started `mlgov serve` with
// the built-ins, and two users made through its Graph API with roles made
// through its ARM API.
//
// Environment (besides those of serve_test.go and sdk_test.go):
//   MLGOV_E2E_UI_TESTS     space-separated test files (relative to e2e/ui)
//                          to run instead of all of them
//   MLGOV_E2E_CHROMIUM     the browser to drive (default: chromium on PATH;
//                          scripts/install-chromium.sh installs Debian's)
//   MLGOV_E2E_SCREENSHOTS  where screenshots go (default e2e/ui/screenshots)
//
// What the Node tests get is listed in e2e/ui/README.md; nodeUIEnv sets it.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/federation"
	"github.com/mlgov/mlgov/internal/armtest"
)

// Built-in role definitions the dashboard's users get.
const (
	roleOwner  = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	roleReader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

// uiUser is a user of the directory made for the browser tests.
type uiUser struct {
	ID, UPN, DisplayName, Password string
}

func TestDashboardBrowser(t *testing.T) {
	d := startDashboard(t, nil)
	runNodeTests(t, d.node, d.uiDir, d.env, strings.Fields(os.Getenv("MLGOV_E2E_UI_TESTS")), d.srv)
}

// TestDashboardExternalSignIn: with serve --oidc-issuer and
// --ui-oidc-client-id, a user of the external issuer (a Keycloak-shaped
// realm that signs anyone in by name) signs in to the dashboard from its
// "Sign in with …" button and reads what a role for the issuer's mapped
// principal gives (e2e/ui/external/signin.mjs).
func TestDashboardExternalSignIn(t *testing.T) {
	f := armtest.NewFakeIssuer(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "issuer-ca.pem")
	if err := os.WriteFile(ca, f.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	const client = "mlgov-dashboard"
	d := startDashboard(t, []string{"--oidc-issuer", f.Issuer(), "--oidc-audience", "mlgov", "--oidc-ca-file", ca, "--ui-oidc-client-id", client})
	b := d.srv.Bootstrap
	f.AllowClient(client, b.Endpoint+"/ui/")
	const user = "erin"
	iss, err := federation.New(federation.Config{Issuer: f.Issuer(), Audience: "mlgov"})
	if err != nil {
		t.Fatal(err)
	}
	assignRole(t, d.hc, b, d.token, "/subscriptions/"+b.SubscriptionID, roleReader, iss.MappedID(user))
	// The browser and node trust both servers' certificates.
	both := filepath.Join(dir, "both.pem")
	mlgovPEM, err := os.ReadFile(b.CACertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(both, append(append(mlgovPEM, '\n'), f.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(d.env, "MLGOV_CA_CERT="+both, "NODE_EXTRA_CA_CERTS="+both, "MLGOV_EXT_USER="+user, "MLGOV_EXT_ISSUER="+f.Issuer())
	runNodeTests(t, d.node, d.uiDir, env, []string{"external/signin.mjs"}, d.srv)
}

// dashboard is a started `mlgov serve` with the browser tests' users
// and roles, and their environment.
type dashboard struct {
	node, uiDir string
	srv         *Server
	hc          *http.Client
	token       string // the administrator's ARM token
	env         []string
}

// startDashboard starts mlgov serve (with extra flags) for the browser
// tests: the npm packages of e2e/ui and e2e/sdk installed, two users made
// through the Graph API, their roles through ARM.
func startDashboard(t *testing.T, extra []string) *dashboard {
	t.Helper()
	node := lookTool(t, "node")
	npm := lookTool(t, "npm")
	checkNodeVersion(t, node)
	browser := chromiumPath(t)

	uiDir, err := filepath.Abs("ui")
	if err != nil {
		t.Fatal(err)
	}
	installNodeModules(t, npm, uiDir)
	// The SDK suite's packages: a test creates a compute with
	// @azure/arm-machinelearning in a process of its own.
	sdkDir, err := filepath.Abs("sdk")
	if err != nil {
		t.Fatal(err)
	}
	installNodeModules(t, npm, sdkDir)
	shots := os.Getenv("MLGOV_E2E_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(uiDir, "screenshots")
	}
	if shots, err = filepath.Abs(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: append(builtinArgs(t), extra...)})
	b := srv.Bootstrap
	hc := srv.HTTPClient(t)
	st, token := clientToken(t, hc, b.AuthorityHost, b, b.ClientSecret)
	if st != 200 || token == "" {
		t.Fatalf("token: %d", st)
	}
	t.Logf("mlgov serve ready at %s; browser %s; screenshots in %s", b.Endpoint, browser, shots)

	// The platform admin: Owner of the subscription. The team's reader:
	// Reader on one resource group only (and the other group exists, so
	// that showing it would be a mistake).
	graphTok := graphToken(t, hc, b)
	admin := createUser(t, hc, b, graphTok, "Ada Admin", "ada")
	reader := createUser(t, hc, b, graphTok, "Rui Reader", "rui")
	sub := "/subscriptions/" + b.SubscriptionID
	const readerRG, otherRG = "ui-team", "ui-other"
	for _, rg := range []string{readerRG, otherRG} {
		if st, raw := armSendRaw(t, hc, b.Endpoint, token, "PUT", sub+"/resourcegroups/"+rg+"?api-version=2025-04-01", `{"location":"westeurope"}`); st != 200 && st != 201 {
			t.Fatalf("resource group %s: %d %s", rg, st, raw)
		}
	}
	assignRole(t, hc, b, token, sub, roleOwner, admin.ID)
	assignRole(t, hc, b, token, sub+"/resourceGroups/"+readerRG, roleReader, reader.ID)

	env := append(nodeUIEnv(srv, browser, shots, admin, reader, readerRG), "MLGOV_SDK_DIR="+sdkDir, "MLGOV_BOOTSTRAP="+srv.BootstrapPath)
	return &dashboard{node: node, uiDir: uiDir, srv: srv, hc: hc, token: token, env: env}
}

// chromiumPath finds the browser, or skips (fails with MLGOV_E2E_REQUIRE=1).
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MLGOV_E2E_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("MLGOV_E2E_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	requireOrSkip(t, "chromium is not installed (needed for the browser tests; scripts/install-chromium.sh installs Debian's, as `make test` does)")
	return ""
}

// graphToken is a Graph API token of the server's administrator.
func graphToken(t testing.TB, hc *http.Client, b Bootstrap) string {
	t.Helper()
	st, raw := postForm(t, hc, b.AuthorityHost+"/"+b.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {b.ClientID}, "client_secret": {b.ClientSecret},
		"scope": {"https://graph.microsoft.com/.default"}})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || st != 200 || tok.AccessToken == "" {
		t.Fatalf("a Graph token: %d %s", st, raw)
	}
	return tok.AccessToken
}

// createUser makes a user with a password through the Graph API.
func createUser(t testing.TB, hc *http.Client, b Bootstrap, graphTok, displayName, nick string) uiUser {
	t.Helper()
	u := uiUser{UPN: nick + "@ui.example", DisplayName: displayName, Password: "Ui-" + crashHex(8) + "-passw0rd!"}
	body := mustJSON(map[string]any{"accountEnabled": true, "displayName": displayName, "mailNickname": nick,
		"userPrincipalName": u.UPN, "passwordProfile": map[string]any{"password": u.Password}})
	st, raw := armSendRaw(t, hc, b.Endpoint, graphTok, "POST", "/v1.0/users", body)
	var made struct{ ID string }
	if err := json.Unmarshal(raw, &made); err != nil || st != 201 || made.ID == "" {
		t.Fatalf("POST /v1.0/users %s: %d %s", u.UPN, st, raw)
	}
	u.ID = made.ID
	return u
}

// assignRole gives principal the built-in role at scope.
func assignRole(t testing.TB, hc *http.Client, b Bootstrap, token, scope, role, principal string) {
	t.Helper()
	path := scope + "/providers/Microsoft.Authorization/roleAssignments/" + crashGUID() + "?api-version=2022-04-01"
	body := mustJSON(map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/" + b.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
		"principalId":      principal, "principalType": "User"}})
	if st, raw := armSendRaw(t, hc, b.Endpoint, token, "PUT", path, body); st != 201 && st != 200 {
		t.Fatalf("role %s for %s at %s: %d %s", role, principal, scope, st, raw)
	}
}

// nodeUIEnv is the environment of the browser tests (see e2e/ui/README.md).
func nodeUIEnv(srv *Server, browser, shots string, admin, reader uiUser, readerRG string) []string {
	b := srv.Bootstrap
	names := []string{"MLGOV_URL", "MLGOV_AUTHORITY_HOST", "MLGOV_TENANT_ID", "MLGOV_SUBSCRIPTION_ID", "MLGOV_CLIENT_ID",
		"MLGOV_CLIENT_SECRET", "MLGOV_CA_CERT", "MLGOV_UI_USER", "MLGOV_UI_USER_ID", "MLGOV_UI_USER_NAME",
		"MLGOV_UI_PASSWORD", "MLGOV_UI_READER", "MLGOV_UI_READER_ID", "MLGOV_UI_READER_NAME",
		"MLGOV_UI_READER_PASSWORD", "MLGOV_UI_READER_RG", "CHROMIUM", "MLGOV_UI_SCREENSHOTS"}
	values := []string{b.Endpoint, b.AuthorityHost, b.TenantID, b.SubscriptionID, b.ClientID,
		b.ClientSecret, b.CACertFile, admin.UPN, admin.ID, admin.DisplayName,
		admin.Password, reader.UPN, reader.ID, reader.DisplayName,
		reader.Password, readerRG, browser, shots}
	drop := map[string]bool{"NODE_TEST_CONTEXT": true, "MLGOV_BOOTSTRAP": true}
	for _, n := range names {
		drop[n] = true
	}
	env := clientEnv(func(k string) bool { return drop[k] })
	for i, n := range names {
		env = append(env, n+"="+values[i])
	}
	// Node's fetch (the tests' ARM and token requests) trusts the
	// server's certificate through NODE_EXTRA_CA_CERTS; chromium through
	// browser.mjs, which reads MLGOV_CA_CERT.
	return append(env, "NODE_EXTRA_CA_CERTS="+b.CACertFile)
}

// postForm posts a form and returns the status and body.
func postForm(t testing.TB, hc *http.Client, u string, form url.Values) (int, []byte) {
	t.Helper()
	resp, err := hc.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}
