package policyres

import (
	"context"
	"errors"
	"testing"

	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

var (
	setAssignID = rgScope + auth + "/policyAssignments/setOnRG"
	defAssignID = subScope + auth + "/policyAssignments/defOnSub"
	exemptID    = rgScope + "/providers/Microsoft.MachineLearningServices/workspaces/ws1" + auth + "/policyExemptions/x1"
)

// exemptionResolver adds two stored assignments: the initiative at rg1
// and effectDef at the subscription.
func exemptionResolver(t *testing.T) *MemResolver {
	t.Helper()
	r := setResolver(t)
	for id, body := range map[string]string{
		setAssignID: `{"properties": {"policyDefinitionId": "` + setID + `"}}`,
		defAssignID: `{"properties": {"policyDefinitionId": "` + effectDefID + `"}}`,
	} {
		p, err := BuildAssignment(ctx, mustID(t, id), mustParse(t, body), value.Value{}, r, testOpts)
		wantOK(t, err)
		r.AddAssignment(id, value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id)}, value.Member{Key: "properties", Value: p}))
	}
	return r
}

func TestBuildExemptionErrors(t *testing.T) {
	r := exemptionResolver(t)
	otherRG := subScope + "/resourceGroups/rg2" + auth + "/policyExemptions/x2"
	cases := []struct {
		name, id, body, code, target string
	}{
		{"no assignment", exemptID, `{"properties": {"exemptionCategory": "Waiver"}}`, CodeInvalidCreatePolicyExemptionRequest, "/properties/policyAssignmentId"},
		{"assignment not found", exemptID, `{"properties": {"exemptionCategory": "Waiver", "policyAssignmentId": "` + setAssignID + `x"}}`, CodeInvalidCreatePolicyExemptionRequest, "/properties/policyAssignmentId"},
		{"outside the assignment's scope", otherRG, `{"properties": {"exemptionCategory": "Waiver", "policyAssignmentId": "` + setAssignID + `"}}`, CodeInvalidCreatePolicyExemptionRequest, "/properties/policyAssignmentId"},
		{"bad category", exemptID, `{"properties": {"exemptionCategory": "Forever", "policyAssignmentId": "` + setAssignID + `"}}`, CodeInvalidRequestContent, "/properties/exemptionCategory"},
		{"no category", exemptID, `{"properties": {"policyAssignmentId": "` + setAssignID + `"}}`, CodeInvalidRequestContent, "/properties/exemptionCategory"},
		{"bad expiresOn", exemptID, `{"properties": {"exemptionCategory": "Waiver", "expiresOn": "tomorrow", "policyAssignmentId": "` + setAssignID + `"}}`, CodeInvalidRequestContent, "/properties/expiresOn"},
		{"bad scope validation", exemptID, `{"properties": {"exemptionCategory": "Waiver", "assignmentScopeValidation": "Never", "policyAssignmentId": "` + setAssignID + `"}}`, CodeInvalidRequestContent, "/properties/assignmentScopeValidation"},
		{"unknown member", exemptID, `{"properties": {"exemptionCategory": "Waiver", "policyDefinitionReferenceIds": ["pip", "nope"], "policyAssignmentId": "` + setAssignID + `"}}`, CodeInvalidPolicyDefinitionReference, "/properties/policyDefinitionReferenceIds/1"},
		{"member of a definition assignment", exemptID, `{"properties": {"exemptionCategory": "Waiver", "policyDefinitionReferenceIds": ["pip"], "policyAssignmentId": "` + defAssignID + `"}}`, CodeInvalidPolicyDefinitionReference, "/properties/policyDefinitionReferenceIds/0"},
		{"bad selector", exemptID, `{"properties": {"exemptionCategory": "Waiver", "policyAssignmentId": "` + setAssignID + `", "resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceLocation"}]}]}}`, CodeInvalidResourceSelectors, "/properties/resourceSelectors/0/selectors/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildExemption(ctx, mustID(t, c.id), mustParse(t, c.body), value.Value{}, r, testOpts)
			wantErr(t, err, c.code, c.target)
		})
	}
}

func TestBuildExemption(t *testing.T) {
	r := exemptionResolver(t)
	body := `{"properties": {"exemptionCategory": "waiver", "expiresOn": "2026-06-01T02:00:00+02:00", "policyDefinitionReferenceIds": ["PIP"],
		"policyAssignmentId": "/` + setAssignID + `", "displayName": "d", "metadata": {"ticket": "T-1"}}}`
	got, err := BuildExemption(ctx, mustID(t, exemptID), mustParse(t, body), value.Value{}, r, testOpts)
	wantOK(t, err)
	want := map[string]string{
		"policyAssignmentId":           `"` + setAssignID + `"`,
		"exemptionCategory":            `"Waiver"`,
		"expiresOn":                    `"2026-06-01T00:00:00Z"`,
		"policyDefinitionReferenceIds": `["pip"]`,
	}
	for k, w := range want {
		if g := got.Field(k).JSON(); g != w {
			t.Errorf("%s = %s, want %s", k, g, w)
		}
	}
	if got.Field("metadata").Field("ticket").Str() != "T-1" || got.Field("metadata").Field("createdBy").Str() != testOpts.Caller {
		t.Errorf("metadata %s", got.Field("metadata").JSON())
	}
	// The assignment cannot change.
	stored := value.ObjectValue(value.Member{Key: "properties", Value: got})
	_, err = BuildExemption(ctx, mustID(t, exemptID), mustParse(t, `{"properties": {"exemptionCategory": "Mitigated", "policyAssignmentId": "`+defAssignID+`"}}`), stored, r, testOpts)
	wantErr(t, err, CodeInvalidPolicyAssignmentIDUpdate, "/properties/policyAssignmentId")
	// The same assignment, differently cased: an update.
	_, err = BuildExemption(ctx, mustID(t, exemptID), mustParse(t, `{"properties": {"exemptionCategory": "Mitigated", "policyAssignmentId": "`+upper(setAssignID)+`"}}`), stored, r, testOpts)
	wantOK(t, err)
	// Outside the assignment's scope, with validation off.
	other := subScope + "/resourceGroups/rg2" + auth + "/policyExemptions/x2"
	_, err = BuildExemption(ctx, mustID(t, other), mustParse(t, `{"properties": {"exemptionCategory": "Waiver", "assignmentScopeValidation": "doNotValidate", "policyAssignmentId": "`+setAssignID+`"}}`), value.Value{}, r, testOpts)
	wantOK(t, err)
	// A subscription assignment covers an exemption in a resource group.
	_, err = BuildExemption(ctx, mustID(t, exemptID), mustParse(t, `{"properties": {"exemptionCategory": "Waiver", "policyAssignmentId": "`+defAssignID+`"}}`), value.Value{}, r, testOpts)
	wantOK(t, err)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// failingResolver fails every lookup: a store error, not a refusal.
type failingResolver struct{}

var errStore = errors.New("store is down")

func (failingResolver) PolicyDefinition(context.Context, string) (*definition.Definition, value.Value, error) {
	return nil, value.Value{}, errStore
}
func (failingResolver) PolicySetDefinition(context.Context, string) (*definition.SetDefinition, value.Value, error) {
	return nil, value.Value{}, errStore
}
func (failingResolver) PolicyAssignment(context.Context, string) (value.Value, error) {
	return value.Value{}, errStore
}

// TestResolverErrorsPassThrough: a failed lookup is returned as it is
// (the caller answers 500), never turned into a 400.
func TestResolverErrorsPassThrough(t *testing.T) {
	var r failingResolver
	_, err := BuildSetDefinition(ctx, mustID(t, setID), mustParse(t, `{"properties": {"policyDefinitions": [{"policyDefinitionId": "`+effectDefID+`"}]}}`), value.Value{}, r, testOpts)
	if err != errStore {
		t.Errorf("set: %v", err)
	}
	for _, id := range []string{effectDefID, setID} {
		_, err = BuildAssignment(ctx, mustID(t, assignID), mustParse(t, `{"properties": {"policyDefinitionId": "`+id+`"}}`), value.Value{}, r, testOpts)
		if err != errStore {
			t.Errorf("assignment of %s: %v", id, err)
		}
	}
	_, err = BuildExemption(ctx, mustID(t, exemptID), mustParse(t, `{"properties": {"exemptionCategory": "Waiver", "policyAssignmentId": "`+setAssignID+`"}}`), value.Value{}, r, testOpts)
	if err != errStore {
		t.Errorf("exemption: %v", err)
	}
}
