package authn

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeviceFlowInMemory: the device code flow with MFA enrolment,
// refresh and revocation on the in-memory store, whose transactions do
// not nest (a read inside a write deadlocks: the test would hang), with
// an injected clock: codes of the clock's steps, a flow that expires
// after ten minutes, and a session that ends after 90 idle days.
func TestDeviceFlowInMemory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	const upn, pw = "erin@corp.example", "C0rrect-horse!"
	u, err := f.svc.CreateUser(ctx, f.tenant.ID, User{UserPrincipalName: upn, DisplayName: "Erin"}, pw)
	if err != nil {
		t.Fatal(err)
	}
	var p CAPolicy
	json.Unmarshal([]byte(`{"displayName":"mfa","state":"enabled","conditions":{"users":{"includeUsers":["`+u.ObjectID+`"]},
		"applications":{"includeApplications":["All"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`), &p)
	if _, err := f.svc.PutCAPolicy(ctx, f.tenant.ID, &p); err != nil {
		t.Fatal(err)
	}
	const cli = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	start := func() (*DeviceCode, *FlowStep) {
		t.Helper()
		dc, err := f.svc.DeviceAuthorization(ctx, f.tenant.ID, cli, armScope+" offline_access openid")
		if err != nil {
			t.Fatal(err)
		}
		step, err := f.svc.StartDevice(ctx, dc.UserCode, "", "10.0.0.1", "")
		if err != nil || step.Stage != "password" {
			t.Fatalf("StartDevice: %v %+v", err, step)
		}
		return dc, step
	}
	dc, step := start()
	poll := func(code string) (*UserTokens, error) {
		return f.svc.DeviceGrant(ctx, GrantRequest{TenantID: f.tenant.ID, ClientID: cli, DeviceCode: code})
	}
	var oe *OAuthError
	if _, err := poll(dc.DeviceCode); !errors.As(err, &oe) || oe.Code != "authorization_pending" {
		t.Fatalf("before the sign-in: %v", err)
	}
	binding := step.Binding // the browser's cookie
	step, err = f.svc.FlowPassword(ctx, step.FlowID, binding, upn, pw, "10.0.0.1", "")
	if err != nil || step.Stage != "enrol" || step.EnrolSecret == "" {
		t.Fatalf("after the password: %v %+v", err, step)
	}
	secret := step.EnrolSecret
	code, _ := TOTPCode(secret, f.clk.Now())
	if step, err = f.svc.FlowTOTP(ctx, step.FlowID, binding, code, "10.0.0.1", ""); err != nil || step.Stage != "done" {
		t.Fatalf("the first code: %v %+v", err, step)
	}
	tok, err := poll(dc.DeviceCode)
	if err != nil || tok.RefreshToken == "" || tok.IDToken == "" {
		t.Fatalf("the device token: %v", err)
	}
	p2, err := f.svc.Verify(ctx, tok.AccessToken)
	if err != nil || !slices.Contains(amrOf(p2), "mfa") {
		t.Fatalf("the access token: %v %v", err, p2)
	}
	// A refresh after 89 idle days works; after 90 more it does not.
	f.clk.Advance(89 * 24 * time.Hour)
	tok2, err := f.svc.RefreshGrant(ctx, GrantRequest{TenantID: f.tenant.ID, ClientID: cli, RefreshToken: tok.RefreshToken})
	if err != nil {
		t.Fatalf("a refresh after 89 days: %v", err)
	}
	f.clk.Advance(90 * 24 * time.Hour)
	if _, err := f.svc.RefreshGrant(ctx, GrantRequest{TenantID: f.tenant.ID, ClientID: cli, RefreshToken: tok2.RefreshToken}); !errors.As(err, &oe) || oe.AADSTS != 50173 {
		t.Errorf("a refresh after 90 idle days: %v", err)
	}
	// A flow left for more than ten minutes expires.
	_, step = start()
	f.clk.Advance(11 * time.Minute)
	var fe *FlowError
	if _, err := f.svc.FlowPassword(ctx, step.FlowID, step.Binding, upn, pw, "10.0.0.1", ""); !errors.As(err, &fe) {
		t.Errorf("an expired flow: %v", err)
	}
	// A second sign-in asks for the code (enrolled); the code of the
	// step just used is not taken again, the next step's is. Revoking
	// the new session's refresh token refuses its access token.
	dc, step = start()
	binding = step.Binding
	if step, err = f.svc.FlowPassword(ctx, step.FlowID, binding, upn, pw, "10.0.0.1", ""); err != nil || step.Stage != "mfa" {
		t.Fatalf("a second sign-in: %v %+v", err, step)
	}
	f.clk.Advance(30 * time.Second)
	code, _ = TOTPCode(secret, f.clk.Now())
	if step, err = f.svc.FlowTOTP(ctx, step.FlowID, binding, code, "10.0.0.1", ""); err != nil || step.Stage != "done" {
		t.Fatalf("the second code: %v %+v", err, step)
	}
	if tok, err = poll(dc.DeviceCode); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeRefreshToken(ctx, f.tenant.ID, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, tok.AccessToken); !errors.Is(err, ErrCredentialRevoked) {
		t.Errorf("a revoked session's access token: %v", err)
	}
}

func amrOf(p *Principal) []string {
	var out []string
	if l, ok := p.Claims["amr"].([]any); ok {
		for _, v := range l {
			out = append(out, v.(string))
		}
	}
	return out
}

// TestDashboardClient: the web dashboard's client is known only when the
// server serves it, redirects only to its one redirect URI (no loopback
// or other URI, unlike the first-party CLI clients), and its code
// redeems for tokens that name it.
func TestDashboardClient(t *testing.T) {
	ctx := context.Background()
	const ui = "https://mlgov.example:8443/ui/"
	const verifier = "dBjftJeZ4CVP-mJ0kZ6KpJ0FjBzX7Ai9WAhT9PJDxEA"
	challenge := pkceS256(verifier)
	authorize := func(svc *Service, tenant, redirect string) (*FlowStep, error) {
		return svc.StartAuthorize(ctx, AuthorizeRequest{TenantID: tenant, ClientID: DashboardClientID, ResponseType: "code", RedirectURI: redirect,
			Scope: armScope + " openid offline_access", State: "s", CodeChallenge: challenge, CodeChallengeMethod: "S256"})
	}
	var fe *FlowError
	off := newFixture(t, nil)
	if _, err := authorize(off.svc, off.tenant.ID, ui); !errors.As(err, &fe) || fe.AADSTS != 700016 {
		t.Errorf("a server without the dashboard: %v, want AADSTS700016 (unknown client)", err)
	}
	f := newFixture(t, func(c *Config) { c.DashboardRedirectURI = ui })
	for _, bad := range []string{"http://localhost:8400/", "https://mlgov.example:8443/ui/x", "https://evil.example/ui/", "https://mlgov.example:8443/ui"} {
		if _, err := authorize(f.svc, f.tenant.ID, bad); !errors.As(err, &fe) || fe.AADSTS != 50011 {
			t.Errorf("redirect %s: %v, want AADSTS50011", bad, err)
		}
	}
	const upn, pw = "dana@corp.example", "C0rrect-horse!"
	if _, err := f.svc.CreateUser(ctx, f.tenant.ID, User{UserPrincipalName: upn, DisplayName: "Dana"}, pw); err != nil {
		t.Fatal(err)
	}
	step, err := authorize(f.svc, f.tenant.ID, ui)
	if err != nil || step.Stage != "password" || step.ClientName != DashboardName {
		t.Fatalf("authorize: %v %+v", err, step)
	}
	if step, err = f.svc.FlowPassword(ctx, step.FlowID, step.Binding, upn, pw, "10.0.0.1", ""); err != nil || step.Stage != "done" {
		t.Fatalf("password: %v %+v", err, step)
	}
	u, _ := url.Parse(step.Redirect)
	if !strings.HasPrefix(step.Redirect, ui+"?") || u.Query().Get("code") == "" {
		t.Fatalf("redirect %q: want the dashboard's URI with a code", step.Redirect)
	}
	toks, err := f.svc.CodeGrant(ctx, GrantRequest{TenantID: f.tenant.ID, ClientID: DashboardClientID, Code: u.Query().Get("code"), RedirectURI: ui, CodeVerifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Verify(ctx, toks.Token.AccessToken)
	if err != nil || !strings.EqualFold(p.AppID, DashboardClientID) || toks.RefreshToken == "" {
		t.Fatalf("the dashboard's token: %v %+v refresh=%v", err, p, toks.RefreshToken != "")
	}
}
