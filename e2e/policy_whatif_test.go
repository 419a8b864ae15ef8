package e2e

// mlgov policy what-if as the real binary against a real mlgov serve: a
// workspace body against a Deny (allowed locations), a Modify (a tag), an
// AuditIfNotExists and a DeployIfNotExists whose existence check reads the
// server's computes; the report, the JSON answer, the exit statuses (0
// allowed, 3 refused, 1 bad input) and that nothing is written.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyWhatIfCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	send := func(method, path, body string) (int, string) {
		t.Helper()
		st, raw := armSendRaw(t, hc, b.Endpoint, token, method, path, body)
		return st, string(raw)
	}
	must := func(method, path, body string) {
		t.Helper()
		if st, raw := send(method, path, body); st >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, st, raw)
		}
	}
	sub := "/subscriptions/" + b.SubscriptionID
	rg := sub + "/resourceGroups/rg-whatif"
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/"
	must("PUT", rg+"?api-version=2021-04-01", `{"location":"eastus"}`)
	must("PUT", ws+"ws1?api-version=2024-04-01", `{"location":"eastus"}`)
	must("PUT", ws+"ws1/computes/cpu?api-version=2024-04-01", `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`)

	const pav = "?api-version=2025-03-01"
	define := func(name, rule, params string) string {
		id := sub + "/providers/Microsoft.Authorization/policyDefinitions/" + name
		must("PUT", id+pav, `{"properties":{"displayName":"`+name+` (e2e)","mode":"Indexed","parameters":`+params+`,"policyRule":`+rule+`}}`)
		return id
	}
	assign := func(name, def, props string) {
		must("PUT", rg+"/providers/Microsoft.Authorization/policyAssignments/"+name+pav, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"displayName":"`+name+`","policyDefinitionId":"`+def+`"`+props+`}}`)
	}
	isWS := `{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"}`
	assign("locations", define("wi-locations", `{"if":{"allOf":[`+isWS+`,{"not":{"field":"location","in":"[parameters('allowed')]"}}]},"then":{"effect":"deny"}}`, `{"allowed":{"type":"Array"}}`),
		`,"parameters":{"allowed":{"value":["eastus","westus2"]}},"nonComplianceMessages":[{"message":"Workspaces go to eastus or westus2."}]`)
	assign("cost-tag", define("wi-cost-tag", `{"if":`+isWS+`,"then":{"effect":"modify","details":{"roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],"operations":[{"operation":"addOrReplace","field":"tags['costCenter']","value":"ml"}]}}}`, `{}`), "")
	assign("has-compute", define("wi-has-compute", `{"if":`+isWS+`,"then":{"effect":"auditIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/computes"}}}`, `{}`), "")
	assign("deploy-cpu", define("wi-deploy-cpu", `{"if":`+isWS+`,"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/computes","existenceCondition":{"field":"name","equals":"cpu"},"roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],"deployment":{"properties":{"mode":"incremental","template":{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","parameters":{"ws":{"type":"string"}},"resources":[{"type":"Microsoft.MachineLearningServices/workspaces/computes","apiVersion":"2024-04-01","name":"[concat(parameters('ws'), '/cpu')]","properties":{"computeType":"AmlCompute"}}]},"parameters":{"ws":{"value":"[field('name')]"}}}}}}}`, `{}`), "")

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	denied := write("ws-westeurope.json", `{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws2","location":"westeurope","apiVersion":"2024-04-01"}`)
	allowed := write("ws-eastus.json", `{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"eastus","tags":{"env":"dev"}}`)

	// Refused: exit 3, the Deny with its reason and evaluated condition.
	r := policyCLI(t, srv, "what-if", "--resource", denied, "--scope", rg)
	if r.code != 3 {
		t.Fatalf("what-if of a denied workspace: exit %d (want 3)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"DENY  NonCompliant  locations: wi-locations (e2e)", "reason: Workspaces go to eastus or westus2.",
		`False Field location In ["eastus","westus2"] (value "westeurope")`, "REFUSED by 1 policy evaluation(s) (exit status 3)",
		"api-version: 2024-04-01", `addOrReplace tags['costCenter'] (tags.costCenter): (absent) -> "ml"`,
		// ws2 has no computes: the deployment would run, its parameter evaluated.
		"DEPLOYIFNOTEXISTS  NonCompliant  deploy-cpu", "no related resource: the deployment below would run", `parameter ws = "ws2"`,
		"AUDITIFNOTEXISTS  NonCompliant  has-compute"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}

	// Allowed: exit 0; ws1's compute cpu satisfies both existence checks.
	r = policyCLI(t, srv, "what-if", "--resource", allowed, "-g", "rg-whatif", "--api-version", "2024-04-01").ok(t, "what-if allowed")
	for _, want := range []string{"MODIFY  NonCompliant  cost-tag", "AUDITIFNOTEXISTS  Compliant  has-compute", "DEPLOYIFNOTEXISTS  Compliant  deploy-cpu",
		"existence check: Microsoft.MachineLearningServices/workspaces/computes in resource group rg-whatif: 1 examined",
		"/computes/cpu: satisfies the existence condition", `"costCenter": "ml"`, "the write would be allowed (1 change(s) by Modify/Append)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "DENY ") || strings.Contains(r.stdout, "deployment (") {
		t.Errorf("nothing denies and nothing deploys for ws1:\n%s", r.stdout)
	}

	// -o json: the CheckRestrictionsResult itself; the exit status still 3.
	r = policyCLI(t, srv, "what-if", "--resource", denied, "--scope", rg, "-o", "json")
	var ans struct {
		Content struct {
			Evals []struct {
				Result  string `json:"evaluationResult"`
				Details struct {
					Effect string `json:"policyEffect"`
				} `json:"effectDetails"`
			} `json:"policyEvaluations"`
		} `json:"contentEvaluationResult"`
		ResourceContent map[string]any `json:"mlgov.resourceContent"`
	}
	if r.code != 3 {
		t.Errorf("-o json of a denied workspace: exit %d", r.code)
	}
	r.jsonOut(t, "what-if -o json", &ans)
	effects := map[string]string{}
	for _, e := range ans.Content.Evals {
		effects[e.Details.Effect] = e.Result
	}
	if effects["Deny"] != "NonCompliant" || effects["Modify"] != "NonCompliant" || effects["DeployIfNotExists"] != "NonCompliant" || ans.ResourceContent["tags"] == nil {
		t.Errorf("-o json: %s", r.stdout)
	}
	if st, _ := send("GET", ws+"ws2?api-version=2024-04-01", ""); st != 404 {
		t.Errorf("what-if wrote ws2: %d", st)
	}

	// Bad input: exit 1 with the problem named, before or by the server.
	policyCLI(t, srv, "what-if", "--scope", rg).failed(t, "no --resource", "--resource is required")
	policyCLI(t, srv, "what-if", "--resource", write("notype.json", `{"name":"x"}`), "--scope", rg).failed(t, "no type", `needs its "type"`)
	policyCLI(t, srv, "what-if", "--resource", filepath.Join(dir, "absent.json")).failed(t, "absent file", "does not exist")
	policyCLI(t, srv, "what-if", "--resource", allowed, "--scope", "rg-whatif").failed(t, "bad scope", "--scope")
	policyCLI(t, srv, "what-if", "--resource", allowed, "--scope", rg, "-g", "rg-whatif").failed(t, "both scopes", "not both")
	policyCLI(t, srv, "what-if", "--resource", write("badname.json", `{"type":"Microsoft.MachineLearningServices/workspaces","name":7}`), "--scope", rg).
		failed(t, "name not a string", "InvalidCheckRestrictionsRequest", "target: resourceDetails.resourceContent.name")
}
