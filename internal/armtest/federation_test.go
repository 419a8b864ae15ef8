package armtest

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/federation"
)

// TestFederatedIssuer: the tokens of a trusted external issuer
// (Keycloak's shape: a sub that is a GUID, groups as paths) are
// verified against its keys and mapped to a principal and its groups,
// which role assignments name; tokens it did not sign, for another
// audience, expired or from another issuer are refused.
func TestFederatedIssuer(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		f := NewFakeIssuer(t)
		iss, err := federation.New(federation.Config{Issuer: f.Issuer(), Audience: "mlgov", ObjectIDClaim: "sub", HTTP: f.Client()})
		if err != nil {
			t.Fatal(err)
		}
		s.TrustIssuer(iss)
		ws := s.mustWorkspace(t, "rg1", "ws1")
		alice := "3f0d1c2b-4a5e-4f6a-8b7c-9d0e1f2a3b4c"
		team := iss.MappedID("/ml-team")
		s.assignRole(t, ws, roleIDByName(t, s, "AzureML Data Scientist"), team, "Group")
		tok := f.Token(t, map[string]any{"sub": alice, "preferred_username": "alice@corp.example", "groups": []any{"/ml-team"}}, f.Key)
		if r := s.DoAs(t, tok, "PUT", ws+"/jobs/j1"+av, `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`); r.Status != 201 {
			t.Errorf("a job of alice through her group's role: %d %s", r.Status, r.Body)
		}
		r := s.DoAs(t, tok, "PUT", ws+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute"}}`)
		if r.Status != 403 || !strings.Contains(r.ErrorMessage(), "The client 'alice@corp.example' with object id '"+alice+"'") {
			t.Errorf("a compute of alice: %d %s", r.Status, r.Body)
		}
		// Without the group: nothing.
		bob := f.Token(t, map[string]any{"sub": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "groups": []any{"/other"}}, f.Key)
		if r := s.DoAs(t, bob, "GET", ws+av, nil); r.Status != 403 {
			t.Errorf("bob's GET: %d", r.Status)
		}
		// Conditional access on external tokens: a policy requiring MFA
		// of the group for ARM refuses a token whose amr lacks mfa.
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		pol := s.graph(t, admin, "POST", "/identity/conditionalAccess/policies", map[string]any{
			"displayName": "MFA for ARM", "state": "enabled",
			"conditions": map[string]any{
				"users":        map[string]any{"includeGroups": []any{team}},
				"applications": map[string]any{"includeApplications": []any{"797f4846-ba00-4fd7-ba43-dac1f8f63013"}},
			},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}},
		}, 201)
		r = s.DoAs(t, tok, "GET", ws+av, nil)
		if r.Status != 401 || !strings.Contains(r.ErrorMessage(), "amr claim does not name mfa") {
			t.Errorf("alice's token without mfa under an MFA policy: %d %s", r.Status, r.Body)
		}
		withMFA := f.Token(t, map[string]any{"sub": alice, "groups": []any{"/ml-team"}, "amr": []any{"pwd", "mfa"}}, f.Key)
		if r := s.DoAs(t, withMFA, "GET", ws+av, nil); r.Status != 200 {
			t.Errorf("alice's token with mfa: %d %s", r.Status, r.Body)
		}
		s.graph(t, admin, "DELETE", "/identity/conditionalAccess/policies/"+pol["id"].(string), nil, 204)
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		for name, bad := range map[string]string{
			"another key":      f.Token(t, map[string]any{"sub": alice, "groups": []any{"/ml-team"}}, other),
			"another audience": f.Token(t, map[string]any{"sub": alice, "aud": "someone-else"}, f.Key),
			"expired":          f.Token(t, map[string]any{"sub": alice, "exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}, f.Key),
			"a year ahead":     f.Token(t, map[string]any{"sub": alice, "exp": time.Now().Add(365 * 24 * time.Hour).Unix()}, f.Key),
			"no subject":       f.Token(t, map[string]any{"groups": []any{"/ml-team"}}, f.Key),
			"another issuer":   f.Token(t, map[string]any{"sub": alice, "iss": "https://evil.example/realms/corp"}, f.Key),
		} {
			if r := s.DoAs(t, bad, "GET", ws+av, nil); r.Status != 401 {
				t.Errorf("a token with %s: %d %s", name, r.Status, r.Body)
			}
		}
	})
}
