package armtest

import (
	"testing"
	"time"
)

const aav = "?api-version=2024-10-01" // @azure/arm-policyinsights 6.x's

// TestAttestations: a Manual policy's records take its defaultState
// until an attestation at the resource sets another; an expired
// attestation gives the default back; attestations are checked against
// the assignments (a policy that is not Manual, a missing reference of
// an initiative, a bad state or date are refused, naming the property).
func TestAttestations(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "att")
		rule := `{"if":{"field":"type","equals":"Microsoft.Storage/storageAccounts"},"then":{"effect":"manual","details":{"defaultState":"NonCompliant"}}}`
		def := s.define(t, "manual-review", "All", rule, "")
		asg := s.assign(t, s.RG("att"), "review", def, "")
		audit := s.define(t, "audit-all", "All", `{"if":{"field":"type","equals":"Microsoft.Storage/storageAccounts"},"then":{"effect":"audit"}}`, "")
		auditAsg := s.assign(t, s.RG("att"), "audit-all", audit, "")
		sa := s.RG("att") + "/providers/Microsoft.Storage/storageAccounts/reviewed"
		s.put(t, sa+av, `{"location":"westeurope","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`, 201)
		state := func(want, what string) {
			t.Helper()
			s.waitStatesFor(t, 10*time.Second, s.RG("att"), "&$filter="+urlq("policyAssignmentId eq '"+asg+"'"), what, func(recs []map[string]any) bool {
				return len(recs) == 1 && recs[0]["complianceState"] == want
			})
		}
		state("NonCompliant", "the defaultState")
		att := sa + "/providers/Microsoft.PolicyInsights/attestations/reviewed-ok"
		r := s.put(t, att+aav, `{"properties":{"policyAssignmentId":"`+asg+`","complianceState":"Compliant","owner":"alice","comments":"checked",
		  "evidence":[{"description":"ticket","sourceUri":"https://example.com/t/1"}],"assessmentDate":"2026-12-01T00:00:00Z"}}`, 201)
		if p := props(r.JSON()); p["provisioningState"] != "Succeeded" || p["lastComplianceStateChangeAt"] == nil {
			t.Errorf("attestation: %s", r.Body)
		}
		state("Compliant", "the attested state")
		// Expired: the default again.
		s.put(t, att+aav, `{"properties":{"policyAssignmentId":"`+asg+`","complianceState":"Compliant","expiresOn":"2020-01-01T00:00:00Z"}}`, 200)
		state("NonCompliant", "the default after expiry")
		// Deleted: the default.
		s.put(t, att+aav, `{"properties":{"policyAssignmentId":"`+asg+`","complianceState":"Compliant"}}`, 200)
		state("Compliant", "attested again")
		if d := s.Do(t, "DELETE", att+aav, nil); d.Status != 200 {
			t.Fatalf("DELETE: %d %s", d.Status, d.Body)
		}
		state("NonCompliant", "the default after the delete")
		for _, c := range []struct{ name, body, target string }{
			{"no assignment", `{"properties":{"complianceState":"Compliant"}}`, "properties.policyAssignmentId"},
			{"unknown assignment", `{"properties":{"policyAssignmentId":"` + s.RG("att") + `/providers/Microsoft.Authorization/policyAssignments/none"}}`, "properties.policyAssignmentId"},
			{"not manual", `{"properties":{"policyAssignmentId":"` + auditAsg + `","complianceState":"Compliant"}}`, "properties.policyAssignmentId"},
			{"bad state", `{"properties":{"policyAssignmentId":"` + asg + `","complianceState":"Fine"}}`, "properties.complianceState"},
			{"bad date", `{"properties":{"policyAssignmentId":"` + asg + `","expiresOn":"tomorrow"}}`, "properties.expiresOn"},
			{"reference of a single definition", `{"properties":{"policyAssignmentId":"` + asg + `","policyDefinitionReferenceId":"x"}}`, "properties.policyDefinitionReferenceId"},
		} {
			r := s.Do(t, "PUT", sa+"/providers/Microsoft.PolicyInsights/attestations/bad"+aav, c.body)
			e, _ := r.JSON()["error"].(map[string]any)
			if r.Status != 400 || e["target"] != c.target {
				t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.Status, r.Body, c.target)
			}
		}
		if r := s.Do(t, "GET", sa+"/providers/Microsoft.PolicyInsights/attestations/bad"+aav, nil); r.Status != 404 {
			t.Errorf("a refused attestation is stored: %d", r.Status)
		}
		// Listed at the resource.
		if l := s.listAll(t, sa+"/providers/Microsoft.PolicyInsights/attestations"+aav); len(l) != 0 {
			t.Errorf("attestations after the delete: %d", len(l))
		}
	})
}
