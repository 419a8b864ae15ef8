package e2e

// The policy resource commands of the CLI (mlgov policy definition,
// set-definition, assignment, exemption) run as the real binary against a
// real `mlgov serve` with the ML built-ins: a custom definition from a
// file, assigned at a resource group with parameters, its denial of a
// plain HTTPS PUT, an exemption lifting it, bad input, and removal.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type cliResult struct {
	stdout, stderr string
	code           int
}

// policyCLI runs `mlgov policy ARGS --bootstrap srv's` (unless the args
// name --endpoint).
func policyCLI(t *testing.T, srv *Server, args ...string) cliResult {
	t.Helper()
	full := append([]string{"policy"}, args...)
	if contains(args, "--endpoint") {
		return runCLI(t, srv, full...)
	}
	return mlgovCLI(t, srv, full...)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// ok runs the command and requires exit 0.
func (r cliResult) ok(t *testing.T, what string) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// jsonOut decodes the command's JSON output into v.
func (r cliResult) jsonOut(t *testing.T, what string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("%s: the output is not JSON: %v\n%s", what, err, r.stdout)
	}
}

// failed requires exit 1, nothing on stdout, and every want in stderr.
func (r cliResult) failed(t *testing.T, what string, want ...string) {
	t.Helper()
	if r.code != 1 || r.stdout != "" {
		t.Errorf("%s: exit %d (want 1), stdout %q, stderr %q", what, r.code, r.stdout, r.stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: stderr %q does not hold %q", what, r.stderr, w)
		}
	}
}

// tableRow returns the table line whose first column is name, or "".
func tableRow(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}

type armResource struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
}

func TestPolicyCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	send := func(method, path, body string) (int, []byte) {
		t.Helper()
		return armSendRaw(t, hc, b.Endpoint, token, method, path, body)
	}
	sub := "/subscriptions/" + b.SubscriptionID
	rg := sub + "/resourceGroups/rg-cli"
	if st, body := send("PUT", rg+"?api-version=2021-04-01", `{"location":"eastus"}`); st != 200 && st != 201 {
		t.Fatalf("creating the resource group: %d %s", st, body)
	}
	vault := func(name, location string) (int, []byte) {
		return send("PUT", rg+"/providers/Microsoft.KeyVault/vaults/"+name+"?api-version=2023-07-01", `{"location":"`+location+`","properties":{}}`)
	}

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules := write("rule.json", `{"if":{"allOf":[{"field":"type","equals":"Microsoft.KeyVault/vaults"},
		{"field":"location","notIn":"[parameters('allowedLocations')]"}]},"then":{"effect":"[parameters('effect')]"}}`)
	params := write("params.json", `{"allowedLocations":{"type":"Array","metadata":{"displayName":"Allowed locations"}},
		"effect":{"type":"String","defaultValue":"Deny","allowedValues":["Deny","Audit","Disabled"]}}`)
	values := write("values.json", `{"allowedLocations":{"value":["westeurope"]}}`)

	// A custom definition from files.
	r := policyCLI(t, srv, "definition", "create", "--name", "kv-locations", "--rules", rules, "--params", params,
		"--mode", "Indexed", "--display-name", "Key vault locations", "--description", "Only allowed locations", "--metadata", "category=Key Vault").ok(t, "definition create")
	if row := tableRow(r.stdout, "kv-locations"); !strings.Contains(row, "Key vault locations") || !strings.Contains(row, "Custom") || !strings.Contains(row, "Indexed") || !strings.Contains(row, "Deny (parameter effect)") {
		t.Errorf("definition create table:\n%s", r.stdout)
	}
	var def armResource
	policyCLI(t, srv, "definition", "show", "--name", "kv-locations", "-o", "json").ok(t, "definition show").jsonOut(t, "definition show", &def)
	if !strings.EqualFold(def.ID, sub+"/providers/Microsoft.Authorization/policyDefinitions/kv-locations") || def.Properties["policyType"] != "Custom" ||
		def.Properties["description"] != "Only allowed locations" {
		t.Errorf("definition show -o json: %+v", def)
	}
	if md, _ := def.Properties["metadata"].(map[string]any); md["category"] != "Key Vault" {
		t.Errorf("metadata: %v", def.Properties["metadata"])
	}
	var custom, builtin []armResource
	policyCLI(t, srv, "definition", "list", "--filter", "custom", "-o", "json").ok(t, "list custom").jsonOut(t, "list custom", &custom)
	if len(custom) != 1 || custom[0].Name != "kv-locations" {
		t.Errorf("list --filter custom: %+v", custom)
	}
	policyCLI(t, srv, "definition", "list", "--filter", "builtin", "-o", "json").ok(t, "list builtin").jsonOut(t, "list builtin", &builtin)
	if len(builtin) == 0 {
		t.Fatal("list --filter builtin: none (the server was started with the ML built-ins)")
	}
	for _, d := range builtin {
		if d.Properties["policyType"] != "BuiltIn" {
			t.Errorf("a built-in listed as %v: %s", d.Properties["policyType"], d.ID)
		}
	}
	r = policyCLI(t, srv, "definition", "list").ok(t, "list")
	if tableRow(r.stdout, "kv-locations") == "" || tableRow(r.stdout, builtin[0].Name) == "" || !strings.HasPrefix(r.stdout, "NAME") {
		t.Errorf("definition list table holds not both kinds:\n%s", r.stdout)
	}
	// A built-in by name (nothing custom of that name).
	r = policyCLI(t, srv, "definition", "show", "-n", builtin[0].Name).ok(t, "show a built-in")
	if !strings.Contains(tableRow(r.stdout, builtin[0].Name), "BuiltIn") {
		t.Errorf("show of a built-in:\n%s", r.stdout)
	}

	// Assigned at the resource group, by name, with parameter values from a file.
	r = policyCLI(t, srv, "assignment", "create", "--name", "kv-loc", "--policy", "kv-locations", "--scope", rg,
		"--params", values, "--display-name", "KV locations in rg-cli", "--non-compliance-message", "Key vaults go to westeurope.", "-o", "json").ok(t, "assignment create")
	var asg armResource
	r.jsonOut(t, "assignment create", &asg)
	asgID := rg + "/providers/Microsoft.Authorization/policyAssignments/kv-loc"
	if !strings.EqualFold(asg.ID, asgID) || !strings.EqualFold(asg.Properties["policyDefinitionId"].(string), def.ID) || !strings.EqualFold(asg.Properties["scope"].(string), rg) {
		t.Errorf("assignment: %+v", asg)
	}
	if p, _ := json.Marshal(asg.Properties["parameters"]); string(p) != `{"allowedLocations":{"value":["westeurope"]}}` {
		t.Errorf("assignment parameters: %s", p)
	}
	r = policyCLI(t, srv, "assignment", "list", "--scope", rg).ok(t, "assignment list")
	if row := tableRow(r.stdout, "kv-loc"); !strings.Contains(row, "KV locations in rg-cli") || !strings.Contains(row, rg) || !strings.Contains(row, "kv-locations") || !strings.Contains(row, "Default") {
		t.Errorf("assignment list table:\n%s", r.stdout)
	}
	var asgs []armResource
	policyCLI(t, srv, "assignment", "list", "-g", "rg-cli", "-o", "json").ok(t, "assignment list json").jsonOut(t, "assignment list", &asgs)
	if len(asgs) != 1 || asgs[0].Name != "kv-loc" {
		t.Errorf("assignment list -o json: %+v", asgs)
	}
	policyCLI(t, srv, "assignment", "show", "-n", "kv-loc", "--scope", rg, "-o", "json").ok(t, "assignment show").jsonOut(t, "assignment show", &asg)
	if asg.Name != "kv-loc" {
		t.Errorf("assignment show: %+v", asg)
	}
	// Not at the subscription.
	policyCLI(t, srv, "assignment", "show", "-n", "kv-loc").failed(t, "assignment show at the subscription", "error: ", "kv-loc")

	// The denial, seen by a plain HTTPS PUT.
	if st, body := vault("kv-east", "eastus"); st != 403 || !bytes.Contains(body, []byte("RequestDisallowedByPolicy")) || !bytes.Contains(body, []byte("Key vaults go to westeurope.")) {
		t.Errorf("a vault in eastus: %d %s", st, body)
	}
	if st, body := vault("kv-west", "westeurope"); st != 200 && st != 201 {
		t.Errorf("a vault in westeurope: %d %s", st, body)
	}

	// An exemption lifts it; removed, the denial is back.
	expires := time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
	r = policyCLI(t, srv, "exemption", "create", "--name", "waive-east", "--policy-assignment", asgID, "--exemption-category", "Waiver",
		"--scope", rg, "--expires-on", expires, "--display-name", "eastus for now").ok(t, "exemption create")
	if row := tableRow(r.stdout, "waive-east"); !strings.Contains(row, "Waiver") || !strings.Contains(row, "kv-loc") || !strings.Contains(row, expires) {
		t.Errorf("exemption create table:\n%s", r.stdout)
	}
	r = policyCLI(t, srv, "exemption", "list", "--scope", rg).ok(t, "exemption list")
	if tableRow(r.stdout, "waive-east") == "" {
		t.Errorf("exemption list:\n%s", r.stdout)
	}
	var exs []armResource
	policyCLI(t, srv, "exemption", "list", "-g", "rg-cli", "-o", "json").ok(t, "exemption list json").jsonOut(t, "exemption list", &exs)
	if len(exs) != 1 || !strings.EqualFold(exs[0].Properties["policyAssignmentId"].(string), asgID) || exs[0].Properties["expiresOn"] != expires {
		t.Errorf("exemption list -o json: %+v", exs)
	}
	if st, body := vault("kv-east", "eastus"); st != 200 && st != 201 {
		t.Errorf("a vault in eastus with the exemption: %d %s", st, body)
	}
	policyCLI(t, srv, "exemption", "delete", "--name", "waive-east", "--scope", rg).ok(t, "exemption delete")
	policyCLI(t, srv, "exemption", "list", "--scope", rg, "-o", "json").ok(t, "exemption list after delete").jsonOut(t, "exemption list", &exs)
	if len(exs) != 0 {
		t.Errorf("exemptions after delete: %+v", exs)
	}
	if st, body := vault("kv-east2", "eastus"); st != 403 {
		t.Errorf("a vault in eastus after the exemption's removal: %d %s", st, body)
	}
	policyCLI(t, srv, "exemption", "create", "-n", "x", "-a", asgID, "-e", "Waiver", "--scope", rg,
		"--policy-definition-reference-ids", "member1").failed(t, "reference ids of a plain definition", "error: InvalidPolicyDefinitionReference: ", "target: /properties/policyDefinitionReferenceIds/0")

	// Bad input.
	missing := filepath.Join(dir, "missing.json")
	policyCLI(t, srv, "definition", "create", "-n", "bad", "--rules", missing).failed(t, "missing rules file", "--rules", missing, "does not exist")
	badJSON := write("bad.json", `{"allowedLocations": {"value": [`)
	policyCLI(t, srv, "assignment", "create", "-n", "bad", "--policy", "kv-locations", "--scope", rg, "--params", badJSON).failed(t, "params not JSON", "--params", badJSON, "not valid JSON")
	policyCLI(t, srv, "definition", "create", "-n", "bad", "--rules", `{"if": {"field": "type", "equals": "x"}, "then": {"effect": "Banana"}}`).failed(t, "an unknown effect", "error: ")
	policyCLI(t, srv, "assignment", "create", "-n", "bad", "--policy", "no-such-definition", "--scope", rg).failed(t, "unknown definition",
		"error: PolicyDefinitionNotFound: ", "no-such-definition", "target: /properties/policyDefinitionId")
	policyCLI(t, srv, "assignment", "create", "-n", "bad", "--policy", "kv-locations", "--scope", rg).failed(t, "a missing parameter value",
		"error: MissingPolicyParameter: ", "allowedLocations")
	policyCLI(t, srv, "definition", "show", "-n", "no-such-definition").failed(t, "show of an unknown definition", "error: PolicyDefinitionNotFound: ")
	var none []armResource
	policyCLI(t, srv, "assignment", "list", "--scope", rg, "-o", "json").ok(t, "assignments after bad input").jsonOut(t, "assignment list", &none)
	if len(none) != 1 {
		t.Errorf("bad input stored assignments: %+v", none)
	}

	// An initiative of the custom definition, with groups and its own parameter.
	members := write("members.json", `[{"policyDefinitionId":"`+def.ID+`","policyDefinitionReferenceId":"locations",
		"parameters":{"allowedLocations":{"value":"[parameters('locations')]"}},"groupNames":["placement"]}]`)
	r = policyCLI(t, srv, "set-definition", "create", "-n", "kv-guard", "--definitions", members, "--params", `{"locations":{"type":"Array"}}`,
		"--definition-groups", `[{"name":"placement","displayName":"Placement"}]`, "--display-name", "Key vault guard").ok(t, "set-definition create")
	if row := tableRow(r.stdout, "kv-guard"); !strings.Contains(row, "Key vault guard") || !strings.Contains(row, "Custom") || !strings.HasSuffix(strings.TrimSpace(row), "1") {
		t.Errorf("set-definition create table:\n%s", r.stdout)
	}
	var set armResource
	policyCLI(t, srv, "set-definition", "show", "-n", "kv-guard", "-o", "json").ok(t, "set-definition show").jsonOut(t, "set-definition show", &set)
	if groups, _ := set.Properties["policyDefinitionGroups"].([]any); len(groups) != 1 || !strings.EqualFold(set.Type, "Microsoft.Authorization/policySetDefinitions") {
		t.Errorf("set-definition show: %+v", set)
	}
	var sets []armResource
	policyCLI(t, srv, "set-definition", "list", "--filter", "custom", "-o", "json").ok(t, "set-definition list").jsonOut(t, "set-definition list", &sets)
	if len(sets) != 1 || sets[0].Name != "kv-guard" {
		t.Errorf("set-definition list: %+v", sets)
	}
	policyCLI(t, srv, "set-definition", "create", "-n", "bad-set", "--definitions", `[{"policyDefinitionId":"`+sub+`/providers/Microsoft.Authorization/policyDefinitions/nope"}]`).failed(t,
		"an initiative of an unknown definition", "error: PolicyDefinitionNotFound: ")
	policyCLI(t, srv, "set-definition", "delete", "-n", "kv-guard").ok(t, "set-definition delete")
	policyCLI(t, srv, "set-definition", "list", "--filter", "custom", "-o", "json").ok(t, "set-definition list after delete").jsonOut(t, "set-definition list", &sets)
	if len(sets) != 0 {
		t.Errorf("initiatives after delete: %+v", sets)
	}

	// The same server through --endpoint and --credentials.
	cred := write("cred.json", `{"tenantId":"`+b.TenantID+`","clientId":"`+b.ClientID+`","clientSecret":"`+b.ClientSecret+`","caCertFile":"`+b.CACertFile+`","subscriptionId":"`+b.SubscriptionID+`"}`)
	r = policyCLI(t, srv, "definition", "list", "--filter", "custom", "--endpoint", b.Endpoint, "--credentials", cred).ok(t, "--endpoint")
	if tableRow(r.stdout, "kv-locations") == "" {
		t.Errorf("--endpoint list:\n%s", r.stdout)
	}

	// Remove everything.
	policyCLI(t, srv, "assignment", "delete", "--name", "kv-loc", "--scope", rg).ok(t, "assignment delete")
	policyCLI(t, srv, "definition", "delete", "--name", "kv-locations").ok(t, "definition delete")
	policyCLI(t, srv, "assignment", "list", "--scope", rg, "-o", "json").ok(t, "assignments after delete").jsonOut(t, "assignment list", &none)
	policyCLI(t, srv, "definition", "list", "--filter", "custom", "-o", "json").ok(t, "definitions after delete").jsonOut(t, "definition list", &custom)
	if len(none) != 0 || len(custom) != 0 {
		t.Errorf("after delete: assignments %+v, custom definitions %+v", none, custom)
	}
	if st, body := vault("kv-east3", "eastus"); st != 200 && st != 201 {
		t.Errorf("a vault in eastus once the assignment is gone: %d %s", st, body)
	}
	for _, v := range []string{"kv-west", "kv-east", "kv-east3"} {
		if st, body := send("DELETE", rg+"/providers/Microsoft.KeyVault/vaults/"+v+"?api-version=2023-07-01", ""); st != 200 && st != 204 {
			t.Errorf("deleting %s: %d %s", v, st, body)
		}
	}
}
