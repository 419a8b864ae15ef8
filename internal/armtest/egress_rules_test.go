package armtest

import (
	"testing"
)

// TestOutboundRuleDestinations: each type of outbound rule has its
// destination checked on write, the error naming the field; the rules'
// status is Inactive until provisionManagedNetwork makes the managed
// network Active, then every rule (and a rule added later) is Active,
// in the workspace's map and as a child; a client cannot set it.
func TestOutboundRuleDestinations(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg")
		ws := wsPath(s, "rg", "ws1")
		r := s.put(t, ws+av, `{"location":"eastus","properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound",
			"outboundRules":{"pypi":{"type":"FQDN","destination":"pypi.org","status":"Active"},"any-sub":{"type":"FQDN","destination":"*.example.com"}}}}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		for _, c := range []struct{ name, rules, part string }{
			{"fqdn missing", `{"rule1":{"type":"FQDN"}}`, "rule1.destination"},
			{"fqdn url", `{"rule1":{"type":"FQDN","destination":"https://pypi.org/simple"}}`, "rule1.destination"},
			{"fqdn inner wildcard", `{"rule1":{"type":"FQDN","destination":"a.*.org"}}`, "rule1.destination"},
			{"fqdn ip", `{"rule1":{"type":"FQDN","destination":"10.0.0.1"}}`, "rule1.destination"},
			{"fqdn non-ascii", `{"rule1":{"type":"FQDN","destination":"bücher.de"}}`, "rule1.destination"},
			{"fqdn object", `{"rule1":{"type":"FQDN","destination":{"x":1}}}`, "rule1.destination"},
			{"tag string", `{"rule1":{"type":"ServiceTag","destination":"Storage"}}`, "rule1.destination"},
			{"tag no name", `{"rule1":{"type":"ServiceTag","destination":{"protocol":"TCP","portRanges":"443"}}}`, "rule1.destination.serviceTag"},
			{"tag ports", `{"rule1":{"type":"ServiceTag","destination":{"serviceTag":"Storage","protocol":"TCP","portRanges":"443-80"}}}`, "rule1.destination.portRanges"},
			{"tag protocol", `{"rule1":{"type":"ServiceTag","destination":{"serviceTag":"Storage","protocol":"SCTP","portRanges":"443"}}}`, "rule1.destination.protocol"},
			{"tag prefix", `{"rule1":{"type":"ServiceTag","destination":{"serviceTag":"Storage","protocol":"TCP","portRanges":"443","addressPrefixes":["10.0.0.0/33"]}}}`, "rule1.destination.addressPrefixes[0]"},
			{"tag action", `{"rule1":{"type":"ServiceTag","destination":{"serviceTag":"Storage","protocol":"TCP","portRanges":"443","action":"Maybe"}}}`, "rule1.destination.action"},
			{"pe id", `{"rule1":{"type":"PrivateEndpoint","destination":{"serviceResourceId":"not-an-id","subresourceTarget":"blob"}}}`, "rule1.destination.serviceResourceId"},
			{"pe target", `{"rule1":{"type":"PrivateEndpoint","destination":{"serviceResourceId":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"}}}`, "rule1.destination.subresourceTarget"},
		} {
			wantError(t, c.name, s.Do(t, "PATCH", ws+av, `{"properties":{"managedNetwork":{"outboundRules":`+c.rules+`}}}`), 400, "InvalidRequestContent", "", "properties.managedNetwork.outboundRules."+c.part)
		}
		wantError(t, "a child's destination", s.Do(t, "PUT", ws+"/outboundRules/bad"+av, `{"properties":{"type":"FQDN","destination":"a b"}}`), 400, "InvalidRequestContent", "", "properties.destination")
		s.put(t, ws+"/outboundRules/tag"+av, `{"properties":{"type":"ServiceTag","destination":{"serviceTag":"Storage","protocol":"TCP","portRanges":"443, 8000-8080","addressPrefixes":["10.1.0.0/16","10.2.0.1"]}}}`, 200)

		status := func(rule string) (inMap, child string) {
			t.Helper()
			p := s.Do(t, "GET", ws+av, nil).JSON()["properties"].(map[string]any)
			m := p["managedNetwork"].(map[string]any)["outboundRules"].(map[string]any)
			inMap, _ = m[rule].(map[string]any)["status"].(string)
			c := s.Do(t, "GET", ws+"/outboundRules/"+rule+av, nil).JSON()
			child, _ = c["properties"].(map[string]any)["status"].(string)
			return
		}
		for _, rule := range []string{"pypi", "any-sub", "tag"} {
			if m, c := status(rule); m != "Inactive" || c != "Inactive" {
				t.Errorf("before provisioning, rule %s: %q in the map, %q as a child, want Inactive (a client's \"Active\" is not taken)", rule, m, c)
			}
		}
		r = s.Do(t, "POST", ws+"/provisionManagedNetwork"+av, `{"includeSpark":false}`)
		if r.Status != 202 && r.Status != 200 {
			t.Fatalf("provisionManagedNetwork: %d %s", r.Status, r.Body)
		}
		if loc := r.Header.Get("Azure-AsyncOperation"); loc != "" {
			s.WaitLRO(t, loc)
		}
		s.put(t, ws+"/outboundRules/later"+av, `{"properties":{"type":"FQDN","destination":"later.example.org"}}`, 200)
		for _, rule := range []string{"pypi", "any-sub", "tag", "later"} {
			if m, c := status(rule); m != "Active" || c != "Active" {
				t.Errorf("after provisioning, rule %s: %q in the map, %q as a child, want Active", rule, m, c)
			}
		}
		// A PUT of the workspace keeps the network's status.
		r = s.put(t, ws+av, `{"location":"eastus","properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound","outboundRules":{"pypi":{"type":"FQDN","destination":"pypi.org"}}}}}`, 200)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		if m, c := status("pypi"); m != "Active" || c != "Active" {
			t.Errorf("after a PUT of the provisioned workspace: %q, %q, want Active", m, c)
		}
	})
}
