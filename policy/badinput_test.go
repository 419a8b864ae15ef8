package policy

import (
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// TestBadInput: every kind of bad definition gives a clear error naming the
// place (JSON pointer) and a stable code — never a panic.
func TestBadInput(t *testing.T) {
	deep := strings.Repeat(`{"not":`, 200) + `{"field":"type","equals":"x"}` + strings.Repeat(`}`, 200)
	deepExpr := "[" + strings.Repeat("concat(", 70) + "'x'" + strings.Repeat(")", 70) + "]"
	tests := []struct {
		name, rule, params, pointer, code, msg string
	}{
		{"unknown operator", `{"if":{"field":"type","equalz":"x"},"then":{"effect":"audit"}}`, ``, "/if/equalz", definition.CodeUnknownOperator, `unknown operator "equalz"`},
		{"two operators", `{"if":{"field":"type","equals":"x","notEquals":"y"},"then":{"effect":"audit"}}`, ``, "/if", definition.CodeInvalidCondition, "exactly one operator"},
		{"no subject", `{"if":{"equals":"x"},"then":{"effect":"audit"}}`, ``, "/if", definition.CodeInvalidCondition, "needs one of field, value or count"},
		{"allOf not array", `{"if":{"allOf":{"field":"a","equals":1}},"then":{"effect":"audit"}}`, ``, "/if/allOf", definition.CodeInvalidCondition, "must be an array"},
		{"in with a string", `{"if":{"field":"type","in":"x"},"then":{"effect":"audit"}}`, ``, "/if/in", definition.CodeInvalidOperand, "must be an array"},
		{"exists with a number", `{"if":{"field":"type","exists":3},"then":{"effect":"audit"}}`, ``, "/if/exists", definition.CodeInvalidOperand, "true or false"},
		{"unknown function", `{"if":{"value":"[frobnicate(1)]","equals":1},"then":{"effect":"audit"}}`, ``, "/if/value", definition.CodeUnknownFunction, "unknown template function 'frobnicate'"},
		{"disallowed function", `{"if":{"value":"[reference('x')]","equals":1},"then":{"effect":"audit"}}`, ``, "/if/value", definition.CodeInvalidExpression, "not allowed in a policy rule"},
		{"bad expression", `{"if":{"value":"[concat('a',]","equals":1},"then":{"effect":"audit"}}`, ``, "/if/value", definition.CodeInvalidExpression, "offset"},
		{"wrong arity", `{"if":{"value":"[toLower()]","equals":1},"then":{"effect":"audit"}}`, ``, "/if/value", definition.CodeInvalidExpression, "expects 1 argument"},
		{"unknown effect", `{"if":{"field":"type","equals":"x"},"then":{"effect":"explode"}}`, ``, "/then/effect", definition.CodeInvalidEffect, `unknown effect "explode"`},
		{"no effect", `{"if":{"field":"type","equals":"x"},"then":{}}`, ``, "/then/effect", definition.CodeMissingProperty, "no effect"},
		{"modify bad operation", `{"if":{"field":"type","equals":"x"},"then":{"effect":"modify","details":{"roleDefinitionIds":[],"operations":[{"operation":"upsert","field":"tags.a","value":"b"}]}}}`, ``, "/then/details/operations/0/operation", definition.CodeInvalidDetails, "addOrReplace, add or remove"},
		{"AINE without type", `{"if":{"field":"type","equals":"x"},"then":{"effect":"auditIfNotExists","details":{}}}`, ``, "/then/details/type", definition.CodeInvalidDetails, "need a 'type'"},
		{"count on non-array", `{"if":{"count":{"field":"type"},"equals":1},"then":{"effect":"audit"}}`, ``, "/if/count/field", definition.CodeInvalidCount, "must be an array alias"},
		{"count with both", `{"if":{"count":{"field":"a[*]","value":[1]},"equals":1},"then":{"effect":"audit"}}`, ``, "/if/count", definition.CodeInvalidCount, "exactly one of"},
		{"current outside count", `{"if":{"value":"[current()]","equals":1},"then":{"effect":"audit"}}`, ``, "/if/value", definition.CodeInvalidExpression, "inside a count"},
		{"deep conditions", `{"if":` + deep + `,"then":{"effect":"audit"}}`, ``, "", definition.CodeLimitExceeded, "nested deeper than 128"},
		{"deep expression", `{"if":{"value":"` + deepExpr + `","equals":1},"then":{"effect":"audit"}}`, ``, "/if/value", definition.CodeInvalidExpression, "nested deeper"},
		{"unknown parameter", `{"properties":{"parameters":{},"policyRule":{"if":{"value":"[parameters('nope')]","equals":1},"then":{"effect":"audit"}}}}`, ``, "/properties/policyRule/if/value", definition.CodeUnknownParameter, "'nope' is not declared"},
		{"wrong parameter type", `{"properties":{"parameters":{"n":{"type":"Integer"}},"policyRule":{"if":{"value":"[parameters('n')]","equals":1},"then":{"effect":"audit"}}}}`, `{"n":"three"}`, "/properties/parameters/n", definition.CodeParameterValue, "is string, but the parameter's type is Integer"},
		{"value against the schema", `{"properties":{"parameters":{"cfg":{"type":"Object","schema":{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}},"required":["tags"],"additionalProperties":false}}},"policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}}`, `{"cfg":{"tags":["a",1],"extra":true}}`, "/properties/parameters/cfg", definition.CodeParameterValue, `does not match the parameter's schema: /extra: the property "extra" is not allowed (additionalProperties is false); /tags/1: the value is integer, but the schema wants string`},
		{"bad schema", `{"properties":{"parameters":{"cfg":{"type":"Object","schema":{"type":"object","properties":{"n":{"minimum":"1"}}}}},"policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}}`, `{}`, "/properties/parameters/cfg/schema/properties/n/minimum", definition.CodeInvalidParameter, "minimum must be a number"},
		{"value not allowed", `{"properties":{"parameters":{"effect":{"type":"String","allowedValues":["Audit","Deny"]}},"policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"[parameters('effect')]"}}}}`, `{"effect":"deny"}`, "/properties/parameters/effect", definition.CodeParameterNotAllowed, "allowed values are 'Audit, Deny'"},
		{"missing parameter", `{"properties":{"parameters":{"p":{"type":"String"}},"policyRule":{"if":{"value":"[parameters('p')]","equals":1},"then":{"effect":"audit"}}}}`, ``, "/properties/parameters/p", definition.CodeMissingParameter, "no default value"},
		{"undeclared value given", `{"properties":{"parameters":{},"policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}}`, `{"extra":1}`, "/properties/parameters", definition.CodeUnknownParameter, `"extra"`},
		{"unknown mode", `{"properties":{"mode":"Sometimes","policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}}`, ``, "/properties/policyRule", definition.CodeInvalidMode, `unknown mode "Sometimes"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := definition.Parse([]byte(tc.rule))
			if err == nil {
				var params map[string]value.Value
				if tc.params != "" {
					pv, perr := value.ParseString(tc.params)
					if perr != nil {
						t.Fatal(perr)
					}
					params = map[string]value.Value{}
					for _, m := range pv.Members() {
						params[m.Key] = m.Value
					}
				}
				_, err = Compile(doc.Policy, Options{Parameters: params})
			}
			el, ok := err.(definition.ErrorList)
			if !ok {
				t.Fatalf("error = %v (%T), want a definition.ErrorList", err, err)
			}
			for _, e := range el {
				if e.Code == tc.code && strings.Contains(e.Message, tc.msg) && (tc.pointer == "" || e.Pointer == tc.pointer) {
					return
				}
			}
			t.Errorf("errors:\n%v\nwant one at %q with code %s containing %q", el, tc.pointer, tc.code, tc.msg)
		})
	}
}

func FuzzCompileEvaluate(f *testing.F) {
	f.Add(`{"if":{"allOf":[{"field":"type","equals":"Microsoft.X/y"},{"count":{"field":"properties.a[*]","where":{"field":"properties.a[*].b","like":"x*"}},"greater":0}]},"then":{"effect":"audit"}}`,
		`{"type":"Microsoft.X/y","properties":{"a":[{"b":"xy"},{"b":"z"}]}}`)
	f.Add(`{"if":{"value":"[concat(field('name'), parameters('p'))]","equals":"n1"},"then":{"effect":"modify","details":{"roleDefinitionIds":[],"operations":[{"operation":"addOrReplace","field":"tags.a","value":"[toLower(field('name'))]"}]}}}`,
		`{"name":"n","tags":{}}`)
	f.Add(`{"if":{"count":{"value":[1,2,3],"name":"i","where":{"value":"[current('i')]","greater":1}},"equals":2},"then":{"effect":"deny"}}`, `{}`)
	f.Add(`{"if":{"field":"type","equals":"t"},"then":{"effect":"auditIfNotExists","details":{"type":"t2","existenceCondition":{"field":"properties.x","exists":true}}}}`, `{"type":"t"}`)
	f.Fuzz(func(t *testing.T, rule, resource string) {
		doc, err := definition.Parse([]byte(rule))
		if err != nil || doc.Policy == nil {
			return
		}
		p, err := Compile(doc.Policy, Options{AllowMissingParameters: true})
		if err != nil {
			return
		}
		r, err := value.ParseString(resource)
		if err != nil {
			return
		}
		res := p.Evaluate(&Input{Resource: r, Explain: true, Lookup: constLookup{r}})
		if res.Err != nil && strings.Contains(res.Err.Error(), "internal error") {
			t.Fatalf("evaluation hit an internal error: %v", res.Err)
		}
	})
}

type constLookup struct{ v value.Value }

func (c constLookup) Related(*RelatedQuery) ([]value.Value, error) { return []value.Value{c.v}, nil }
