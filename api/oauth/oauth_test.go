package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/api/oauth"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/authn/authntest"
)

const (
	base     = "https://mlgov.test:8443"
	armScope = "https://management.azure.com/.default"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	svc    *authn.Service
	h      *oauth.Handler
	tenant *authn.Tenant
	sp     *authn.ServicePrincipal
	secret string
	logs   *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{logs: &bytes.Buffer{}}
	f.svc = authn.New(authntest.NewMemStore(), authn.Config{Issuer: authn.IssuerAt(base), Now: func() time.Time { return fixedNow }})
	f.h = oauth.New(f.svc, oauth.Config{BaseURL: base, Now: func() time.Time { return fixedNow }, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err := f.svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.tenant, err = f.svc.CreateTenant(ctx, "Contoso"); err != nil {
		t.Fatal(err)
	}
	if f.sp, f.secret, err = f.svc.CreateServicePrincipal(ctx, f.tenant.ID, "app"); err != nil {
		t.Fatal(err)
	}
	return f
}

func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func tokenRequest(tenant string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, base+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	for _, tenant := range []string{f.tenant.ID, strings.ToUpper(f.tenant.ID)} {
		w := do(f.h, httptest.NewRequest(http.MethodGet, base+"/"+tenant+"/v2.0/.well-known/openid-configuration", nil))
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("status %d, %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		root := base + "/" + f.tenant.ID
		for k, want := range map[string]string{
			"issuer":                 root + "/v2.0",
			"token_endpoint":         root + "/oauth2/v2.0/token",
			"authorization_endpoint": root + "/oauth2/v2.0/authorize",
			"jwks_uri":               root + "/discovery/v2.0/keys",
		} {
			if doc[k] != want {
				t.Errorf("%s = %v, want %s", k, doc[k], want)
			}
		}
		if doc["issuer"] != f.svc.Issuer(f.tenant.ID) {
			t.Errorf("issuer %v differs from the service's", doc["issuer"])
		}
		for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported", "token_endpoint_auth_methods_supported", "grant_types_supported"} {
			if _, ok := doc[k].([]any); !ok {
				t.Errorf("%s missing or not an array: %v", k, doc[k])
			}
		}
	}
}

func TestJWKS(t *testing.T) {
	f := newFixture(t)
	tok, err := f.svc.TokenForClientSecret(context.Background(), f.tenant.ID, f.sp.AppID, f.secret, armScope)
	if err != nil {
		t.Fatal(err)
	}
	w := do(f.h, httptest.NewRequest(http.MethodGet, base+"/"+f.tenant.ID+"/discovery/v2.0/keys", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != tok.KeyID || set.Keys[0]["kty"] != "RSA" || set.Keys[0]["alg"] != "RS256" || set.Keys[0]["use"] != "sig" {
		t.Errorf("keys = %v", set.Keys)
	}
	if _, ok := set.Keys[0]["d"]; ok {
		t.Error("JWKS contains the private exponent")
	}
}

func TestTokenSuccess(t *testing.T) {
	f := newFixture(t)
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.sp.AppID}, "client_secret": {f.secret}, "scope": {armScope}}
	basic := tokenRequest(f.tenant.ID, url.Values{"grant_type": {"client_credentials"}, "scope": {armScope}})
	basic.SetBasicAuth(url.QueryEscape(f.sp.AppID), url.QueryEscape(f.secret))
	for name, r := range map[string]*http.Request{
		"client_secret_post":  tokenRequest(f.tenant.ID, post),
		"client_secret_basic": basic,
		"upper-case tenant":   tokenRequest(strings.ToUpper(f.tenant.ID), post),
	} {
		w := do(f.h, r)
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d: %s", name, w.Code, w.Body)
			continue
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
		var resp map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if resp["token_type"] != "Bearer" || resp["expires_in"] != 3600.0 || resp["ext_expires_in"] != 3600.0 || len(resp) != 4 {
			t.Errorf("%s: response %v", name, resp)
		}
		at, _ := resp["access_token"].(string)
		p, err := f.svc.Verify(context.Background(), at)
		if err != nil || p.AppID != f.sp.AppID {
			t.Errorf("%s: Verify = %+v, %v", name, p, err)
		}
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	valid := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {f.sp.AppID}, "client_secret": {f.secret}, "scope": {armScope}}
	}
	with := func(mod func(url.Values)) url.Values { v := valid(); mod(v); return v }
	unknownTenant := "5d2f6e7a-0000-4000-8000-000000000001"

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		aadsts int
	}{
		{"wrong secret", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("client_secret", "wrong") }))
		}, 401, "invalid_client", 7000215},
		{"missing secret", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Del("client_secret") }))
		}, 401, "invalid_client", 7000218},
		{"client assertion", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) {
				v.Del("client_secret")
				v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
				v.Set("client_assertion", "x.y.z")
			}))
		}, 401, "invalid_client", 700027}, // not a signed JWT
		{"client_assertion of another type", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) {
				v.Del("client_secret")
				v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
				v.Set("client_assertion", "x.y.z")
			}))
		}, 400, "invalid_request", 50027},
		{"client_assertion and client_secret", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) {
				v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
				v.Set("client_assertion", "x.y.z")
			}))
		}, 400, "invalid_request", 900144},
		{"unknown client", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("client_id", "6e3a7b8c-0000-4000-8000-000000000002") }))
		}, 400, "unauthorized_client", 700016},
		{"missing client_id", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Del("client_id") }))
		}, 400, "invalid_request", 900144},
		{"unknown tenant", func() *http.Request { return tokenRequest(unknownTenant, valid()) }, 400, "invalid_request", 90002},
		{"tenant by name", func() *http.Request { return tokenRequest("contoso.onmicrosoft.com", valid()) }, 400, "invalid_request", 90002},
		{"grant_type password without a username", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("grant_type", "password") }))
		}, 400, "invalid_request", 900144},
		{"grant_type implicit", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("grant_type", "implicit") }))
		}, 400, "unsupported_grant_type", 70003},
		{"grant_type authorization_code with a client secret", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("grant_type", "authorization_code") }))
		}, 400, "invalid_request", 700025},
		{"missing grant_type", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Del("grant_type") }))
		}, 400, "invalid_request", 900144},
		{"missing scope", func() *http.Request { return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Del("scope") })) }, 400, "invalid_request", 900144},
		{"key vault scope", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("scope", "https://vault.azure.net/.default") }))
		}, 400, "invalid_resource", 500011},
		{"scope without .default", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("scope", "https://management.azure.com/user_impersonation") }))
		}, 400, "invalid_scope", 1002012},
		{"json body", func() *http.Request {
			b, _ := json.Marshal(map[string]string{"grant_type": "client_credentials"})
			r := httptest.NewRequest(http.MethodPost, base+"/"+f.tenant.ID+"/oauth2/v2.0/token", bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, "invalid_request", 900144},
		{"oversized body", func() *http.Request {
			return tokenRequest(f.tenant.ID, with(func(v url.Values) { v.Set("pad", strings.Repeat("x", 70<<10)) }))
		}, 400, "invalid_request", 900144},
		{"basic wrong secret", func() *http.Request {
			r := tokenRequest(f.tenant.ID, url.Values{"grant_type": {"client_credentials"}, "scope": {armScope}})
			r.SetBasicAuth(f.sp.AppID, "wrong")
			return r
		}, 401, "invalid_client", 7000215},
		{"basic and body secret", func() *http.Request {
			r := tokenRequest(f.tenant.ID, valid())
			r.SetBasicAuth(f.sp.AppID, f.secret)
			return r
		}, 400, "invalid_request", 900144},
		{"bearer authorization", func() *http.Request {
			r := tokenRequest(f.tenant.ID, valid())
			r.Header.Set("Authorization", "Bearer x")
			return r
		}, 400, "invalid_request", 900144},
		{"discovery of unknown tenant", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, base+"/"+unknownTenant+"/v2.0/.well-known/openid-configuration", nil)
		}, 400, "invalid_tenant", 90002},
		{"keys of unknown tenant", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, base+"/"+unknownTenant+"/discovery/v2.0/keys", nil)
		}, 400, "invalid_tenant", 90002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			r.Header.Set("client-request-id", "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE")
			w := do(f.h, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var b errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if b.Error != tc.code || len(b.ErrorCodes) != 1 || b.ErrorCodes[0] != tc.aadsts {
				t.Errorf("error %q %v, want %q [%d]", b.Error, b.ErrorCodes, tc.code, tc.aadsts)
			}
			checkErrorBody(t, b, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
			if _, basic := r.Header["Authorization"]; basic && tc.status == 401 {
				if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("401 to Basic auth without WWW-Authenticate: Basic")
				}
			}
			if strings.Contains(w.Body.String(), f.secret) {
				t.Error("response echoes the client secret")
			}
		})
	}
}

func checkErrorBody(t *testing.T, b errorBody, corr string) {
	t.Helper()
	if b.Timestamp != "2026-03-01 12:00:00Z" {
		t.Errorf("timestamp %q", b.Timestamp)
	}
	if !guidRE.MatchString(b.TraceID) {
		t.Errorf("trace_id %q", b.TraceID)
	}
	if corr != "" && b.CorrelationID != corr || !guidRE.MatchString(b.CorrelationID) {
		t.Errorf("correlation_id %q, want %q", b.CorrelationID, corr)
	}
	prefix := "AADSTS" + itoa(b.ErrorCodes) + ": "
	suffix := "\r\nTrace ID: " + b.TraceID + "\r\nCorrelation ID: " + b.CorrelationID + "\r\nTimestamp: " + b.Timestamp
	if !strings.HasPrefix(b.ErrorDescription, prefix) || !strings.HasSuffix(b.ErrorDescription, suffix) || len(b.ErrorDescription) <= len(prefix)+len(suffix) {
		t.Errorf("error_description %q", b.ErrorDescription)
	}
}

func itoa(codes []int) string {
	if len(codes) == 0 {
		return "?"
	}
	b, _ := json.Marshal(codes[0])
	return string(b)
}

func TestMethodsAndPaths(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/" + f.tenant.ID + "/oauth2/v2.0/token", http.StatusMethodNotAllowed},
		{http.MethodPost, "/" + f.tenant.ID + "/v2.0/.well-known/openid-configuration", http.StatusMethodNotAllowed},
		{http.MethodGet, "/" + f.tenant.ID + "/oauth2/v2.0/authorize", http.StatusBadRequest}, // no client_id: a page says so
		{http.MethodPost, "/" + f.tenant.ID + "/oauth2/v2.0/authorize", http.StatusMethodNotAllowed},
		{http.MethodGet, "/common/discovery/instance", http.StatusNotFound},
	} {
		if w := do(f.h, httptest.NewRequest(tc.method, base+tc.path, nil)); w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
	}
	// Register puts the same endpoints on another mux, beside a catch-all.
	mux := http.NewServeMux()
	mux.HandleFunc("/{path...}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	f.h.Register(mux)
	if w := do(mux, httptest.NewRequest(http.MethodGet, base+"/"+f.tenant.ID+"/v2.0/.well-known/openid-configuration", nil)); w.Code != http.StatusOK {
		t.Errorf("registered discovery: %d", w.Code)
	}
	if w := do(mux, httptest.NewRequest(http.MethodGet, base+"/subscriptions/x", nil)); w.Code != http.StatusTeapot {
		t.Errorf("catch-all: %d", w.Code)
	}
}

// failing is a Service whose store is down.
type failing struct{}

var errDown = errors.New("database is down: secret internals")

func (failing) Tenant(context.Context, string) (*authn.Tenant, error) { return nil, errDown }
func (failing) Issuer(string) string                                  { return "" }
func (failing) ClientCredentials(context.Context, authn.TokenRequest) (*authn.Token, error) {
	return nil, errDown
}
func (failing) PasswordGrant(context.Context, authn.PasswordRequest) (*authn.Token, error) {
	return nil, errDown
}
func (failing) JWKS(context.Context) ([]byte, error) { return nil, errDown }

func TestInternalError(t *testing.T) {
	var logs bytes.Buffer
	h := oauth.New(failing{}, oauth.Config{BaseURL: base, Now: func() time.Time { return fixedNow }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, r := range []*http.Request{
		tokenRequest("5d2f6e7a-0000-4000-8000-000000000001", url.Values{"grant_type": {"client_credentials"}}),
		httptest.NewRequest(http.MethodGet, base+"/5d2f6e7a-0000-4000-8000-000000000001/v2.0/.well-known/openid-configuration", nil),
	} {
		w := do(h, r)
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "database") {
			t.Errorf("status %d body %s", w.Code, w.Body)
		}
		var b errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error != "server_error" {
			t.Errorf("body %s: %v", w.Body, err)
		}
		checkErrorBody(t, b, "")
		if !strings.Contains(logs.String(), "database is down") || !strings.Contains(logs.String(), b.TraceID) {
			t.Errorf("log lacks the error or trace id: %s", logs.String())
		}
	}
}

func TestBaseURLRequired(t *testing.T) {
	for _, u := range []string{"", "http://127.0.0.1:8443", "https://", "https://h/x", "::"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted BaseURL %q", u)
				}
			}()
			oauth.New(failing{}, oauth.Config{BaseURL: u})
		}()
	}
}
