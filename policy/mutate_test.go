package policy

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// mutateCatalog declares Contoso.Test/widgets with the metadata Apply
// checks: Modifiable, the value type, per-api-version paths.
func mutateCatalog(t testing.TB) *alias.Catalog {
	t.Helper()
	mk := func(prop, path, typ string, modifiable bool) *alias.Alias {
		p, err := value.ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		return &alias.Alias{Name: "Contoso.Test/widgets/" + prop, ResourceType: "Contoso.Test/widgets", DefaultPath: p,
			Modifiable: modifiable, MetadataKnown: true, Type: typ}
	}
	untyped := mk("untyped", "properties.untyped", "", false)
	untyped.MetadataKnown = false
	versioned := mk("versioned", "properties.newName", "String", true)
	versioned.Paths = []alias.VersionedPath{
		{Path: value.Path{{Key: "properties"}, {Key: "oldName"}}, APIVersions: []string{"2020-01-01"}, Modifiable: false},
		{Path: value.Path{{Key: "properties"}, {Key: "newName"}}, APIVersions: []string{"2023-01-01"}, Modifiable: true},
	}
	return alias.NewCatalog(
		mk("flag", "properties.flag", "Boolean", true),
		mk("label", "properties.label", "String", true),
		mk("count", "properties.count", "Integer", true),
		mk("settings", "properties.settings", "Object", true),
		mk("readonly", "properties.readonly", "String", false),
		mk("acl.enabled", "properties.acl.enabled", "Boolean", true),
		mk("ipRules", "properties.ipRules", "Array", true),
		mk("ipRules[*]", "properties.ipRules[*]", "Object", true),
		mk("ipRules[*].action", "properties.ipRules[*].action", "String", true),
		mk("tiers[*]", "properties.tiers[*]", "String", true),
		untyped, versioned,
	)
}

// mutateResult compiles a rule that matches every widget (and virtual
// machine) with the given then-clause and evaluates it against body.
func mutateResult(t testing.TB, cat *alias.Catalog, then, body, apiVersion string) (*Result, value.Value) {
	t.Helper()
	rule := `{"if":{"field":"type","in":["Contoso.Test/widgets","Microsoft.Compute/virtualMachines"]},"then":` + then + `}`
	doc, err := definition.Parse([]byte(`{"properties":{"mode":"All","policyRule":` + rule + `}}`))
	if err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	p, err := Compile(doc.Policy, Options{Aliases: cat})
	if err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	b, err := value.ParseString(body)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	rc := value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(apiVersion)})
	res := p.Evaluate(&Input{Resource: b, APIVersion: apiVersion, RequestContext: rc})
	if res.Err != nil {
		t.Fatalf("%s: %v", rule, res.Err)
	}
	return &res, b
}

func modifyThen(conflict string, ops ...string) string {
	ce := ""
	if conflict != "" {
		ce = `"conflictEffect":"` + conflict + `",`
	}
	return `{"effect":"modify","details":{"roleDefinitionIds":[],` + ce + `"operations":[` + strings.Join(ops, ",") + `]}}`
}

func appendThen(entries ...string) string {
	return `{"effect":"append","details":[` + strings.Join(entries, ",") + `]}`
}

// changeText renders changes as "op path: old -> new" lines.
func changeText(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		old, nw := "-", "-"
		if !c.Old.IsUndefined() {
			old = c.Old.JSON()
		}
		if !c.New.IsUndefined() {
			nw = c.New.JSON()
		}
		fmt.Fprintf(&b, "%s %s: %s -> %s\n", c.Operation, c.Path, old, nw)
	}
	return b.String()
}

func TestApply(t *testing.T) {
	cat := mutateCatalog(t)
	const w = `"type":"Contoso.Test/widgets","name":"w1"`
	tests := []struct {
		name, then, body, api string
		want                  string // body after, as JSON (compared with value.Equal)
		changes               string // changeText
		conflicts, skipped    int
		denied                bool
	}{
		// Modify on a plain property.
		{name: "addOrReplace missing", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/flag","value":true}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"flag":true}}`,
			changes: "addOrReplace properties.flag: - -> true\n"},
		{name: "addOrReplace different", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/flag","value":true}`),
			body: `{` + w + `,"properties":{"Flag":false}}`, want: `{` + w + `,"properties":{"Flag":true}}`,
			changes: "addOrReplace properties.flag: false -> true\n"},
		{name: "addOrReplace equal", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/flag","value":true}`),
			body: `{` + w + `,"properties":{"flag":true}}`, want: `{` + w + `,"properties":{"flag":true}}`},
		{name: "operation names fold case", then: modifyThen("", `{"operation":"ADDORREPLACE","field":"contoso.test/WIDGETS/flag","value":true}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"flag":true}}`,
			changes: "addOrReplace properties.flag: - -> true\n"},
		{name: "add missing", then: modifyThen("", `{"operation":"add","field":"Contoso.Test/widgets/label","value":"x"}`),
			body: `{` + w + `,"properties":{"label":null}}`, want: `{` + w + `,"properties":{"label":"x"}}`,
			changes: "add properties.label: null -> \"x\"\n"},
		{name: "add over a different value: deny", then: modifyThen("", `{"operation":"addOrReplace","field":"tags.a","value":"1"}`, `{"operation":"add","field":"Contoso.Test/widgets/label","value":"x"}`),
			body: `{` + w + `,"properties":{"label":"y"}}`, want: `{` + w + `,"properties":{"label":"y"}}`,
			conflicts: 1, denied: true},
		{name: "add over a different value: audit skips it", then: modifyThen("Audit", `{"operation":"addOrReplace","field":"tags.a","value":"1"}`, `{"operation":"add","field":"Contoso.Test/widgets/label","value":"x"}`),
			body: `{` + w + `,"properties":{"label":"y"}}`, want: `{` + w + `,"properties":{"label":"y"},"tags":{"a":"1"}}`,
			changes: "addOrReplace tags.a: - -> \"1\"\n", conflicts: 1},
		{name: "add over the same value", then: modifyThen("", `{"operation":"add","field":"Contoso.Test/widgets/label","value":"y"}`),
			body: `{` + w + `,"properties":{"label":"y"}}`, want: `{` + w + `,"properties":{"label":"y"}}`},
		{name: "properties created", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/label","value":"x"}`),
			body: `{` + w + `}`, want: `{` + w + `,"properties":{"label":"x"}}`,
			changes: "addOrReplace properties.label: - -> \"x\"\n"},
		{name: "parent absent: skipped", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/acl.enabled","value":true}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{}}`, skipped: 1},
		{name: "parent null: skipped", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/acl.enabled","value":true}`),
			body: `{` + w + `,"properties":{"acl":null}}`, want: `{` + w + `,"properties":{"acl":null}}`, skipped: 1},
		{name: "parent present", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/acl.enabled","value":true}`),
			body: `{` + w + `,"properties":{"acl":{"mode":"x"}}}`, want: `{` + w + `,"properties":{"acl":{"mode":"x","enabled":true}}}`,
			changes: "addOrReplace properties.acl.enabled: - -> true\n"},
		{name: "condition false: skipped", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/flag","value":true,"condition":"[greaterOrEquals(requestContext().apiVersion, '2021-10-01')]"}`),
			body: `{` + w + `,"properties":{}}`, api: "2021-07-01", want: `{` + w + `,"properties":{}}`, skipped: 1},
		{name: "condition true", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/flag","value":true,"condition":"[greaterOrEquals(requestContext().apiVersion, '2021-10-01')]"}`),
			body: `{` + w + `,"properties":{}}`, api: "2021-10-01", want: `{` + w + `,"properties":{"flag":true}}`,
			changes: "addOrReplace properties.flag: - -> true\n"},
		{name: "operations see the ones before", then: modifyThen("", `{"operation":"addOrReplace","field":"tags.a","value":"1"}`, `{"operation":"add","field":"tags.a","value":"1"}`, `{"operation":"addOrReplace","field":"tags['b.c']","value":"2"}`),
			body: `{` + w + `}`, want: `{` + w + `,"tags":{"a":"1","b.c":"2"}}`,
			changes: "addOrReplace tags.a: - -> \"1\"\naddOrReplace tags['b.c']: - -> \"2\"\n"},
		// Tags.
		{name: "tag expression field", then: modifyThen("", `{"operation":"addOrReplace","field":"[concat('tags[', 'env', ']')]","value":"prod"}`),
			body: `{` + w + `,"tags":{"Env":"dev","x":"y"}}`, want: `{` + w + `,"tags":{"Env":"prod","x":"y"}}`,
			changes: "addOrReplace tags.env: \"dev\" -> \"prod\"\n"},
		{name: "remove tag", then: modifyThen("", `{"operation":"remove","field":"tags['env']"}`),
			body: `{` + w + `,"tags":{"env":"dev","x":"y"}}`, want: `{` + w + `,"tags":{"x":"y"}}`,
			changes: "remove tags.env: \"dev\" -> -\n"},
		{name: "remove missing tag", then: modifyThen("", `{"operation":"Remove","field":"tags.env"}`),
			body: `{` + w + `,"tags":{"x":"y"}}`, want: `{` + w + `,"tags":{"x":"y"}}`},
		{name: "remove on an alias: conflict", then: modifyThen("audit", `{"operation":"remove","field":"Contoso.Test/widgets/label"}`),
			body: `{` + w + `,"properties":{"label":"y"}}`, want: `{` + w + `,"properties":{"label":"y"}}`, conflicts: 1},
		// Alias checks.
		{name: "value kind mismatch", then: modifyThen("audit", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/flag","value":"true"}`, `{"operation":"addOrReplace","field":"Contoso.Test/widgets/count","value":3}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"count":3}}`,
			changes: "addOrReplace properties.count: - -> 3\n", conflicts: 1},
		{name: "integer alias refuses a float", then: modifyThen("audit", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/count","value":1.5}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{}}`, conflicts: 1},
		{name: "null fits an object alias", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/settings","value":null}`),
			body: `{` + w + `,"properties":{"settings":{"a":1}}}`, want: `{` + w + `,"properties":{"settings":null}}`,
			changes: "addOrReplace properties.settings: {\"a\":1} -> null\n"},
		{name: "untyped alias without metadata", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/untyped","value":[1]}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"untyped":[1]}}`,
			changes: "addOrReplace properties.untyped: - -> [1]\n"},
		{name: "not modifiable: deny", then: modifyThen("", `{"operation":"addOrReplace","field":"[concat('Contoso.Test/widgets/read', substring(field('name'), 0, 0), 'only')]","value":"x"}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{}}`, conflicts: 1, denied: true},
		{name: "not modifiable: disabled", then: modifyThen("disabled", `{"operation":"addOrReplace","field":"[concat('Contoso.Test/widgets/read', substring(field('name'), 0, 0), 'only')]","value":"x"}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{}}`, conflicts: 1},
		{name: "unknown alias", then: modifyThen("audit", `{"operation":"addOrReplace","field":"[concat('Contoso.Test/widgets/', 'nope')]","value":"x"}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{}}`, conflicts: 1},
		{name: "versioned path, new api", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/versioned","value":"x"}`),
			body: `{` + w + `,"properties":{}}`, api: "2023-01-01", want: `{` + w + `,"properties":{"newName":"x"}}`,
			changes: "addOrReplace properties.newName: - -> \"x\"\n"},
		{name: "versioned path not modifiable in the old api", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/versioned","value":"x"}`),
			body: `{` + w + `,"properties":{}}`, api: "2020-01-01", want: `{` + w + `,"properties":{}}`, conflicts: 1, denied: true},
		{name: "special field", then: modifyThen("audit", `{"operation":"addOrReplace","field":"location","value":"x"}`),
			body: `{` + w + `}`, want: `{` + w + `}`, conflicts: 1},
		// identity.type
		{name: "identity.type on a virtual machine", then: modifyThen("", `{"operation":"addOrReplace","field":"identity.type","value":"SystemAssigned"}`),
			body: `{"type":"Microsoft.Compute/virtualMachines","name":"vm"}`, want: `{"type":"Microsoft.Compute/virtualMachines","name":"vm","identity":{"type":"SystemAssigned"}}`,
			changes: "addOrReplace identity.type: - -> \"SystemAssigned\"\n"},
		{name: "identity.type on another type: skipped", then: modifyThen("", `{"operation":"addOrReplace","field":"identity.type","value":"SystemAssigned"}`),
			body: `{` + w + `}`, want: `{` + w + `}`, skipped: 1},
		// Arrays.
		{name: "array alias add when missing", then: modifyThen("", `{"operation":"add","field":"Contoso.Test/widgets/ipRules","value":[{"value":"1.1.1.1"}]}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"1.1.1.1"}]}}`,
			changes: "add properties.ipRules: - -> [{\"value\":\"1.1.1.1\"}]\n"},
		{name: "array alias add when present", then: modifyThen("audit", `{"operation":"add","field":"Contoso.Test/widgets/ipRules","value":[{"value":"1.1.1.1"}]}`),
			body: `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2"}]}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2"}]}}`, conflicts: 1},
		{name: "array alias addOrReplace", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/ipRules","value":[{"value":"1.1.1.1"}]}`),
			body: `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2"},{"value":"3.3.3.3"}]}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"1.1.1.1"}]}}`,
			changes: "addOrReplace properties.ipRules: [{\"value\":\"2.2.2.2\"},{\"value\":\"3.3.3.3\"}] -> [{\"value\":\"1.1.1.1\"}]\n"},
		{name: "[*] add appends the member", then: modifyThen("", `{"operation":"add","field":"Contoso.Test/widgets/ipRules[*]","value":{"value":"1.1.1.1"}}`),
			body: `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2"}]}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2"},{"value":"1.1.1.1"}]}}`,
			changes: "add properties.ipRules: [{\"value\":\"2.2.2.2\"}] -> [{\"value\":\"2.2.2.2\"},{\"value\":\"1.1.1.1\"}]\n"},
		{name: "[*] add creates the array", then: modifyThen("", `{"operation":"add","field":"Contoso.Test/widgets/ipRules[*]","value":{"value":"1.1.1.1"}}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"1.1.1.1"}]}}`,
			changes: "add properties.ipRules: - -> [{\"value\":\"1.1.1.1\"}]\n"},
		{name: "[*] add with an array value appends its members", then: modifyThen("", `{"operation":"add","field":"Contoso.Test/widgets/tiers[*]","value":["b","c"]}`),
			body: `{` + w + `,"properties":{"tiers":["a"]}}`, want: `{` + w + `,"properties":{"tiers":["a","b","c"]}}`,
			changes: "add properties.tiers: [\"a\"] -> [\"a\",\"b\",\"c\"]\n"},
		{name: "X where only X[*] is an alias: the array", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/tiers","value":["x"]}`),
			body: `{` + w + `,"properties":{"tiers":["a","b"]}}`, want: `{` + w + `,"properties":{"tiers":["x"]}}`,
			changes: "addOrReplace properties.tiers: [\"a\",\"b\"] -> [\"x\"]\n"},
		{name: "X where only X[*] is an alias: an array value", then: modifyThen("audit", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/tiers","value":"x"}`),
			body: `{` + w + `,"properties":{"tiers":["a","b"]}}`, want: `{` + w + `,"properties":{"tiers":["a","b"]}}`, conflicts: 1},
		{name: "[*] member kind checked", then: modifyThen("audit", `{"operation":"add","field":"Contoso.Test/widgets/tiers[*]","value":["b",1]}`),
			body: `{` + w + `,"properties":{"tiers":["a"]}}`, want: `{` + w + `,"properties":{"tiers":["a"]}}`, conflicts: 1},
		{name: "[*] addOrReplace replaces all members", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/ipRules[*]","value":{"value":"1.1.1.1"}}`),
			body: `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2"},{"value":"3.3.3.3"}]}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"1.1.1.1"}]}}`,
			changes: "addOrReplace properties.ipRules: [{\"value\":\"2.2.2.2\"},{\"value\":\"3.3.3.3\"}] -> [{\"value\":\"1.1.1.1\"}]\n"},
		{name: "[*] on a non-array: conflict", then: modifyThen("audit", `{"operation":"add","field":"Contoso.Test/widgets/ipRules[*]","value":{"value":"1.1.1.1"}}`),
			body: `{` + w + `,"properties":{"ipRules":"x"}}`, want: `{` + w + `,"properties":{"ipRules":"x"}}`, conflicts: 1},
		{name: "[*].prop addOrReplace on each member", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/ipRules[*].action","value":"Allow"}`),
			body:    `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2","action":"Deny"},{"value":"3.3.3.3"},{"value":"4.4.4.4","action":"Allow"}]}}`,
			want:    `{` + w + `,"properties":{"ipRules":[{"value":"2.2.2.2","action":"Allow"},{"value":"3.3.3.3","action":"Allow"},{"value":"4.4.4.4","action":"Allow"}]}}`,
			changes: "addOrReplace properties.ipRules[0].action: \"Deny\" -> \"Allow\"\naddOrReplace properties.ipRules[1].action: - -> \"Allow\"\n"},
		{name: "[*].prop add over a different member value", then: modifyThen("audit", `{"operation":"add","field":"Contoso.Test/widgets/ipRules[*].action","value":"Allow"}`),
			body: `{` + w + `,"properties":{"ipRules":[{"value":"3.3.3.3"},{"value":"2.2.2.2","action":"Deny"}]}}`,
			want: `{` + w + `,"properties":{"ipRules":[{"value":"3.3.3.3"},{"value":"2.2.2.2","action":"Deny"}]}}`, conflicts: 1},
		{name: "[*].prop without members: skipped", then: modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/widgets/ipRules[*].action","value":"Allow"}`),
			body: `{` + w + `,"properties":{"ipRules":[]}}`, want: `{` + w + `,"properties":{"ipRules":[]}}`, skipped: 1},
		// Append.
		{name: "append sets a missing tag", then: appendThen(`{"field":"tags['env']","value":"prod"}`),
			body: `{` + w + `}`, want: `{` + w + `,"tags":{"env":"prod"}}`, changes: "append tags.env: - -> \"prod\"\n"},
		{name: "append over the same value", then: appendThen(`{"field":"tags['env']","value":"prod"}`),
			body: `{` + w + `,"tags":{"ENV":"prod"}}`, want: `{` + w + `,"tags":{"ENV":"prod"}}`},
		{name: "append over a different value: deny", then: appendThen(`{"field":"Contoso.Test/widgets/label","value":"z"}`, `{"field":"tags['env']","value":"prod"}`),
			body: `{` + w + `,"tags":{"env":"dev"}}`, want: `{` + w + `,"tags":{"env":"dev"}}`, conflicts: 1, denied: true},
		{name: "append needs no Modifiable alias", then: appendThen(`{"field":"Contoso.Test/widgets/readonly","value":"z"}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"readonly":"z"}}`, changes: "append properties.readonly: - -> \"z\"\n"},
		{name: "append whole array over an existing one: deny", then: appendThen(`{"field":"Contoso.Test/widgets/ipRules","value":[{"value":"1.1.1.1"}]}`),
			body: `{` + w + `,"properties":{"ipRules":[]}}`, want: `{` + w + `,"properties":{"ipRules":[]}}`, conflicts: 1, denied: true},
		{name: "append [*] creates the array", then: appendThen(`{"field":"Contoso.Test/widgets/ipRules[*]","value":{"value":"1.1.1.1"}}`),
			body: `{` + w + `,"properties":{}}`, want: `{` + w + `,"properties":{"ipRules":[{"value":"1.1.1.1"}]}}`,
			changes: "append properties.ipRules: - -> [{\"value\":\"1.1.1.1\"}]\n"},
		{name: "append [*].prop on each member", then: appendThen(`{"field":"Contoso.Test/widgets/ipRules[*].action","value":"Allow"}`),
			body:    `{` + w + `,"properties":{"ipRules":[{"value":"3.3.3.3"},{"value":"2.2.2.2","action":"Allow"}]}}`,
			want:    `{` + w + `,"properties":{"ipRules":[{"value":"3.3.3.3","action":"Allow"},{"value":"2.2.2.2","action":"Allow"}]}}`,
			changes: "append properties.ipRules[0].action: - -> \"Allow\"\n"},
		{name: "append [*].prop over a different member value: deny", then: appendThen(`{"field":"Contoso.Test/widgets/ipRules[*].action","value":"Allow"}`),
			body: `{` + w + `,"properties":{"ipRules":[{"value":"3.3.3.3"},{"value":"2.2.2.2","action":"Deny"}]}}`,
			want: `{` + w + `,"properties":{"ipRules":[{"value":"3.3.3.3"},{"value":"2.2.2.2","action":"Deny"}]}}`, conflicts: 1, denied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := mutateResult(t, cat, tt.then, tt.body, tt.api)
			if res.Effect != Modify && res.Effect != Append {
				t.Fatalf("effect %s, want Modify or Append", res.Effect)
			}
			before := body.JSON()
			m, err := Apply(body, res, ApplyOptions{APIVersion: tt.api, Aliases: cat})
			if err != nil {
				t.Fatal(err)
			}
			if body.JSON() != before {
				t.Errorf("the input body changed: %s", body.JSON())
			}
			want, err := value.ParseString(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !value.Equal(m.Body, want) {
				t.Errorf("body = %s\nwant   %s", m.Body.JSON(), want.JSON())
			}
			if got := changeText(m.Changes); got != tt.changes {
				t.Errorf("changes:\n%swant:\n%s", got, tt.changes)
			}
			if len(m.Conflicts) != tt.conflicts {
				t.Errorf("conflicts = %v, want %d", m.Conflicts, tt.conflicts)
			}
			if len(m.Skipped) != tt.skipped {
				t.Errorf("skipped = %v, want %d", m.Skipped, tt.skipped)
			}
			if m.Denied() != tt.denied {
				t.Errorf("Denied() = %v, want %v (conflicts %v)", m.Denied(), tt.denied, m.Conflicts)
			}
		})
	}
}

// TestApplyRawPaths: without a catalog, fields are JSON paths (as in
// Compile's raw mode) and nothing is checked against alias metadata.
func TestApplyRawPaths(t *testing.T) {
	res, body := mutateResult(t, nil, modifyThen("", `{"operation":"addOrReplace","field":"properties.a.b","value":1}`, `{"operation":"add","field":"properties.list[*]","value":"x"}`),
		`{"type":"Contoso.Test/widgets","properties":{"a":{}}}`, "")
	m, err := Apply(body, res, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Body.JSON(), `{"type":"Contoso.Test/widgets","properties":{"a":{"b":1},"list":["x"]}}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestApplyErrors(t *testing.T) {
	body := value.ObjectValue()
	for _, tt := range []struct {
		name string
		res  Result
	}{
		{"evaluation error", Result{Effect: Modify, Err: fmt.Errorf("boom")}},
		{"deny", Result{Effect: Deny}},
		{"none", Result{}},
		{"modify without details", Result{Effect: Modify}},
		{"append without details", Result{Effect: Append}},
	} {
		if _, err := Apply(body, &tt.res, ApplyOptions{}); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	res := Result{Effect: Modify, Details: value.ObjectValue(value.Member{Key: "operations", Value: value.ArrayValue(nil)})}
	if _, err := Apply(value.StringValue("x"), &res, ApplyOptions{}); err == nil {
		t.Error("a string body: no error")
	}
}

// mlModifyProgram compiles a Machine Learning Modify built-in read in place,
// with the ML alias catalog of ../shared (name and path only).
func mlModifyProgram(tb testing.TB, file string) (*Program, *alias.Catalog) {
	tb.Helper()
	path := needShared(tb, filepath.Join(mlBuiltinsDir, file))
	cat, err := alias.LoadFile(needShared(tb, "corpus/aliases/Microsoft.MachineLearningServices.json"))
	if err != nil {
		tb.Fatal(err)
	}
	files, err := definition.LoadPaths([]string{path})
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) != 1 || files[0].Err != nil {
		tb.Fatalf("%s: %v", path, files)
	}
	p, err := Compile(files[0].Doc.Policy, Options{Aliases: cat})
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return p, cat
}

func evalAt(p *Program, body value.Value, apiVersion string) Result {
	rc := value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(apiVersion)})
	return p.Evaluate(&Input{Resource: body, APIVersion: apiVersion, RequestContext: rc})
}

const mlComputeBody = `{"id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/cpu",
"name":"cpu","type":"Microsoft.MachineLearningServices/workspaces/computes","location":"eastus",
"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"minNodeCount":0,"maxNodeCount":4}}}}`

const mlWorkspaceBody = `{"id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
"name":"ws","type":"Microsoft.MachineLearningServices/workspaces","location":"eastus","identity":{"type":"SystemAssigned"},
"properties":{"friendlyName":"ws","storageAccount":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"}}`

// TestApplyMLDisableLocalAuth: the built-in sets disableLocalAuth on an
// AmlCompute that does not have it, and leaves a compliant one alone.
func TestApplyMLDisableLocalAuth(t *testing.T) {
	p, cat := mlModifyProgram(t, "DisableLocalAuth_Modify.json")
	body, err := value.ParseString(mlComputeBody)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cat  *alias.Catalog
	}{{"corpus catalog", cat}, {"builtin catalog", alias.Builtin()}} {
		res := evalAt(p, body, "2024-04-01")
		if res.Effect != Modify {
			t.Fatalf("effect %s (%+v), want Modify", res.Effect, res)
		}
		m, err := Apply(body, &res, ApplyOptions{APIVersion: "2024-04-01", Aliases: c.cat})
		if err != nil {
			t.Fatal(err)
		}
		if m.ConflictEffect != ConflictAudit || len(m.Conflicts) != 0 || len(m.Skipped) != 0 {
			t.Fatalf("%s: conflictEffect %s, conflicts %v, skipped %v", c.name, m.ConflictEffect, m.Conflicts, m.Skipped)
		}
		if got := m.Body.At(value.Path{{Key: "properties"}, {Key: "disableLocalAuth"}}); got.Kind() != value.Bool || !got.Bool() {
			t.Errorf("%s: disableLocalAuth = %s in %s", c.name, got.JSON(), m.Body.JSON())
		}
		if got := changeText(m.Changes); got != "addOrReplace properties.disableLocalAuth: - -> true\n" {
			t.Errorf("%s: changes %q", c.name, got)
		}
		if m.Changes[0].Field != "Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth" {
			t.Errorf("%s: field %q", c.name, m.Changes[0].Field)
		}
		// The rest of the body is untouched.
		if !value.Equal(m.Body.Field("properties").Field("properties"), body.Field("properties").Field("properties")) || m.Body.Field("name").Str() != "cpu" {
			t.Errorf("%s: body %s", c.name, m.Body.JSON())
		}
		// The mutated body no longer matches: the policy is satisfied.
		if again := evalAt(p, m.Body, "2024-04-01"); again.Effect != None {
			t.Errorf("%s: after the change the effect is %s", c.name, again.Effect)
		}
	}
}

// TestApplyMLWorkspacePublicNetworkAccess: publicNetworkAccess becomes
// Disabled from api-version 2021-10-01 (the operation's condition); an
// older api-version skips the operation.
func TestApplyMLWorkspacePublicNetworkAccess(t *testing.T) {
	p, cat := mlModifyProgram(t, "Workspace_PublicNetworkAccessDisabled_Modify.json")
	body, err := value.ParseString(mlWorkspaceBody)
	if err != nil {
		t.Fatal(err)
	}
	enabled := body.With("properties", body.Field("properties").With("publicNetworkAccess", value.StringValue("Enabled")))
	for _, tt := range []struct {
		name, api string
		body      value.Value
		want      string // publicNetworkAccess after ("" = absent)
		changes   string
	}{
		{"2021-10-01", "2021-10-01", body, "Disabled", "addOrReplace properties.publicNetworkAccess: - -> \"Disabled\"\n"},
		{"2024-04-01 over Enabled", "2024-04-01", enabled, "Disabled", "addOrReplace properties.publicNetworkAccess: \"Enabled\" -> \"Disabled\"\n"},
		{"2021-07-01 skips", "2021-07-01", body, "", ""},
		{"2021-07-01 leaves Enabled", "2021-07-01", enabled, "Enabled", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := evalAt(p, tt.body, tt.api)
			if res.Effect != Modify {
				t.Fatalf("effect %s, want Modify", res.Effect)
			}
			m, err := Apply(tt.body, &res, ApplyOptions{APIVersion: tt.api, Aliases: cat})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Body.Field("properties").Field("publicNetworkAccess").Str(); got != tt.want {
				t.Errorf("publicNetworkAccess = %q, want %q", got, tt.want)
			}
			if got := changeText(m.Changes); got != tt.changes {
				t.Errorf("changes %q, want %q", got, tt.changes)
			}
			if wantSkip := tt.changes == ""; (len(m.Skipped) == 1) != wantSkip {
				t.Errorf("skipped %v", m.Skipped)
			}
			if len(m.Conflicts) != 0 || m.Denied() {
				t.Errorf("conflicts %v", m.Conflicts)
			}
			if !value.Equal(m.Body.Field("identity"), tt.body.Field("identity")) {
				t.Errorf("identity changed: %s", m.Body.JSON())
			}
		})
	}
}

// BenchmarkApply measures Apply alone for the DisableLocalAuth built-in on
// an AmlCompute body (the evaluation is done once, outside the loop).
func BenchmarkApply(b *testing.B) {
	p, cat := mlModifyProgram(b, "DisableLocalAuth_Modify.json")
	body, err := value.ParseString(mlComputeBody)
	if err != nil {
		b.Fatal(err)
	}
	res := evalAt(p, body, "2024-04-01")
	if res.Effect != Modify {
		b.Fatalf("effect %s", res.Effect)
	}
	opts := ApplyOptions{APIVersion: "2024-04-01", Aliases: cat}
	b.ReportAllocs()
	for b.Loop() {
		m, err := Apply(body, &res, opts)
		if err != nil || len(m.Changes) != 1 {
			b.Fatal(err, m.Changes)
		}
	}
}

// TestApplyAlternatives: a namespace-level alias listed with several paths
// (catalogs without types) changes the first path present in the body, the
// one conditions read.
func TestApplyAlternatives(t *testing.T) {
	cat := alias.NewCatalog(
		&alias.Alias{Name: "Contoso.Test/alt", ResourceType: "Contoso.Test", DefaultPath: value.Path{{Key: "properties"}, {Key: "a"}}},
		&alias.Alias{Name: "Contoso.Test/alt", ResourceType: "Contoso.Test", DefaultPath: value.Path{{Key: "properties"}, {Key: "b"}}},
	)
	for _, tt := range []struct{ body, want string }{
		{`{"type":"Contoso.Test/widgets","properties":{"b":"old"}}`, `{"type":"Contoso.Test/widgets","properties":{"b":"new"}}`},
		{`{"type":"Contoso.Test/widgets","properties":{"a":"old","b":"old"}}`, `{"type":"Contoso.Test/widgets","properties":{"a":"new","b":"old"}}`},
		{`{"type":"Contoso.Test/widgets","properties":{}}`, `{"type":"Contoso.Test/widgets","properties":{"a":"new"}}`},
	} {
		res, body := mutateResult(t, cat, modifyThen("", `{"operation":"addOrReplace","field":"Contoso.Test/alt","value":"new"}`), tt.body, "")
		m, err := Apply(body, res, ApplyOptions{Aliases: cat})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Body.JSON(); got != tt.want {
			t.Errorf("%s: body = %s, want %s", tt.body, got, tt.want)
		}
	}
}

// TestApplyMLGenerated applies the Machine Learning built-ins' Modify and
// Append results to generated resources: no error, the input is left
// alone, and the mutated body is stable (evaluated again, it yields no
// further change).
func TestApplyMLGenerated(t *testing.T) {
	progs := mlPrograms(t)
	opts := ApplyOptions{APIVersion: "2024-04-01", Aliases: alias.Builtin()}
	applied := 0
	for _, r := range mlResources(t, 2000, 11) {
		for _, p := range progs {
			res := evalAt(p, r, opts.APIVersion)
			if res.Effect != Modify && res.Effect != Append {
				continue
			}
			before := r.JSON()
			m, err := Apply(r, &res, opts)
			if err != nil {
				t.Fatalf("%s: %v", p.Definition.Name, err)
			}
			if r.JSON() != before {
				t.Fatalf("%s changed its input", p.Definition.Name)
			}
			if m.Denied() || len(m.Conflicts) > 0 {
				t.Fatalf("%s on %s: conflicts %v", p.Definition.Name, before, m.Conflicts)
			}
			if len(m.Changes) > 0 {
				applied++
			}
			again := evalAt(p, m.Body, opts.APIVersion)
			if again.Effect == None {
				continue
			}
			m2, err := Apply(m.Body, &again, opts)
			if err != nil || len(m2.Changes) > 0 {
				t.Fatalf("%s: not stable: %v %v", p.Definition.Name, err, m2.Changes)
			}
		}
	}
	if applied == 0 {
		t.Fatal("no Modify or Append changed any generated resource")
	}
	t.Logf("%d changes applied", applied)
}
