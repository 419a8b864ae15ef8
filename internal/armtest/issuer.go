package armtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
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
}

// NewFakeIssuer starts one (over TLS, closed with the test).
func NewFakeIssuer(t testing.TB) *FakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeIssuer{Key: key, kid: "k1"}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realms/corp/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": f.Issuer(), "jwks_uri": f.Issuer() + "/certs"})
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
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: f.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
