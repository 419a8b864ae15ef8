package policy

import (
	"testing"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// TestIndexedModeCapabilities: mode Indexed applies to the types that
// support tags and location, as the alias catalog describes them; types
// the catalog does not describe (or describes without capabilities) stay
// in scope, and mode All applies to every type.
func TestIndexedModeCapabilities(t *testing.T) {
	cat, err := alias.Parse([]byte(`[{"namespace":"Microsoft.Network","resourceTypes":[
		{"resourceType":"routeTables","capabilities":"SupportsTags, SupportsLocation","aliases":[]},
		{"resourceType":"routeTables/routes","capabilities":"None","aliases":[]},
		{"resourceType":"networkWatchers","capabilities":"SupportsLocation","aliases":[]},
		{"resourceType":"dnsZones","aliases":[]}]}]`), "test")
	if err != nil {
		t.Fatal(err)
	}
	compile := func(mode string) *Program {
		doc, err := definition.Parse([]byte(`{"properties":{"mode":"` + mode + `","policyRule":{"if":{"field":"name","like":"*"},"then":{"effect":"audit"}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(doc.Policy, Options{Aliases: cat})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	indexed, all := compile("Indexed"), compile("All")
	cases := []struct {
		typ     string
		indexed bool
	}{
		{"Microsoft.Network/routeTables", true},
		{"microsoft.network/ROUTETABLES", true},
		{"Microsoft.Network/routeTables/routes", false},
		{"Microsoft.Network/networkWatchers", false}, // location but no tags
		{"Microsoft.Network/dnsZones", true},         // capabilities not described
		{"Microsoft.Contoso/widgets", true},          // not in the catalog
		{"Microsoft.Resources/subscriptions/resourceGroups", false},
	}
	for _, c := range cases {
		r, err := value.Parse([]byte(`{"name":"x","type":"` + c.typ + `","location":"eastus"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := indexed.Evaluate(&Input{Resource: r}); (got.Effect == Audit) != c.indexed {
			t.Errorf("Indexed on %s: effect %q (reason %q), want applies=%v", c.typ, got.Effect, got.Reason, c.indexed)
		} else if !c.indexed && got.Reason != "mode" {
			t.Errorf("Indexed on %s: reason %q, want mode", c.typ, got.Reason)
		}
		if got := all.Evaluate(&Input{Resource: r}); got.Effect != Audit {
			t.Errorf("All on %s: effect %q, want audit", c.typ, got.Effect)
		}
	}
}
