package e2e

// mlgov login and logout, as the real binary against a real mlgov serve:
// the administrator creates a user (mlgov directory user create) and
// gives it Reader on a resource group; `mlgov login` prints a code, the
// user signs in on the verification page in a browser (a cookie-keeping
// HTTP client here), and the command receives the session; commands
// given --login act as the user (reads allowed, a write refused naming
// the user); `mlgov logout` ends the session on the server, so the
// access token the login file held is refused at once.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/internal/armtest"
)

func TestLoginCLI(t *testing.T) {
	srv, hc, _ := serveWithToken(t)
	b := srv.Bootstrap
	const upn, pw = "dana@corp.example", "Str0ng-passw0rd!"
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(pw+"\n"), 0o600)
	r := mlgovCLI(t, srv, "directory", "user", "create", upn, "--display-name", "Dana", "--password-file", pwFile, "-o", "json")
	var user struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &user); err != nil || r.code != 0 || user.ID == "" {
		t.Fatalf("user create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mlgovCLI(t, srv, "directory", "user", "list"); r.code != 0 || !strings.Contains(r.stdout, upn) {
		t.Errorf("user list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rg := "/subscriptions/" + b.SubscriptionID + "/resourceGroups/team"
	if st, m := armSend(t, hc, b.Endpoint, adminToken(t, srv), "PUT", rg+"?api-version=2021-04-01", `{"location":"eastus"}`); st != 201 && st != 200 {
		t.Fatalf("resource group: %d %v", st, m)
	}
	if r := mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", user.ID, "--assignee-principal-type", "User", "--scope", rg); r.code != 0 {
		t.Fatalf("role for the user: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// mlgov login: the code on standard error, the sign-in in a browser.
	loginFile := filepath.Join(t.TempDir(), "login.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, srv.Bin, "login", "--bootstrap", srv.BootstrapPath, "--login-file", loginFile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil {
		t.Fatalf("mlgov login printed no code: %v", err)
	}
	m := regexp.MustCompile(`open the page (\S+) and enter the code (\S+) `).FindStringSubmatch(line)
	if m == nil || m[1] != b.Endpoint+"/devicelogin" {
		t.Fatalf("mlgov login's message: %q", line)
	}
	browser := armtest.NewBrowser(t, hc, b.Endpoint)
	if p := browser.DeviceSignIn(m[2], upn, pw); !p.Done() {
		t.Fatalf("the sign-in page: %d %s", p.Status, p.Body)
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "Signed in as "+upn) {
		t.Fatalf("mlgov login: %v\n%s", err, out.String())
	}
	if fi, err := os.Stat(loginFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the login file: %v %v", fi, err)
	}

	// Commands as the user: a read allowed, a write refused naming her.
	r = runCLI(t, srv, "role", "assignment", "list", "--login", "--login-file", loginFile, "--scope", rg)
	if r.code != 0 || !strings.Contains(r.stdout, user.ID) {
		t.Errorf("list as the user: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, srv, "role", "assignment", "create", "--login", "--login-file", loginFile, "--role", "Reader", "--assignee", user.ID, "--assignee-principal-type", "User", "--scope", rg)
	if r.code == 0 || !strings.Contains(r.stderr, "AuthorizationFailed") || !strings.Contains(r.stderr, upn) {
		t.Errorf("a write as the user: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, srv, "role", "assignment", "list", "--login", "--login-file", loginFile, "--endpoint", b.Endpoint, "--credentials", pwFile); r.code == 0 || !strings.Contains(r.stderr, "--login") {
		t.Errorf("--login with --endpoint: exit %d\n%s", r.code, r.stderr)
	}

	// mlgov logout: the session ends on the server.
	var lf struct {
		Tokens map[string]struct{ AccessToken string }
	}
	raw, _ := os.ReadFile(loginFile)
	json.Unmarshal(raw, &lf)
	token := lf.Tokens["https://management.azure.com/.default"].AccessToken
	if st, _ := armSend(t, hc, b.Endpoint, token, "GET", rg+"?api-version=2021-04-01", ""); st != 200 {
		t.Fatalf("the user's token before logout: %d", st)
	}
	if r := runCLI(t, srv, "logout", "--login-file", loginFile); r.code != 0 || !strings.Contains(r.stdout, "Signed out "+upn) {
		t.Errorf("logout: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st, _ := armSend(t, hc, b.Endpoint, token, "GET", rg+"?api-version=2021-04-01", ""); st != 401 {
		t.Errorf("the user's token after logout: %d", st)
	}
	if _, err := os.Stat(loginFile); !os.IsNotExist(err) {
		t.Errorf("the login file after logout: %v", err)
	}
	if r := runCLI(t, srv, "role", "assignment", "list", "--login", "--login-file", loginFile, "--scope", rg); r.code == 0 || !strings.Contains(r.stderr, "not signed in") {
		t.Errorf("--login after logout: exit %d\n%s", r.code, r.stderr)
	}
}

// adminToken is an ARM token of the server's administrator.
func adminToken(t *testing.T, srv *Server) string {
	t.Helper()
	st, tok := clientToken(t, srv.HTTPClient(t), srv.Bootstrap.AuthorityHost, srv.Bootstrap, srv.Bootstrap.ClientSecret)
	if st != 200 {
		t.Fatalf("admin token: %d", st)
	}
	return tok
}

// TestDirectoryAppCertificate: `mlgov directory app create NAME --cert
// FILE` makes an application that signs in with a client assertion of
// that certificate's key, and has no secret.
func TestDirectoryAppCertificate(t *testing.T) {
	srv, hc, _ := serveWithToken(t)
	b := srv.Bootstrap
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der := armtest.SelfSigned(t, key, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	r := mlgovCLI(t, srv, "directory", "app", "create", "cert-app", "--cert", certFile)
	var app struct {
		AppID, Password       string
		CertificateThumbprint string `json:"certificateThumbprint"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &app); err != nil || r.code != 0 || app.Password != "" || len(app.CertificateThumbprint) != 40 {
		t.Fatalf("app create --cert: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	endpoint := b.AuthorityHost + "/" + b.TenantID + "/oauth2/v2.0/token"
	a := armtest.ClientAssertion(t, key, jose.RS256, der, "x5t", map[string]any{"aud": endpoint, "iss": app.AppID, "sub": app.AppID,
		"jti": "j1", "exp": time.Now().Add(5 * time.Minute).Unix()})
	resp, err := hc.PostForm(endpoint, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.AppID}, "scope": {"https://management.azure.com/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the certificate's sign-in: %d", resp.StatusCode)
	}
	if r := mlgovCLI(t, srv, "directory", "app", "create", "bad", "--cert", filepath.Join(t.TempDir(), "missing.pem")); r.code == 0 || !strings.Contains(r.stderr, "--cert") {
		t.Errorf("a missing --cert file: exit %d %s", r.code, r.stderr)
	}
}
