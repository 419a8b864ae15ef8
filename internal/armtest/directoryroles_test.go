package armtest

import (
	"testing"
)

// TestDirectoryRoles: a user made Global Administrator through Graph's
// roleManagement manages the directory with its own Graph token, and
// stops when the role is removed; a conditional access policy naming the
// role (includeRoles) requires MFA of its holders only; roles mlgov's
// directory does not have are refused; a deleted user's role goes with
// it.
func TestDirectoryRoles(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		const pw = "Str0ng-passw0rd!"
		frank := s.graph(t, admin, "POST", "/users", map[string]any{"displayName": "Frank", "userPrincipalName": "frank@corp.example",
			"passwordProfile": map[string]any{"password": pw}}, 201)["id"].(string)
		s.graph(t, admin, "POST", "/users", map[string]any{"displayName": "Gina", "userPrincipalName": "gina@corp.example",
			"passwordProfile": map[string]any{"password": pw}}, 201)
		graphAs := func(upn string) string {
			t.Helper()
			st, m := s.userToken(t, upn, pw, "https://graph.microsoft.com/.default")
			if st != 200 {
				t.Fatalf("%s's Graph token: %d %v", upn, st, m)
			}
			return m["access_token"].(string)
		}
		tok := graphAs("frank@corp.example")
		if m := s.graph(t, tok, "GET", "/users", nil, 403); graphErrorCode(m) != "Authorization_RequestDenied" {
			t.Errorf("frank before the role: %v", m)
		}
		const ga = "62e90394-69f5-4237-9190-012177145e10"
		ra := s.graph(t, admin, "POST", "/roleManagement/directory/roleAssignments", map[string]any{"roleDefinitionId": ga, "principalId": frank, "directoryScopeId": "/"}, 201)
		if ra["roleDefinitionId"] != ga || ra["principalId"] != frank {
			t.Errorf("the role assignment: %v", ra)
		}
		s.graph(t, tok, "GET", "/users", nil, 200)
		list := s.graph(t, admin, "GET", "/roleManagement/directory/roleAssignments", nil, 200)["value"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["principalId"] != s.AdminObjectID {
			t.Errorf("the list (the configured administrator, then frank): %v", list)
		}
		for what, c := range map[string]struct {
			body map[string]any
			want int
		}{
			"another role":   {map[string]any{"roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1", "principalId": frank, "directoryScopeId": "/"}, 400},
			"another scope":  {map[string]any{"roleDefinitionId": ga, "principalId": frank, "directoryScopeId": "/administrativeUnits/x"}, 400},
			"nobody":         {map[string]any{"roleDefinitionId": ga, "principalId": "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", "directoryScopeId": "/"}, 400},
			"the role again": {map[string]any{"roleDefinitionId": ga, "principalId": frank, "directoryScopeId": "/"}, 409},
		} {
			t.Run(what, func(t *testing.T) {
				s.graph(t, admin, "POST", "/roleManagement/directory/roleAssignments", c.body, c.want)
			})
		}
		s.graph(t, admin, "DELETE", "/roleManagement/directory/roleAssignments/bootstrap-"+s.AdminObjectID, nil, 400)

		// MFA for the Global Administrators, for Microsoft Graph: frank's
		// password grant is refused, gina's is not.
		if m := s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", map[string]any{"displayName": "roles", "state": "enabled",
			"conditions":    map[string]any{"users": map[string]any{"includeRoles": []any{"fe930be7-5e62-47db-91af-98c3a49a38b1"}}, "applications": map[string]any{"includeApplications": []any{"All"}}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}}, 400); graphErrorCode(m) != "Request_BadRequest" {
			t.Errorf("a policy naming a role mlgov does not have: %v", m)
		}
		s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", map[string]any{"displayName": "MFA for administrators", "state": "enabled",
			"conditions":    map[string]any{"users": map[string]any{"includeRoles": []any{ga}}, "applications": map[string]any{"includeApplications": []any{"00000003-0000-0000-c000-000000000000"}}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}}, 201)
		if st, m := s.userToken(t, "frank@corp.example", pw, "https://graph.microsoft.com/.default"); st != 400 || errorCode(m) != "AADSTS50076" {
			t.Errorf("frank's password grant under the administrators' MFA policy: %d %v", st, m)
		}
		graphAs("gina@corp.example")

		// The role removed: frank's token no longer manages the directory.
		s.graph(t, admin, "DELETE", "/roleManagement/directory/roleAssignments/"+ra["id"].(string), nil, 204)
		s.graph(t, tok, "GET", "/users", nil, 403)
		// A deleted user's role goes with it.
		s.graph(t, admin, "POST", "/roleManagement/directory/roleAssignments", map[string]any{"roleDefinitionId": ga, "principalId": frank, "directoryScopeId": "/"}, 201)
		s.graph(t, admin, "DELETE", "/users/"+frank, nil, 204)
		if list := s.graph(t, admin, "GET", "/roleManagement/directory/roleAssignments", nil, 200)["value"].([]any); len(list) != 1 {
			t.Errorf("after frank's deletion: %v", list)
		}
	})
}
