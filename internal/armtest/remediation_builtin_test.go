package armtest

import (
	"strings"
	"testing"
)

// TestRemediationDiagnosticSettingsBuiltin: the built-in "Configure
// diagnostic settings for Azure Machine Learning Workspaces to Log
// Analytics workspace" (DeployIfNotExists), assigned with an identity
// given the roles its roleDefinitionIds name, is remediated through the
// deployment engine: the workspaces get the diagnostic setting its
// template deploys, and their records turn Compliant.
func TestRemediationDiagnosticSettingsBuiltin(t *testing.T) {
	def := mlBuiltin(t, "AuditDiagnosticLog_DINE.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1, ws2 := s.mustWorkspace(t, "rg1", "ws1"), s.mustWorkspace(t, "rg1", "ws2")
		la := s.RG("logs") + "/providers/Microsoft.OperationalInsights/workspaces/la1"
		asg, pid := s.assignWithIdentity(t, s.sub(), "diag", def, `{"logAnalytics":{"value":"`+la+`"}}`)
		// Of its roleDefinitionIds, Log Analytics Contributor
		// (diagnosticSettings/*, deployments/*) is enough; Monitoring
		// Contributor is not among the built-in roles of ../shared.
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Log Analytics Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 2)
		path := remediationPath(s.RG("rg1"), "diag")
		s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`, 201)
		props := s.waitRemediation(t, path, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Succeeded" || summary(props) != "2/2/0" {
			t.Fatalf("remediation: %v; deployments %v", props, s.deployments(t, path, 0))
		}
		for _, ws := range []string{ws1, ws2} {
			ds := ws + "/providers/Microsoft.Insights/diagnosticSettings/MachineLearningServicesDiagnosticsLogsToWorkspace?api-version=2021-05-01-preview"
			if g := s.Do(t, "GET", ds, nil); g.Status != 200 || !strings.Contains(strings.ToLower(string(g.Body)), strings.ToLower(la)) {
				t.Errorf("%s: the diagnostic setting: %d %s", ws, g.Status, g.Body)
			}
		}
		s.waitAllCompliant(t, asg, 2)
	})
}
