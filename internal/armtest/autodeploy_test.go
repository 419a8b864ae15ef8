package armtest

import (
	"strings"
	"testing"
	"time"
)

// TestAutoDeployIfNotExists: with the built-in "Configure diagnostic
// settings for Azure Machine Learning Workspaces" assigned (identity and
// role), a workspace created afterwards gets its diagnostic setting by
// itself once its provisioning has ended (evaluationDelay
// AfterProvisioning), without a remediation: the deployment runs as the
// assignment's identity, a Policy event deployIfNotExists names it in
// the activity log, and the record turns Compliant. Under a DoNotEnforce
// assignment nothing is deployed.
func TestAutoDeployIfNotExists(t *testing.T) {
	def := mlBuiltin(t, "AuditDiagnosticLog_DINE.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "auto")
		mustCreateRG(t, s, "manual")
		la := s.RG("logs") + "/providers/Microsoft.OperationalInsights/workspaces/la1"
		params := `{"logAnalytics":{"value":"` + la + `"}}`
		asg, pid := s.assignWithIdentity(t, s.RG("auto"), "diag", def, params)
		s.assignRole(t, s.RG("auto"), roleIDByName(t, s, "Log Analytics Contributor"), pid, "ServicePrincipal")
		_, pid2 := s.assignWithIdentityMode(t, s.RG("manual"), "diag-off", def, params, "DoNotEnforce")
		s.assignRole(t, s.RG("manual"), roleIDByName(t, s, "Log Analytics Contributor"), pid2, "ServicePrincipal")

		// Workspaces are long-running: their provisioning ends when the
		// client's poll completes the operation (as serve's worker does).
		newWorkspace := func(rg, name string) string {
			p := wsPath(s, rg, name)
			s.settle(t, "PUT workspace", s.put(t, p+av, `{"location":"eastus"}`, 201))
			return p
		}
		ws := newWorkspace("auto", "ws1")
		off := newWorkspace("manual", "ws2")
		ds := func(ws string) string {
			return ws + "/providers/Microsoft.Insights/diagnosticSettings/MachineLearningServicesDiagnosticsLogsToWorkspace?api-version=2021-05-01-preview"
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			g := s.Do(t, "GET", ds(ws), nil)
			if g.Status == 200 {
				if !strings.Contains(strings.ToLower(string(g.Body)), strings.ToLower(la)) {
					t.Errorf("the diagnostic setting does not send to %s: %s", la, g.Body)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no diagnostic setting was deployed for the new workspace: %d %s", g.Status, g.Body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The policy event names the deployment once it has ended.
		var ev map[string]any
		for ev == nil {
			for _, e := range s.Events(t, "resourceId eq '"+ws+"'", 0) {
				if op, _ := e["operationName"].(map[string]any); strings.EqualFold(op["value"].(string), "Microsoft.Authorization/policies/deployIfNotExists/action") {
					ev = e
				}
			}
			if ev == nil && time.Now().After(deadline) {
				t.Fatal("no deployIfNotExists Policy event for the workspace")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if b := mustMarshal(ev); !strings.Contains(b, "Microsoft.Resources/deployments/PolicyDeployment_") || !strings.Contains(b, pid) || !strings.Contains(b, "Succeeded") {
			t.Errorf("the policy event does not name the deployment, its state or the identity: %s", b)
		}
		s.waitStatesFor(t, 10*time.Second, s.RG("auto"), "&$filter="+urlq("policyAssignmentId eq '"+asg+"'"), "the workspace compliant", func(recs []map[string]any) bool {
			return len(recs) == 1 && recs[0]["complianceState"] == "Compliant"
		})
		// DoNotEnforce: left NonCompliant, nothing deployed.
		time.Sleep(500 * time.Millisecond)
		if g := s.Do(t, "GET", ds(off), nil); g.Status != 404 {
			t.Errorf("a DoNotEnforce assignment deployed: %d %s", g.Status, g.Body)
		}
	})
}

// TestAutoDeployEvaluationDelay: a DeployIfNotExists with an
// evaluationDelay of PT2S deploys no sooner than two seconds after the
// write, and then does.
func TestAutoDeployEvaluationDelay(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "late")
		rule := `{"if":{"field":"type","equals":"Microsoft.Storage/storageAccounts"},"then":{"effect":"deployIfNotExists","details":{
		  "type":"Microsoft.Network/privateDnsZones","name":"[concat(field('name'), '.example')]","evaluationDelay":"PT2S",
		  "roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
		  "deployment":{"properties":{"mode":"incremental","parameters":{"n":{"value":"[concat(field('name'), '.example')]"}},
		    "template":{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0",
		      "parameters":{"n":{"type":"string"}},
		      "resources":[{"type":"Microsoft.Network/privateDnsZones","apiVersion":"2020-06-01","name":"[parameters('n')]","location":"global"}]}}}}}}`
		def := s.define(t, "zone-per-account", "Indexed", rule, "")
		_, pid := s.assignWithIdentity(t, s.RG("late"), "zones", def, "")
		s.assignRole(t, s.RG("late"), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		written := time.Now()
		s.put(t, s.RG("late")+"/providers/Microsoft.Storage/storageAccounts/acct1"+av, `{"location":"westeurope","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`, 201)
		zone := s.RG("late") + "/providers/Microsoft.Network/privateDnsZones/acct1.example?api-version=2020-06-01"
		for {
			g := s.Do(t, "GET", zone, nil)
			if g.Status == 200 {
				if since := time.Since(written); since < 2*time.Second {
					t.Errorf("deployed %v after the write, before the evaluationDelay of 2 s", since)
				}
				break
			}
			if time.Since(written) > 20*time.Second {
				t.Fatalf("nothing deployed 20 s after the write: %d %s", g.Status, g.Body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
