package e2e

// serve --oidc-issuer: a real server trusts an external issuer's tokens
// (a Keycloak-shaped realm in the test, over TLS with --oidc-ca-file);
// role assignments made with the CLI name its principals and groups.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/federation"
	"github.com/mlgov/mlgov/internal/armtest"
)

func TestServeOIDCIssuer(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	f := armtest.NewFakeIssuer(t)
	ca := filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(ca, f.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := StartServer(t, ServerOptions{Bin: bin, Args: append(builtinArgs(t), "--oidc-issuer", f.Issuer(), "--oidc-audience", "mlgov", "--oidc-ca-file", ca)})
	b := srv.Bootstrap
	hc := srv.HTTPClient(t)
	alice := "3f0d1c2b-4a5e-4f6a-8b7c-9d0e1f2a3b4c"
	tok := f.Token(t, map[string]any{"sub": alice, "preferred_username": "alice@corp.example", "groups": []any{"/ml-team"}}, f.Key)
	sub := "/subscriptions/" + b.SubscriptionID
	if st, m := armSend(t, hc, b.Endpoint, tok, "GET", sub+"/resourcegroups?api-version=2021-04-01", ""); st != 200 || len(m["value"].([]any)) != 0 {
		t.Fatalf("alice's resource groups before any role: %d %v", st, m)
	}
	// A role for her group, named by its mapped id.
	iss, _ := federation.New(federation.Config{Issuer: f.Issuer(), Audience: "mlgov"})
	r := mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", iss.MappedID("/ml-team"), "--assignee-principal-type", "Group")
	if r.code != 0 {
		t.Fatalf("the group's role: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st, m := armSend(t, hc, b.Endpoint, tok, "GET", sub+"?api-version=2021-04-01", ""); st != 200 {
		t.Errorf("alice reads the subscription through her group's Reader: %d %v", st, m)
	}
	st, m := armSend(t, hc, b.Endpoint, tok, "PUT", sub+"/resourceGroups/rg1?api-version=2021-04-01", `{"location":"eastus"}`)
	if msg, _ := m["error"].(map[string]any)["message"].(string); st != 403 || !strings.Contains(msg, "'alice@corp.example' with object id '"+alice+"'") {
		t.Errorf("alice writes: %d %v", st, m)
	}
	bad := f.Token(t, map[string]any{"sub": alice, "aud": "another-app"}, f.Key)
	if st, _ := armSend(t, hc, b.Endpoint, bad, "GET", sub+"?api-version=2021-04-01", ""); st != 401 {
		t.Errorf("a token for another audience: %d", st)
	}
	for _, flag := range []string{"--oidc-audience", "--ui-oidc-client-id"} {
		r = runCLI(t, srv, "serve", flag, "x", "--data", t.TempDir())
		if r.code == 0 || !strings.Contains(r.stderr, "--oidc-issuer") {
			t.Errorf("%s without --oidc-issuer: exit %d\n%s", flag, r.code, r.stderr)
		}
	}
}
