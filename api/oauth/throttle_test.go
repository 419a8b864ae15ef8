package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/mlgov/mlgov/api/oauth"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/authn/authntest"
)

// TestTokenBurst: 1,000 wrong secrets from one address through the
// token endpoint: the first ClientFailures are 401 invalid_client, all
// the others 429 with Retry-After and an OAuth error body (throttled,
// then locked out); the right secret is 429 while the lockout lasts and
// 200 after it, with no sleeping (the clock is injected); every attempt
// is in the sign-in log with the address and the client's request id.
func TestTokenBurst(t *testing.T) {
	ctx := context.Background()
	clk := authntest.NewClock(fixedNow)
	svc := authn.New(authntest.NewMemStore(), authn.Config{Issuer: authn.IssuerAt(base), Now: clk.Now})
	h := oauth.New(svc, oauth.Config{BaseURL: base, Now: clk.Now})
	if err := svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	ten, err := svc.CreateTenant(ctx, "Contoso")
	if err != nil {
		t.Fatal(err)
	}
	sp, secret, err := svc.CreateServicePrincipal(ctx, ten.ID, "app")
	if err != nil {
		t.Fatal(err)
	}
	send := func(secret, addr string, i int) (int, http.Header, errorBody) {
		r := tokenRequest(ten.ID, url.Values{"grant_type": {"client_credentials"}, "client_id": {sp.AppID}, "client_secret": {secret}, "scope": {armScope}})
		r.RemoteAddr = addr
		r.Header.Set("client-request-id", fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		w := do(h, r)
		var b errorBody
		if w.Code != http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || len(b.ErrorCodes) != 1 {
				t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body)
			}
		}
		return w.Code, w.Header(), b
	}

	const attacker = "203.0.113.7:40000"
	statuses := map[string]int{}
	for i := range 1000 {
		st, hdr, b := send(fmt.Sprintf("wrong-%d", i), attacker, i)
		key := fmt.Sprintf("%d %s %d", st, b.Error, b.ErrorCodes[0])
		statuses[key]++
		if st == http.StatusTooManyRequests {
			ra, err := strconv.Atoi(hdr.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 15*60 {
				t.Fatalf("attempt %d: Retry-After %q", i, hdr.Get("Retry-After"))
			}
			checkErrorBody(t, b, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		} else if hdr.Get("Retry-After") != "" {
			t.Fatalf("attempt %d: %d with Retry-After", i, st)
		}
	}
	want := map[string]int{
		"401 invalid_client 7000215":        10,
		"429 temporarily_unavailable 50196": 89,
		"429 invalid_client 50053":          901,
	}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("answers %v\nwant %v", statuses, want)
	}

	// The right secret, from the same address and from another: locked
	// out (the lockout is the client's).
	for _, addr := range []string{attacker, "[2001:db8::1]:443"} {
		if st, hdr, b := send(secret, addr, 1000); st != http.StatusTooManyRequests || b.ErrorCodes[0] != 50053 || hdr.Get("Retry-After") != "900" {
			t.Errorf("right secret from %s while locked out: %d %+v Retry-After %q", addr, st, b, hdr.Get("Retry-After"))
		}
	}
	clk.Advance(15 * time.Minute)
	if st, _, b := send(secret, attacker, 1001); st != http.StatusOK {
		t.Errorf("right secret after the lockout: %d %+v", st, b)
	}

	recs, err := svc.SignIns(ctx, ten.ID, authn.SignInQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1003 {
		t.Fatalf("%d sign-in records, want 1003", len(recs))
	}
	for i, r := range recs[:1000] {
		if r.IPAddress != "203.0.113.7" || r.CorrelationID != fmt.Sprintf("00000000-0000-4000-8000-%012d", i) || r.Status.ErrorCode == 0 {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if r := recs[1001]; r.IPAddress != "2001:db8::1" {
		t.Errorf("IPv6 address logged as %q", r.IPAddress)
	}
	if r := recs[1002]; r.Status.ErrorCode != 0 || r.UniqueTokenIdentifier == "" {
		t.Errorf("success record %+v", r)
	}
}
