package policy

import (
	"testing"

	"github.com/mlgov/mlgov/policy/definition"
)

// TestInspectsTags: a rule inspects tags when its condition reads them
// (field, field(), a name computed per resource), not when only its
// existence condition or its effect's operations do.
func TestInspectsTags(t *testing.T) {
	for rule, want := range map[string]bool{
		`{"if":{"field":"tags['env']","exists":"false"},"then":{"effect":"deny"}}`:                                       true,
		`{"if":{"field":"tags","exists":"true"},"then":{"effect":"audit"}}`:                                              true,
		`{"if":{"field":"tags.env","equals":"x"},"then":{"effect":"audit"}}`:                                             true,
		`{"if":{"value":"[field('tags[env]')]","equals":"x"},"then":{"effect":"audit"}}`:                                 true,
		`{"if":{"field":"[concat('ta', 'gs')]","exists":"true"},"then":{"effect":"audit"}}`:                              true,
		`{"if":{"value":"[field(concat('name', ''))]","equals":"x"},"then":{"effect":"audit"}}`:                          false,
		`{"if":{"value":"[field(field('kind'))]","equals":"x"},"then":{"effect":"audit"}}`:                               true,
		`{"if":{"field":"[if(equals(field('type'), 'x'), 'name', 'location')]","equals":"x"},"then":{"effect":"audit"}}`: true,
		`{"if":{"field":"name","like":"a*"},"then":{"effect":"deny"}}`:                                                   false,
		`{"if":{"field":"location","equals":"eastus"},"then":{"effect":"audit"}}`:                                        false,
		`{"if":{"value":"[resourceGroup().tags.env]","equals":"x"},"then":{"effect":"audit"}}`:                           false,
		`{"if":{"field":"type","equals":"Microsoft.Compute/virtualMachines"},"then":{"effect":"auditIfNotExists","details":{"type":"Microsoft.Compute/virtualMachines","existenceCondition":{"field":"tags['env']","exists":"true"}}}}`:                                                                             false,
		`{"if":{"field":"type","equals":"Microsoft.Compute/virtualMachines"},"then":{"effect":"modify","details":{"roleDefinitionIds":["/providers/microsoft.authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],"operations":[{"operation":"addOrReplace","field":"tags['env']","value":"x"}]}}}`: false,
	} {
		doc, err := definition.Parse([]byte(`{"properties":{"mode":"Indexed","policyRule":` + rule + `}}`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(doc.Policy, Options{})
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		if got := p.InspectsTags(); got != want {
			t.Errorf("%s: InspectsTags = %v, want %v", rule, got, want)
		}
	}
}
