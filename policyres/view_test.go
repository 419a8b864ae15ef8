package policyres

import (
	"testing"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

const ws = rgScope + "/providers/Microsoft.MachineLearningServices/workspaces/ws1"

// builtAssignment builds an assignment through BuildAssignment and wraps
// it the way the caller stores it.
func builtAssignment(t *testing.T, r *MemResolver, id, envelope, props string) *Assignment {
	t.Helper()
	body := mustParse(t, `{`+envelope+` "properties": `+props+`}`)
	p, err := BuildAssignment(ctx, mustID(t, id), body, value.Value{}, r, testOpts)
	wantOK(t, err)
	stored := body.Without("properties").With("id", value.StringValue(id)).With("properties", p)
	a, err := ParseAssignment(stored)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAssignmentView(t *testing.T) {
	r := setResolver(t)
	a := builtAssignment(t, r, rgScope+auth+"/policyAssignments/a1",
		`"location": "westeurope", "identity": {"type": "SystemAssigned", "principalId": "p-1", "tenantId": "t-1"},`,
		`{"policyDefinitionId": "`+setID+`", "enforcementMode": "DoNotEnforce",
		"notScopes": ["`+ws+`/computes/excluded"],
		"parameters": {"locs": {"value": ["westus"]}},
		"nonComplianceMessages": [{"message": "default"}, {"message": "no public IP", "policyDefinitionReferenceId": "pip"}],
		"overrides": [
			{"kind": "policyEffect", "value": "Audit", "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["pip"]}]},
			{"kind": "policyEffect", "value": "Disabled", "selectors": [{"kind": "policyDefinitionReferenceId", "notIn": ["pip"]}]}],
		"resourceSelectors": [
			{"name": "eu", "selectors": [{"kind": "resourceLocation", "in": ["West Europe", "northeurope"]}, {"kind": "resourceType", "notIn": ["Microsoft.Storage/storageAccounts"]}]},
			{"name": "global", "selectors": [{"kind": "resourceWithoutLocation", "in": ["subscriptionLevelResources"]}]}]}`)
	if a.Scope != rgScope || !a.IsSet || a.Enforce || a.EnforcementMode != "DoNotEnforce" || a.Identity.Type != "SystemAssigned" || a.Identity.PrincipalID != "p-1" || a.Location != "westeurope" {
		t.Errorf("view %+v", a)
	}
	if v := a.Parameters["locs"]; v.JSON() != `["westus"]` {
		t.Errorf("parameters %v", a.Parameters)
	}
	ml := "Microsoft.MachineLearningServices/workspaces/computes"
	applies := []struct {
		id, loc, typ string
		want         bool
	}{
		{ws + "/computes/c1", "westeurope", ml, true},
		{ws + "/computes/c1", "northeurope", ml, true},
		{upper(ws) + "/computes/c1", "westeurope", ml, true}, // ids compare case-insensitively
		{"/" + ws + "/computes/c1", "westeurope", ml, true},  // a doubled slash
		{ws + "/computes/c1", "westus", ml, false},           // no selector group
		{ws + "/computes/excluded", "westeurope", ml, false}, // notScopes
		{ws + "/computes/excluded/child/x", "westeurope", ml, false},
		{ws + "/computes/excluded2", "westeurope", ml, true}, // a notScope is not a name prefix
		{rgScope + "/providers/Microsoft.Storage/storageAccounts/s", "westeurope", "Microsoft.Storage/storageAccounts", false},
		{rgScope, "", "Microsoft.Resources/resourceGroups", true},       // without location
		{rgScope + "0/providers/X.Y/z/n", "westeurope", "X.Y/z", false}, // rg10 is not below rg1
		{subScope + "/resourceGroups/rg2/providers/X.Y/z/n", "westeurope", "X.Y/z", false},
	}
	for _, c := range applies {
		if got := a.AppliesTo(c.id, c.loc, c.typ); got != c.want {
			t.Errorf("AppliesTo(%s, %s, %s) = %v, want %v", c.id, c.loc, c.typ, got, c.want)
		}
	}
	if e, ok := a.EffectOverride("PIP"); !ok || e != "Audit" {
		t.Errorf("EffectOverride(PIP) = %q %v", e, ok)
	}
	if e, ok := a.EffectOverride("locations"); !ok || e != "Disabled" {
		t.Errorf("EffectOverride(locations) = %q %v", e, ok)
	}
	if a.Message("pip") != "no public IP" || a.Message("locations") != "default" || a.Message("") != "default" {
		t.Errorf("messages %q %v", a.DefaultMessage, a.Messages)
	}

	// A plain definition assignment at the subscription: no selectors, no
	// overrides, no messages.
	b := builtAssignment(t, r, defAssignID, ``, `{"policyDefinitionId": "`+effectDefID+`"}`)
	if !b.AppliesTo(ws, "", "") || !b.AppliesTo(subScope, "", "") || b.AppliesTo("/subscriptions/"+otherSub, "", "") {
		t.Error("subscription scope containment")
	}
	if _, ok := b.EffectOverride(""); ok || b.Message("") != "" || !b.Enforce || b.IsSet {
		t.Errorf("view %+v", b)
	}
	// An override without selectors applies to every member.
	c := builtAssignment(t, r, assignID, ``, `{"policyDefinitionId": "`+setID+`", "overrides": [{"kind": "policyEffect", "value": "deny"}]}`)
	if e, ok := c.EffectOverride("anything"); !ok || e != "Deny" {
		t.Errorf("EffectOverride = %q %v", e, ok)
	}
}

func TestParseAssignmentRefuses(t *testing.T) {
	for _, s := range []string{`[]`, `{"properties": 1}`, `{"properties": {}}`} {
		if _, err := ParseAssignment(mustParse(t, s)); err == nil {
			t.Errorf("ParseAssignment(%s) accepted", s)
		}
	}
}

func TestExemptionView(t *testing.T) {
	r := exemptionResolver(t)
	body := mustParse(t, `{"properties": {"exemptionCategory": "mitigated", "expiresOn": "2026-06-01T00:00:00Z", "policyDefinitionReferenceIds": ["pip"], "policyAssignmentId": "`+setAssignID+`",
		"resourceSelectors": [{"name": "s", "selectors": [{"kind": "resourceType", "in": ["Microsoft.MachineLearningServices/workspaces/computes"]}]}]}}`)
	p, err := BuildExemption(ctx, mustID(t, exemptID), body, value.Value{}, r, testOpts)
	wantOK(t, err)
	x, err := ParseExemption(value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(exemptID)}, value.Member{Key: "properties", Value: p}))
	if err != nil {
		t.Fatal(err)
	}
	if x.Scope != ws || x.Category != "Mitigated" || x.Name != "x1" {
		t.Errorf("view %+v", x)
	}
	before, at := time.Date(2026, 5, 31, 23, 59, 59, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	covers := []struct {
		assignment, ref string
		now             time.Time
		want            bool
	}{
		{setAssignID, "pip", before, true},
		{upper(setAssignID), "PIP", before, true},
		{"/" + setAssignID, "pip", before, true},
		{setAssignID, "pip", at, false}, // expired at expiresOn
		{setAssignID, "locations", before, false},
		{defAssignID, "pip", before, false},
	}
	for _, c := range covers {
		if got := x.Covers(c.assignment, c.ref, c.now); got != c.want {
			t.Errorf("Covers(%s, %s, %s) = %v, want %v", c.assignment, c.ref, c.now, got, c.want)
		}
	}
	ml := "Microsoft.MachineLearningServices/workspaces/computes"
	if !x.AppliesTo(ws+"/computes/c1", "westeurope", ml) || x.AppliesTo(ws+"/computes/c1", "westeurope", "Other/type") || x.AppliesTo(rgScope, "", ml) {
		t.Error("AppliesTo")
	}
	// Without expiry or member list: every member, forever.
	p, err = BuildExemption(ctx, mustID(t, exemptID), mustParse(t, `{"properties": {"exemptionCategory": "Waiver", "policyAssignmentId": "`+defAssignID+`"}}`), value.Value{}, r, testOpts)
	wantOK(t, err)
	x, err = ParseExemption(p)
	if err != nil {
		t.Fatal(err)
	}
	if !x.Covers(defAssignID, "", at.AddDate(100, 0, 0)) || !x.ExpiresOn.IsZero() {
		t.Errorf("view %+v", x)
	}
	if x.AppliesTo(ws, "", "") {
		t.Error("an exemption without an id has no scope and applies nowhere")
	}
}

func TestScopeContains(t *testing.T) {
	cases := []struct {
		scope, id string
		want      bool
	}{
		{subScope, subScope, true},
		{subScope, subScope + "/", true},
		{subScope, "//subscriptions/" + sub + "//resourceGroups/x", true},
		{rgScope, rgScope + "0", false},
		{"/", rgScope, true},
		{"", rgScope, true},
		{rgScope, subScope, false},
	}
	for _, c := range cases {
		if got := ScopeContains(c.scope, c.id); got != c.want {
			t.Errorf("ScopeContains(%q, %q) = %v, want %v", c.scope, c.id, got, c.want)
		}
	}
}
