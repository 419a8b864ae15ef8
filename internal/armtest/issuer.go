package armtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// FakeIssuer is an external OpenID Connect issuer in Keycloak's shape
// (a realm: discovery, JWKS), whose tokens tests sign: what serve
// --oidc-issuer trusts.
type FakeIssuer struct {
	srv *httptest.Server
	// Key signs its tokens; its public key is published.
	Key *rsa.PrivateKey
	kid string

	// The sign-in of its one public client (AllowClient): codes issued,
	// not yet redeemed.
	mu                    sync.Mutex
	clientID, redirectURI string
	codes                 map[string]fakeCode
}

type fakeCode struct{ user, challenge string }

// NewFakeIssuer starts one (over TLS, closed with the test).
func NewFakeIssuer(t testing.TB) *FakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeIssuer{Key: key, kid: "k1", codes: map[string]fakeCode{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realms/corp/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": f.Issuer(), "jwks_uri": f.Issuer() + "/certs",
				"authorization_endpoint": f.Issuer() + "/protocol/openid-connect/auth", "token_endpoint": f.Issuer() + "/protocol/openid-connect/token"})
		case "/realms/corp/protocol/openid-connect/auth":
			f.authorize(w, r)
		case "/realms/corp/protocol/openid-connect/token":
			f.token(w, r)
		case "/realms/corp/certs":
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: f.kid, Algorithm: "RS256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// Issuer is its issuer URL.
func (f *FakeIssuer) Issuer() string { return f.srv.URL + "/realms/corp" }

// Client is an HTTP client that trusts it.
func (f *FakeIssuer) Client() *http.Client { return f.srv.Client() }

// CertPEM is its TLS certificate, PEM-encoded.
func (f *FakeIssuer) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

// Token signs claims with key (iss, aud "mlgov", exp and iat filled when
// absent).
func (f *FakeIssuer) Token(t testing.TB, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	now := time.Now()
	for k, v := range map[string]any{"iss": f.Issuer(), "aud": "mlgov", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()} {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	s, err := f.sign(claims, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sign signs claims as a JWT with key.
func (f *FakeIssuer) sign(claims map[string]any, key *rsa.PrivateKey) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: f.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(claims)
	obj, err := signer.Sign(b)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// AllowClient lets one public client sign users in with the
// authorization code flow and PKCE: a page that asks for a user name
// only (any name is a user: sub and preferred_username are the name),
// and a token endpoint that answers browsers of any origin (CORS), as
// Keycloak does for a client's web origins.
func (f *FakeIssuer) AllowClient(clientID, redirectURI string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clientID, f.redirectURI = clientID, redirectURI
}

func (f *FakeIssuer) authorize(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	ok := r.Form.Get("client_id") == f.clientID && f.clientID != "" && r.Form.Get("redirect_uri") == f.redirectURI &&
		r.Form.Get("code_challenge_method") == "S256" && r.Form.Get("code_challenge") != ""
	f.mu.Unlock()
	if !ok {
		http.Error(w, "unknown client, redirect URI or no PKCE", http.StatusBadRequest)
		return
	}
	user := r.PostForm.Get("username")
	if r.Method != http.MethodPost || user == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Corp sign-in</title></head><body><main><h1>Corp sign-in</h1>
<form method="post"><label for="username">Corp user name</label><input id="username" name="username" required>
<button type="submit">Continue</button></form></main></body></html>`)
		return
	}
	code := rand.Text()
	f.mu.Lock()
	f.codes[code] = fakeCode{user: user, challenge: r.Form.Get("code_challenge")}
	f.mu.Unlock()
	http.Redirect(w, r, f.redirectURI+"?"+url.Values{"code": {code}, "state": {r.Form.Get("state")}}.Encode(), http.StatusFound)
}

func (f *FakeIssuer) token(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.ParseForm()
	code := r.PostForm.Get("code")
	f.mu.Lock()
	c, ok := f.codes[code]
	delete(f.codes, code)
	client, redirect := f.clientID, f.redirectURI
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if r.PostForm.Get("grant_type") != "authorization_code" || !ok || r.PostForm.Get("client_id") != client || r.PostForm.Get("redirect_uri") != redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	tok, err := f.sign(map[string]any{"iss": f.Issuer(), "aud": "mlgov", "sub": c.user, "preferred_username": c.user, "name": "Corp " + c.user,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, f.Key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}
