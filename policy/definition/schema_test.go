package definition

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

func mustValue(t *testing.T, s string) value.Value {
	t.Helper()
	v, err := value.Parse([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// TestSchemaValidate: each keyword accepts what JSON Schema 2019-09
// accepts and refuses the rest, with the place and the reason.
func TestSchemaValidate(t *testing.T) {
	cases := []struct {
		schema, value string
		want          string // "" valid, else a fragment of the first violation
	}{
		{`true`, `{"a":1}`, ""},
		{`false`, `{}`, "no value is allowed"},
		{`{"type":"object"}`, `{}`, ""},
		{`{"type":"object"}`, `[]`, "the value is array, but the schema wants object"},
		{`{"type":["string","null"]}`, `null`, ""},
		{`{"type":"integer"}`, `3.0`, ""},
		{`{"type":"integer"}`, `3.5`, "is number, but the schema wants integer"},
		{`{"type":"number"}`, `3`, ""},
		{`{"enum":["a",1,{"k":[true]}]}`, `{"k":[true]}`, ""},
		{`{"enum":["a",1]}`, `"A"`, `the value "A" is not one of "a", 1`},
		{`{"const":"x"}`, `"y"`, `is not "x"`},
		{`{"minimum":1,"maximum":3}`, `0`, "less than the minimum 1"},
		{`{"minimum":1,"maximum":3}`, `4`, "greater than the maximum 3"},
		{`{"exclusiveMinimum":1}`, `1`, "is not greater than 1"},
		{`{"exclusiveMaximum":1}`, `1`, "is not less than 1"},
		{`{"multipleOf":0.5}`, `2.5`, ""},
		{`{"multipleOf":2}`, `3`, "is not a multiple of 2"},
		{`{"minLength":2,"maxLength":3}`, `"é"`, "1 characters long, shorter than 2"},
		{`{"maxLength":3}`, `"abcd"`, "longer than 3"},
		{`{"pattern":"^[a-z]+$"}`, `"abc"`, ""},
		{`{"pattern":"^[a-z]+$"}`, `"aBc"`, "does not match the pattern"},
		{`{"pattern":"^[a-z]+$"}`, `17`, ""}, // pattern applies to strings only
		{`{"items":{"type":"string"},"minItems":1}`, `[]`, "0 items, fewer than 1"},
		{`{"items":{"type":"string"}}`, `["a",2]`, "/1: the value is integer"},
		{`{"items":[{"type":"string"}],"additionalItems":false}`, `["a",2]`, "/1: no value is allowed"},
		{`{"items":[{"type":"string"}]}`, `["a",2]`, ""},
		{`{"maxItems":1}`, `[1,2]`, "more than 1"},
		{`{"uniqueItems":true}`, `[1,2,1]`, "items 0 and 2 are equal"},
		{`{"contains":{"const":2}}`, `[1,3]`, "no item matches the contains schema"},
		{`{"required":["a"]}`, `{"b":1}`, `the required property "a" is missing`},
		{`{"required":["a"]}`, `{"A":1}`, `the required property "a" is missing`}, // names are case-sensitive
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"a":"x"}`, ""},
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"a":"x","b":1}`, `/b: the property "b" is not allowed`},
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}}`, `{"a":"x","b":"y"}`, "/b: the value is string"},
		{`{"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}`, `{"x-a":1}`, ""},
		{`{"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}`, `{"x-a":"1"}`, "/x-a: the value is string"},
		{`{"properties":{"a/b":{"properties":{"c~d":{"type":"string"}}}}}`, `{"a/b":{"c~d":1}}`, "/a~1b/c~0d: the value is integer"},
		{`{"minProperties":1}`, `{}`, "0 properties, fewer than 1"},
		{`{"maxProperties":1}`, `{"a":1,"b":2}`, "more than 1"},
		{`{"propertyNames":{"maxLength":2}}`, `{"abc":1}`, `the property name "abc" does not match`},
		{`{"dependentRequired":{"a":["b"]}}`, `{"a":1}`, `"a" requires the property "b"`},
		{`{"allOf":[{"required":["a"]},{"required":["b"]}]}`, `{"a":1}`, `"b" is missing`},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `true`, "matches none of the anyOf schemas"},
		{`{"oneOf":[{"type":"integer"},{"type":"number"}]}`, `1`, "matches 2 of the oneOf schemas"},
		{`{"oneOf":[{"type":"integer"},{"type":"string"}]}`, `1`, ""},
		{`{"not":{"type":"string"}}`, `"s"`, "matches the schema under not"},
		{`{"if":{"required":["a"]},"then":{"required":["b"]},"else":{"required":["c"]}}`, `{"a":1}`, `"b" is missing`},
		{`{"if":{"required":["a"]},"then":{"required":["b"]},"else":{"required":["c"]}}`, `{"d":1}`, `"c" is missing`},
		{`{"type":"object","format":"whatever","description":"d","x-ms-enum":{}}`, `{}`, ""},
	}
	for _, c := range cases {
		var errs ErrorList
		s := CompileSchema(mustValue(t, c.schema), "/schema", &errs)
		if s == nil || len(errs) > 0 {
			t.Errorf("schema %s: %v", c.schema, errs)
			continue
		}
		vs := s.Validate(mustValue(t, c.value))
		switch {
		case c.want == "" && len(vs) > 0:
			t.Errorf("schema %s, value %s: %v, want valid", c.schema, c.value, vs)
		case c.want != "" && (len(vs) == 0 || !strings.Contains(vs[0].String(), c.want)):
			t.Errorf("schema %s, value %s: %v, want %q", c.schema, c.value, vs, c.want)
		}
	}
}

// TestSchemaCompileErrors: a malformed schema is refused where it is
// wrong, and so are keywords that are not implemented.
func TestSchemaCompileErrors(t *testing.T) {
	cases := []struct{ schema, pointer, msg string }{
		{`"object"`, "/schema", "must be an object or a boolean"},
		{`{"type":"thing"}`, "/schema/type", `unknown type "thing"`},
		{`{"type":["string",1]}`, "/schema/type/1", "must hold strings"},
		{`{"minItems":-1}`, "/schema/minItems", "non-negative integer"},
		{`{"maximum":"3"}`, "/schema/maximum", "must be a number"},
		{`{"pattern":"("}`, "/schema/pattern", "pattern"},
		{`{"properties":{"a":{"type":7}}}`, "/schema/properties/a/type", "type must be a string"},
		{`{"allOf":[]}`, "/schema/allOf", "non-empty array"},
		{`{"$ref":"#/$defs/x"}`, "/schema/$ref", `"$ref" is not supported`},
		{`{"multipleOf":0}`, "/schema/multipleOf", "greater than 0"},
	}
	for _, c := range cases {
		var errs ErrorList
		if s := CompileSchema(mustValue(t, c.schema), "/schema", &errs); s != nil || len(errs) == 0 {
			t.Errorf("schema %s compiled", c.schema)
			continue
		}
		if e := errs[0]; e.Pointer != c.pointer || e.Code != CodeInvalidParameter || !strings.Contains(e.Message, c.msg) {
			t.Errorf("schema %s: %+v, want %s %q", c.schema, e, c.pointer, c.msg)
		}
	}
	deep := strings.Repeat(`{"not":`, 70) + `true` + strings.Repeat(`}`, 70)
	var errs ErrorList
	if CompileSchema(mustValue(t, deep), "", &errs) != nil || len(errs) == 0 || !strings.Contains(errs[0].Message, "nested deeper") {
		t.Errorf("a schema nested 70 deep: %v", errs)
	}
}

// TestBuiltinDefaultsMatchSchemas: the defaultValue of every object-typed
// built-in parameter with a schema conforms to it (Azure ships them, so a
// validator that refuses one is wrong), and there are enough of them to
// mean something.
func TestBuiltinDefaultsMatchSchemas(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "peer-cases", "azure-policy-builtins", "built-in-policies")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("reference data %s not found (../shared must sit beside the repository)", dir)
	}
	files, err := LoadPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if f.Doc == nil {
			continue
		}
		var params []*Parameter
		if f.Doc.Policy != nil {
			params = f.Doc.Policy.Parameters
		} else if f.Doc.Set != nil {
			params = f.Doc.Set.Parameters
		}
		for _, p := range params {
			if p.Check == nil || !p.HasDefault {
				continue
			}
			checked++
			if vs := p.Check.Validate(p.Default); len(vs) > 0 {
				t.Errorf("%s: parameter %s: default does not match its schema: %s", f.Path, p.Name, Violations(vs))
			}
		}
	}
	if checked < 150 {
		t.Errorf("checked %d defaults against their schemas, want at least 150", checked)
	}
	t.Logf("%d built-in defaults conform to their schemas", checked)
}
