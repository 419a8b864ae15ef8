package armtest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// postToken posts a form to the token endpoint over HTTP (the client's
// address is the test's, 127.0.0.1) and decodes the answer.
func (s *Server) postToken(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	return s.postForm(t, "/"+s.TenantID+"/oauth2/v2.0/token", form)
}

// tokenOverHTTP asks the token endpoint for a client-credentials token.
func (s *Server) tokenOverHTTP(t *testing.T, p *Principal, scope string) (int, map[string]any) {
	t.Helper()
	return s.postToken(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {p.AppID}, "client_secret": {p.Secret}, "scope": {scope}})
}

// TestConditionalAccess: a policy blocking service principals' tokens
// for the Azure Machine Learning app outside a named location refuses
// them (AADSTS53003) from 127.0.0.1, leaves ARM's alone, and the
// sign-in log says which policy did what; report-only logs without
// blocking; what mlgov does not evaluate is refused.
func TestConditionalAccess(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		office := s.graph(t, admin, "POST", "/identity/conditionalAccess/namedLocations", map[string]any{
			"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "office", "isTrusted": true,
			"ipRanges": []any{map[string]any{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "10.0.0.0/8"}},
		}, 201)
		policy := map[string]any{
			"displayName": "Azure ML from the office only", "state": "enabled",
			"conditions": map[string]any{
				"users":              map[string]any{"includeUsers": []any{"None"}},
				"clientAppTypes":     []any{"all"},
				"applications":       map[string]any{"includeApplications": []any{"0736f41a-0425-4b46-bdb5-1563eff02385"}},
				"clientApplications": map[string]any{"includeServicePrincipals": []any{"ServicePrincipalsInMyTenant"}},
				"locations":          map[string]any{"includeLocations": []any{"All"}, "excludeLocations": []any{office["id"]}},
			},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"block"}},
		}
		pol := s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", policy, 201)
		sp := s.NewPrincipal(t, "trainer")
		st, m := s.tokenOverHTTP(t, sp, "https://ml.azure.com/.default")
		if st != 400 || m["error"] != "invalid_grant" || !strings.HasPrefix(m["error_description"].(string), "AADSTS53003:") {
			t.Errorf("a token for Azure ML from outside the office: %d %v", st, m)
		}
		if st, m := s.tokenOverHTTP(t, sp, "https://management.azure.com/.default"); st != 200 {
			t.Errorf("a token for ARM (another application): %d %v", st, m)
		}
		logs := s.graph(t, admin, "GET", "/auditLogs/signIns?$filter=appId%20eq%20'"+sp.AppID+"'", nil, 200)["value"].([]any)
		var blocked, allowed map[string]any
		for _, l := range logs {
			rec := l.(map[string]any)
			switch rec["resourceId"] {
			case "0736f41a-0425-4b46-bdb5-1563eff02385":
				blocked = rec
			case "797f4846-ba00-4fd7-ba43-dac1f8f63013":
				allowed = rec
			}
		}
		if blocked == nil || blocked["conditionalAccessStatus"] != "failure" || blocked["status"].(map[string]any)["errorCode"] != float64(53003) ||
			blocked["appliedConditionalAccessPolicies"].([]any)[0].(map[string]any)["result"] != "failure" {
			t.Errorf("the blocked sign-in's record: %v", blocked)
		}
		if allowed == nil || allowed["conditionalAccessStatus"] != "notApplied" || allowed["appliedConditionalAccessPolicies"].([]any)[0].(map[string]any)["result"] != "notApplied" {
			t.Errorf("the ARM sign-in's record: %v", allowed)
		}
		// Report-only: logged, not enforced.
		s.graph(t, admin, "PATCH", "/identity/conditionalAccess/policies/"+pol["id"].(string), map[string]any{"state": "enabledForReportingButNotEnforced"}, 204)
		if st, m := s.tokenOverHTTP(t, sp, "https://ml.azure.com/.default"); st != 200 {
			t.Errorf("a token for Azure ML under a report-only policy: %d %v", st, m)
		}
		logs = s.graph(t, admin, "GET", "/auditLogs/signIns?$filter=appId%20eq%20'"+sp.AppID+"'", nil, 200)["value"].([]any)
		last := logs[len(logs)-1].(map[string]any)
		if last["appliedConditionalAccessPolicies"].([]any)[0].(map[string]any)["result"] != "reportOnlyFailure" {
			t.Errorf("the report-only sign-in's record: %v", last)
		}
		// The named location a policy uses stays.
		if m := s.graph(t, admin, "DELETE", "/identity/conditionalAccess/namedLocations/"+office["id"].(string), nil, 400); graphErrorCode(m) != "Request_BadRequest" {
			t.Errorf("deleting a named location in use: %v", m)
		}
		// What mlgov does not evaluate.
		for what, mutate := range map[string]func(map[string]any){
			"mfa": func(p map[string]any) {
				p["grantControls"] = map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}
			},
			"users": func(p map[string]any) {
				p["conditions"].(map[string]any)["users"] = map[string]any{"includeUsers": []any{"All"}}
			},
			"session": func(p map[string]any) {
				p["sessionControls"] = map[string]any{"signInFrequency": map[string]any{"value": 1}}
			},
			"no clients": func(p map[string]any) { delete(p["conditions"].(map[string]any), "clientApplications") },
		} {
			b, _ := json.Marshal(policy)
			var p map[string]any
			json.Unmarshal(b, &p)
			mutate(p)
			if m := s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", p, 400); graphErrorCode(m) != "Request_BadRequest" {
				t.Errorf("a policy with %s: %v", what, m)
			}
		}
		s.graph(t, admin, "DELETE", "/identity/conditionalAccess/policies/"+pol["id"].(string), nil, 204)
		s.graph(t, admin, "DELETE", "/identity/conditionalAccess/namedLocations/"+office["id"].(string), nil, 204)
	})
}
