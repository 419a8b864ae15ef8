package policy

import (
	"testing"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
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

// TestFieldOfMissingParameter: compiled without the value of a parameter
// (AllowMissingParameters, as policy compile does), a field named after
// it is left to evaluation instead of being resolved, strictly, from an
// empty name; tags[] is the tag of empty name, which no resource has.
func TestFieldOfMissingParameter(t *testing.T) {
	doc, err := definition.Parse([]byte(`{"properties":{"mode":"Indexed","parameters":{"tagName":{"type":"String"}},
		"policyRule":{"if":{"field":"[concat('tags[', parameters('tagName'), ']')]","exists":"false"},"then":{"effect":"deny"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(doc.Policy, Options{Aliases: alias.Builtin(), Strict: true, AllowMissingParameters: true})
	if err != nil {
		t.Fatalf("compile without the parameter's value: %v", err)
	}
	if !p.InspectsTags() {
		t.Error("a field named after a parameter: InspectsTags = false")
	}
	aliasDoc, err := definition.Parse([]byte(`{"properties":{"mode":"All","parameters":{"prop":{"type":"String"}},
		"policyRule":{"if":{"field":"[concat('Microsoft.MachineLearningServices/workspaces/', parameters('prop'))]","exists":"true"},"then":{"effect":"audit"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(aliasDoc.Policy, Options{Aliases: alias.Builtin(), Strict: true, AllowMissingParameters: true}); err != nil {
		t.Errorf("an alias named after a parameter without a value: %v", err)
	}
	p, err = Compile(doc.Policy, Options{Aliases: alias.Builtin(), Strict: true, Parameters: map[string]value.Value{"tagName": value.StringValue("")}})
	if err != nil {
		t.Fatalf("compile with an empty tag name: %v", err)
	}
	ws, err := value.Parse([]byte(`{"type":"Microsoft.MachineLearningServices/workspaces","name":"w","tags":{"env":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res := p.Evaluate(&Input{Resource: ws})
	if res.Err != nil || res.Effect != Deny {
		t.Errorf("tags[] exists false: %v, %v; want deny", res.Effect, res.Err)
	}
}
