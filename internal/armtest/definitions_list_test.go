package armtest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestPolicyDefinitionsListAtSubscription: the list of policy definitions
// at a subscription is the built-ins and then the subscription's own, as
// Azure gives it (az policy definition list shows both), paged by
// nextLink with $top, and filtered by atExactScope(), policyType and
// category; another $filter is a 400 naming it, as are a bad skip token
// and a write to the list.
func TestPolicyDefinitionsListAtSubscription(t *testing.T) {
	mlBuiltin(t, "IdleShutdown_Audit.json")
	builtins := len(loadBuiltins().ByFile)
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		rule := `{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},"then":{"effect":"audit"}}`
		a := s.define(t, "custom-a", "Indexed", rule, "")
		z := s.define(t, "custom-z", "Indexed", rule, "")
		s.put(t, s.sub()+"/providers/Microsoft.Authorization/policyDefinitions/custom-ml"+pav,
			`{"properties":{"mode":"All","metadata":{"category":"Machine Learning"},"policyRule":`+rule+`}}`, 201)
		list := func(query string) []string {
			t.Helper()
			var ids []string
			next := s.sub() + "/providers/Microsoft.Authorization/policyDefinitions" + pav + query
			for pages := 0; next != ""; pages++ {
				if pages > 50 {
					t.Fatalf("no end to the pages of %s", query)
				}
				r := s.Do(t, "GET", next, nil)
				if r.Status != 200 {
					t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
				}
				var page struct {
					Value []struct {
						ID         string `json:"id"`
						Properties struct {
							PolicyType string `json:"policyType"`
						} `json:"properties"`
					} `json:"value"`
					NextLink string `json:"nextLink"`
				}
				if err := json.Unmarshal(r.Body, &page); err != nil {
					t.Fatal(err)
				}
				for _, v := range page.Value {
					ids = append(ids, v.ID)
				}
				next = ""
				if page.NextLink != "" {
					u, err := url.Parse(page.NextLink)
					if err != nil {
						t.Fatal(err)
					}
					next = u.RequestURI()
				}
			}
			return ids
		}
		customs := []string{a, s.sub() + "/providers/Microsoft.Authorization/policyDefinitions/custom-ml", z}
		for _, top := range []string{"", "&$top=7", "&$top=1", "&$top=" + strings.Repeat("9", 1)} {
			all := list(top)
			if len(all) != builtins+3 {
				t.Fatalf("$top %q: %d definitions, want %d built-ins and 3 customs: %v", top, len(all), builtins, all)
			}
			for _, id := range all[:builtins] {
				if !strings.HasPrefix(id, "/providers/Microsoft.Authorization/policyDefinitions/") {
					t.Errorf("$top %q: %s among the built-ins", top, id)
				}
			}
			if got := all[builtins:]; !slices.EqualFunc(got, customs, strings.EqualFold) {
				t.Errorf("$top %q: customs %v, want %v", top, got, customs)
			}
		}
		f := func(s string) string { return "&$filter=" + url.QueryEscape(s) }
		if got := list(f("atExactScope()")); !slices.EqualFunc(got, customs, strings.EqualFold) {
			t.Errorf("atExactScope(): %v", got)
		}
		if got := list(f("policyType eq 'Custom'") + "&$top=2"); !slices.EqualFunc(got, customs, strings.EqualFold) {
			t.Errorf("policyType eq 'Custom': %v", got)
		}
		if got := list(f("policyType eq 'BuiltIn'")); len(got) != builtins {
			t.Errorf("policyType eq 'BuiltIn': %d, want %d", len(got), builtins)
		}
		if got := list(f("category eq 'machine learning'")); len(got) != builtins+1 || !strings.EqualFold(got[len(got)-1], customs[1]) {
			t.Errorf("category eq 'machine learning': %d %v", len(got), got)
		}
		for _, bad := range []string{f("name eq 'x'"), f("policyType eq 'Banana'"), "&$skipToken=%21%21", "&$top=0"} {
			r := s.Do(t, "GET", s.sub()+"/providers/Microsoft.Authorization/policyDefinitions"+pav+bad, nil)
			if r.Status != 400 {
				t.Errorf("%s: %d %s, want 400", bad, r.Status, r.Body)
			}
		}
		if r := s.Do(t, "GET", s.sub()+"/providers/Microsoft.Authorization/policyDefinitions"+pav+f("name eq 'x'"), nil); !strings.Contains(r.ErrorMessage(), "name eq 'x'") {
			t.Errorf("the refusal of a filter does not name it: %s", r.Body)
		}
		if r := s.Do(t, "POST", s.sub()+"/providers/Microsoft.Authorization/policyDefinitions"+pav, "{}"); r.Status != 405 {
			t.Errorf("POST to the list: %d %s", r.Status, r.Body)
		}
		// One of them is still the write path's.
		if r := s.Do(t, "GET", a+pav, nil); r.Status != 200 {
			t.Errorf("GET %s: %d", a, r.Status)
		}
	})
}
