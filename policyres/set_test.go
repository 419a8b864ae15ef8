package policyres

import (
	"regexp"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

const (
	// effectDef has an effect parameter with a default and allowedValues.
	effectDefBody = `{"properties": {"mode": "All", "parameters": {"effectType": {"type": "string", "defaultValue": "Deny", "allowedValues": ["Deny", "Disabled"]}},
		"policyRule": {"if": {"allOf": [{"field": "type", "equals": "Microsoft.MachineLearningServices/workspaces/computes"},
			{"field": "Microsoft.MachineLearningServices/workspaces/computes/enableNodePublicIP", "equals": true}]},
			"then": {"effect": "[parameters('effectType')]"}}}}`
	// requiredDef has a required array parameter.
	requiredDefBody = `{"properties": {"mode": "Indexed", "parameters": {"allowed": {"type": "Array"}},
		"policyRule": {"if": {"field": "location", "notIn": "[parameters('allowed')]"}, "then": {"effect": "audit"}}}}`
)

var (
	effectDefID   = subScope + auth + "/policyDefinitions/effectDef"
	requiredDefID = subScope + auth + "/policyDefinitions/requiredDef"
	otherDefID    = "/subscriptions/" + otherSub + auth + "/policyDefinitions/elsewhere"
	setID         = subScope + auth + "/policySetDefinitions/set1"
)

// store builds a definition the way the write path will and adds it.
func storeDefinition(t *testing.T, r *MemResolver, id, body string) {
	t.Helper()
	p, err := BuildDefinition(ctx, mustID(t, id), mustParse(t, body), value.Value{}, r, testOpts)
	wantOK(t, err)
	if err := r.AddDefinition(id, value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id)}, value.Member{Key: "properties", Value: p})); err != nil {
		t.Fatal(err)
	}
}

func storeSet(t *testing.T, r *MemResolver, id, body string) value.Value {
	t.Helper()
	p, err := BuildSetDefinition(ctx, mustID(t, id), mustParse(t, body), value.Value{}, r, testOpts)
	wantOK(t, err)
	stored := value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id)}, value.Member{Key: "properties", Value: p})
	if err := r.AddSetDefinition(id, stored); err != nil {
		t.Fatal(err)
	}
	return stored
}

func testResolver(t *testing.T) *MemResolver {
	t.Helper()
	r := NewMemResolver()
	storeDefinition(t, r, effectDefID, effectDefBody)
	storeDefinition(t, r, requiredDefID, requiredDefBody)
	storeDefinition(t, r, otherDefID, requiredDefBody)
	return r
}

func TestBuildSetDefinitionErrors(t *testing.T) {
	r := testResolver(t)
	cases := []struct {
		name, body, code, target string
	}{
		{"no members", `{"properties": {"policyDefinitions": []}}`, CodeInvalidRequestContent, "/properties/policyDefinitions"},
		{"members missing", `{"properties": {"displayName": "x"}}`, CodeInvalidRequestContent, "/properties/policyDefinitions"},
		{"member without id", `{"properties": {"policyDefinitions": [{"policyDefinitionReferenceId": "a"}]}}`, CodeInvalidRequestContent, "/properties/policyDefinitions/0/policyDefinitionId"},
		{"member not found", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `"}, {"policyDefinitionId": "` + subScope + auth + `/policyDefinitions/nope"}]}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitions/1/policyDefinitionId"},
		{"member in another subscription", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + otherDefID + `", "parameters": {"allowed": {"value": []}}}]}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitions/0/policyDefinitionId"},
		{"member is a set", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + setID + `"}]}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitions/0/policyDefinitionId"},
		{"duplicate reference ids", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "policyDefinitionReferenceId": "a"}, {"policyDefinitionId": "` + effectDefID + `", "policyDefinitionReferenceId": "A"}]}}`, CodeDuplicatePolicyDefinitionReferenceID, "/properties/policyDefinitions/1/policyDefinitionReferenceId"},
		{"undefined member parameter", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "parameters": {"foo": {"value": "abc"}}}]}}`, CodeUndefinedPolicyParameter, "/properties/policyDefinitions/0/parameters/foo"},
		{"member parameter of the wrong type", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "parameters": {"effectType": {"value": 3}}}]}}`, CodeInvalidPolicyParameterType, "/properties/policyDefinitions/0/parameters/effectType/value"},
		{"member parameter not allowed", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "parameters": {"effectType": {"value": "Audit"}}}]}}`, CodePolicyParameterValueNotAllowed, "/properties/policyDefinitions/0/parameters/effectType/value"},
		{"member parameter missing", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + requiredDefID + `"}]}}`, CodeMissingPolicyParameter, "/properties/policyDefinitions/0"},
		{"member parameter not wrapped", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "parameters": {"effectType": "Deny"}}]}}`, CodeInvalidRequestContent, "/properties/policyDefinitions/0/parameters/effectType"},
		{"unused initiative parameter", `{"properties": {"parameters": {"unused": {"type": "String"}}, "policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `"}]}}`, CodeUnusedPolicyParameters, "/properties/parameters/unused"},
		{"undeclared initiative parameter", `{"properties": {"policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "parameters": {"effectType": {"value": "[parameters('nope')]"}}}]}}`, CodeInvalidPolicyParameters, "/properties/policyDefinitions/0/parameters/effectType/value"},
		{"initiative default not allowed by the member", `{"properties": {"parameters": {"eff": {"type": "String", "defaultValue": "Audit"}}, "policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "parameters": {"effectType": {"value": "[parameters('eff')]"}}}]}}`, CodePolicyParameterValueNotAllowed, "/properties/policyDefinitions/0"},
		{"unknown group", `{"properties": {"policyDefinitionGroups": [{"name": "g1"}], "policyDefinitions": [{"policyDefinitionId": "` + effectDefID + `", "groupNames": ["g2"]}]}}`, CodeInvalidRequestContent, "/properties/policyDefinitions/0/groupNames/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildSetDefinition(ctx, mustID(t, setID), mustParse(t, c.body), value.Value{}, r, testOpts)
			wantErr(t, err, c.code, c.target)
		})
	}
}

func TestBuildSetDefinitionReferenceIDs(t *testing.T) {
	r := testResolver(t)
	body := `{"properties": {"policyType": "BuiltIn", "parameters": {"eff": {"type": "String", "defaultValue": "Disabled"}, "locs": {"type": "Array"}},
		"policyDefinitions": [
			{"policyDefinitionId": "` + effectDefID + `", "parameters": {"effectType": {"value": "[parameters('eff')]"}}},
			{"policyDefinitionId": "` + effectDefID + `", "policyDefinitionReferenceId": "second"},
			{"policyDefinitionId": "/SUBSCRIPTIONS/` + sub + `/providers/microsoft.authorization/policydefinitions/REQUIREDDEF", "parameters": {"allowed": {"value": "[parameters('locs')]"}}}]}}`
	got, err := BuildSetDefinition(ctx, mustID(t, setID), mustParse(t, body), value.Value{}, r, testOpts)
	wantOK(t, err)
	if got.Field("policyType").Str() != "Custom" {
		t.Errorf("policyType %s", got.Field("policyType").JSON())
	}
	members := got.Field("policyDefinitions").Elems()
	gen0, gen2 := members[0].Field("policyDefinitionReferenceId").Str(), members[2].Field("policyDefinitionReferenceId").Str()
	numeric := regexp.MustCompile(`^[0-9]+$`)
	if !numeric.MatchString(gen0) || !numeric.MatchString(gen2) || gen0 == gen2 {
		t.Errorf("generated reference ids %q %q: want distinct numbers", gen0, gen2)
	}
	if s := members[1].Field("policyDefinitionReferenceId").Str(); s != "second" {
		t.Errorf("explicit reference id became %q", s)
	}
	// An update keeps the generated ids.
	stored := value.ObjectValue(value.Member{Key: "properties", Value: got})
	again, err := BuildSetDefinition(ctx, mustID(t, setID), mustParse(t, body), stored, r, testOpts)
	wantOK(t, err)
	m2 := again.Field("policyDefinitions").Elems()
	if m2[0].Field("policyDefinitionReferenceId").Str() != gen0 || m2[2].Field("policyDefinitionReferenceId").Str() != gen2 {
		t.Errorf("update changed generated ids: %s", again.Field("policyDefinitions").JSON())
	}
}
