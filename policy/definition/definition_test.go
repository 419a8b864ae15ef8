package definition

import (
	"strings"
	"testing"
)

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind Kind
		mode string
	}{
		{"full resource", `{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}},"name":"n1","id":"/providers/Microsoft.Authorization/policyDefinitions/n1"}`, KindPolicy, "All"},
		{"bare properties", `{"mode":"Indexed","policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}`, KindPolicy, "Indexed"},
		{"bare rule", `{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}`, KindRule, "All"},
		{"initiative", `{"properties":{"policyDefinitions":[{"policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/a","policyDefinitionReferenceId":"r1","parameters":{"p":{"value":"[parameters('x')]"}}}]}}`, KindPolicySet, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d.Kind != tc.kind {
				t.Fatalf("kind = %v, want %v", d.Kind, tc.kind)
			}
			if d.Policy != nil && d.Policy.Mode != tc.mode {
				t.Errorf("mode = %q, want %q", d.Policy.Mode, tc.mode)
			}
			if d.Set != nil && (len(d.Set.Members) != 1 || d.Set.Members[0].ReferenceID != "r1" || len(d.Set.Members[0].Parameters) != 1) {
				t.Errorf("members = %+v", d.Set.Members)
			}
		})
	}
}

// TestParseErrors: each bad document gives errors with a stable code and
// the JSON pointer of the bad part.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, pointer, code, msg string
	}{
		{"malformed JSON", "{\"properties\": {\"policyRule\": }", "", CodeInvalidJSON, "line 1, column 31"},
		{"not an object", `[1,2]`, "", CodeInvalidShape, "expected a JSON object"},
		{"no rule", `{"properties":{"displayName":"x"}}`, "/properties", CodeInvalidShape, "no policyRule"},
		{"rule not object", `{"properties":{"policyRule":"x"}}`, "/properties/policyRule", CodeInvalidType, "must be an object"},
		{"duplicate key", `{"properties":{"policyRule":{"if":{"field":"a","equals":1},"IF":{},"then":{"effect":"audit"}}}}`, "/properties/policyRule/IF", CodeDuplicateKey, "duplicate key"},
		{"bad param type", `{"properties":{"parameters":{"p":{"type":"strng"}},"policyRule":{"if":{},"then":{}}}}`, "/properties/parameters/p/type", CodeInvalidParameter, `unknown type "strng"`},
		{"param without type", `{"properties":{"parameters":{"p":{}},"policyRule":{"if":{},"then":{}}}}`, "/properties/parameters/p/type", CodeInvalidParameter, "has no type"},
		{"allowedValues not array", `{"properties":{"parameters":{"p":{"type":"string","allowedValues":"x"}},"policyRule":{"if":{},"then":{}}}}`, "/properties/parameters/p/allowedValues", CodeInvalidParameter, "must be an array"},
		{"bad version", `{"properties":{"version":"1.0","policyRule":{"if":{},"then":{}}}}`, "/properties/version", CodeInvalidType, "major.minor.patch"},
		{"set without members", `{"properties":{"policyDefinitions":[]}}`, "/properties/policyDefinitions", CodeInvalidSetDefinition, "empty"},
		{"set member without id", `{"properties":{"policyDefinitions":[{"policyDefinitionReferenceId":"a"}]}}`, "/properties/policyDefinitions/0/policyDefinitionId", CodeMissingProperty, "no policyDefinitionId"},
		{"set member param not wrapped", `{"properties":{"policyDefinitions":[{"policyDefinitionId":"x","parameters":{"p":"v"}}]}}`, "/properties/policyDefinitions/0/parameters/p", CodeInvalidParameter, `{"value": ...}`},
		{"escaped pointer", `{"properties":{"parameters":{"a/b~c":{"type":"nope"}},"policyRule":{"if":{},"then":{}}}}`, "/properties/parameters/a~1b~0c/type", CodeInvalidParameter, "unknown type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			el, ok := err.(ErrorList)
			if !ok {
				t.Fatalf("Parse error = %v (%T), want an ErrorList", err, err)
			}
			for _, e := range el {
				if e.Pointer == tc.pointer && e.Code == tc.code && strings.Contains(e.Message, tc.msg) {
					return
				}
			}
			t.Errorf("errors = %v, want one at %q with code %s containing %q", el, tc.pointer, tc.code, tc.msg)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"properties":{"mode":"All","parameters":{"e":{"type":"String","defaultValue":"Audit","allowedValues":["Audit"]}},"policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"[parameters('e')]"}}}}`,
		`{"properties":{"policyDefinitions":[{"policyDefinitionId":"a","parameters":{"p":{"value":1}}}]}}`,
		`{"if":{"not":{"field":"a","exists":true}},"then":{"effect":"deny"}}`,
		`[]`, `{}`, `{"properties":null}`,
		`{"properties":{"parameters":{"c":{"type":"Object","defaultValue":{"a":["x"],"n":2},"schema":{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","pattern":"^x"},"uniqueItems":true}},"patternProperties":{"^n":{"minimum":1,"multipleOf":2}},"required":["a"],"additionalProperties":false,"oneOf":[{"minProperties":1},{"not":{"const":{}}}],"if":{"required":["n"]},"then":{"maxProperties":3}}}},"policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err == nil && d == nil {
			t.Fatal("nil document without error")
		}
		if el, ok := err.(ErrorList); ok {
			for _, e := range el {
				if e.Code == "" || e.Message == "" {
					t.Fatalf("error without code or message: %+v", e)
				}
			}
		}
		if err == nil && d.Policy != nil {
			for _, p := range d.Policy.Parameters {
				if p.Check != nil { // the validator must not panic on any value
					p.Check.Validate(p.Default)
				}
			}
		}
	})
}
