package cli

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/store/sqlite"
)

var uuidV7RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestTimeUUIDs: the resource manager's IDs are version 7 UUIDs, unique
// and increasing (in string order) even many to a millisecond.
func TestTimeUUIDs(t *testing.T) {
	var g timeUUIDs
	seen := map[string]bool{}
	prev := ""
	for range 20000 {
		id := g.next()
		if !uuidV7RE.MatchString(id) {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if seen[id] || id <= prev {
			t.Fatalf("%q after %q: not unique and increasing", id, prev)
		}
		seen[id], prev = true, id
	}
	if v4 := newUUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(v4) {
		t.Errorf("newUUID() = %q, want a version 4 UUID", v4)
	}
}

// newTokenService is a token service over a new SQLite store, with a
// signing key and one tenant, and the issuer base it signs for.
func newTokenService(t *testing.T) (*authn.Service, *authn.Tenant, string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base := "https://127.0.0.1:8443"
	svc := authn.New(st, authn.Config{Issuer: authn.IssuerAt(base)})
	if err := svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	ten, err := svc.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	return svc, ten, base
}

// TestTokenAuthCache: a verified token is served from memory with the
// same caller; tokens that fail verification are never remembered; the
// cache forgets entries at their deadline.
func TestTokenAuthCache(t *testing.T) {
	ctx := t.Context()
	svc, ten, base := newTokenService(t)
	sp, secret, err := svc.CreateServicePrincipal(ctx, ten.ID, "app")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.TokenForClientSecret(ctx, ten.ID, sp.AppID, secret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	a := &tokenAuth{svc: svc, endpoint: base, tenantID: ten.ID}
	c1, err := a.Authenticate(ctx, "Bearer "+tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.cache.m) != 1 {
		t.Fatalf("%d cached tokens, want 1", len(a.cache.m))
	}
	c2, err := a.Authenticate(ctx, "Bearer "+tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c1 == c2 || c1.Name != c2.Name || c1.ObjectID != c2.ObjectID || c2.Name != sp.AppID || len(c2.Claims) == 0 {
		t.Errorf("cached caller %+v, first %+v", c2, c1)
	}
	bad := tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA"
	for range 2 {
		_, err := a.Authenticate(ctx, "Bearer "+bad)
		var ae *api.AuthError
		if !errors.As(err, &ae) {
			t.Errorf("tampered token: %v, want an AuthError", err)
		}
	}
	if len(a.cache.m) != 1 {
		t.Errorf("%d cached tokens after refusals, want 1", len(a.cache.m))
	}
	// Another tenant's subscription: the same token is refused.
	other := &tokenAuth{svc: svc, endpoint: base, tenantID: "00000000-0000-0000-0000-000000000001"}
	if _, err := other.Authenticate(ctx, "Bearer "+tok.AccessToken); err == nil {
		t.Error("token of another tenant accepted")
	}

	var v verifiedTokens
	now := time.Now()
	v.put("t1", &activitylog.Caller{Name: "x"}, nil, now.Add(time.Second), now)
	if c, _ := v.get("t1", now.Add(999*time.Millisecond)); c == nil || c.Name != "x" {
		t.Errorf("before its deadline: %v", c)
	}
	if c, _ := v.get("t1", now.Add(time.Second)); c != nil {
		t.Errorf("at its deadline: %v, want nil", c)
	}
	v.put("t2", &activitylog.Caller{Name: "y"}, nil, now, now)
	if c, _ := v.get("t2", now); c != nil {
		t.Error("an expired token was remembered")
	}
	for i := range verifiedTokenMax + 10 {
		v.put(strconv.Itoa(i), &activitylog.Caller{}, nil, now.Add(time.Minute), now)
	}
	if len(v.m) > verifiedTokenMax {
		t.Errorf("%d cached tokens, want at most %d", len(v.m), verifiedTokenMax)
	}
}
