package authn

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mlgov/mlgov/store"
)

// TestUserPasswords: Entra's password rules, the hash never the
// password, a unique UPN, and sign-ins refused for a wrong password, a
// public client mlgov does not know, and a disabled user.
func TestUserPasswords(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	for pw, ok := range map[string]bool{"short1A": false, "alllowercase1": false, "NoDigitsHere!": true, "Abcdefg1": true, "abcdefgh!1": true, "12345678": false} {
		if err := checkPassword(pw); (err == nil) != ok {
			t.Errorf("checkPassword(%q) = %v, want ok %v", pw, err, ok)
		}
	}
	u, err := f.svc.CreateUser(ctx, f.tenant.ID, User{UserPrincipalName: "Carol@Corp.example", DisplayName: "Carol"}, "C0rrect-horse!")
	if err != nil {
		t.Fatal(err)
	}
	if u.UserPrincipalName != "carol@corp.example" {
		t.Errorf("the UPN is kept lower-cased: %q", u.UserPrincipalName)
	}
	if _, err := f.svc.CreateUser(ctx, f.tenant.ID, User{UserPrincipalName: "carol@corp.example", DisplayName: "C2"}, "C0rrect-horse!"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a taken UPN: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, f.tenant.ID, User{UserPrincipalName: "no-at-sign", DisplayName: "D"}, "C0rrect-horse!"); !errors.Is(err, ErrUserInvalid) {
		t.Errorf("a UPN without a domain: %v", err)
	}
	// The store holds a hash, not the password.
	err = f.svc.st.Read(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, KindUser, userKey(f.tenant.ID, u.ObjectID))
		if err == nil && (len(o.Body) == 0 || bytes.Contains(o.Body, []byte("C0rrect-horse!"))) {
			t.Errorf("the stored user holds the password: %s", o.Body)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	grant := func(client, pw string) error {
		_, err := f.svc.PasswordGrant(ctx, PasswordRequest{TenantID: f.tenant.ID, ClientID: client, Username: "carol@corp.example", Password: pw, Scope: "https://management.azure.com/.default"})
		return err
	}
	cli := "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	if err := grant(cli, "C0rrect-horse!"); err != nil {
		t.Errorf("the right password: %v", err)
	}
	var oe *OAuthError
	if err := grant(cli, "Wr0ng-horse!"); !errors.As(err, &oe) || oe.AADSTS != 50126 {
		t.Errorf("a wrong password: %v", err)
	}
	if err := grant("11111111-2222-4333-8444-555555555555", "C0rrect-horse!"); !errors.As(err, &oe) || oe.AADSTS != 700016 {
		t.Errorf("an unknown client: %v", err)
	}
	off := false
	if err := f.svc.UpdateUser(ctx, f.tenant.ID, u.ObjectID, "", &off); err != nil {
		t.Fatal(err)
	}
	if err := grant(cli, "C0rrect-horse!"); !errors.As(err, &oe) || oe.AADSTS != 50057 {
		t.Errorf("a disabled user: %v", err)
	}
}
