package armtest

import (
	"testing"
)

// TestOutboundRulesOneSet: a workspace's managedNetwork.outboundRules and
// its outboundRules children are one set of rules: a rule written either
// way shows both ways, a deletion either way removes it from both, a PUT
// of the workspace without rules keeps them, and a child write meets the
// policies on the outboundRules type.
func TestOutboundRulesOneSet(t *testing.T) {
	eachBackend(t, nil, testOutboundRulesOneSet)
}

func testOutboundRulesOneSet(t *testing.T, s *Server) {
	mustCreateRG(t, s, "rg")
	ws := wsPath(s, "rg", "ws1")
	r := s.put(t, ws+av, `{"location":"eastus","properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound",
		"outboundRules":{"pypi":{"type":"FQDN","destination":"pypi.org"}}}}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	rules := func() map[string]any {
		t.Helper()
		p := s.Do(t, "GET", ws+av, nil).JSON()["properties"].(map[string]any)
		mn, _ := p["managedNetwork"].(map[string]any)
		m, _ := mn["outboundRules"].(map[string]any)
		return m
	}
	children := func() []string {
		t.Helper()
		var names []string
		for _, v := range s.Do(t, "GET", ws+"/outboundRules"+av, nil).JSON()["value"].([]any) {
			names = append(names, v.(map[string]any)["name"].(string))
		}
		return names
	}

	// Written with the workspace: a child.
	c := s.Do(t, "GET", ws+"/outboundRules/pypi"+av, nil)
	if props, _ := c.JSON()["properties"].(map[string]any); c.Status != 200 || props["destination"] != "pypi.org" || props["category"] != "UserDefined" {
		t.Fatalf("the rule written with the workspace, as a child: %d %s", c.Status, c.Body)
	}
	// Written as a child: in the workspace's map.
	s.put(t, ws+"/outboundRules/storage"+av, `{"properties":{"type":"PrivateEndpoint","destination":{"serviceResourceId":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa","subresourceTarget":"blob"}}}`, 200)
	if got := rules(); got["storage"] == nil || got["pypi"] == nil || len(got) != 2 {
		t.Fatalf("the workspace's rules after a child PUT: %v", got)
	}
	if got := rules()["storage"].(map[string]any); got["provisioningState"] != nil || got["type"] != "PrivateEndpoint" {
		t.Errorf("the mirrored rule: %v", got)
	}
	// A PUT of the workspace without rules keeps them.
	r = s.put(t, ws+av, `{"location":"eastus","properties":{"description":"again"}}`, 200)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	if got := children(); len(got) != 2 || len(rules()) != 2 {
		t.Errorf("after a PUT without rules: children %v, rules %v", got, rules())
	}
	// Deleted as a child: gone from the map.
	if r := s.Do(t, "DELETE", ws+"/outboundRules/pypi"+av, nil); r.Status != 200 {
		t.Fatalf("delete rule: %d %s", r.Status, r.Body)
	}
	if got := rules(); got["pypi"] != nil || len(got) != 1 {
		t.Errorf("the workspace's rules after deleting the child: %v", got)
	}
	// Deleted in the map (merge patch null): the child is gone.
	r = s.Do(t, "PATCH", ws+av, `{"properties":{"managedNetwork":{"outboundRules":{"storage":null,"conda":{"type":"FQDN","destination":"conda.anaconda.org"}}}}}`)
	if r.Status >= 300 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	if got := children(); len(got) != 1 || got[0] != "conda" {
		t.Errorf("children after the PATCH: %v, want [conda]", got)
	}
	if r := s.Do(t, "GET", ws+"/outboundRules/storage"+av, nil); r.Status != 404 {
		t.Errorf("the rule deleted in the map, as a child: %d", r.Status)
	}

	wantError(t, "a rule of no type", s.Do(t, "PUT", ws+"/outboundRules/bad"+av, `{"properties":{"destination":"x"}}`), 400, "InvalidRequestContent", "", "type")
	wantError(t, "a rule of an unknown type in the map", s.Do(t, "PATCH", ws+av, `{"properties":{"managedNetwork":{"outboundRules":{"xyz":{"type":"Everything"}}}}}`), 400, "InvalidRequestContent", "", "outboundRules.xyz.type")

	// A child write meets the policies on its type; the refused rule is
	// in neither place.
	def := s.define(t, "no-forbidden-rule", "All", `{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/outboundRules"},{"field":"name","equals":"forbidden"}]},"then":{"effect":"Deny"}}`, "")
	s.assign(t, s.sub(), "no-forbidden-rule", def, "")
	wantError(t, "a denied rule", s.Do(t, "PUT", ws+"/outboundRules/forbidden"+av, `{"properties":{"type":"FQDN","destination":"example.com"}}`), 403, "RequestDisallowedByPolicy", "forbidden")
	if got := rules(); got["forbidden"] != nil {
		t.Errorf("the denied rule is in the workspace's map: %v", got)
	}
}
