package armtest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
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

// TestSignInLogFilters: the sign-in log filtered by user, status,
// correlation id and time (the dashboard's filters), joined by and,
// paged with the nextLink over records matched on reading; bad clauses
// named.
func TestSignInLogFilters(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		const pw = "Str0ng-passw0rd!"
		for _, u := range []string{"ann@corp.example", "ben@corp.example"} {
			s.graph(t, admin, "POST", "/users", map[string]any{"displayName": u, "userPrincipalName": u, "passwordProfile": map[string]any{"password": pw}}, 201)
		}
		start := time.Now().UTC().Add(-time.Second)
		for range 3 {
			if st, _ := s.userToken(t, "ann@corp.example", pw, "https://management.azure.com/.default"); st != 200 {
				t.Fatalf("ann's sign-in: %d", st)
			}
		}
		if st, _ := s.userToken(t, "ann@corp.example", "wrong", "https://management.azure.com/.default"); st != 400 {
			t.Fatalf("ann's wrong password: %d", st)
		}
		if st, _ := s.userToken(t, "ben@corp.example", pw, "https://management.azure.com/.default"); st != 200 {
			t.Fatalf("ben's sign-in: %d", st)
		}
		list := func(filter string, top int) (upns []string, failed int, pages int) {
			path := "/auditLogs/signIns?$top=" + fmt.Sprint(top) + "&$filter=" + url.QueryEscape(filter)
			for path != "" {
				m := s.graph(t, admin, "GET", path, nil, 200)
				for _, v := range m["value"].([]any) {
					r := v.(map[string]any)
					upns = append(upns, fmt.Sprint(r["userPrincipalName"]))
					if r["status"].(map[string]any)["errorCode"] != float64(0) {
						failed++
					}
				}
				pages++
				next, _ := m["@odata.nextLink"].(string)
				path = strings.TrimPrefix(next, s.URL+"/v1.0")
			}
			return upns, failed, pages
		}
		since := "createdDateTime ge " + start.Format(time.RFC3339)
		if upns, failed, pages := list(since+" and userPrincipalName eq 'ANN@corp.example'", 2); len(upns) != 4 || failed != 1 || pages < 2 || slices.ContainsFunc(upns, func(u string) bool { return u != "ann@corp.example" }) {
			t.Errorf("ann's sign-ins, two a page: %v (%d failed, %d pages)", upns, failed, pages)
		}
		if upns, failed, _ := list("userPrincipalName eq 'ann@corp.example' and status/errorCode ne 0", 10); len(upns) != 1 || failed != 1 {
			t.Errorf("ann's failed sign-ins: %v", upns)
		}
		if upns, failed, _ := list(since+" and status/errorCode eq 0", 10); failed != 0 || !slices.Contains(upns, "ben@corp.example") {
			t.Errorf("the successful sign-ins: %v (%d failed)", upns, failed)
		}
		if upns, _, _ := list("createdDateTime lt "+start.Add(-time.Hour).Format(time.RFC3339)+" and userPrincipalName eq 'ann@corp.example'", 10); len(upns) != 0 {
			t.Errorf("ann's sign-ins before the test: %v", upns)
		}
		for _, bad := range []string{"userPrincipalName ne 'x'", "ipAddress eq '1.2.3.4'", "createdDateTime ge yesterday", "status/errorCode eq 50126",
			"userId eq 'a' and userId eq 'b'"} {
			m := s.graph(t, admin, "GET", "/auditLogs/signIns?$filter="+url.QueryEscape(bad), nil, 400)
			if graphErrorCode(m) != "Request_UnsupportedQuery" {
				t.Errorf("%s: %v", bad, m)
			}
		}
	})
}
