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

func TestCollapseSlashes(t *testing.T) {
	for in, want := range map[string]string{
		"//subscriptions/s//resourceGroups///rg": "/subscriptions/s/resourceGroups/rg",
		"/subscriptions/s":                       "/subscriptions/s",
		"/":                                      "/",
		"//":                                     "/",
		"/a//":                                   "/a/",
	} {
		if got := collapse(in); got != want {
			t.Errorf("collapse(%q) = %q, want %q", in, got, want)
		}
	}
}
