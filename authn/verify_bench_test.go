package authn

import (
	"context"
	"errors"
	"testing"
)

// BenchmarkVerify verifies one valid token, as every ARM request does
// (the API's own cache of verified tokens aside).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, nil)
	tok := f.token(b).AccessToken
	ctx := context.Background()
	if _, err := f.svc.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckPrincipal is what a request with a token the API
// remembers as verified pays for the principal check (a cache hit).
func BenchmarkCheckPrincipal(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	p, err := f.svc.Verify(ctx, f.token(b).AccessToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.svc.CheckPrincipal(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThrottledAttempt is the cost of one attempt of a flood once
// the client is locked out: the lockout check and the sign-in record
// (in-memory store).
func BenchmarkThrottledAttempt(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	r := TokenRequest{TenantID: f.tenant.ID, ClientID: f.sp.AppID, ClientSecret: "wrong", Scope: armScope, ClientAddress: "203.0.113.7"}
	for range f.svc.cfg.Throttle.LockoutFailures {
		f.svc.ClientCredentials(ctx, r)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.ClientCredentials(ctx, r); !errors.Is(err, ErrLockedOut) {
			b.Fatal(err)
		}
	}
}
