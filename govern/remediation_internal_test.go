package govern

import (
	"testing"

	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
)

// TestPatchOf: a Modify's changes become the PATCH body: each changed
// property with its new value, null when removed; tags and identity
// whole (PATCH replaces them); an array whole.
func TestPatchOf(t *testing.T) {
	body, err := value.ParseString(`{"tags":{"a":"1","b":"2"},"identity":{"type":"SystemAssigned"},
		"properties":{"disableLocalAuth":true,"settings":{"x":1,"y":2},"ipRules":[{"v":"1"},{"v":"2","action":"Allow"}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		paths []string
		want  string
	}{
		{"property", []string{"properties.disableLocalAuth"}, `{"properties":{"disableLocalAuth":true}}`},
		{"nested", []string{"properties.settings.y"}, `{"properties":{"settings":{"y":2}}}`},
		{"two under one parent", []string{"properties.settings.x", "properties.disableLocalAuth"}, `{"properties":{"settings":{"x":1},"disableLocalAuth":true}}`},
		{"a tag: all tags", []string{"tags.b"}, `{"tags":{"a":"1","b":"2"}}`},
		{"identity whole", []string{"identity.type"}, `{"identity":{"type":"SystemAssigned"}}`},
		{"array member: the array", []string{"properties.ipRules[1].action"}, `{"properties":{"ipRules":[{"v":"1"},{"v":"2","action":"Allow"}]}}`},
		{"removed", []string{"properties.gone"}, `{"properties":{"gone":null}}`},
	} {
		mu := policy.Mutation{Body: body}
		for _, p := range c.paths {
			mu.Changes = append(mu.Changes, policy.Change{Path: p})
		}
		if got := patchOf(mu).JSON(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestRemediationFilter: the $filter of a remediation list.
func TestRemediationFilter(t *testing.T) {
	body := []byte(`{"properties":{"policyAssignmentId":"/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/O'Brien","policyDefinitionReferenceId":"Ref1"}}`)
	for _, c := range []struct {
		filter   string
		keep, ok bool
	}{
		{"", true, true},
		{"PolicyAssignmentId eq '/subscriptions/s/providers/microsoft.authorization/policyassignments/o''brien'", true, true},
		{"policyAssignmentId eq '/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/other'", false, true},
		{"PolicyAssignmentId eq '/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/O''Brien' and PolicyDefinitionReferenceId eq 'ref1'", true, true},
		{"PolicyAssignmentId eq 'x and y' and PolicyDefinitionReferenceId eq 'ref1'", false, true},
		{"PolicyDefinitionReferenceId eq 'ref2'", false, true},
		{"PolicyAssignmentId ne 'x'", false, false},
		{"Name eq 'x'", false, false},
		{"PolicyAssignmentId eq x", false, false},
		{"atScope()", false, false},
	} {
		f, err := remediationFilter(c.filter)
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v, want ok %v", c.filter, err, c.ok)
			continue
		}
		if err != nil {
			continue
		}
		if keep := f.Keep == nil || f.Keep(body); keep != c.keep {
			t.Errorf("%q: keeps %v, want %v", c.filter, keep, c.keep)
		}
	}
}

// FuzzRemediationFilter: any $filter is compiled or refused, never a
// panic; a compiled one keeps or drops a body without one.
func FuzzRemediationFilter(f *testing.F) {
	for _, s := range []string{"", "PolicyAssignmentId eq 'a'", "PolicyAssignmentId eq 'a''b' and PolicyDefinitionReferenceId eq 'r'", "x eq", "'", " and ", "PolicyAssignmentId eq ''"} {
		f.Add(s)
	}
	body := []byte(`{"properties":{"policyAssignmentId":"a","policyDefinitionReferenceId":"r"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := remediationFilter(s)
		if err == nil && flt.Keep != nil {
			flt.Keep(body)
		}
	})
}
