package authn

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
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
