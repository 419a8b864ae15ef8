package e2e

// mlgov role definition list and show, as the real binary against a real
// `mlgov serve` with the built-in roles (--role-definitions), and the
// role definitions API they read: the list and its $filter, one role by
// GUID at the tenant and at a subscription (whose id the answer takes),
// writes refused.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// mlgovCLI runs `mlgov ARGS --bootstrap srv's`.
func mlgovCLI(t *testing.T, srv *Server, args ...string) cliResult {
	t.Helper()
	return runCLI(t, srv, append(args, "--bootstrap", srv.BootstrapPath)...)
}

// serveWithToken starts a server with the built-ins and signs its
// administrator in: the server, an HTTP client that trusts it, and an
// ARM token.
func serveWithToken(t *testing.T) (*Server, *http.Client, string) {
	t.Helper()
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: builtinArgs(t)})
	b := srv.Bootstrap
	hc := srv.HTTPClient(t)
	st, token := clientToken(t, hc, b.AuthorityHost, b, b.ClientSecret)
	if st != 200 || token == "" {
		t.Fatalf("token: %d", st)
	}
	return srv, hc, token
}

// runCLI runs `mlgov ARGS` in a scratch directory.
func runCLI(t *testing.T, srv *Server, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, srv.Bin, args...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mlgov %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func TestRoleDefinitions(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: builtinArgs(t)})
	const ds = "f6c7c914-8db3-469d-8ca1-694a8f32e121" // AzureML Data Scientist

	r := mlgovCLI(t, srv, "role", "definition", "list")
	if r.code != 0 || !strings.Contains(r.stdout, ds) || !strings.Contains(r.stdout, "AzureML Compute Operator") {
		t.Fatalf("role definition list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "definition", "list", "--name", "azureml data scientist", "-o", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || len(got) != 1 || got[0]["id"] != "/providers/Microsoft.Authorization/roleDefinitions/"+ds {
		t.Fatalf("list --name: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "definition", "show", "AzureML Data Scientist")
	if r.code != 0 || !strings.Contains(r.stdout, "notActions:     Microsoft.MachineLearningServices/workspaces/computes/*/write") {
		t.Errorf("show by name: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "definition", "show", ds)
	if r.code != 0 || !strings.Contains(r.stdout, "AzureML Data Scientist") {
		t.Errorf("show by GUID: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "definition", "show", "AzureML Data Wizard")
	if r.code != 1 || !strings.Contains(r.stderr, `no role definition named "AzureML Data Wizard"`) {
		t.Errorf("show of no role: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	b := srv.Bootstrap
	hc := srv.HTTPClient(t)
	st, token := clientToken(t, hc, b.AuthorityHost, b, b.ClientSecret)
	if st != 200 || token == "" {
		t.Fatalf("token: %d", st)
	}
	send := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return armSend(t, hc, b.Endpoint, token, method, path, body)
	}
	sub := "/subscriptions/" + b.SubscriptionID
	if st, m := send("GET", sub+"/providers/Microsoft.Authorization/roleDefinitions/"+ds+"?api-version=2022-04-01", ""); st != 200 || m["id"] != sub+"/providers/Microsoft.Authorization/roleDefinitions/"+ds {
		t.Errorf("GET at the subscription: %d %v", st, m["id"])
	}
	if st, m := send("GET", sub+"/resourceGroups/rg1/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter="+strings.ReplaceAll("type eq 'BuiltInRole'", " ", "%20"), ""); st != 200 || len(m["value"].([]any)) < 30 {
		t.Errorf("list of built-ins at a resource group: %d %d", st, len(m["value"].([]any)))
	}
	if st, m := send("GET", sub+"/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=description%20eq%20'x'", ""); st != 400 || m["error"].(map[string]any)["code"] != "InvalidFilter" {
		t.Errorf("an unsupported $filter: %d %v", st, m)
	}
	if st, m := send("GET", "/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000000?api-version=2022-04-01", ""); st != 404 || m["error"].(map[string]any)["code"] != "RoleDefinitionDoesNotExist" {
		t.Errorf("an unknown role: %d %v", st, m)
	}
	if st, m := send("PUT", sub+"/providers/Microsoft.Authorization/roleDefinitions/5c2f6c1e-1f0a-4d5e-9f3b-2a7b8c9d0e1f?api-version=2022-04-01", `{"properties":{"roleName":"x","assignableScopes":["`+sub+`"]}}`); st != 400 || m["error"].(map[string]any)["target"] != "/properties/permissions" {
		t.Errorf("a custom role PUT without permissions: %d %v", st, m)
	}
	if st, m := send("PUT", sub+"/providers/Microsoft.Authorization/roleDefinitions/"+ds+"?api-version=2022-04-01", `{"properties":{"roleName":"x"}}`); st != 400 || m["error"].(map[string]any)["code"] != "RoleDefinitionBuiltIn" {
		t.Errorf("a PUT of a built-in role: %d %v", st, m)
	}
}

// TestRoleAssignmentCLI: mlgov role assignment create, list and delete
// against a real server, and their mistakes.
func TestRoleAssignmentCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	// The administrator's object id, from its token.
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		OID string `json:"oid"`
	}
	json.Unmarshal(payload, &claims)
	req, _ := http.NewRequest("PUT", b.Endpoint+"/subscriptions/"+b.SubscriptionID+"/resourceGroups/rg1?api-version=2021-04-01", strings.NewReader(`{"location":"eastus"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("creating rg1: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	r := mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", claims.OID, "-g", "rg1", "-o", "json")
	var created struct {
		ID         string `json:"id"`
		Properties struct {
			PrincipalType string `json:"principalType"`
			Scope         string `json:"scope"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || r.code != 0 || created.Properties.PrincipalType != "ServicePrincipal" ||
		created.Properties.Scope != "/subscriptions/"+b.SubscriptionID+"/resourceGroups/rg1" {
		t.Fatalf("create: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "assignment", "list", "--assignee", claims.OID)
	if r.code != 0 || !strings.Contains(r.stdout, "Reader") || !strings.Contains(r.stdout, "/resourceGroups/rg1") || !strings.Contains(r.stdout, "PRINCIPAL TYPE") {
		t.Errorf("list --assignee: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "assignment", "list", "--at-scope")
	if r.code != 0 || strings.Contains(r.stdout, "/resourceGroups/rg1") {
		t.Errorf("list --at-scope at the subscription shows what is below it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", claims.OID, "-g", "rg1")
	if r.code != 1 || !strings.Contains(r.stderr, "RoleAssignmentExists") {
		t.Errorf("the same assignment twice: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "assignment", "delete", created.ID)
	if r.code != 0 {
		t.Errorf("delete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "assignment", "list", "--assignee", claims.OID)
	if r.code != 0 || strings.Contains(r.stdout, "/resourceGroups/rg1") {
		t.Errorf("list after the delete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"delete", created.ID}, "no role assignment " + created.ID},
		{[]string{"delete", "/subscriptions/" + b.SubscriptionID}, "is not a role assignment id"},
		{[]string{"create", "--role", "Reader", "--assignee", "alice"}, `--assignee "alice": give the principal's object id (a GUID)`},
		{[]string{"create", "--role", "No Such Role", "--assignee", claims.OID}, `--role "No Such Role": no role definition has that name`},
		{[]string{"create", "--role", "Reader", "--assignee", "0b0b0b0b-1111-4222-8333-444455556666"}, "PrincipalNotFound"},
	} {
		r := mlgovCLI(t, srv, append([]string{"role", "assignment"}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("role assignment %s: exit %d, want 1 and %q\n%s%s", strings.Join(c.args, " "), r.code, c.msg, r.stdout, r.stderr)
		}
	}
}

// TestDirectoryCLI: mlgov directory app and group, through the running
// server's Graph API: an application made with its secret and service
// principal signs in; a group holds it; a role for the group; the
// application deleted stops signing in.
func TestDirectoryCLI(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: builtinArgs(t)})
	b := srv.Bootstrap
	hc := srv.HTTPClient(t)

	r := mlgovCLI(t, srv, "directory", "app", "create", "trainer")
	var app struct {
		AppID, ObjectID, Password, Tenant string
	}
	if err := json.Unmarshal([]byte(r.stdout), &app); err != nil || r.code != 0 || app.Password == "" || app.ObjectID == "" || app.Tenant != b.TenantID {
		t.Fatalf("app create: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	signIn := func() int {
		t.Helper()
		as := b
		as.ClientID = app.AppID
		st, _ := clientToken(t, hc, b.AuthorityHost, as, app.Password)
		return st
	}
	if st := signIn(); st != 200 {
		t.Errorf("the new application's sign-in: %d", st)
	}
	r = mlgovCLI(t, srv, "directory", "group", "create", "data scientists", "--description", "the team", "-o", "json")
	var g struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &g); err != nil || r.code != 0 || g.ID == "" {
		t.Fatalf("group create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mlgovCLI(t, srv, "directory", "group", "member", "add", g.ID, app.ObjectID); r.code != 0 {
		t.Fatalf("member add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "directory", "group", "member", "list", g.ID)
	if r.code != 0 || !strings.Contains(r.stdout, app.ObjectID) || !strings.Contains(r.stdout, "servicePrincipal") {
		t.Errorf("member list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "directory", "group", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "data scientists") || !strings.Contains(r.stdout, "the team") {
		t.Errorf("group list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", g.ID, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"principalType": "Group"`) {
		t.Errorf("a role for the group: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "directory", "app", "list")
	if r.code != 0 || !strings.Contains(r.stdout, app.AppID) || !strings.Contains(r.stdout, "trainer") {
		t.Errorf("app list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"group", "member", "add", g.ID, "bob"}, `MEMBER_ID "bob" is not an object id (a GUID)`},
		{[]string{"group", "member", "add", g.ID, app.ObjectID}, "already exist"},
		{[]string{"group", "delete", "00000000-0000-4000-8000-000000000000"}, "Request_ResourceNotFound"},
		{[]string{"app", "delete", "00000000-0000-4000-8000-000000000000"}, "no application has the app id"},
	} {
		r := mlgovCLI(t, srv, append([]string{"directory"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("directory %s: exit %d, want an error with %q\n%s%s", strings.Join(c.args, " "), r.code, c.msg, r.stdout, r.stderr)
		}
	}
	if r := mlgovCLI(t, srv, "directory", "app", "delete", app.AppID); r.code != 0 {
		t.Fatalf("app delete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st := signIn(); st == 200 {
		t.Error("the deleted application still signs in")
	}
}
