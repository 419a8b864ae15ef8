package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/store/sqlite"
)

const armDefault = "https://management.azure.com/.default"

func runDirectory(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = MainWith(Deps{OpenStore: testOpenStore}, append([]string{"directory", "sp", "credential", "reset"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestDirectoryCredentialReset: `mlgov directory sp credential reset`
// rotates the administrator's secret offline against the store of a
// stopped server: bootstrap.json gets the new secret (nothing else in it
// changes, the secret is not printed), the old secret is refused, and so
// is a token issued with it; another principal's new secret is printed.
func TestDirectoryCredentialReset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const endpoint = "https://127.0.0.1:8443"
	db := filepath.Join(dir, "mlgov.db")

	// A first start (what serve does), then the server stops.
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc := authn.New(st, authn.Config{Issuer: authn.IssuerAt(endpoint), SecretLifetime: secretLifetime(defaultSecretLifetime)})
	log, _ := testLogger()
	bs, err := ensureBootstrap(ctx, st, svc, bootstrapConfig{dataDir: dir, endpoint: endpoint, certFile: "/ca.pem"}, log)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := svc.ServicePrincipal(ctx, bs.TenantID, bs.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if end := admin.PasswordCredentials[0].End; end.Sub(admin.CreatedAt) != authn.DefaultSecretLifetime {
		t.Errorf("the administrator's first secret ends %v, want two years after %v", end, admin.CreatedAt)
	}
	other, otherSecret, err := svc.CreateServicePrincipal(ctx, bs.TenantID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	oldToken, err := svc.TokenForClientSecret(ctx, bs.TenantID, bs.ClientID, bs.ClientSecret, armDefault)
	if err != nil {
		t.Fatal(err)
	}

	// While the server holds the SQLite store, the command refuses.
	if _, stderr, code := runDirectory("--data", dir); code == 0 || !strings.Contains(stderr, "stop it first") {
		t.Errorf("with the store open: exit %d, %s", code, stderr)
	}
	st.Close()

	stdout, stderr, code := runDirectory("--data", dir, "--expires-in", "720h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out credentialReset
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	path := filepath.Join(dir, "bootstrap.json")
	if out.Password != "" || out.Bootstrap != path || out.AppID != bs.ClientID || out.Tenant != bs.TenantID || out.EndDateTime == nil {
		t.Errorf("output %+v", out)
	}
	nb, err := readBootstrap(path)
	if err != nil {
		t.Fatal(err)
	}
	if nb.ClientSecret == bs.ClientSecret || nb.ClientSecret == "" || strings.Contains(stdout, nb.ClientSecret) {
		t.Fatalf("bootstrap.json secret not replaced, or printed")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.json mode: %v %v", fi.Mode(), err)
	}
	rest := *nb
	rest.ClientSecret = bs.ClientSecret
	if rest != *bs {
		t.Errorf("bootstrap.json changed beyond the secret:\n%+v\n%+v", rest, *bs)
	}

	// The server starts again on the store.
	st, err = sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc = authn.New(st, authn.Config{Issuer: authn.IssuerAt(endpoint)})
	if _, err := svc.TokenForClientSecret(ctx, bs.TenantID, bs.ClientID, bs.ClientSecret, armDefault); !errors.Is(err, authn.ErrInvalidClient) {
		t.Errorf("old secret: %v, want invalid_client", err)
	}
	if _, err := svc.Verify(ctx, oldToken.AccessToken); !errors.Is(err, authn.ErrCredentialRevoked) {
		t.Errorf("token of the old secret: %v, want ErrCredentialRevoked", err)
	}
	tok, err := svc.TokenForClientSecret(ctx, nb.TenantID, nb.ClientID, nb.ClientSecret, armDefault)
	if err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if _, err := svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("token of the new secret: %v", err)
	}
	sp, err := svc.ServicePrincipal(ctx, bs.TenantID, bs.ClientID)
	if err != nil || len(sp.PasswordCredentials) != 1 || sp.PasswordCredentials[0].KeyID != out.KeyID || !sp.PasswordCredentials[0].End.Equal(*out.EndDateTime) {
		t.Errorf("credentials %+v (%v), want only %s", sp, err, out.KeyID)
	}
	// The other principal is untouched by the administrator's reset.
	if _, err := svc.TokenForClientSecret(ctx, bs.TenantID, other.AppID, otherSecret, armDefault); err != nil {
		t.Errorf("other principal: %v", err)
	}
	st.Close()

	// Another principal: the secret is printed; --append keeps the old
	// one; --expires-in 0 never expires.
	stdout, stderr, code = runDirectory("--data", dir, "--id", strings.ToUpper(other.AppID), "--append", "--expires-in", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out = credentialReset{}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Password == "" || out.Bootstrap != "" || out.EndDateTime != nil || !strings.Contains(stdout, `"endDateTime": null`) {
		t.Errorf("output %q: %v", stdout, err)
	}
	st, err = sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc = authn.New(st, authn.Config{Issuer: authn.IssuerAt(endpoint)})
	for _, s := range []string{otherSecret, out.Password} {
		if _, err := svc.TokenForClientSecret(ctx, bs.TenantID, other.AppID, s, armDefault); err != nil {
			t.Errorf("--append: %v", err)
		}
	}
	st.Close()
	if after, _ := readBootstrap(path); *after != *nb {
		t.Error("bootstrap.json changed by another principal's reset")
	}
}

// TestDirectoryCredentialResetRefusals: bad input gets a clear error and
// changes nothing.
func TestDirectoryCredentialResetRefusals(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	if _, stderr, code := runDirectory("--data", empty); code == 0 || !strings.Contains(stderr, "no store at") {
		t.Errorf("no store: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(empty, "mlgov.db")); err == nil {
		t.Error("a store was created")
	}

	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	// A store no serve has started on has no administrator.
	st.Close()
	if _, stderr, code := runDirectory("--data", dir); code == 0 || !strings.Contains(stderr, "no administrator") {
		t.Errorf("no administrator: exit %d, %s", code, stderr)
	}
	st, err = sqlite.Open(ctx, filepath.Join(dir, "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := authn.New(st, authn.Config{Issuer: authn.IssuerAt("https://127.0.0.1:8443")})
	log, _ := testLogger()
	bs, err := ensureBootstrap(ctx, st, svc, bootstrapConfig{dataDir: dir, endpoint: "https://127.0.0.1:8443"}, log)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(dir, "bootstrap.json")
	before, _ := os.ReadFile(path)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", "11111111-2222-4333-8444-555555555555"}, "no service principal with client id 11111111-2222-4333-8444-555555555555"},
		{[]string{"--expires-in", "-1h"}, "--expires-in -1h0m0s: want a positive duration"},
		{[]string{"--store", "postgres://u@h/x", "--store-password-file", filepath.Join(dir, "missing")}, "--store-password-file"},
	} {
		if _, stderr, code := runDirectory(append([]string{"--data", dir}, tc.args...)...); code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("bootstrap.json changed by a refused reset")
	}
	// bootstrap.json of another store: refused before anything changes.
	foreign := *bs
	foreign.ClientID = "99999999-2222-4333-8444-555555555555"
	if err := writeBootstrap(path, &foreign); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runDirectory("--data", dir); code == 0 || !strings.Contains(stderr, "belongs to another store") {
		t.Errorf("foreign bootstrap.json: exit %d, %s", code, stderr)
	}
	st, err = sqlite.Open(ctx, filepath.Join(dir, "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc = authn.New(st, authn.Config{Issuer: authn.IssuerAt("https://127.0.0.1:8443")})
	if _, err := svc.TokenForClientSecret(ctx, bs.TenantID, bs.ClientID, bs.ClientSecret, armDefault); err != nil {
		t.Errorf("the secret changed after refusals: %v", err)
	}
}

// TestTokenAuthCacheRevoked: a token the API remembers as verified is
// refused as soon as its secret is reset or its principal deleted.
func TestTokenAuthCacheRevoked(t *testing.T) {
	ctx := t.Context()
	svc, ten, base := newTokenService(t)
	a := &tokenAuth{svc: svc, endpoint: base, tenantID: ten.ID}
	for _, revoke := range []func(appID string) error{
		func(appID string) error {
			_, _, err := svc.ResetClientSecret(ctx, ten.ID, appID, authn.SecretOptions{})
			return err
		},
		func(appID string) error { return svc.DeleteServicePrincipal(ctx, ten.ID, appID) },
	} {
		sp, secret, err := svc.CreateServicePrincipal(ctx, ten.ID, "app")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := svc.TokenForClientSecret(ctx, ten.ID, sp.AppID, secret, armDefault)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // verified, then remembered
			if _, err := a.Authenticate(ctx, "Bearer "+tok.AccessToken); err != nil {
				t.Fatal(err)
			}
		}
		if err := revoke(sp.AppID); err != nil {
			t.Fatal(err)
		}
		_, err = a.Authenticate(ctx, "Bearer "+tok.AccessToken)
		var ae *api.AuthError
		if !errors.As(err, &ae) || ae.Code != authn.CodeInvalidAuthenticationToken {
			t.Errorf("remembered token after the revocation: %v", err)
		}
	}
}

// TestWarnAdminSecretExpiry: serve warns at start when the
// administrator's last secret expires within 30 days or has expired.
func TestWarnAdminSecretExpiry(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := authn.New(st, authn.Config{Issuer: authn.IssuerAt("https://127.0.0.1:8443"), SecretLifetime: 60 * 24 * time.Hour})
	ten, err := svc.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	sp, _, err := svc.CreateServicePrincipal(ctx, ten.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	bs := &Bootstrap{TenantID: ten.ID, ClientID: sp.AppID}
	created := sp.CreatedAt
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{
		{0, ""},
		{29 * 24 * time.Hour, ""},
		{31 * 24 * time.Hour, "expires soon"},
		{61 * 24 * time.Hour, "has expired"},
	} {
		log, logs := testLogger()
		warnAdminSecretExpiry(ctx, svc, bs, created.Add(tc.at), log)
		if got := logs.String(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("after %v: log %q, want %q", tc.at, got, tc.want)
		}
	}
}
