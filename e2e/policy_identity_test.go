package e2e

// mlgov policy assignment create --assign-identity, as the real binary
// against a real mlgov serve with the built-ins: the assignment gets a
// system-assigned identity and the roles its definition names (the
// Modify built-in "disable local authentication" names Contributor), at
// its scope or --identity-scope; running it again makes no second role
// assignment; a definition naming roles the server does not know is
// refused before anything is made.

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPolicyAssignIdentity(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	sub := "/subscriptions/" + b.SubscriptionID
	for _, rg := range []string{"rg-mi", "rg-roles"} {
		if st, m := armSend(t, hc, b.Endpoint, token, "PUT", sub+"/resourceGroups/"+rg+"?api-version=2021-04-01", `{"location":"eastus"}`); st != 201 && st != 200 {
			t.Fatalf("resource group: %d %v", st, m)
		}
	}
	const modify = "a6f9a2d0-cff7-4855-83ad-4cd750666512" // Machine Learning computes should have local authentication methods disabled (Modify)
	create := func(args ...string) cliResult {
		return mlgovCLI(t, srv, append([]string{"policy", "assignment", "create", "--policy", modify, "-l", "eastus", "-o", "json"}, args...)...)
	}
	r := create("-n", "no-local-auth", "-g", "rg-mi", "--assign-identity", "--identity-scope", sub+"/resourceGroups/rg-roles")
	var a struct {
		ID       string
		Identity struct{ PrincipalID string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || r.code != 0 || a.Identity.PrincipalID == "" {
		t.Fatalf("create --assign-identity: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "b24988ac-6180-42a0-ab88-20f7382dd24c") {
		t.Errorf("the roles given are not said: %s", r.stderr)
	}
	roles := func(scope string) []string {
		t.Helper()
		r := mlgovCLI(t, srv, "role", "assignment", "list", "--scope", scope, "--assignee", a.Identity.PrincipalID, "-o", "json")
		var out []struct {
			Properties struct{ RoleDefinitionID, Scope string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
			t.Fatalf("role assignment list: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		var ids []string
		for _, o := range out {
			if strings.EqualFold(o.Properties.Scope, scope) {
				ids = append(ids, o.Properties.RoleDefinitionID)
			}
		}
		return ids
	}
	got := roles(sub + "/resourceGroups/rg-roles")
	if len(got) != 1 || !strings.HasSuffix(strings.ToLower(got[0]), "/b24988ac-6180-42a0-ab88-20f7382dd24c") {
		t.Errorf("the identity's roles at --identity-scope: %v", got)
	}
	// Again: the same role assignment, not a second one.
	if r := create("-n", "no-local-auth", "-g", "rg-mi", "--assign-identity", "--identity-scope", sub+"/resourceGroups/rg-roles"); r.code != 0 {
		t.Fatalf("create again: exit %d\n%s", r.code, r.stderr)
	}
	if got := roles(sub + "/resourceGroups/rg-roles"); len(got) != 1 {
		t.Errorf("after running it again: %v", got)
	}
	// A DeployIfNotExists built-in naming roles this server does not know
	// (Monitoring Contributor is not among the catalog's): refused, nothing made.
	r = create("-n", "diag", "-g", "rg-mi", "--assign-identity", "--policy", "f59276f0-5740-4aaf-821d-45d185aa210e")
	if r.code == 0 || !strings.Contains(r.stderr, "749f88d5-cbae-40b8-bcfc-e573ddc772fa") || !strings.Contains(r.stderr, "nothing was created") {
		t.Errorf("unknown roles: exit %d\n%s", r.code, r.stderr)
	}
	if st, _ := armSend(t, hc, b.Endpoint, token, "GET", sub+"/resourceGroups/rg-mi/providers/Microsoft.Authorization/policyAssignments/diag?api-version=2023-04-01", ""); st != 404 {
		t.Errorf("the refused assignment exists: %d", st)
	}
	if r := create("-n", "x", "-g", "rg-mi", "--identity-scope", sub); r.code == 0 || !strings.Contains(r.stderr, "--assign-identity") {
		t.Errorf("--identity-scope alone: exit %d\n%s", r.code, r.stderr)
	}
}
