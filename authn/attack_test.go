package authn

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// joseSign signs claims with go-jose: alg, key and kid as given (the
// forger's tools).
func joseSign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, alg, key, kid, payload)
}

// TestTokenAttacks is the list of token attacks (must-show 2):
// each token, presented as the API presents it (Verify, then the tenant
// of the subscription addressed), is refused with the ARM 401 code the
// real ARM gives. Tokens are forged by hand with go-jose; those "signed
// with the real key" use the service's active signing key.
func TestTokenAttacks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	key := f.activeKey(t)
	now := f.clk.Now()

	// claims starts from what the fixture's principal would get.
	claims := func(mod func(c map[string]any)) map[string]any {
		c := f.validClaims()
		if mod != nil {
			mod(c)
		}
		return c
	}
	real := func(mod func(c map[string]any)) string {
		return joseSign(t, jose.RS256, key.priv, key.kid, claims(mod))
	}

	// alg none: no signature at all.
	none := b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64(claims(nil)) + "."
	// HS256 keyed with the public key (as PEM, as a verifier that takes
	// "the key" as bytes would read it).
	pubDER, err := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := joseSign(t, jose.HS256, pubPEM, key.kid, claims(nil))
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	// Another tenant with a principal of its own: its genuine token is
	// for the wrong tenant here.
	other, err := f.svc.CreateTenant(ctx, "Fabrikam")
	if err != nil {
		t.Fatal(err)
	}
	otherSP, otherSecret, err := f.svc.CreateServicePrincipal(ctx, other.ID, "fabrikam-app")
	if err != nil {
		t.Fatal(err)
	}
	otherTenantToken, err := f.svc.TokenForClientSecret(ctx, other.ID, otherSP.AppID, otherSecret, armScope)
	if err != nil {
		t.Fatal(err)
	}

	// Principals whose genuine tokens are taken before they are deleted,
	// disabled, or have their secret rotated or removed.
	tokenOf := func(name string) (*ServicePrincipal, string, string) {
		sp, secret, err := f.svc.CreateServicePrincipal(ctx, f.tenant.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, sp.AppID, secret, armScope)
		if err != nil {
			t.Fatal(err)
		}
		return sp, secret, tok.AccessToken
	}
	deleted, _, deletedToken := tokenOf("deleted")
	disabled, _, disabledToken := tokenOf("disabled")
	rotated, _, rotatedToken := tokenOf("rotated")
	// Overlapping rotation: a second secret, then the first removed. The
	// first one's token goes, the second one's stays (checked below).
	overlap, _, overlapOldToken := tokenOf("overlap")
	overlapSecret2, _, err := f.svc.AddClientSecret(ctx, f.tenant.ID, overlap.AppID)
	if err != nil {
		t.Fatal(err)
	}
	overlapNew, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, overlap.AppID, overlapSecret2, armScope)
	if err != nil {
		t.Fatal(err)
	}
	// Every one of them is good before the change (so the refusals below
	// are caused by it) and seen by the cache.
	for _, tok := range []string{deletedToken, disabledToken, rotatedToken, overlapOldToken, overlapNew.AccessToken} {
		if _, err := f.svc.Verify(ctx, tok); err != nil {
			t.Fatalf("before the change: %v", err)
		}
	}
	if err := f.svc.DeleteServicePrincipal(ctx, f.tenant.ID, deleted.AppID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetAccountEnabled(ctx, f.tenant.ID, disabled.AppID, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.ResetClientSecret(ctx, f.tenant.ID, rotated.AppID, SecretOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveClientSecret(ctx, f.tenant.ID, overlap.AppID, overlap.PasswordCredentials[0].KeyID); err != nil {
		t.Fatal(err)
	}

	unknownGUID := "5f0b3c1e-7777-4888-9999-aaaabbbbcccc"
	tests := []struct {
		name  string
		token string
		kind  error
		code  string
	}{
		{"alg none", none, ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"HS256 keyed with the public key", hs256, ErrUnsupportedAlgorithm, CodeInvalidAuthenticationToken},
		{"wrong key, our kid", joseSign(t, jose.RS256, foreign, key.kid, claims(nil)), ErrBadSignature, CodeInvalidAuthenticationToken},
		{"wrong key, its own kid", joseSign(t, jose.RS256, foreign, "forged", claims(nil)), ErrUnknownKey, CodeInvalidAuthenticationToken},
		{"expired", real(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}), ErrTokenExpired, CodeExpiredAuthenticationToken},
		{"not yet valid", real(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
		}), ErrTokenNotYetValid, CodeInvalidAuthenticationToken},
		{"issued in the future", real(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), ErrTokenNotYetValid, CodeInvalidAuthenticationToken},
		{"exp years ahead", real(func(c map[string]any) { c["exp"] = now.AddDate(5, 0, 0).Unix() }), ErrTokenLifetime, CodeInvalidAuthenticationToken},
		{"exp years ahead, no iat", real(func(c map[string]any) { delete(c, "iat"); c["exp"] = now.AddDate(5, 0, 0).Unix() }), ErrTokenLifetime, CodeInvalidAuthenticationToken},
		{"lifetime over a day", real(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(23*time.Hour).Unix()
		}), ErrTokenLifetime, CodeInvalidAuthenticationToken},
		{"wrong audience", real(func(c map[string]any) { c["aud"] = graphAud }), ErrWrongAudience, CodeInvalidAuthenticationTokenAudience},
		{"wrong tenant: tid changed", real(func(c map[string]any) { c["tid"] = other.ID }), ErrWrongIssuer, CodeInvalidAuthenticationTokenTenant},
		{"wrong tenant: another tenant's token", otherTenantToken.AccessToken, ErrWrongTenant, CodeInvalidAuthenticationTokenTenant},
		{"wrong tenant: unknown tenant", real(func(c map[string]any) { c["tid"] = unknownGUID; c["iss"] = f.svc.Issuer(unknownGUID) }), ErrUnknownTenant, CodeInvalidAuthenticationTokenTenant},
		{"unknown oid, real key", real(func(c map[string]any) { c["oid"], c["sub"] = unknownGUID, unknownGUID }), ErrUnknownPrincipal, CodeInvalidAuthenticationToken},
		{"unknown appid, real key", real(func(c map[string]any) { c["appid"], c["azp"] = unknownGUID, unknownGUID }), ErrUnknownPrincipal, CodeInvalidAuthenticationToken},
		{"no appid, real key", real(func(c map[string]any) { delete(c, "appid"); delete(c, "azp") }), ErrUnknownPrincipal, CodeInvalidAuthenticationToken},
		{"oid of another principal, real key", real(func(c map[string]any) { c["oid"] = rotated.ObjectID }), ErrUnknownPrincipal, CodeInvalidAuthenticationToken},
		{"user token, real key", real(func(c map[string]any) { delete(c, "idtyp") }), ErrUnknownPrincipal, CodeInvalidAuthenticationToken},
		{"deleted principal", deletedToken, ErrUnknownPrincipal, CodeInvalidAuthenticationToken},
		{"disabled principal", disabledToken, ErrPrincipalDisabled, CodeInvalidAuthenticationToken},
		{"rotated secret", rotatedToken, ErrCredentialRevoked, CodeInvalidAuthenticationToken},
		{"removed secret, another kept", overlapOldToken, ErrCredentialRevoked, CodeInvalidAuthenticationToken},
		{"no credential claim, real key", real(func(c map[string]any) { delete(c, CredentialClaim) }), ErrCredentialRevoked, CodeInvalidAuthenticationToken},
		{"another principal's credential, real key", real(func(c map[string]any) { c[CredentialClaim] = overlap.PasswordCredentials[0].KeyID }), ErrCredentialRevoked, CodeInvalidAuthenticationToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.svc.Verify(ctx, tc.token)
			if err == nil {
				err = f.svc.CheckTenant(p, f.tenant.ID)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *TokenError (401)", err)
			}
			if !errors.Is(err, tc.kind) || te.Code != tc.code || te.Message == "" {
				t.Errorf("err = %v (code %s), want kind %q, code %s", err, te.Code, tc.kind, tc.code)
			}
			if strings.ContainsAny(te.Message, "\r\n") {
				t.Errorf("message has a line break: %q", te.Message)
			}
		})
	}

	// Controls: the fixture's own token, one forged from valid claims
	// with the real key, and the kept secret's token pass.
	for name, tok := range map[string]string{"issued": f.token(t).AccessToken, "valid claims": real(nil), "kept secret": overlapNew.AccessToken} {
		p, err := f.svc.Verify(ctx, tok)
		if err == nil && p.TenantID == f.tenant.ID {
			err = f.svc.CheckTenant(p, f.tenant.ID)
		}
		if err != nil {
			t.Errorf("control %q refused: %v", name, err)
		}
	}
	// A re-enabled principal's tokens pass again; a deleted one's never.
	if err := f.svc.SetAccountEnabled(ctx, f.tenant.ID, disabled.AppID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, disabledToken); err != nil {
		t.Errorf("re-enabled: %v", err)
	}
}

// TestPrincipalCacheAcrossServices: a change made by another service on
// the same store (another replica, the offline CLI) is honoured once the
// cache entry is PrincipalCacheTTL old, and a change made by this service
// at once.
func TestPrincipalCacheAcrossServices(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	tok := f.token(t).AccessToken
	if _, err := f.svc.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	other := newService(f.st, f.clk, nil)
	if _, _, err := other.ResetClientSecret(ctx, f.tenant.ID, f.sp.AppID, SecretOptions{}); err != nil {
		t.Fatal(err)
	}
	// Still cached here, refused by the service that made the change.
	if _, err := f.svc.Verify(ctx, tok); err != nil {
		t.Errorf("within the cache TTL: %v", err)
	}
	if _, err := other.Verify(ctx, tok); !errors.Is(err, ErrCredentialRevoked) {
		t.Errorf("other service: err = %v, want ErrCredentialRevoked", err)
	}
	f.clk.Advance(5 * time.Second)
	if _, err := f.svc.Verify(ctx, tok); !errors.Is(err, ErrCredentialRevoked) {
		t.Errorf("after the cache TTL: err = %v, want ErrCredentialRevoked", err)
	}
	// CheckPrincipal (the API's cache of verified tokens) agrees.
	p := &Principal{TenantID: f.tenant.ID, ObjectID: f.sp.ObjectID, AppID: f.sp.AppID, Type: "ServicePrincipal", CredentialID: f.sp.PasswordCredentials[0].KeyID}
	if err := f.svc.CheckPrincipal(ctx, p); !errors.Is(err, ErrCredentialRevoked) {
		t.Errorf("CheckPrincipal: %v", err)
	}
}

// TestSecretExpiry: new secrets expire after two years by default, a
// token never outlives the secret it was issued for, and an expired
// secret gets no token.
func TestSecretExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	end := f.sp.PasswordCredentials[0].End
	if want := f.clk.Now().Add(DefaultSecretLifetime); !end.Equal(want) {
		t.Errorf("secret ends %v, want %v", end, want)
	}
	f.clk.Advance(DefaultSecretLifetime - 10*time.Minute)
	tok := f.token(t)
	if tok.ExpiresIn != 600 || !tok.ExpiresOn.Equal(end) {
		t.Errorf("token near the secret's end: expires_in %d, on %v; want 600, %v", tok.ExpiresIn, tok.ExpiresOn, end)
	}
	f.clk.Advance(10 * time.Minute)
	if _, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, f.secret, armScope); !errors.Is(err, &OAuthError{Code: "invalid_client", AADSTS: 7000222}) {
		t.Errorf("expired secret: %v", err)
	}
	// Lifetimes: configured, per secret, never.
	g := newFixture(t, func(c *Config) { c.SecretLifetime = -1 })
	if !g.sp.PasswordCredentials[0].End.IsZero() {
		t.Errorf("SecretLifetime < 0: secret ends %v", g.sp.PasswordCredentials[0].End)
	}
	_, cred, err := g.svc.ResetClientSecret(ctx, g.tenant.ID, g.sp.AppID, SecretOptions{Lifetime: 48 * time.Hour})
	if err != nil || !cred.End.Equal(g.clk.Now().Add(48*time.Hour)) {
		t.Errorf("reset with a lifetime: %+v, %v", cred, err)
	}
}

// TestTokenLifetimeBounded: a service cannot be configured to issue
// tokens Verify would refuse.
func TestTokenLifetimeBounded(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a TokenLifetime over MaxTokenLifetime")
		}
	}()
	New(nil, Config{Issuer: IssuerAt(testBase), TokenLifetime: 25 * time.Hour})
}
