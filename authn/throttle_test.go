package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
)

func signIns(t *testing.T, f *fixture, q SignInQuery) []*SignInRecord {
	t.Helper()
	recs, err := f.svc.SignIns(context.Background(), f.tenant.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestSignInBurst: 1,000 wrong secrets from one address are refused,
// all but the first ClientFailures with 429 (throttled, then locked
// out); the right secret is refused while the lockout lasts and works
// after it; every attempt is in the sign-in log.
func TestSignInBurst(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	th := f.svc.cfg.Throttle
	req := TokenRequest{TenantID: f.tenant.ID, ClientID: f.sp.AppID, Scope: armScope, ClientAddress: "203.0.113.7"}
	counts := map[string]int{}
	for i := range 1000 {
		r := req
		r.ClientSecret = fmt.Sprintf("wrong-%d", i)
		_, err := f.svc.ClientCredentials(ctx, r)
		var oe *OAuthError
		if !errors.As(err, &oe) {
			t.Fatalf("attempt %d: err = %v", i, err)
		}
		switch {
		case errors.Is(err, ErrThrottled):
			counts["throttled"]++
		case errors.Is(err, ErrLockedOut):
			counts["locked"]++
		case oe.AADSTS == 7000215:
			counts["wrong"]++
			if i >= th.ClientFailures {
				t.Fatalf("attempt %d checked the secret after %d failures", i, th.ClientFailures)
			}
		default:
			t.Fatalf("attempt %d: %v", i, err)
		}
		if (oe.RetryAfter > 0) != (oe.AADSTS != 7000215) {
			t.Fatalf("attempt %d: RetryAfter %v with %v", i, oe.RetryAfter, err)
		}
	}
	// 10 checked, 89 throttled, the 100th locks out, the rest locked.
	want := map[string]int{"wrong": th.ClientFailures, "throttled": th.LockoutFailures - th.ClientFailures - 1, "locked": 1000 - th.LockoutFailures + 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v", counts, want)
	}

	// The right secret is refused while locked out, past the window too.
	right := req
	right.ClientSecret = f.secret
	f.clk.Advance(2 * th.Window)
	_, err := f.svc.ClientCredentials(ctx, right)
	var oe *OAuthError
	if !errors.Is(err, ErrLockedOut) || !errors.As(err, &oe) || oe.RetryAfter != th.LockoutDuration-2*th.Window {
		t.Fatalf("right secret while locked out: %v (%+v)", err, oe)
	}
	// The lockout is in the store: another replica honours it.
	replica := newService(f.st, f.clk, nil)
	if _, err := replica.ClientCredentials(ctx, right); !errors.Is(err, ErrLockedOut) {
		t.Errorf("other replica: %v", err)
	}
	sp, err := f.svc.ServicePrincipal(ctx, f.tenant.ID, f.sp.AppID)
	if err != nil || sp.LockedUntil.IsZero() {
		t.Errorf("LockedUntil not stored: %+v %v", sp, err)
	}
	f.clk.Advance(th.LockoutDuration)
	tok, err := f.svc.ClientCredentials(ctx, right)
	if err != nil {
		t.Fatalf("after the lockout: %v", err)
	}

	// Every attempt is logged, in order, with its outcome.
	recs := signIns(t, f, SignInQuery{AppID: strings.ToUpper(f.sp.AppID)})
	if len(recs) != 1003 {
		t.Fatalf("%d sign-in records, want 1003", len(recs))
	}
	byCode := map[int]int{}
	for _, r := range recs {
		byCode[r.Status.ErrorCode]++
		if r.AppID != f.sp.AppID || r.IPAddress != "203.0.113.7" || r.ServicePrincipalID != f.sp.ObjectID || r.ResourceTenantID != f.tenant.ID {
			t.Fatalf("record %+v", r)
		}
	}
	if want := map[int]int{7000215: want["wrong"], 50196: want["throttled"], 50053: want["locked"] + 2, 0: 1}; fmt.Sprint(byCode) != fmt.Sprint(want) {
		t.Errorf("logged outcomes %v, want %v", byCode, want)
	}
	last := recs[len(recs)-1]
	_, claims := decodeJWT(t, tok.AccessToken)
	if last.Status.ErrorCode != 0 || last.UniqueTokenIdentifier != claims["uti"] || last.ServicePrincipalCredentialKeyID != f.sp.PasswordCredentials[0].KeyID ||
		last.ResourceID != armAppID || last.ClientCredentialType != "clientSecret" || last.IsInteractive || last.SignInEventTypes[0] != "servicePrincipal" {
		t.Errorf("success record %+v", last)
	}
	if d := recs[th.ClientFailures].Status.AdditionalDetails; !strings.Contains(d, "Retry-After") {
		t.Errorf("throttled record details %q", d)
	}
}

// TestThrottleAddress: failures from one address over many client ids
// throttle that address (for every client, the right secret too), not
// another address; a success clears the client's count.
func TestThrottleAddress(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	th := f.svc.cfg.Throttle
	const attacker, other = "2001:db8:1:2::1", "198.51.100.9"
	for i := range th.AddressFailures {
		_, err := f.svc.ClientCredentials(ctx, TokenRequest{TenantID: f.tenant.ID, ClientID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ClientSecret: "x", Scope: armScope, ClientAddress: attacker})
		if !errors.Is(err, ErrUnauthorizedClient) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// Same /64, another host: throttled, even with the right secret.
	right := TokenRequest{TenantID: f.tenant.ID, ClientID: f.sp.AppID, ClientSecret: f.secret, Scope: armScope, ClientAddress: "2001:db8:1:2::ffff"}
	_, err := f.svc.ClientCredentials(ctx, right)
	var oe *OAuthError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &oe) || oe.RetryAfter != th.Window || !strings.Contains(oe.Description, "2001:db8:1:2::ffff") {
		t.Fatalf("same /64: %v", err)
	}
	right.ClientAddress = other
	if _, err := f.svc.ClientCredentials(ctx, right); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// The window ends: the address may try again.
	f.clk.Advance(th.Window)
	right.ClientAddress = attacker
	if _, err := f.svc.ClientCredentials(ctx, right); err != nil {
		t.Fatalf("next window: %v", err)
	}
	// A client with a few failures that then signs in starts again.
	wrong := right
	wrong.ClientSecret, wrong.ClientAddress = "nope", ""
	for range th.ClientFailures - 1 {
		f.svc.ClientCredentials(ctx, wrong)
	}
	if _, err := f.svc.ClientCredentials(ctx, right); err != nil {
		t.Fatal(err)
	}
	for i := range th.ClientFailures {
		if _, err := f.svc.ClientCredentials(ctx, wrong); errors.Is(err, ErrThrottled) {
			t.Fatalf("failure %d after a success is throttled", i)
		}
	}
	if _, err := f.svc.ClientCredentials(ctx, wrong); !errors.Is(err, ErrThrottled) {
		t.Errorf("failure %d: %v, want ErrThrottled", th.ClientFailures+1, err)
	}
}

// TestLockoutUnknownClient: an id that names no client is locked out in
// memory; resetting a locked-out client's secret lifts its lockout.
func TestLockoutUnknownClient(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) { c.Throttle = Throttle{ClientFailures: 2, LockoutFailures: 3} })
	ghost := TokenRequest{TenantID: f.tenant.ID, ClientID: "11111111-2222-4333-8444-555555555555", ClientSecret: "x", Scope: armScope}
	var errs []string
	for range 4 {
		_, err := f.svc.ClientCredentials(ctx, ghost)
		errs = append(errs, err.(*OAuthError).Code)
	}
	if got := strings.Join(errs, ","); got != "unauthorized_client,unauthorized_client,invalid_client,invalid_client" {
		t.Errorf("outcomes %s", got)
	}
	wrong := TokenRequest{TenantID: f.tenant.ID, ClientID: f.sp.AppID, ClientSecret: "x", Scope: armScope}
	for range 3 {
		f.svc.ClientCredentials(ctx, wrong)
	}
	right := wrong
	right.ClientSecret = f.secret
	if _, err := f.svc.ClientCredentials(ctx, right); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("want a lockout: %v", err)
	}
	secret, _, err := f.svc.ResetClientSecret(ctx, f.tenant.ID, f.sp.AppID, SecretOptions{})
	if err != nil {
		t.Fatal(err)
	}
	right.ClientSecret = secret
	if _, err := f.svc.ClientCredentials(ctx, right); err != nil {
		t.Errorf("after the reset: %v", err)
	}
	// The old secret is gone.
	right.ClientSecret = f.secret
	if _, err := f.svc.ClientCredentials(ctx, right); !errors.Is(err, &OAuthError{Code: "invalid_client", AADSTS: 7000215}) {
		t.Errorf("old secret after the reset: %v", err)
	}
}

// TestSignInLogged: the outcomes the throttle does not count are logged
// too; a disabled client with its right secret gets no token.
func TestSignInLogged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	base := TokenRequest{TenantID: f.tenant.ID, ClientID: f.sp.AppID, ClientSecret: f.secret, Scope: armScope, ClientAddress: "192.0.2.1", CorrelationID: "C0FFEE00-0000-4000-8000-000000000001"}
	cases := []struct {
		mod  func(*TokenRequest)
		code int
	}{
		{func(r *TokenRequest) { r.ClientID = "" }, 900144},
		{func(r *TokenRequest) { r.ClientSecret = "" }, 7000218},
		{func(r *TokenRequest) { r.Scope = "https://vault.azure.net/.default" }, 500011},
		{func(r *TokenRequest) { r.ClientID = strings.Repeat("x", 5000) }, 700016},
		{nil, 0},
	}
	for _, c := range cases {
		r := base
		if c.mod != nil {
			c.mod(&r)
		}
		f.svc.ClientCredentials(ctx, r)
	}
	if err := f.svc.SetAccountEnabled(ctx, f.tenant.ID, f.sp.AppID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ClientCredentials(ctx, base); !errors.Is(err, &OAuthError{Code: "unauthorized_client", AADSTS: 7000112}) {
		t.Errorf("disabled: %v", err)
	}
	recs := signIns(t, f, SignInQuery{})
	if len(recs) != len(cases)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(cases)+1)
	}
	for i, c := range append(cases, struct {
		mod  func(*TokenRequest)
		code int
	}{nil, 7000112}) {
		r := recs[i]
		if r.Status.ErrorCode != c.code || r.CorrelationID != base.CorrelationID || len(r.AppID) > 128 {
			t.Errorf("record %d: %+v, want code %d", i, r.Status, c.code)
		}
	}
	if recs[1].ClientCredentialType != "none" {
		t.Errorf("no secret: clientCredentialType %q", recs[1].ClientCredentialType)
	}
	// Unknown tenants have no log; the query is per tenant.
	if _, err := f.svc.ClientCredentials(ctx, TokenRequest{TenantID: "0d7c5e1a-aaaa-4bbb-8ccc-ddddeeeeffff", ClientID: f.sp.AppID}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("unknown tenant: %v", err)
	}
	if n := len(signIns(t, f, SignInQuery{})); n != len(recs) {
		t.Errorf("%d records after an unknown tenant's attempt", n)
	}
	// Paging and time filters.
	page := signIns(t, f, SignInQuery{Limit: 2})
	next := signIns(t, f, SignInQuery{AfterSeq: page[1].Seq})
	if len(page) != 2 || len(next) != len(recs)-2 || next[0].ID != recs[2].ID {
		t.Errorf("paging: %d then %d", len(page), len(next))
	}
	if n := len(signIns(t, f, SignInQuery{From: f.clk.Now().Add(time.Second)})); n != 0 {
		t.Errorf("From after every record: %d", n)
	}
}

// readOnly is a store whose writes fail.
type readOnly struct{ store.Store }

func (readOnly) Write(context.Context, func(store.Tx) error) error { return errors.New("disk full") }

// TestSignInLogFailure: when the sign-in log cannot be written, no token
// is issued (an internal error, not an OAuth one).
func TestSignInLogFailure(t *testing.T) {
	f := newFixture(t, nil)
	svc := newService(readOnly{f.st}, f.clk, nil)
	tok, err := svc.ClientCredentials(context.Background(), TokenRequest{TenantID: f.tenant.ID, ClientID: f.sp.AppID, ClientSecret: f.secret, Scope: armScope})
	var oe *OAuthError
	if tok != nil || err == nil || errors.As(err, &oe) || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("token %v, err %v", tok, err)
	}
}

// TestTokenForClientSecretUnguarded: the in-process grant is neither
// throttled nor logged.
func TestTokenForClientSecretUnguarded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	for range 3 * f.svc.cfg.Throttle.LockoutFailures {
		if _, err := f.svc.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, "wrong", armScope); !errors.Is(err, ErrInvalidClient) || errors.Is(err, ErrLockedOut) {
			t.Fatalf("err = %v", err)
		}
	}
	f.token(t)
	if n := len(signIns(t, f, SignInQuery{})); n != 0 {
		t.Errorf("%d sign-in records", n)
	}
}
