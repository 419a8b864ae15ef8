package armtest

import (
	"net/url"
	"strings"
	"testing"
)

// userToken signs a user in with the password grant over HTTP, as
// az login --username does (Azure CLI's client id).
func (s *Server) userToken(t *testing.T, username, password, scope string) (int, map[string]any) {
	t.Helper()
	return s.postToken(t, url.Values{"grant_type": {"password"}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}, "username": {username}, "password": {password}, "scope": {scope}})
}

// TestUsers: users made through Graph sign in with their password, are
// decided by their groups' roles and named by their UPN; a policy
// requiring MFA for the Azure Machine Learning app refuses the password
// grant there (AADSTS50076) and nowhere else; a new password, a
// disabled account or a deleted user stops the tokens.
func TestUsers(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		const pw, upn = "Str0ng-passw0rd!", "alice@corp.example"
		alice := s.graph(t, admin, "POST", "/users", map[string]any{"accountEnabled": true, "displayName": "Alice", "mailNickname": "alice",
			"userPrincipalName": upn, "passwordProfile": map[string]any{"password": pw}}, 201)
		aid := alice["id"].(string)
		for what, body := range map[string]map[string]any{
			"a weak password": {"displayName": "Bob", "userPrincipalName": "bob@corp.example", "passwordProfile": map[string]any{"password": "password"}},
			"a taken UPN":     {"displayName": "Al", "userPrincipalName": upn, "passwordProfile": map[string]any{"password": pw}},
			"no password":     {"displayName": "Bob", "userPrincipalName": "bob@corp.example"},
		} {
			if m := s.graph(t, admin, "POST", "/users", body, 400); graphErrorCode(m) != "Request_BadRequest" {
				t.Errorf("%s: %v", what, m)
			}
		}
		g := s.graph(t, admin, "POST", "/groups", map[string]any{"displayName": "ds", "mailEnabled": false, "mailNickname": "ds", "securityEnabled": true}, 201)
		s.graph(t, admin, "POST", "/groups/"+g["id"].(string)+"/members/$ref", map[string]any{"@odata.id": s.URL + "/v1.0/directoryObjects/" + aid}, 204)
		ws := s.mustWorkspace(t, "rg1", "ws1")
		s.assignRole(t, ws, roleIDByName(t, s, "AzureML Data Scientist"), g["id"].(string), "Group")

		st, tok := s.userToken(t, upn, pw, "https://management.azure.com/.default")
		if st != 200 {
			t.Fatalf("alice's sign-in: %d %v", st, tok)
		}
		token := tok["access_token"].(string)
		if st, m := s.userToken(t, upn, "Wr0ng-password!", "https://management.azure.com/.default"); st != 400 || !strings.HasPrefix(m["error_description"].(string), "AADSTS50126:") {
			t.Errorf("a wrong password: %d %v", st, m)
		}
		if r := s.DoAs(t, token, "PUT", ws+"/jobs/j1"+av, `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`); r.Status != 201 {
			t.Errorf("alice's job: %d %s", r.Status, r.Body)
		}
		r := s.DoAs(t, token, "PUT", ws+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute"}}`)
		if r.Status != 403 || !strings.Contains(r.ErrorMessage(), "The client '"+upn+"' with object id '"+aid+"'") {
			t.Errorf("alice's compute: %d %s", r.Status, r.Body)
		}
		// Without principalType, a role for a user is a User's.
		r = s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Authorization/roleAssignments/5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Reader")+`","principalId":"`+aid+`"}}`)
		if r.Status != 201 || !strings.Contains(string(r.Body), `"principalType":"User"`) {
			t.Errorf("a role for alice: %d %s", r.Status, r.Body)
		}

		// MFA for the Azure Machine Learning app: the password grant
		// cannot do it.
		s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", map[string]any{
			"displayName": "MFA for Azure ML", "state": "enabled",
			"conditions": map[string]any{
				"users":        map[string]any{"includeGroups": []any{g["id"]}},
				"applications": map[string]any{"includeApplications": []any{"0736f41a-0425-4b46-bdb5-1563eff02385"}},
			},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}},
		}, 201)
		if st, m := s.userToken(t, upn, pw, "https://ml.azure.com/.default"); st != 400 || !strings.HasPrefix(m["error_description"].(string), "AADSTS50076:") {
			t.Errorf("alice's sign-in to Azure ML under an MFA policy: %d %v", st, m)
		}
		if st, _ := s.userToken(t, upn, pw, "https://management.azure.com/.default"); st != 200 {
			t.Errorf("alice's sign-in to ARM (another app): %d", st)
		}
		logs := s.graph(t, admin, "GET", "/auditLogs/signIns", nil, 200)["value"].([]any)
		found := false
		for _, l := range logs {
			rec := l.(map[string]any)
			if rec["userPrincipalName"] == upn && rec["status"].(map[string]any)["errorCode"] == float64(50076) && rec["conditionalAccessStatus"] == "failure" {
				found = true
			}
		}
		if !found {
			t.Errorf("no sign-in record of alice's MFA refusal in %v", logs)
		}

		// A new password: the old one and its tokens are refused.
		s.graph(t, admin, "PATCH", "/users/"+aid, map[string]any{"passwordProfile": map[string]any{"password": "An0ther-passw0rd!"}}, 204)
		if r := s.DoAs(t, token, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("a token of the old password: %d", r.Status)
		}
		if st, _ := s.userToken(t, upn, pw, "https://management.azure.com/.default"); st != 400 {
			t.Errorf("the old password: %d", st)
		}
		_, tok = s.userToken(t, upn, "An0ther-passw0rd!", "https://management.azure.com/.default")
		token, _ = tok["access_token"].(string)
		s.graph(t, admin, "PATCH", "/users/"+upn, map[string]any{"accountEnabled": false}, 204)
		if r := s.DoAs(t, token, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("a token of a disabled user: %d", r.Status)
		}
		s.graph(t, admin, "DELETE", "/users/"+aid, nil, 204)
		s.graph(t, admin, "GET", "/users/"+aid, nil, 404)
		if got := s.graph(t, admin, "GET", "/groups/"+g["id"].(string)+"/members", nil, 200)["value"].([]any); len(got) != 0 {
			t.Errorf("the deleted user is still a member: %v", got)
		}
	})
}
