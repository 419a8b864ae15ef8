package api

import "testing"

func TestIsARMPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/subscriptions/s1/resourceGroups/rg":                  true,
		"/SUBSCRIPTIONS/s1":                                    true,
		"/Subscriptions":                                       true,
		"/providers/Microsoft.Authorization/policyDefinitions": true,
		"/PROVIDERS/x":                                         true,
		"/providers":                                           false, // a provider path has more after it
		"/subscription":                                        false,
		"/tenant/oauth2/v2.0/token":                            false,
		"":                                                     false,
		"/süb":                                                 false,
		"/x/subscriptions":                                     false,
	} {
		if got := isARMPath(p); got != want {
			t.Errorf("isARMPath(%q) = %v, want %v", p, got, want)
		}
	}
}
