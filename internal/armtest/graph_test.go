package armtest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/authn"
)

// graphToken signs a principal in for the Graph API.
func (s *Server) graphToken(t *testing.T, appID, secret string) string {
	t.Helper()
	tok, err := s.Directory.TokenForClientSecret(context.Background(), s.TenantID, appID, secret, "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatalf("a Graph token for %s: %v", appID, err)
	}
	return tok.AccessToken
}

// graph sends a Graph request and decodes the answer.
func (s *Server) graph(t *testing.T, token, method, path string, body any, want int) map[string]any {
	t.Helper()
	r := s.DoAs(t, token, method, "/v1.0"+path, body)
	if r.Status != want {
		t.Fatalf("%s /v1.0%s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

func graphErrorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestGraphDirectory: the administrator manages the directory through
// the Graph API — an application, its secret and service principal, a
// group and its members — and what it does holds at once: the
// application signs in only once it has a service principal, a group's
// role reaches its members, a removed secret or service principal stops
// working.
func TestGraphDirectory(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ctx := context.Background()
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		// Tokens for the wrong resource, and a caller that is no
		// administrator.
		if m := s.graph(t, s.token, "GET", "/groups", nil, 401); graphErrorCode(m) != "InvalidAuthenticationToken" {
			t.Errorf("an ARM token on the Graph API: %v", m)
		}
		if r := s.DoAs(t, admin, "GET", s.sub()+"?api-version=2022-09-01", nil); r.Status != 401 {
			t.Errorf("a Graph token on ARM: %d %s", r.Status, r.Body)
		}
		other := s.NewPrincipal(t, "not-an-admin")
		if m := s.graph(t, s.graphToken(t, other.AppID, other.Secret), "GET", "/groups", nil, 403); graphErrorCode(m) != "Authorization_RequestDenied" {
			t.Errorf("a caller that is no administrator: %v", m)
		}

		// An application: no sign-in until it has a service principal.
		app := s.graph(t, admin, "POST", "/applications", map[string]any{"displayName": "trainer"}, 201)
		appID, appObj := app["appId"].(string), app["id"].(string)
		if appID == "" || appObj == "" || appObj == appID {
			t.Fatalf("the application: %v", app)
		}
		pw := s.graph(t, admin, "POST", "/applications/"+appObj+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "ci"}}, 200)
		secret, _ := pw["secretText"].(string)
		if len(secret) < 30 || pw["displayName"] != "ci" || pw["hint"] != secret[:3] {
			t.Fatalf("addPassword: %v", pw)
		}
		var oerr *authn.OAuthError
		if _, err := s.Directory.TokenForClientSecret(ctx, s.TenantID, appID, secret, "https://management.azure.com/.default"); !errors.As(err, &oerr) || oerr.AADSTS != 7000229 {
			t.Errorf("a token of an application without a service principal: %v", err)
		}
		sp := s.graph(t, admin, "POST", "/servicePrincipals", map[string]any{"appId": appID}, 201)
		spID := sp["id"].(string)
		if m := s.graph(t, admin, "POST", "/servicePrincipals", map[string]any{"appId": appID}, 409); graphErrorCode(m) != "Request_MultipleObjectsWithSameKeyValue" {
			t.Errorf("a second service principal: %v", m)
		}
		if got := s.graph(t, admin, "GET", "/servicePrincipals(appId='"+appID+"')", nil, 200); got["id"] != spID {
			t.Errorf("servicePrincipals(appId=…): %v", got)
		}
		armTok, err := s.Directory.TokenForClientSecret(ctx, s.TenantID, appID, secret, "https://management.azure.com/.default")
		if err != nil {
			t.Fatal(err)
		}

		// A group holding it, and a role for the group.
		g := s.graph(t, admin, "POST", "/groups", map[string]any{"displayName": "data scientists", "mailEnabled": false, "mailNickname": "ds", "securityEnabled": true}, 201)
		gid := g["id"].(string)
		s.graph(t, admin, "POST", "/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": s.URL + "/v1.0/directoryObjects/" + spID}, 204)
		if m := s.graph(t, admin, "POST", "/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": s.URL + "/v1.0/directoryObjects/" + spID}, 400); graphErrorCode(m) != "Request_BadRequest" {
			t.Errorf("a member added twice: %v", m)
		}
		members := s.graph(t, admin, "GET", "/groups/"+gid+"/members", nil, 200)["value"].([]any)
		if len(members) != 1 || members[0].(map[string]any)["id"] != spID || members[0].(map[string]any)["@odata.type"] != "#microsoft.graph.servicePrincipal" {
			t.Errorf("the group's members: %v", members)
		}
		if got := s.graph(t, admin, "GET", "/groups?$filter=displayName%20eq%20'data%20scientists'", nil, 200)["value"].([]any); len(got) != 1 {
			t.Errorf("groups by displayName: %v", got)
		}
		ws := s.mustWorkspace(t, "rg1", "ws1")
		s.assignRole(t, ws, roleIDByName(t, s, "AzureML Data Scientist"), gid, "Group")
		if r := s.DoAs(t, armTok.AccessToken, "PUT", ws+"/jobs/j1"+av, `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`); r.Status != 201 {
			t.Errorf("a job of the group's member: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, armTok.AccessToken, "PUT", ws+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute"}}`); r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" {
			t.Errorf("a compute of the group's member: %d %s", r.Status, r.Body)
		}

		// Mistakes.
		for _, c := range []struct {
			method, path string
			body         any
			status       int
			code         string
		}{
			{"GET", "/groups?$top=5", nil, 400, "Request_UnsupportedQuery"},
			{"GET", "/groups?$filter=mail%20eq%20'x'", nil, 400, "Request_UnsupportedQuery"},
			{"POST", "/groups", map[string]any{"displayName": "x", "mailNickname": "x", "visibility": "Private"}, 400, "Request_BadRequest"},
			{"POST", "/groups", map[string]any{"displayName": "x", "mailNickname": "x", "mailEnabled": true, "groupTypes": []string{"Unified"}}, 400, "Request_BadRequest"},
			{"GET", "/groups/00000000-0000-4000-8000-000000000000", nil, 404, "Request_ResourceNotFound"},
			{"POST", "/groups/" + gid + "/members/$ref", map[string]any{"@odata.id": s.URL + "/v1.0/directoryObjects/00000000-0000-4000-8000-000000000000"}, 404, "Request_ResourceNotFound"},
			{"POST", "/servicePrincipals", map[string]any{"appId": "nope"}, 400, "Request_BadRequest"},
			{"GET", "/devices", nil, 400, "BadRequest"},
		} {
			if m := s.graph(t, admin, c.method, c.path, c.body, c.status); graphErrorCode(m) != c.code {
				t.Errorf("%s %s: %v, want %s", c.method, c.path, m, c.code)
			}
		}

		// The secret removed: refused; the service principal deleted:
		// its tokens refused, the application kept; the application
		// deleted: gone.
		keyID := pw["keyId"].(string)
		s.graph(t, admin, "POST", "/applications/"+appObj+"/removePassword", map[string]any{"keyId": keyID}, 204)
		if _, err := s.Directory.TokenForClientSecret(ctx, s.TenantID, appID, secret, "https://management.azure.com/.default"); err == nil {
			t.Error("a token for a removed secret")
		}
		if r := s.DoAs(t, armTok.AccessToken, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("a token issued for the removed secret: %d", r.Status)
		}
		s.graph(t, admin, "DELETE", "/servicePrincipals/"+spID, nil, 204)
		if got := s.graph(t, admin, "GET", "/groups/"+gid+"/members", nil, 200)["value"].([]any); len(got) != 0 {
			t.Errorf("the deleted service principal is still a member: %v", got)
		}
		s.graph(t, admin, "GET", "/applications/"+appObj, nil, 200)
		s.graph(t, admin, "GET", "/servicePrincipals/"+spID, nil, 404)
		s.graph(t, admin, "DELETE", "/applications/"+appObj, nil, 204)
		s.graph(t, admin, "GET", "/applications/"+appObj, nil, 404)
		s.graph(t, admin, "DELETE", "/groups/"+gid, nil, 204)
		if got := s.graph(t, admin, "GET", "/groups", nil, 200)["value"].([]any); len(got) != 0 {
			t.Errorf("groups after the delete: %v", got)
		}
		if !strings.HasPrefix(g["@odata.context"].(string), s.URL+"/v1.0/$metadata#groups") {
			t.Errorf("@odata.context: %v", g["@odata.context"])
		}
	})
}
