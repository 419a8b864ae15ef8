package policy

import (
	"testing"

	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// TestEffectOverride: Options.Effect replaces then.effect (constant or
// parameterized), Program.Effect reports it, and an override that names
// no effect is a compile error; CompileSet's MemberEffect overrides
// members by reference id and leaves the others.
func TestEffectOverride(t *testing.T) {
	def := func(effect string) *definition.Definition {
		doc, err := definition.Parse([]byte(`{"properties":{"mode":"All","parameters":{"effect":{"type":"String","defaultValue":"Audit"}},
			"policyRule":{"if":{"field":"type","equals":"Microsoft.Storage/storageAccounts"},"then":{"effect":"` + effect + `"}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		return doc.Policy
	}
	res, _ := value.Parse([]byte(`{"type":"Microsoft.Storage/storageAccounts","name":"s"}`))
	for _, tc := range []struct {
		written, override string
		want              Effect
	}{
		{"Deny", "", Deny},
		{"Deny", "Audit", Audit},
		{"[parameters('effect')]", "", Audit},
		{"[parameters('effect')]", "Deny", Deny},
		{"Audit", "disabled", None},
	} {
		p, err := Compile(def(tc.written), Options{Effect: tc.override})
		if err != nil {
			t.Fatalf("%s overridden by %q: %v", tc.written, tc.override, err)
		}
		if got := p.Evaluate(&Input{Resource: res}).Effect; got != tc.want {
			t.Errorf("%s overridden by %q: effect %v, want %v", tc.written, tc.override, got, tc.want)
		}
		if e, ok := p.Effect(); !ok || (tc.want != None && e != tc.want) {
			t.Errorf("%s overridden by %q: Program.Effect() = %v, %v", tc.written, tc.override, e, ok)
		}
	}
	if _, err := Compile(def("Deny"), Options{Effect: "Banana"}); err == nil {
		t.Error("an override naming no effect compiled")
	}
	set := &definition.SetDefinition{Members: []*definition.Reference{
		{ReferenceID: "a", DefinitionID: "d"}, {ReferenceID: "b", DefinitionID: "d"},
	}}
	d := def("Deny")
	members, err := CompileSet(set, func(string) (*definition.Definition, bool) { return d, true },
		Options{MemberEffect: func(ref string) string {
			if ref == "b" {
				return "Audit"
			}
			return ""
		}}, NewCache())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		want := map[string]Effect{"a": Deny, "b": Audit}[m.ReferenceID]
		if got := m.Program.Evaluate(&Input{Resource: res}).Effect; got != want {
			t.Errorf("member %s: effect %v, want %v", m.ReferenceID, got, want)
		}
	}
}
