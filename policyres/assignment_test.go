package policyres

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

var assignID = subScope + auth + "/policyAssignments/a1"

// setResolver adds an initiative with members "pip" (effectDef) and
// "locations" (requiredDef) to testResolver.
func setResolver(t *testing.T) *MemResolver {
	t.Helper()
	r := testResolver(t)
	storeSet(t, r, setID, `{"properties": {"parameters": {"locs": {"type": "Array", "defaultValue": ["westeurope"]}}, "policyDefinitions": [
		{"policyDefinitionId": "`+effectDefID+`", "policyDefinitionReferenceId": "pip"},
		{"policyDefinitionId": "`+requiredDefID+`", "policyDefinitionReferenceId": "locations", "parameters": {"allowed": {"value": "[parameters('locs')]"}}}]}}`)
	return r
}

func TestBuildAssignmentErrors(t *testing.T) {
	r := setResolver(t)
	def := `"policyDefinitionId": "` + effectDefID + `"`
	set := `"policyDefinitionId": "` + setID + `"`
	cases := []struct {
		name, body, code, target string
	}{
		{"no definition id", `{"properties": {"displayName": "x"}}`, CodeInvalidRequestContent, "/properties/policyDefinitionId"},
		{"definition not found", `{"properties": {"policyDefinitionId": "` + subScope + auth + `/policyDefinitions/nope"}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitionId"},
		{"built-in not found", `{"properties": {"policyDefinitionId": "` + auth + `/policyDefinitions/00000000-0000-0000-0000-00000000dead"}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitionId"},
		{"set not found", `{"properties": {"policyDefinitionId": "` + subScope + auth + `/policySetDefinitions/nope"}}`, CodePolicySetDefinitionNotFound, "/properties/policyDefinitionId"},
		{"not a policy id", `{"properties": {"policyDefinitionId": "` + rgScope + `"}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitionId"},
		{"definition of another subscription", `{"properties": {"policyDefinitionId": "` + otherDefID + `"}}`, CodePolicyDefinitionNotFound, "/properties/policyDefinitionId"},
		{"undefined parameter", `{"properties": {` + def + `, "parameters": {"nope": {"value": 1}}}}`, CodeUndefinedPolicyParameter, "/properties/parameters/nope"},
		{"parameter not wrapped", `{"properties": {` + def + `, "parameters": {"effectType": "Deny"}}}`, CodeInvalidRequestContent, "/properties/parameters/effectType"},
		{"parameter of the wrong type", `{"properties": {` + def + `, "parameters": {"effectType": {"value": ["Deny"]}}}}`, CodeInvalidPolicyParameterType, "/properties/parameters/effectType/value"},
		{"parameter not allowed (case-sensitive)", `{"properties": {` + def + `, "parameters": {"effectType": {"value": "deny"}}}}`, CodePolicyParameterValueNotAllowed, "/properties/parameters/effectType/value"},
		{"required parameter missing", `{"properties": {"policyDefinitionId": "` + requiredDefID + `"}}`, CodeMissingPolicyParameter, "/properties/parameters"},
		{"set parameter of the wrong type", `{"properties": {` + set + `, "parameters": {"locs": {"value": "westeurope"}}}}`, CodeInvalidPolicyParameterType, "/properties/parameters/locs/value"},
		{"bad notScope", `{"properties": {` + def + `, "notScopes": ["not/an/id"]}}`, CodeInvalidRequestContent, "/properties/notScopes/0"},
		{"notScopes not an array", `{"properties": {` + def + `, "notScopes": "x"}}`, CodeInvalidRequestContent, "/properties/notScopes"},
		{"bad enforcementMode", `{"properties": {` + def + `, "enforcementMode": "Sometimes"}}`, CodeInvalidRequestContent, "/properties/enforcementMode"},
		{"message without text", `{"properties": {` + def + `, "nonComplianceMessages": [{"message": "ok"}, {"policyDefinitionReferenceId": "x"}]}}`, CodeInvalidRequestContent, "/properties/nonComplianceMessages/1/message"},
		{"message for an unknown member", `{"properties": {` + set + `, "nonComplianceMessages": [{"message": "m", "policyDefinitionReferenceId": "nope"}]}}`, CodeInvalidPolicyDefinitionReference, "/properties/nonComplianceMessages/0/policyDefinitionReferenceId"},
		{"message reference on a definition", `{"properties": {` + def + `, "nonComplianceMessages": [{"message": "m", "policyDefinitionReferenceId": "pip"}]}}`, CodeInvalidPolicyDefinitionReference, "/properties/nonComplianceMessages/0/policyDefinitionReferenceId"},
		{"override kind", `{"properties": {` + set + `, "overrides": [{"kind": "policyVersionX", "value": "Disabled"}]}}`, CodeInvalidPolicyOverride, "/properties/overrides/0/kind"},
		{"override value", `{"properties": {` + set + `, "overrides": [{"kind": "policyEffect", "value": "Banana"}]}}`, CodeInvalidPolicyOverride, "/properties/overrides/0/value"},
		{"override selector kind", `{"properties": {` + set + `, "overrides": [{"kind": "policyEffect", "value": "Disabled", "selectors": [{"kind": "resourceType", "in": ["a/b"]}]}]}}`, CodeInvalidResourceSelectors, "/properties/overrides/0/selectors/0/kind"},
		{"override selector member", `{"properties": {` + set + `, "overrides": [{"kind": "policyEffect", "value": "Disabled", "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["pip", "nope"]}]}]}}`, CodeInvalidPolicyDefinitionReference, "/properties/overrides/0/selectors/0/in/1"},
		{"override selector in and notIn", `{"properties": {` + set + `, "overrides": [{"kind": "policyEffect", "value": "Disabled", "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["pip"], "notIn": ["locations"]}]}]}}`, CodeInvalidResourceSelectors, "/properties/overrides/0/selectors/0"},
		{"selector kind twice", `{"properties": {` + def + `, "resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceType", "in": ["a/b"]}, {"kind": "resourceType", "notIn": ["c/d"]}]}]}}`, CodeInvalidResourceSelectors, "/properties/resourceSelectors/0/selectors/1/kind"},
		{"selector location with without-location", `{"properties": {` + def + `, "resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceLocation", "in": ["westus"]}, {"kind": "resourceWithoutLocation", "in": ["subscriptionLevelResources"]}]}]}}`, CodeInvalidResourceSelectors, "/properties/resourceSelectors/0/selectors"},
		{"selector without-location value", `{"properties": {` + def + `, "resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceWithoutLocation", "in": ["elsewhere"]}]}]}}`, CodeInvalidResourceSelectors, "/properties/resourceSelectors/0/selectors/0/in/0"},
		{"selector unknown kind", `{"properties": {` + def + `, "resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceName", "in": ["x"]}]}]}}`, CodeInvalidResourceSelectors, "/properties/resourceSelectors/0/selectors/0/kind"},
		{"selector empty in", `{"properties": {` + def + `, "resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceType", "in": []}]}]}}`, CodeInvalidResourceSelectors, "/properties/resourceSelectors/0/selectors/0/in"},
		{"selector group without name", `{"properties": {` + def + `, "resourceSelectors": [{"selectors": [{"kind": "resourceType", "in": ["a/b"]}]}]}}`, CodeInvalidRequestContent, "/properties/resourceSelectors/0/name"},
		{"identity without location", `{"identity": {"type": "SystemAssigned"}, "properties": {` + def + `}}`, CodeInvalidRequestContent, "/location"},
		{"identity type", `{"identity": {"type": "Robot"}, "location": "westus", "properties": {` + def + `}}`, CodeInvalidRequestContent, "/identity/type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildAssignment(ctx, mustID(t, assignID), mustParse(t, c.body), value.Value{}, r, testOpts)
			wantErr(t, err, c.code, c.target)
		})
	}
}

func TestBuildAssignmentNormalizes(t *testing.T) {
	r := setResolver(t)
	id := rgScope + "/providers/Microsoft.MachineLearningServices/workspaces/ws1" + auth + "/policyAssignments/onWorkspace"
	body := `{"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {
		"displayName": "d", "policyDefinitionId": "/` + setID + `", "scope": "/subscriptions/` + otherSub + `",
		"definitionVersion": "1.*.*", "enforcementMode": "donotenforce", "notScopes": ["//subscriptions/` + sub + `/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/c1"],
		"parameters": {"LOCS": {"value": ["westus"]}},
		"nonComplianceMessages": [{"message": "default"}, {"message": "no public IP", "policyDefinitionReferenceId": "PIP"}],
		"overrides": [{"kind": "PolicyEffect", "value": "disabled", "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["Pip"]}]}],
		"resourceSelectors": [{"name": "eu", "selectors": [{"kind": "resourceLocation", "in": ["westeurope"]}]}]}}`
	got, err := BuildAssignment(ctx, mustID(t, id), mustParse(t, body), value.Value{}, r, testOpts)
	wantOK(t, err)
	want := map[string]string{
		"scope":                 `"` + rgScope + `/providers/Microsoft.MachineLearningServices/workspaces/ws1"`,
		"policyDefinitionId":    `"` + setID + `"`,
		"enforcementMode":       `"DoNotEnforce"`,
		"definitionVersion":     `"1.*.*"`,
		"notScopes":             `["` + rgScope + `/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/c1"]`,
		"parameters":            `{"LOCS":{"value":["westus"]}}`,
		"overrides":             `[{"kind":"policyEffect","value":"Disabled","selectors":[{"kind":"policyDefinitionReferenceId","in":["pip"]}]}]`,
		"nonComplianceMessages": `[{"message":"default"},{"message":"no public IP","policyDefinitionReferenceId":"pip"}]`,
	}
	for k, w := range want {
		if g := got.Field(k).JSON(); g != w {
			t.Errorf("%s = %s, want %s", k, g, w)
		}
	}
	if got.Field("metadata").Field("createdBy").Str() != testOpts.Caller {
		t.Errorf("metadata %s", got.Field("metadata").JSON())
	}
	// Defaults: enforcementMode Default; a built-in id at the tenant scope.
	got, err = BuildAssignment(ctx, mustID(t, assignID), mustParse(t, `{"properties": {"policyDefinitionId": "`+effectDefID+`", "parameters": {"effectType": {"value": "Disabled"}}}}`), value.Value{}, r, testOpts)
	wantOK(t, err)
	if got.Field("enforcementMode").Str() != "Default" || got.Field("scope").Str() != subScope {
		t.Errorf("got %s", got.JSON())
	}
}

// TestAssignBuiltIns: every real ML built-in definition and initiative
// can be assigned at a subscription (with no parameter values: refused
// only for a parameter without a default); initiative members that are
// not loaded are left out.
func TestAssignBuiltIns(t *testing.T) {
	defs := corpusFiles(t, "policyDefinitions")
	sets := corpusFiles(t, "policySetDefinitions")
	r := NewMemResolver()
	var ids []string
	for _, f := range defs {
		v := readJSON(t, f)
		id := auth + "/policyDefinitions/" + v.Field("name").Str()
		if err := r.AddDefinition(id, v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, f := range sets {
		v := readJSON(t, f)
		id := auth + "/policySetDefinitions/" + v.Field("name").Str() + "-" + strings.TrimSuffix(filepath.Base(f), ".json")
		if err := r.AddSetDefinition(id, v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ok, missing := 0, 0
	for _, id := range ids {
		_, err := BuildAssignment(ctx, mustID(t, assignID), mustParse(t, `{"properties": {"policyDefinitionId": "`+id+`"}}`), value.Value{}, r, testOpts)
		var ae *arm.Error
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ae) && ae.Code == CodeMissingPolicyParameter:
			missing++
		default:
			t.Errorf("%s: %v", id, err)
		}
	}
	t.Logf("%d built-ins assigned, %d need parameter values", ok, missing)
	if ok == 0 {
		t.Error("no built-in could be assigned")
	}
}
