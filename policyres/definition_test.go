package policyres

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

var defID = subScope + auth + "/policyDefinitions/custom1"

func TestBuildDefinitionErrors(t *testing.T) {
	cases := []struct {
		name, body, code, target string
	}{
		{"not an object", `[]`, CodeInvalidRequestContent, ""},
		{"properties not an object", `{"properties": "x"}`, CodeInvalidRequestContent, "/properties"},
		{"no rule", `{"properties": {"displayName": "x"}}`, CodeInvalidRequestContent, "/properties/policyRule"},
		{"rule is a string", `{"properties": {"policyRule": "hello"}}`, CodeInvalidPolicyRule, "/properties/policyRule"},
		{"constant effect Banana", `{"properties": {"policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "Banana"}}}}`, CodeInvalidPolicyRule, "/properties/policyRule/then/effect"},
		{"no then", `{"properties": {"policyRule": {"if": {"field": "type", "equals": "a/b"}}}}`, CodeInvalidPolicyRule, "/properties/policyRule/then"},
		{"unknown operator", `{"properties": {"policyRule": {"if": {"field": "type", "equalz": "a/b"}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyRule, "/properties/policyRule/if/equalz"},
		{"unknown alias in a known namespace", `{"properties": {"mode": "All", "policyRule": {"if": {"field": "Microsoft.MachineLearningServices/workspaces/computes/noSuchProperty", "equals": true}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyAlias, "/properties/policyRule/if/field"},
		{"bad template expression", `{"properties": {"policyRule": {"if": {"field": "type", "equals": "[concat('a',]"}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyRule, "/properties/policyRule/if/equals"},
		{"unknown function", `{"properties": {"policyRule": {"if": {"field": "type", "equals": "[nosuchfunction()]"}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyRule, "/properties/policyRule/if/equals"},
		{"unknown mode", `{"properties": {"mode": "Foo", "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyDefinitionMode, "/properties/mode"},
		{"mode not a string", `{"properties": {"mode": 1, "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "deny"}}}}`, CodeInvalidRequestContent, "/properties/mode"},
		{"unused parameter", `{"properties": {"parameters": {"foo": {"type": "String"}}, "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "deny"}}}}`, CodeUnusedPolicyParameters, "/properties/parameters/foo"},
		{"undeclared parameter", `{"properties": {"policyRule": {"if": {"field": "type", "equals": "[parameters('foo')]"}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyParameters, "/properties/policyRule/if/equals"},
		{"bad parameter type", `{"properties": {"parameters": {"foo": {"type": "Banana"}}, "policyRule": {"if": {"field": "type", "equals": "[parameters('foo')]"}, "then": {"effect": "deny"}}}}`, CodeInvalidPolicyParameters, "/properties/parameters/foo/type"},
		{"displayName too long", `{"properties": {"displayName": "` + strings.Repeat("x", 129) + `", "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "deny"}}}}`, CodeInvalidRequestContent, "/properties/displayName"},
		{"metadata not an object", `{"properties": {"metadata": [], "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "deny"}}}}`, CodeInvalidRequestContent, "/properties/metadata"},
		{"auditIfNotExists without details", `{"properties": {"mode": "Indexed", "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "auditIfNotExists"}}}}`, CodeInvalidPolicyRule, "/properties/policyRule/then/details"},
		{"two problems: the first is the error", `{"properties": {"mode": "Foo", "policyRule": "x"}}`, CodeInvalidPolicyDefinitionMode, "/properties/mode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildDefinition(ctx, mustID(t, defID), mustParse(t, c.body), value.Value{}, nil, testOpts)
			wantErr(t, err, c.code, c.target)
		})
	}
}

func TestBuildDefinitionNormalizes(t *testing.T) {
	body := `{"id": "/x", "name": "y", "properties": {"displayName": "d", "policyType": "BuiltIn", "unknownThing": 1,
		"metadata": {"category": "ML", "createdBy": "someone else"},
		"policyRule": {"if": {"field": "Microsoft.Unknown/things/prop", "equals": "x"}, "then": {"effect": "audit"}}}}`
	got, err := BuildDefinition(ctx, mustID(t, defID), mustParse(t, body), value.Value{}, nil, testOpts)
	wantOK(t, err)
	if s := got.Field("policyType").Str(); s != "Custom" {
		t.Errorf("policyType %q, want Custom", s)
	}
	if s := got.Field("mode").Str(); s != "Indexed" {
		t.Errorf("mode %q, want the default Indexed", s)
	}
	if _, ok := got.Get("unknownThing"); ok {
		t.Error("unknown property kept")
	}
	md := got.Field("metadata")
	if md.Field("category").Str() != "ML" || md.Field("createdBy").Str() != testOpts.Caller || md.Field("createdOn").Str() != "2026-05-01T12:00:00Z" || md.Field("updatedBy").Kind() != value.Null {
		t.Errorf("metadata %s", md.JSON())
	}
	// An update keeps createdBy/createdOn and sets updatedBy/updatedOn.
	stored := value.ObjectValue(value.Member{Key: "properties", Value: got})
	opts := testOpts
	opts.Caller, opts.Now = "updater", opts.Now.Add(3600e9)
	got2, err := BuildDefinition(ctx, mustID(t, defID), mustParse(t, body), stored, nil, opts)
	wantOK(t, err)
	md = got2.Field("metadata")
	if md.Field("createdBy").Str() != testOpts.Caller || md.Field("createdOn").Str() != "2026-05-01T12:00:00Z" || md.Field("updatedBy").Str() != "updater" || md.Field("updatedOn").Str() != "2026-05-01T13:00:00Z" {
		t.Errorf("metadata after update %s", md.JSON())
	}
}

// TestSeedDefinitions: the seed document's two custom definitions (deny
// Spark jobs; deny computes with public IP) are accepted as written.
func TestSeedDefinitions(t *testing.T) {
	for name, body := range seedDefinitions(t) {
		t.Run(name, func(t *testing.T) {
			got, err := BuildDefinition(ctx, mustID(t, defID), mustParse(t, body), value.Value{}, nil, testOpts)
			wantOK(t, err)
			in := mustParse(t, body).Field("properties")
			if !value.Equal(got.Field("policyRule"), in.Field("policyRule")) || got.Field("mode").Str() != in.Field("mode").Str() {
				t.Errorf("stored %s", got.JSON())
			}
		})
	}
}

// TestBuiltInDefinitionsAccepted: every real built-in in the corpus is a
// valid definition body (as a custom definition would be).
func TestBuiltInDefinitionsAccepted(t *testing.T) {
	for _, f := range corpusFiles(t, "policyDefinitions") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := BuildDefinition(ctx, mustID(t, defID), readJSON(t, f), value.Value{}, nil, testOpts)
			wantOK(t, err)
		})
	}
}

// TestErrorDetails: every problem is reported, the first as the error.
func TestErrorDetails(t *testing.T) {
	body := `{"properties": {"mode": "Foo", "displayName": 1, "policyRule": {"if": {"field": "type", "equals": "a/b"}, "then": {"effect": "deny"}}}}`
	_, err := BuildDefinition(ctx, mustID(t, defID), mustParse(t, body), value.Value{}, nil, testOpts)
	wantErr(t, err, CodeInvalidRequestContent, "/properties/displayName")
	ae := err.(*arm.Error)
	if len(ae.Details) != 2 || ae.Details[1].Code != CodeInvalidPolicyDefinitionMode || ae.Details[1].Target != "/properties/mode" {
		t.Errorf("details %+v", ae.Details)
	}
}
