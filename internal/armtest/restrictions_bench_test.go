package armtest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mlgov/mlgov/store/sqlite"
)

// BenchmarkCheckPolicyRestrictions: checkPolicyRestrictions with
// mlgov.whatIf (what `mlgov policy what-if` sends) of one workspace
// against 200 assignments over HTTPS on SQLite: 40 each of Deny
// (allowed locations), Modify (a tag), Audit, AuditIfNotExists and
// DeployIfNotExists (their existence checks reading the stored computes),
// half at the resource group, half at the subscription. The whole process
// of the CLI: e2e's BenchmarkPolicyWhatIf.
func BenchmarkCheckPolicyRestrictions(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "mlgov.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s := Start(b, st)
	put := func(path, body string) {
		if r := s.Do(b, "PUT", path, body); r.Status >= 300 {
			b.Fatalf("PUT %s: %d %s", path, r.Status, r.Body)
		}
	}
	put(s.RG("rg1")+"?api-version=2021-04-01", `{"location":"eastus"}`)
	ws := wsPath(s, "rg1", "ws1")
	put(ws+av, `{"location":"eastus"}`)
	put(ws+"/computes/cpu"+av, computeBody)
	sub := "/subscriptions/" + s.SubscriptionID
	kinds := []struct{ name, rule, params, values string }{
		{"deny-locations", ruleAllowedLocations, paramsAllowed, `"parameters":{"allowed":{"value":["eastus","westus2"]}},`},
		{"modify-tag", ruleTagModify, `{}`, ""},
		{"audit-public", ruleAuditPublic, `{}`, ""},
		{"aine-compute", ruleNeedsCompute, `{}`, ""},
		{"dine-compute", ruleDeployCompute, `{}`, ""},
	}
	for _, k := range kinds {
		def := sub + "/providers/Microsoft.Authorization/policyDefinitions/" + k.name
		put(def+pav, `{"properties":{"mode":"Indexed","parameters":`+k.params+`,"policyRule":`+k.rule+`}}`)
		for i := range 40 {
			scope := s.RG("rg1")
			if i%2 == 1 {
				scope = sub
			}
			put(fmt.Sprintf("%s/providers/Microsoft.Authorization/policyAssignments/%s-%d%s", scope, k.name, i, pav),
				`{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{`+k.values+`"policyDefinitionId":"`+def+`"}}`)
		}
	}
	body := `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"eastus","properties":{"publicNetworkAccess":"Enabled"}},"apiVersion":"2024-04-01"},"includeAuditEffect":true,"mlgov.whatIf":true}`
	path := s.RG("rg1") + "/providers/Microsoft.PolicyInsights/checkPolicyRestrictions" + iav
	if r := s.Do(b, "POST", path, body); r.Status != 200 || len(evaluationsOf(r.JSON(), sub+"/providers/Microsoft.Authorization/policyAssignments/dine-compute-1")) != 1 {
		b.Fatalf("checkPolicyRestrictions: %d %.500s", r.Status, r.Body)
	}
	for b.Loop() {
		if r := s.Do(b, "POST", path, body); r.Status != 200 {
			b.Fatalf("checkPolicyRestrictions: %d", r.Status)
		}
	}
}
