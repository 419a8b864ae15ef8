package authn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/authn/authntest"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

const (
	testBase  = "https://mlgov.test:8443"
	armScope  = "https://management.azure.com/.default"
	armAud    = "https://management.azure.com"
	graphAud  = "https://graph.microsoft.com"
	otherHost = "https://login.microsoftonline.com"
)

type fixture struct {
	svc    *Service
	st     *authntest.MemStore
	clk    *authntest.Clock
	tenant *Tenant
	sp     *ServicePrincipal
	secret string
}

func newService(st store.Store, clk *authntest.Clock, mod func(*Config)) *Service {
	cfg := Config{Issuer: IssuerAt(testBase), Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	return New(st, cfg)
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: authntest.NewMemStore(), clk: authntest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	f.svc = newService(f.st, f.clk, mod)
	if err := f.svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.tenant, err = f.svc.CreateTenant(ctx, "Contoso"); err != nil {
		t.Fatal(err)
	}
	if f.sp, f.secret, err = f.svc.CreateServicePrincipal(ctx, f.tenant.ID, "ci-deployer"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) token(t testing.TB) *Token {
	t.Helper()
	tok, err := f.svc.TokenForClientSecret(context.Background(), f.tenant.ID, f.sp.AppID, f.secret, armScope)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// validClaims are the claims of a token the fixture would issue now.
func (f *fixture) validClaims() map[string]any {
	now := f.clk.Now().Unix()
	iss := f.svc.Issuer(f.tenant.ID)
	return map[string]any{
		"aud": armAud, "iss": iss, "iat": now, "nbf": now, "exp": now + 3600,
		"appid": f.sp.AppID, "appidacr": "1", "azp": f.sp.AppID, "azpacr": "1", "idp": iss,
		"idtyp": "app", "oid": f.sp.ObjectID, "sub": f.sp.ObjectID, "tid": f.tenant.ID, "uti": "abc", "ver": "1.0",
		CredentialClaim: f.sp.PasswordCredentials[0].KeyID,
	}
}

func (f *fixture) activeKey(t testing.TB) *signingKey {
	t.Helper()
	ks, err := f.svc.currentKeys(context.Background())
	if err != nil || ks.active == nil {
		t.Fatalf("no active key: %v", err)
	}
	return ks.active
}

func b64(v any) string {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeJWT(t testing.TB, tok string) (hdr, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, claims
}

func TestIssueAndVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	if err := f.svc.SetRoles(ctx, f.tenant.ID, f.sp.AppID, []string{"Deployer"}); err != nil {
		t.Fatal(err)
	}
	tok := f.token(t)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.Audience != armAud {
		t.Errorf("token = %+v", tok)
	}
	if want := f.clk.Now().Add(time.Hour); !tok.ExpiresOn.Equal(want) {
		t.Errorf("ExpiresOn = %v, want %v", tok.ExpiresOn, want)
	}

	hdr, claims := decodeJWT(t, tok.AccessToken)
	if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] != f.activeKey(t).kid || len(hdr) != 3 {
		t.Errorf("header = %v", hdr)
	}
	var names []string
	for k := range claims {
		names = append(names, k)
	}
	slices.Sort(names)
	wantNames := []string{"app_displayname", "appid", "appidacr", "aud", "azp", "azpacr", "exp", "iat", "idp", "idtyp", "iss", "mlgov_cred", "nbf", "oid", "roles", "sub", "tid", "uti", "ver"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("claims = %v\nwant     %v", names, wantNames)
	}
	iss := testBase + "/" + f.tenant.ID + "/v2.0"
	now := float64(f.clk.Now().Unix())
	for k, want := range map[string]any{
		"aud": armAud, "iss": iss, "idp": iss, "tid": f.tenant.ID, "oid": f.sp.ObjectID, "sub": f.sp.ObjectID,
		"appid": f.sp.AppID, "azp": f.sp.AppID, "appidacr": "1", "azpacr": "1", "idtyp": "app", "ver": "1.0",
		"app_displayname": "ci-deployer", "iat": now, "nbf": now, "exp": now + 3600,
		"mlgov_cred": f.sp.PasswordCredentials[0].KeyID,
	} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	if uti, _ := claims["uti"].(string); len(uti) != 22 {
		t.Errorf("uti = %q, want 22 characters", uti)
	}

	p, err := f.svc.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantID != f.tenant.ID || p.ObjectID != f.sp.ObjectID || p.AppID != f.sp.AppID || p.Type != "ServicePrincipal" ||
		p.DisplayName != "ci-deployer" || p.Audience != armAud || p.Issuer != iss || !slices.Equal(p.Roles, []string{"Deployer"}) ||
		!p.ExpiresAt.Equal(tok.ExpiresOn) || p.Claims["uti"] != claims["uti"] || p.CredentialID != f.sp.PasswordCredentials[0].KeyID {
		t.Errorf("principal = %+v", p)
	}

	// Still valid within the leeway after exp; refused after it.
	f.clk.Advance(time.Hour + 4*time.Minute)
	if _, err := f.svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	f.clk.Advance(time.Minute)
	if _, err := f.svc.Verify(ctx, tok.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("after leeway: err = %v, want ErrTokenExpired", err)
	}
}

func TestScopesAndAudiences(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	for _, tc := range []struct{ scope, aud string }{
		{"https://management.azure.com/.default", "https://management.azure.com"},
		{"https://management.azure.com//.default", "https://management.azure.com/"},
		{"https://management.core.windows.net//.default", "https://management.core.windows.net/"},
		{"https://management.core.windows.net/.default", "https://management.core.windows.net"},
		{"HTTPS://Management.Azure.com/.default", "https://management.azure.com"},
		{"https://management.azure.com/.default openid profile offline_access", "https://management.azure.com"},
	} {
		tok, err := f.svc.TokenForClientSecret(ctx, strings.ToUpper(f.tenant.ID), f.sp.AppID, f.secret, tc.scope)
		if err != nil {
			t.Errorf("%q: %v", tc.scope, err)
			continue
		}
		if tok.Audience != tc.aud {
			t.Errorf("%q: aud = %q, want %q", tc.scope, tok.Audience, tc.aud)
		}
		if p, err := f.svc.Verify(ctx, tok.AccessToken); err != nil || p.Audience != tc.aud {
			t.Errorf("%q: Verify = %v, %v", tc.scope, p, err)
		}
		if _, err := f.svc.VerifyFor(ctx, tok.AccessToken, GraphAudiences); !errors.Is(err, ErrWrongAudience) {
			t.Errorf("%q: an ARM token for the Graph API: %v, want ErrWrongAudience", tc.scope, err)
		}
	}
	// A Graph token: for the Graph API, and refused by ARM.
	tok, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, f.secret, "https://graph.microsoft.com/.default")
	if err != nil || tok.Audience != "https://graph.microsoft.com" {
		t.Fatalf("a Graph token: %v %v", tok, err)
	}
	if p, err := f.svc.VerifyFor(ctx, tok.AccessToken, GraphAudiences); err != nil || p.ObjectID != f.sp.ObjectID {
		t.Errorf("the Graph token for the Graph API: %v %v", p, err)
	}
	if _, err := f.svc.Verify(ctx, tok.AccessToken); !errors.Is(err, ErrWrongAudience) {
		t.Errorf("the Graph token for ARM: %v, want ErrWrongAudience", err)
	}
}

func TestTokenForClientSecretErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) { c.SecretLifetime = 24 * time.Hour })
	other, otherSecret, err := f.svc.CreateServicePrincipal(ctx, f.tenant.ID, "other")
	if err != nil {
		t.Fatal(err)
	}
	removedSecret, removed, err := f.svc.AddClientSecret(ctx, f.tenant.ID, f.sp.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveClientSecret(ctx, f.tenant.ID, f.sp.AppID, removed.KeyID); err != nil {
		t.Fatal(err)
	}
	unknownTenant := "3f0e8c3a-1111-4222-8333-944455556666"

	tests := []struct {
		name                         string
		tenant, client, secret, scop string
		advance                      time.Duration
		want                         *OAuthError
		aadsts                       int
	}{
		{name: "wrong secret", secret: "nope", want: ErrInvalidClient, aadsts: 7000215},
		{name: "secret of another app", secret: otherSecret, want: ErrInvalidClient, aadsts: 7000215},
		{name: "removed secret", secret: removedSecret, want: ErrInvalidClient, aadsts: 7000215},
		{name: "missing secret", secret: "-", want: ErrInvalidClient, aadsts: 7000218},
		{name: "expired secret", advance: 25 * time.Hour, want: ErrInvalidClient, aadsts: 7000222},
		{name: "unknown client", client: "11111111-2222-4333-8444-555555555555", want: ErrUnauthorizedClient, aadsts: 700016},
		{name: "missing client id", client: "-", want: ErrInvalidRequest, aadsts: 900144},
		{name: "unknown tenant", tenant: unknownTenant, want: ErrInvalidRequest, aadsts: 90002},
		{name: "tenant not a guid", tenant: "contoso.onmicrosoft.com", want: ErrInvalidRequest, aadsts: 90002},
		{name: "client of another tenant", tenant: "-other", want: ErrUnauthorizedClient, aadsts: 700016},
		{name: "missing scope", scop: "-", want: ErrInvalidRequest, aadsts: 900144},
		{name: "only openid scopes", scop: "openid offline_access", want: ErrInvalidRequest, aadsts: 900144},
		{name: "scope without .default", scop: "https://management.azure.com/user_impersonation", want: ErrInvalidScope, aadsts: 1002012},
		{name: "bare resource", scop: "https://management.azure.com/", want: ErrInvalidScope, aadsts: 1002012},
		{name: "key vault", scop: "https://vault.azure.net/.default", want: ErrInvalidResource, aadsts: 500011},
		{name: "storage", scop: "https://storage.azure.com/.default", want: ErrInvalidResource, aadsts: 500011},
		{name: "two resources", scop: "https://management.azure.com/.default https://graph.microsoft.com/.default", want: ErrInvalidScope, aadsts: 28000},
	}
	t2, err := f.svc.CreateTenant(ctx, "Fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant, client, secret, scope := f.tenant.ID, f.sp.AppID, f.secret, armScope
			switch tc.tenant {
			case "":
			case "-other":
				tenant = t2.ID
			default:
				tenant = tc.tenant
			}
			if tc.client != "" {
				client = strings.TrimPrefix(tc.client, "-")
			}
			if tc.secret != "" {
				secret = strings.TrimPrefix(tc.secret, "-")
			}
			if tc.scop != "" {
				scope = strings.TrimPrefix(tc.scop, "-")
			}
			if tc.advance != 0 {
				f.clk.Advance(tc.advance)
				defer f.clk.Advance(-tc.advance)
			}
			tok, err := f.svc.TokenForClientSecret(ctx, tenant, client, secret, scope)
			if tok != nil {
				t.Fatalf("got a token")
			}
			var oe *OAuthError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want *OAuthError", err)
			}
			if !errors.Is(err, tc.want) || oe.AADSTS != tc.aadsts {
				t.Errorf("err = %v, want %s AADSTS%d", err, tc.want.Code, tc.aadsts)
			}
			for _, other := range []*OAuthError{ErrInvalidRequest, ErrInvalidClient, ErrUnauthorizedClient, ErrInvalidScope, ErrInvalidResource, ErrUnsupportedGrantType, ErrInvalidTenant} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("err also matches %s", other.Code)
				}
			}
		})
	}
	// The other app's own secret still works.
	if _, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, other.AppID, otherSecret, armScope); err != nil {
		t.Errorf("other app: %v", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	key := f.activeKey(t)
	good := f.token(t).AccessToken
	parts := strings.Split(good, ".")

	signed := func(mod func(c map[string]any)) string {
		c := f.validClaims()
		mod(c)
		tok, err := sign(key, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	strangerKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	stranger := &signingKey{kid: "stranger", priv: strangerKey}
	impostor := &signingKey{kid: key.kid, priv: strangerKey} // our kid, another key
	signWith := func(k *signingKey) string {
		tok, err := sign(k, f.validClaims())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// A token signed with another algorithm by our key, through go-jose.
	signAlg := func(alg jose.SignatureAlgorithm) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.Sign([]byte(parts[1]))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := o.CompactSerialize()
		return c
	}
	// The classic key-confusion attack: HS256 keyed with our public key.
	hs256 := func(secret []byte) string {
		in := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.kid}) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwks, err := f.svc.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	otherTenant, err := f.svc.CreateTenant(ctx, "Fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	unknownTID := "0d7c5e1a-aaaa-4bbb-8ccc-ddddeeeeffff"

	tests := []struct {
		name  string
		token string
		kind  error
		code  string
	}{
		{"empty", "", ErrNoToken, CodeAuthenticationFailed},
		{"garbage", "not a token", ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"three garbage parts", "a.b.c", ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"header not json", b64("alg") + "." + parts[1] + "." + parts[2], ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"five parts (JWE)", good + ".x.y", ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"too long", parts[0] + "." + strings.Repeat("A", maxTokenLen) + "." + parts[2], ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"payload not json", mustSignRaw(t, key, []byte("[1,2")), ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2], 10), ErrBadSignature, CodeInvalidAuthenticationToken},
		{"tampered payload", parts[0] + "." + b64(func() map[string]any { c := f.validClaims(); c["oid"] = "someone-else"; return c }()) + "." + parts[2], ErrBadSignature, CodeInvalidAuthenticationToken},
		{"signature removed", parts[0] + "." + parts[1] + ".", ErrBadSignature, CodeInvalidAuthenticationToken},
		{"alg none", b64(map[string]any{"alg": "none", "typ": "JWT", "kid": key.kid}) + "." + parts[1] + ".", ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"alg None", b64(map[string]any{"alg": "None", "typ": "JWT"}) + "." + parts[1] + ".", ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"alg missing", b64(map[string]any{"typ": "JWT", "kid": key.kid}) + "." + parts[1] + "." + parts[2], ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"HS256 keyed with PEM public key", hs256(pubPEM), ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"HS256 keyed with DER public key", hs256(pubDER), ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"HS256 keyed with JWKS", hs256(jwks), ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"RS512 by our key", signAlg(jose.RS512), ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"PS256 by our key", signAlg(jose.PS256), ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"unknown kid", signWith(stranger), ErrUnknownKey, CodeInvalidAuthenticationToken},
		{"no kid", b64(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." + parts[1] + "." + parts[2], ErrUnknownKey, CodeInvalidAuthenticationToken},
		{"our kid, another key", signWith(impostor), ErrBadSignature, CodeInvalidAuthenticationToken},
		{"expired", signed(func(c map[string]any) { c["exp"] = f.clk.Now().Add(-6 * time.Minute).Unix() }), ErrTokenExpired, CodeExpiredAuthenticationToken},
		{"no exp", signed(func(c map[string]any) { delete(c, "exp") }), ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"exp a string", signed(func(c map[string]any) { c["exp"] = "tomorrow" }), ErrMalformedToken, CodeInvalidAuthenticationToken},
		{"nbf in future", signed(func(c map[string]any) { c["nbf"] = f.clk.Now().Add(10 * time.Minute).Unix() }), ErrTokenNotYetValid, CodeInvalidAuthenticationToken},
		{"wrong aud", signed(func(c map[string]any) { c["aud"] = graphAud }), ErrWrongAudience, CodeInvalidAuthenticationTokenAudience},
		{"aud case differs", signed(func(c map[string]any) { c["aud"] = "https://Management.azure.com" }), ErrWrongAudience, CodeInvalidAuthenticationTokenAudience},
		{"aud missing", signed(func(c map[string]any) { delete(c, "aud") }), ErrWrongAudience, CodeInvalidAuthenticationTokenAudience},
		{"two auds", signed(func(c map[string]any) { c["aud"] = []string{armAud, graphAud} }), ErrWrongAudience, CodeInvalidAuthenticationTokenAudience},
		{"wrong iss host", signed(func(c map[string]any) { c["iss"] = otherHost + "/" + f.tenant.ID + "/v2.0" }), ErrWrongIssuer, CodeInvalidAuthenticationTokenTenant},
		{"v1 sts iss", signed(func(c map[string]any) { c["iss"] = "https://sts.windows.net/" + f.tenant.ID + "/" }), ErrWrongIssuer, CodeInvalidAuthenticationTokenTenant},
		{"tid of another tenant", signed(func(c map[string]any) { c["tid"] = otherTenant.ID }), ErrWrongIssuer, CodeInvalidAuthenticationTokenTenant},
		{"no tid", signed(func(c map[string]any) { delete(c, "tid") }), ErrWrongIssuer, CodeInvalidAuthenticationTokenTenant},
		{"unknown tenant", signed(func(c map[string]any) { c["tid"] = unknownTID; c["iss"] = f.svc.Issuer(unknownTID) }), ErrUnknownTenant, CodeInvalidAuthenticationTokenTenant},
		{"no oid", signed(func(c map[string]any) { delete(c, "oid") }), ErrMalformedToken, CodeInvalidAuthenticationToken},
	}
	kinds := []error{ErrNoToken, ErrMalformedHeader, ErrMalformedToken, ErrUnsupportedAlgorithm, ErrUnknownKey, ErrBadSignature,
		ErrTokenNotYetValid, ErrTokenExpired, ErrWrongAudience, ErrWrongIssuer, ErrUnknownTenant, ErrWrongTenant}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.svc.Verify(ctx, tc.token)
			if p != nil {
				t.Fatalf("accepted: %+v", p)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want *TokenError", err)
			}
			if !errors.Is(err, tc.kind) || te.Code != tc.code || te.Message == "" {
				t.Errorf("err = %v (code %s), want kind %v code %s", err, te.Code, tc.kind, tc.code)
			}
			for _, k := range kinds {
				if k != tc.kind && errors.Is(err, k) {
					t.Errorf("err also matches %v", k)
				}
			}
		})
	}

	// Control: the good token and one re-signed from valid claims pass.
	for _, tok := range []string{good, signed(func(map[string]any) {})} {
		if _, err := f.svc.Verify(ctx, tok); err != nil {
			t.Errorf("control token refused: %v", err)
		}
	}
	// Every accepted audience passes.
	for _, aud := range Audiences {
		if _, err := f.svc.Verify(ctx, signed(func(c map[string]any) { c["aud"] = aud })); err != nil {
			t.Errorf("aud %q: %v", aud, err)
		}
	}
}

// mustSignRaw signs an arbitrary payload with our key and header.
func mustSignRaw(t *testing.T, k *signingKey, payload []byte) string {
	t.Helper()
	return signRaw(t, jose.RS256, k.priv, k.kid, payload)
}

// signRaw signs payload as a compact JWS (typ JWT) with alg and key,
// naming kid.
func signRaw(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExpiredMessage(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t)
	f.clk.Advance(2 * time.Hour)
	_, err := f.svc.Verify(context.Background(), tok.AccessToken)
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatal(err)
	}
	want := "The access token expiry UTC time '3/1/2026 1:00:00 PM' is earlier than current UTC time '3/1/2026 2:00:00 PM'."
	if te.Message != want || te.Code != CodeExpiredAuthenticationToken {
		t.Errorf("got %s %q\nwant %q", te.Code, te.Message, want)
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		kind          error
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", nil},
		{"bearer abc", "abc", nil},
		{"  Bearer   abc  ", "abc", nil},
		{"", "", ErrNoToken},
		{"   ", "", ErrNoToken},
		{"Bearer", "", ErrMalformedHeader},
		{"Bearer ", "", ErrMalformedHeader},
		{"Basic dXNlcjpwYXNz", "", ErrMalformedHeader},
		{"abc.def.ghi", "", ErrMalformedHeader},
		{"Bearer a b", "", ErrMalformedHeader},
	} {
		got, err := BearerToken(tc.header)
		if got != tc.token || !errors.Is(err, tc.kind) || (tc.kind == nil) != (err == nil) {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, got, err, tc.token, tc.kind)
		}
		var te *TokenError
		if err != nil && (!errors.As(err, &te) || te.Code != CodeAuthenticationFailed) {
			t.Errorf("BearerToken(%q): err %v is not an AuthenticationFailed TokenError", tc.header, err)
		}
	}
}

func TestWWWAuthenticate(t *testing.T) {
	uri := "https://127.0.0.1:8443/72f988bf-86f1-41af-91ab-2d7cd011db47"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{tokenErr(ErrNoToken, "x"), `Bearer authorization_uri="` + uri + `", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`},
		{tokenErr(ErrTokenExpired, "The access token expiry UTC time '1/2/2026 3:04:05 PM' is earlier than current UTC time '1/2/2026 4:04:05 PM'."),
			`Bearer authorization_uri="` + uri + `", error="invalid_token", error_description="The access token expiry UTC time '1/2/2026 3:04:05 PM' is earlier than current UTC time '1/2/2026 4:04:05 PM'."`},
		{tokenErr(ErrWrongAudience, "aud \"x\\y\"\r\nSet-Cookie: a=b é"), `Bearer authorization_uri="` + uri + `", error="invalid_token", error_description="aud \"x\\y\"Set-Cookie: a=b ?"`},
		{errors.New("boom"), `Bearer authorization_uri="` + uri + `", error="invalid_token", error_description="The access token is invalid."`},
	} {
		if got := WWWAuthenticate(uri, tc.err); got != tc.want {
			t.Errorf("WWWAuthenticate(%v)\n got %s\nwant %s", tc.err, got, tc.want)
		}
	}
}

func TestCheckTenant(t *testing.T) {
	f := newFixture(t, nil)
	p, err := f.svc.Verify(context.Background(), f.token(t).AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckTenant(p, strings.ToUpper(f.tenant.ID)); err != nil {
		t.Errorf("same tenant: %v", err)
	}
	other := "9a1b2c3d-0000-4000-8000-000000000000"
	err = f.svc.CheckTenant(p, other)
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrWrongTenant) || te.Code != CodeInvalidAuthenticationTokenTenant ||
		!strings.Contains(te.Message, "'"+testBase+"/"+other+"/v2.0'") || !strings.Contains(te.Message, "'"+testBase+"/"+other+"'") {
		t.Errorf("other tenant: %v", err)
	}
}

func TestAuthority(t *testing.T) {
	f := newFixture(t, nil)
	for in, want := range map[string]string{
		f.tenant.ID:                  testBase + "/" + f.tenant.ID,
		strings.ToUpper(f.tenant.ID): testBase + "/" + f.tenant.ID,
		"":                           testBase + "/",
	} {
		if got := f.svc.Authority(in); got != want {
			t.Errorf("Authority(%q) = %q, want %q", in, got, want)
		}
	}
}

func jwksKIDs(t *testing.T, svc *Service) []string {
	t.Helper()
	b, err := svc.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Algorithm != "RS256" || k.Use != "sig" {
			t.Errorf("JWKS key %s: public=%v alg=%s use=%s", k.KeyID, k.IsPublic(), k.Algorithm, k.Use)
		}
		kids = append(kids, k.KeyID)
	}
	if bytes.Contains(b, []byte(`"d"`)) || bytes.Contains(b, []byte(`"p"`)) {
		t.Errorf("JWKS leaks private key material: %s", b)
	}
	slices.Sort(kids)
	return kids
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	// A second replica on the same store, with its own key cache.
	replica := newService(f.st, f.clk, nil)
	old := f.token(t)
	if _, err := replica.Verify(ctx, old.AccessToken); err != nil {
		t.Fatal(err)
	}
	kid1 := old.KeyID

	f.clk.Advance(10 * time.Minute)
	if _, err := replica.JWKS(ctx); err != nil { // the replica's cache is fresh
		t.Fatal(err)
	}
	rotatedAt := f.clk.Now()
	if err := f.svc.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	// The replica signs with its cached key until the cache expires.
	f.clk.Advance(30 * time.Second)
	if tok, err := replica.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, f.secret, armScope); err != nil || tok.KeyID != kid1 {
		t.Errorf("replica with a fresh cache signs with %v (%v), want %s", tok, err, kid1)
	}
	f.clk.Advance(31 * time.Second)
	if tok, err := replica.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, f.secret, armScope); err != nil || tok.KeyID == kid1 {
		t.Errorf("replica after the cache TTL signs with %v (%v), want the new key", tok, err)
	}
	fresh := f.token(t)
	kid2 := fresh.KeyID
	if kid2 == kid1 {
		t.Fatal("rotation kept the kid")
	}
	if h, _ := decodeJWT(t, fresh.AccessToken); h["kid"] != kid2 {
		t.Errorf("new token header kid = %v, want %s", h["kid"], kid2)
	}
	want := []string{kid1, kid2}
	slices.Sort(want)
	if got := jwksKIDs(t, f.svc); !slices.Equal(got, want) {
		t.Errorf("JWKS kids = %v, want %v", got, want)
	}
	for name, svc := range map[string]*Service{"rotator": f.svc, "replica": replica} {
		for _, tok := range []*Token{old, fresh} {
			if _, err := svc.Verify(ctx, tok.AccessToken); err != nil {
				t.Errorf("%s: token of %s: %v", name, tok.KeyID, err)
			}
		}
	}

	// The old token expires; its key stays published for the retention.
	f.clk.Advance(old.ExpiresOn.Sub(f.clk.Now()) + 6*time.Minute)
	if _, err := f.svc.Verify(ctx, old.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("old token after expiry: %v", err)
	}
	if _, err := f.svc.Verify(ctx, fresh.AccessToken); err != nil {
		t.Errorf("new token: %v", err)
	}
	// Retention = lifetime + leeway + cache TTL after the rotation.
	f.clk.Advance(rotatedAt.Add(time.Hour + 6*time.Minute).Sub(f.clk.Now()))
	if got := jwksKIDs(t, f.svc); !slices.Equal(got, []string{kid2}) {
		t.Errorf("JWKS after retention = %v, want [%s]", got, kid2)
	}
	// The next rotation deletes the expired key from the store.
	if err := f.svc.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, o := range f.st.Objects() {
		if o.Kind == KindSigningKey {
			stored = append(stored, o.Key)
		}
	}
	if len(stored) != 2 || slices.Contains(stored, kid1) || !slices.Contains(stored, kid2) {
		t.Errorf("stored keys = %v; want kid2 and a new key, not kid1", stored)
	}
}

func TestRotateSigningKeyIfOlder(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	kid1 := f.token(t).KeyID
	f.clk.Advance(29 * 24 * time.Hour)
	if rotated, err := f.svc.RotateSigningKeyIfOlder(ctx, 30*24*time.Hour); err != nil || rotated {
		t.Fatalf("29-day-old key: rotated %v (%v), want not rotated", rotated, err)
	}
	if kid := f.token(t).KeyID; kid != kid1 {
		t.Errorf("signing kid %s, want %s", kid, kid1)
	}
	f.clk.Advance(24 * time.Hour)
	if rotated, err := f.svc.RotateSigningKeyIfOlder(ctx, 30*24*time.Hour); err != nil || !rotated {
		t.Fatalf("30-day-old key: rotated %v (%v), want rotated", rotated, err)
	}
	kid2 := f.token(t).KeyID
	if kid2 == kid1 {
		t.Error("the rotation kept the signing kid")
	}
	if rotated, err := f.svc.RotateSigningKeyIfOlder(ctx, 30*24*time.Hour); err != nil || rotated {
		t.Errorf("fresh key: rotated %v (%v), want not rotated", rotated, err)
	}
	want := []string{kid1, kid2}
	slices.Sort(want)
	if got := jwksKIDs(t, f.svc); !slices.Equal(got, want) {
		t.Errorf("JWKS kids = %v, want %v (the old key stays published)", got, want)
	}
}

func TestEnsureSigningKeyIdempotent(t *testing.T) {
	ctx := context.Background()
	st := authntest.NewMemStore()
	clk := authntest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a, b := newService(st, clk, nil), newService(st, clk, nil)
	for _, s := range []*Service{a, b, a} {
		if err := s.EnsureSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ka, kb := jwksKIDs(t, a), jwksKIDs(t, b); len(ka) != 1 || !slices.Equal(ka, kb) {
		t.Errorf("kids: %v vs %v", ka, kb)
	}
}

func TestTokenWithoutEnsure(t *testing.T) {
	// Issuing creates the first key when EnsureSigningKey was not called.
	ctx := context.Background()
	clk := authntest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newService(authntest.NewMemStore(), clk, nil)
	ten, err := s.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	sp, sec, err := s.CreateServicePrincipal(ctx, ten.ID, "a")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.TokenForClientSecret(ctx, ten.ID, sp.AppID, sec, armScope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsNeverStored(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	secrets := []string{f.secret}
	for range 3 {
		s, _, err := f.svc.AddClientSecret(ctx, f.tenant.ID, f.sp.AppID)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	if len(secrets[0]) != 40 {
		t.Errorf("secret length %d, want 40", len(secrets[0]))
	}
	for _, s := range secrets {
		if _, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, s, armScope); err != nil {
			t.Errorf("secret %s...: %v", s[:3], err)
		}
		unsalted := sha256.Sum256([]byte(s))
		forms := [][]byte{
			[]byte(s),
			[]byte(s[3:]), // all but the hint
			[]byte(base64.StdEncoding.EncodeToString([]byte(s))),
			unsalted[:],
			[]byte(base64.StdEncoding.EncodeToString(unsalted[:])),
		}
		if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil {
			forms = append(forms, raw, []byte(base64.StdEncoding.EncodeToString(raw)))
		}
		for _, o := range f.st.Objects() {
			for i, form := range forms {
				if bytes.Contains(o.Body, form) || strings.Contains(o.Key, string(form)) {
					t.Errorf("object %s/%s contains form %d of a client secret", o.Kind, o.Key, i)
				}
			}
		}
	}
	// The stored credential has a salt and a hash, and salts differ.
	sp, err := f.svc.ServicePrincipal(ctx, f.tenant.ID, f.sp.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.PasswordCredentials) != 4 || sp.PasswordCredentials[0].Hint != secrets[0][:3] {
		t.Errorf("credentials = %+v", sp.PasswordCredentials)
	}
	o, err := getStoredSP(f)
	if err != nil {
		t.Fatal(err)
	}
	salts := map[string]bool{}
	for _, c := range o.Secrets {
		if len(c.Salt) != 16 || len(c.Hash) != 32 {
			t.Errorf("credential %s: salt %d bytes, hash %d bytes", c.KeyID, len(c.Salt), len(c.Hash))
		}
		salts[string(c.Salt)] = true
	}
	if len(salts) != len(o.Secrets) {
		t.Errorf("salts repeat")
	}
}

func getStoredSP(f *fixture) (*spRecord, error) {
	var rec *spRecord
	err := f.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		rec, err = getSP(context.Background(), tx, f.tenant.ID, f.sp.AppID)
		return err
	})
	return rec, err
}

func TestDirectory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	if !uuid.Valid(f.tenant.ID) || !uuid.Valid(f.sp.AppID) || !uuid.Valid(f.sp.ObjectID) || f.sp.AppID == f.sp.ObjectID {
		t.Errorf("ids: tenant %s app %s object %s", f.tenant.ID, f.sp.AppID, f.sp.ObjectID)
	}
	if f.tenant.ID != strings.ToLower(f.tenant.ID) || f.tenant.ID[14] != '4' {
		t.Errorf("tenant id %s is not a lower-case v4 GUID", f.tenant.ID)
	}
	got, err := f.svc.Tenant(ctx, strings.ToUpper(f.tenant.ID))
	if err != nil || got.DisplayName != "Contoso" {
		t.Errorf("Tenant = %+v, %v", got, err)
	}
	if _, err := f.svc.Tenant(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	if _, _, err := f.svc.CreateServicePrincipal(ctx, "00000000-0000-4000-8000-000000000000", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SP in unknown tenant: %v", err)
	}
	if err := f.svc.RemoveClientSecret(ctx, f.tenant.ID, f.sp.AppID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("remove unknown secret: %v", err)
	}
	ts, err := f.svc.Tenants(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID != f.tenant.ID {
		t.Errorf("Tenants = %v, %v", ts, err)
	}
}

func TestRandInjected(t *testing.T) {
	// The same random stream gives the same ids and secrets.
	ctx := context.Background()
	run := func() (string, string, string) {
		clk := authntest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		s := newService(authntest.NewMemStore(), clk, func(c *Config) { c.Rand = mrand.NewChaCha8([32]byte{1}) })
		ten, err := s.CreateTenant(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		sp, sec, err := s.CreateServicePrincipal(ctx, ten.ID, "a")
		if err != nil {
			t.Fatal(err)
		}
		return ten.ID, sp.AppID, sec
	}
	a1, b1, c1 := run()
	a2, b2, c2 := run()
	if a1 != a2 || b1 != b2 || c1 != c2 {
		t.Errorf("not deterministic: %s %s %s vs %s %s %s", a1, b1, c1, a2, b2, c2)
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f, nil)
	good := fx.token(f).AccessToken
	parts := strings.Split(good, ".")
	for _, seed := range []string{
		good, "", ".", "..", "a.b.c", parts[0] + "." + parts[1] + ".",
		b64(map[string]any{"alg": "none"}) + "." + parts[1] + ".",
		b64(map[string]any{"alg": "RS256", "kid": 7}) + "." + parts[1] + "." + parts[2],
		b64(map[string]any{"alg": "RS256", "crit": []string{"x"}}) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + b64("null") + "." + parts[2],
		parts[0] + "." + b64(`{"exp":1e309}`) + "." + parts[2],
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := fx.svc.Verify(ctx, tok)
		if err == nil {
			if p == nil || p.TenantID != fx.tenant.ID || p.ObjectID != fx.sp.ObjectID {
				t.Fatalf("accepted %q as %+v", tok, p)
			}
			return
		}
		var te *TokenError
		if p != nil || !errors.As(err, &te) || te.Code == "" {
			t.Fatalf("Verify(%q) = %v, %v; want a *TokenError", tok, p, err)
		}
	})
}

// staleReads hides signing keys from read transactions, as if another
// replica created one just after we looked.
type staleReads struct{ store.Store }

func (s staleReads) Read(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Read(ctx, func(tx store.Tx) error { return fn(hideKeys{tx}) })
}

type hideKeys struct{ store.Tx }

func (h hideKeys) ListObjects(ctx context.Context, kind string) ([]*store.Object, error) {
	if kind == KindSigningKey {
		return nil, nil
	}
	return h.Tx.ListObjects(ctx, kind)
}

func TestEnsureSigningKeyRace(t *testing.T) {
	ctx := context.Background()
	st := authntest.NewMemStore()
	clk := authntest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := newService(st, clk, nil).EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := newService(staleReads{st}, clk, nil).EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range st.Objects() {
		if o.Kind == KindSigningKey {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d signing keys after a racing EnsureSigningKey, want 1", n)
	}
}

// TestRunKeyRotation: the worker rotates a key that has been in use for
// the lifetime at once, logs it, and stops when its context ends.
func TestRunKeyRotation(t *testing.T) {
	f := newFixture(t, nil)
	kid1 := f.token(t).KeyID
	f.clk.Advance(31 * 24 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	var log rotationLog
	done := make(chan struct{})
	go func() { f.svc.RunKeyRotation(ctx, 30*24*time.Hour, &log); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.token(t).KeyID == kid1 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not rotate a 31-day-old key (lifetime 30 days)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not stop when its context ended")
	}
	if log.infos.Load() == 0 || log.errors.Load() != 0 {
		t.Errorf("log: %d info lines, %d error lines; want a rotation line and no error", log.infos.Load(), log.errors.Load())
	}
}

type rotationLog struct{ infos, errors atomic.Int32 }

func (l *rotationLog) Info(string, ...any)  { l.infos.Add(1) }
func (l *rotationLog) Error(string, ...any) { l.errors.Add(1) }
