package govern

import "testing"

// TestExtendedKey: the resource an extension resource (or its child)
// extends, which the change feed evaluates again with it.
func TestExtendedKey(t *testing.T) {
	acr := "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerregistry/registries/acr"
	for key, want := range map[string]string{
		acr + "/providers/microsoft.security/assessments/a":                  acr,
		acr + "/providers/microsoft.security/assessments/a/subassessments/x": acr,
		acr + "/providers/microsoft.insights/diagnosticsettings/d":           acr,
		acr: "",
		"/subscriptions/s/resourcegroups/rg/providers/microsoft.authorization/locks/l": "",
		"/subscriptions/s/resourcegroups/rg":                                           "",
		"not an id":                                                                    "",
	} {
		if got := extendedKey(key); got != want {
			t.Errorf("extendedKey(%q) = %q, want %q", key, got, want)
		}
	}
}
