package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgov/mlgov/api/oauth"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/authn/authntest"
)

// recorded is one request MSAL made.
type recorded struct {
	Method, Path string
	FormKeys     []string
}

type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var keys []string
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			vals, _ := url.ParseQuery(string(body))
			for k := range vals {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, keys})
		rec.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// tlsServer starts an httptest TLS server on 127.0.0.1 serving the
// handler built by mk from the server's own URL.
func tlsServer(t *testing.T, mk func(baseURL string) http.Handler) (*httptest.Server, *recorder) {
	t.Helper()
	var h http.Handler
	rec := &recorder{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h = rec.wrap(mk(srv.URL))
	return srv, rec
}

// npmDeps installs testdata/msal's locked dependencies into a temp dir
// (or uses MLGOV_MSAL_NODE_DIR, a directory where that was already done)
// and returns the directory holding roundtrip.mjs and node_modules.
func npmDeps(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("MLGOV_MSAL_NODE_DIR"); dir != "" {
		return dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("skipping the @azure/identity round trip: npm is not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "roundtrip.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "msal", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("skipping the @azure/identity round trip: npm ci failed (no registry access?): %v\n%s", err, out)
	}
	return dir
}

// TestMSALRoundTrip runs the real @azure/identity ClientSecretCredential
// (Node) against the handler and verifies the token it gets with
// authn.Verify. It is skipped when node or npm is missing.
func TestMSALRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the @azure/identity round trip in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skipping the @azure/identity round trip: node is not installed")
	}
	dir := npmDeps(t)
	ctx := context.Background()
	st := authntest.NewMemStore()

	var svc *authn.Service
	srv, rec := tlsServer(t, func(base string) http.Handler {
		svc = authn.New(st, authn.Config{Issuer: authn.IssuerAt(base)})
		return oauth.New(svc, oauth.Config{BaseURL: base})
	})
	// A second server whose discovery document names a foreign issuer:
	// MSAL must refuse it (issuer origin validation).
	badSrv, badRec := tlsServer(t, func(base string) http.Handler {
		bad := authn.New(st, authn.Config{Issuer: authn.IssuerAt("https://issuer.example.test")})
		return oauth.New(bad, oauth.Config{BaseURL: base})
	})

	if err := svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	tenant, err := svc.CreateTenant(ctx, "Contoso")
	if err != nil {
		t.Fatal(err)
	}
	sp, secret, err := svc.CreateServicePrincipal(ctx, tenant.ID, "msal-client")
	if err != nil {
		t.Fatal(err)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	var pems []byte
	for _, s := range []*httptest.Server{srv, badSrv} {
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	if err := os.WriteFile(caFile, pems, 0o600); err != nil {
		t.Fatal(err)
	}

	type scenario struct {
		Name          string `json:"name"`
		AuthorityHost string `json:"authorityHost"`
		TenantID      string `json:"tenantId"`
		ClientID      string `json:"clientId"`
		ClientSecret  string `json:"clientSecret"`
		Scope         string `json:"scope"`
		Repeat        bool   `json:"repeat"`
	}
	const arm = "https://management.azure.com/.default"
	good := scenario{Name: "good", AuthorityHost: srv.URL, TenantID: tenant.ID, ClientID: sp.AppID, ClientSecret: secret, Scope: arm, Repeat: true}
	with := func(name string, mod func(*scenario)) scenario {
		s := good
		s.Name, s.Repeat = name, false
		mod(&s)
		return s
	}
	scenarios := []scenario{
		good,
		with("trailing slash host", func(s *scenario) { s.AuthorityHost += "/" }),
		with("core.windows.net", func(s *scenario) { s.Scope = "https://management.core.windows.net//.default" }),
		with("wrong secret", func(s *scenario) { s.ClientSecret = "not-the-secret" }),
		with("unknown client", func(s *scenario) { s.ClientID = "0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3" }),
		with("unknown tenant", func(s *scenario) { s.TenantID = "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d" }),
		with("key vault scope", func(s *scenario) { s.Scope = "https://vault.azure.net/.default" }),
		with("foreign issuer", func(s *scenario) { s.AuthorityHost = badSrv.URL }),
	}
	scenJSON, err := json.Marshal(scenarios)
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "roundtrip.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"NODE_EXTRA_CA_CERTS="+caFile,
		"MLGOV_SCENARIOS="+string(scenJSON),
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
		"AZURE_LOG_LEVEL=",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node roundtrip.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	type result struct {
		OK                 bool    `json:"ok"`
		Token              string  `json:"token"`
		ExpiresOnTimestamp float64 `json:"expiresOnTimestamp"`
		TokenType          string  `json:"tokenType"`
		SameOnRepeat       bool    `json:"sameOnRepeat"`
		Error              struct {
			Name, Message string
		} `json:"error"`
	}
	var results map[string]result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("node output: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	// The tokens MSAL got verify, with the right principal and audience.
	for name, aud := range map[string]string{"good": "https://management.azure.com", "trailing slash host": "https://management.azure.com", "core.windows.net": "https://management.core.windows.net/"} {
		r := results[name]
		if !r.OK {
			t.Errorf("%s: getToken failed: %s: %s", name, r.Error.Name, r.Error.Message)
			continue
		}
		p, err := svc.Verify(ctx, r.Token)
		if err != nil {
			t.Errorf("%s: Verify: %v", name, err)
			continue
		}
		if p.TenantID != tenant.ID || p.ObjectID != sp.ObjectID || p.AppID != sp.AppID || p.Type != "ServicePrincipal" || p.Audience != aud {
			t.Errorf("%s: principal = %+v", name, p)
		}
		if got := time.UnixMilli(int64(r.ExpiresOnTimestamp)); got.Sub(p.ExpiresAt).Abs() > time.Second {
			t.Errorf("%s: expiresOnTimestamp %v, token exp %v", name, got, p.ExpiresAt)
		}
		if name == "good" {
			t.Logf("claims of the token MSAL got: %v", p.Claims)
		}
		if r.TokenType != "Bearer" {
			t.Errorf("%s: tokenType %q", name, r.TokenType)
		}
	}
	if !results["good"].SameOnRepeat {
		t.Errorf("second getToken did not return the cached token")
	}

	// Failures surface Entra's codes through MSAL's error message.
	for name, want := range map[string][]string{
		"wrong secret":    {"invalid_client", "AADSTS7000215"},
		"unknown client":  {"unauthorized_client", "AADSTS700016"},
		"key vault scope": {"invalid_resource", "AADSTS500011"},
		// MSAL hides why discovery failed (createDiscoveredInstance turns
		// every cause into endpoints_resolution_error): a 400 invalid_tenant
		// for the unknown tenant, issuer_validation_failed for the foreign
		// issuer (badSrv differs from srv only in its issuer).
		"unknown tenant": {"endpoints_resolution_error"},
		"foreign issuer": {"endpoints_resolution_error"},
	} {
		r := results[name]
		if r.OK {
			t.Errorf("%s: got a token, want an error", name)
			continue
		}
		for _, w := range want {
			if !strings.Contains(r.Error.Message, w) {
				t.Errorf("%s: error %s: %q does not mention %q", name, r.Error.Name, r.Error.Message, w)
			}
		}
	}

	// The requests MSAL made: per credential, discovery then token; never
	// instance discovery; the cached second getToken made none.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	disc := "/" + tenant.ID + "/v2.0/.well-known/openid-configuration"
	tokenPath := "/" + tenant.ID + "/oauth2/v2.0/token"
	var got []string
	for _, r := range rec.reqs {
		got = append(got, r.Method+" "+r.Path)
	}
	pair := []string{"GET " + disc, "POST " + tokenPath}
	var want []string
	for _, sc := range scenarios {
		switch sc.Name {
		case "unknown tenant":
			want = append(want, "GET /"+sc.TenantID+"/v2.0/.well-known/openid-configuration")
		case "foreign issuer":
		default:
			want = append(want, pair...) // "good" twice would add a second pair
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("MSAL requests:\n got %q\nwant %q", got, want)
	}
	badRec.mu.Lock()
	defer badRec.mu.Unlock()
	if len(badRec.reqs) != 1 || badRec.reqs[0].Method != http.MethodGet || badRec.reqs[0].Path != disc {
		t.Errorf("foreign-issuer server saw %v, want only the discovery GET", badRec.reqs)
	}
	for _, r := range rec.reqs {
		if r.Method == http.MethodPost {
			for _, k := range []string{"client_id", "client_secret", "grant_type", "scope", "client-request-id"} {
				if !slices.Contains(r.FormKeys, k) {
					t.Errorf("token request lacks %s: %v", k, r.FormKeys)
				}
			}
			t.Logf("MSAL token request form keys: %v", r.FormKeys)
			break
		}
	}
}
