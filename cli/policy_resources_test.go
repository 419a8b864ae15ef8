package cli

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyResourceFlags: bad flags and bad input are refused before any
// connection (the bootstrap file does not exist), naming the flag, with
// exit status 1.
func TestPolicyResourceFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"if": {"field": "type"`), 0o600)
	notRule := filepath.Join(dir, "notrule.json")
	os.WriteFile(notRule, []byte(`{"field": "type"}`), 0o600)
	bs := []string{"--bootstrap", filepath.Join(dir, "none.json")}
	rule := `{"if":{"field":"type","equals":"x"},"then":{"effect":"Deny"}}`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"definition", "create", "--rules", rule}, "--name is required"},
		{"name with a slash", []string{"definition", "create", "-n", "a/b", "--rules", rule}, `--name "a/b"`},
		{"no rules", []string{"definition", "create", "-n", "d"}, "--rules is required"},
		{"missing rules file", []string{"definition", "create", "-n", "d", "--rules", filepath.Join(dir, "nope.json")}, "--rules: the file " + filepath.Join(dir, "nope.json") + " does not exist"},
		{"rules file not JSON", []string{"definition", "create", "-n", "d", "--rules", bad}, "--rules: " + bad + " is not valid JSON"},
		{"inline rules not JSON", []string{"definition", "create", "-n", "d", "--rules", `{"if":`}, "--rules: the value is not valid JSON"},
		{"not a rule", []string{"definition", "create", "-n", "d", "--rules", notRule}, `--rules: expected a policy rule`},
		{"params not an object", []string{"definition", "create", "-n", "d", "--rules", rule, "--params", `[1]`}, "--params: expected a JSON object"},
		{"bad mode", []string{"definition", "create", "-n", "d", "--rules", rule, "--mode", "Some"}, `--mode "Some"`},
		{"bad metadata", []string{"definition", "create", "-n", "d", "--rules", rule, "--metadata", "novalue"}, `--metadata "novalue"`},
		{"bad output", []string{"definition", "list", "-o", "yaml"}, `--output "yaml"`},
		{"bad filter", []string{"definition", "list", "--filter", "static"}, `--filter "static"`},
		{"endpoint without credentials", []string{"definition", "list", "--endpoint", "https://x"}, "--endpoint and --credentials go together"},
		{"http endpoint", []string{"definition", "list", "--endpoint", "http://x", "--credentials", "c.json"}, "expected an https URL"},
		{"definitions not an array", []string{"set-definition", "create", "-n", "s", "--definitions", `{}`}, "--definitions: expected a JSON array"},
		{"no definitions", []string{"set-definition", "create", "-n", "s"}, "--definitions is required"},
		{"neither policy nor set", []string{"assignment", "create", "-n", "a"}, "exactly one of --policy and --policy-set-definition"},
		{"both policy and set", []string{"assignment", "create", "-n", "a", "--policy", "p", "--policy-set-definition", "s"}, "exactly one of --policy and --policy-set-definition"},
		{"bad enforcement mode", []string{"assignment", "create", "-n", "a", "--policy", "p", "--enforcement-mode", "Off"}, `--enforcement-mode "Off"`},
		{"identity without location", []string{"assignment", "create", "-n", "a", "--policy", "p", "--mi-system-assigned"}, "--mi-system-assigned needs --location"},
		{"assign-identity without location", []string{"assignment", "create", "-n", "a", "--policy", "p", "--assign-identity"}, "--assign-identity needs --location"},
		{"bad scope", []string{"assignment", "create", "-n", "a", "--policy", "p", "--scope", "rg1"}, `--scope "rg1"`},
		{"scope and resource group", []string{"assignment", "list", "--scope", "/subscriptions/s", "-g", "rg"}, "--scope or --resource-group, not both"},
		{"bad not-scope", []string{"assignment", "create", "-n", "a", "--policy", "p", "--not-scopes", "/subscriptions//x"}, `--not-scopes "/subscriptions//x"`},
		{"missing params file", []string{"assignment", "create", "-n", "a", "--policy", "p", "-p", "values.json"}, "--params: the file values.json does not exist"},
		{"show without name", []string{"assignment", "show"}, "--name is required"},
		{"no assignment", []string{"exemption", "create", "-n", "x", "-e", "Waiver"}, "--policy-assignment is required"},
		{"assignment not an id", []string{"exemption", "create", "-n", "x", "-e", "Waiver", "-a", "asg"}, `--policy-assignment "asg"`},
		{"bad category", []string{"exemption", "create", "-n", "x", "-e", "Forever", "-a", "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a"}, `--exemption-category "Forever"`},
		{"bad expiry", []string{"exemption", "create", "-n", "x", "-e", "Waiver", "-a", "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a", "--expires-on", "tomorrow"}, `--expires-on "tomorrow"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, append(append([]string{"policy"}, tc.args...), bs...)...)
			if code != 1 || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, tc.want)
			}
		})
	}
	// Valid flags get as far as the connection.
	_, errOut, code := run(t, append([]string{"policy", "definition", "create", "-n", "d", "--rules", rule}, bs...)...)
	if code != 1 || !strings.Contains(errOut, "start `mlgov serve` first") {
		t.Errorf("valid flags: exit %d %q", code, errOut)
	}
}

func TestPolicyResourceInputs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":{"value":1},"b":{"value":[2]}}`, `{"a":{"value":1},"b":{"value":[2]}}`},
		{`{"a":1,"b":{"x":2}}`, `{"a":{"value":1},"b":{"value":{"x":2}}}`},
		{`{"$schema":"s","contentVersion":"1.0.0.0","parameters":{"a":{"value":"x"}}}`, `{"a":{"value":"x"}}`},
		{`{"parameters":{"value":3}}`, `{"parameters":{"value":3}}`}, // a parameter named parameters
	} {
		got, err := assignmentParams(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("assignmentParams(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if md, err := metadataArg([]string{`{"category": "Key Vault", "version": "1.0.0"}`}); err != nil || len(md.(map[string]json.RawMessage)) != 2 {
		t.Errorf("metadataArg of a JSON object: %v %v", md, err)
	}
	if md, err := metadataArg([]string{"category=Key Vault", "a=b=c"}); err != nil || md.(map[string]string)["a"] != "b=c" {
		t.Errorf("metadataArg of pairs: %v %v", md, err)
	}
	rule, params, err := ruleArg(`{"properties":{"mode":"All","parameters":{"e":{"type":"String"}},"policyRule":{"if":{},"then":{}}}}`)
	if err != nil || string(rule) != `{"if":{},"then":{}}` || string(params) != `{"e":{"type":"String"}}` {
		t.Errorf("ruleArg of a definition: %s %s %v", rule, params, err)
	}
	if tm, err := parseExpiresOn("2030-01-02T03:04:05+02:00"); err != nil || tm.Format("2006-01-02T15:04:05Z07:00") != "2030-01-02T01:04:05Z" {
		t.Errorf("parseExpiresOn: %v %v", tm, err)
	}
	for in, want := range map[string]string{
		`{"properties":{"policyRule":{"then":{"effect":"Audit"}}}}`:                                                                  "Audit",
		`{"properties":{"parameters":{"Effect":{"defaultValue":"Deny"}},"policyRule":{"then":{"effect":"[parameters('effect')]"}}}}`: "Deny (parameter Effect)",
		`{"properties":{"parameters":{"effect":{"type":"String"}},"policyRule":{"then":{"effect":"[parameters('effect')]"}}}}`:       "[parameters('effect')]",
	} {
		var r map[string]any
		json.Unmarshal([]byte(in), &r)
		if got := effectOf(r); got != want {
			t.Errorf("effectOf(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestPolicyResourceClient: against a fake ARM endpoint, show falls back
// from the subscription to the built-ins, list follows nextLink, and an
// ARM error is printed with its code, message and target.
func TestPolicyResourceClient(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/oauth2/v2.0/token"):
			w.Write([]byte(`{"access_token":"tok"}`))
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(401)
		case p == "/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions/b1":
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":"PolicyDefinitionNotFound","message":"not here"}}`))
		case p == "/providers/Microsoft.Authorization/policyDefinitions/b1":
			w.Write([]byte(`{"id":"/providers/Microsoft.Authorization/policyDefinitions/b1","name":"b1","properties":{"displayName":"Built in","policyType":"BuiltIn","mode":"All","policyRule":{"then":{"effect":"Audit"}}}}`))
		case p == "/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions" && r.URL.Query().Get("page") == "":
			w.Write([]byte(`{"value":[{"name":"c1","properties":{"policyType":"Custom"}}],"nextLink":"` + srv.URL + p + `?api-version=x&page=2"}`))
		case p == "/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions":
			w.Write([]byte(`{"value":[{"name":"c2","properties":{"policyType":"Custom"}}]}`))
		case p == "/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/a1" && r.Method == "PUT":
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"MissingPolicyParameter","message":"The policy assignment is missing the parameter(s) 'e'.","target":"/properties/parameters"}}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":"NotFound","message":"` + r.Method + " " + p + `"}}`))
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	bsPath := filepath.Join(dir, "bootstrap.json")
	b, _ := json.Marshal(Bootstrap{TenantID: "t", SubscriptionID: "s1", ClientID: "c", ClientSecret: "x", Endpoint: srv.URL, AuthorityHost: srv.URL, CACertFile: ca})
	os.WriteFile(bsPath, b, 0o600)
	bs := []string{"--bootstrap", bsPath}

	out, errOut, code := run(t, append([]string{"policy", "definition", "show", "-n", "b1"}, bs...)...)
	if code != 0 || !strings.Contains(out, "b1") || !strings.Contains(out, "Built in") || !strings.Contains(out, "BuiltIn") {
		t.Errorf("show of a built-in: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, append([]string{"policy", "definition", "list", "--filter", "custom", "-o", "json"}, bs...)...)
	var items []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) != 2 || items[1]["name"] != "c2" {
		t.Errorf("list across pages: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run(t, append([]string{"policy", "assignment", "create", "-n", "a1", "--policy", "/providers/Microsoft.Authorization/policyDefinitions/b1"}, bs...)...)
	want := "error: MissingPolicyParameter: The policy assignment is missing the parameter(s) 'e'.\ntarget: /properties/parameters\n"
	if code != 1 || errOut != want {
		t.Errorf("ARM error: exit %d\n%q\nwant %q", code, errOut, want)
	}

	// --endpoint with --credentials: the same server, the subscription from --subscription.
	cred := filepath.Join(dir, "cred.json")
	os.WriteFile(cred, []byte(`{"tenantId":"t","clientId":"c","clientSecret":"x","caCertFile":"`+ca+`"}`), 0o600)
	out, errOut, code = run(t, "policy", "definition", "show", "-n", "b1", "--endpoint", srv.URL, "--credentials", cred, "--subscription", "s1")
	if code != 0 || !strings.Contains(out, "Built in") {
		t.Errorf("--endpoint: exit %d\n%s%s", code, out, errOut)
	}
	os.WriteFile(cred, []byte(`{"tenantId":"t"}`), 0o600)
	_, errOut, code = run(t, "policy", "definition", "list", "--endpoint", srv.URL, "--credentials", cred)
	if code != 1 || !strings.Contains(errOut, "clientId, clientSecret missing") {
		t.Errorf("incomplete credentials: exit %d %q", code, errOut)
	}
}
