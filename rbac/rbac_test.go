package rbac

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
)

func TestPatternMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.Storage/storageAccounts/read", true},
		{"*/read", "Microsoft.Storage/storageAccounts/read", true},
		{"*/read", "Microsoft.Storage/storageAccounts/write", false},
		{"Microsoft.Compute/*", "microsoft.compute/virtualMachines/read", true},
		{"Microsoft.Compute/*", "Microsoft.ComputeX/x/read", false},
		{"Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/computes/read", true},
		{"Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read", true},
		// The '*' may stand for no segment (the package comment's decision).
		{"Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/read", true},
		{"Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspacesread", false},
		{"Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/read", false},
		{"Microsoft.MachineLearningServices/workspaces/read", "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/READ", true},
		{"Microsoft.MachineLearningServices/workspaces/read", "Microsoft.MachineLearningServices/workspaces/reads", false},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"a*b", "ab", true},
		{"a*a", "a", false},
	} {
		if got := compilePattern(c.pattern).match(strings.ToLower(c.action)); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.pattern, c.action, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := &RoleDefinition{Name: "5c2f6c1e-1f0a-4d5e-9f3b-2a7b8c9d0e1f", RoleName: "r", AssignableScopes: []string{"/"}, Permissions: []Permission{{Actions: []string{"*/read"}}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(d *RoleDefinition)
		code   string
	}{
		{func(d *RoleDefinition) { d.Permissions[0].Actions = []string{"Microsoft.*/*/read"} }, "InvalidActionOrNotAction"},
		{func(d *RoleDefinition) { d.Permissions[0].NotDataActions = []string{""} }, "InvalidActionOrNotAction"},
		{func(d *RoleDefinition) { d.Name = "not-a-guid" }, "InvalidRoleDefinitionId"},
		{func(d *RoleDefinition) { d.AssignableScopes = nil }, "InvalidAssignableScopes"},
	} {
		d := *ok
		d.Permissions = []Permission{{Actions: []string{"*/read"}}}
		c.change(&d)
		var ae *arm.Error
		if err := d.Validate(); !errors.As(err, &ae) || ae.Code != c.code {
			t.Errorf("%+v: %v, want %s", d, err, c.code)
		}
	}
}

// TestBuiltinsLoad: every built-in role definition loads and validates.
func TestBuiltinsLoad(t *testing.T) {
	defs := builtins(t)
	if len(defs) < 30 {
		t.Fatalf("%d role definitions", len(defs))
	}
	a := New(defs)
	if d, ok := a.Role("/providers/Microsoft.Authorization/roleDefinitions/F6C7C914-8DB3-469D-8CA1-694A8F32E121"); !ok || d.RoleName != "AzureML Data Scientist" {
		t.Errorf("Role by id: %v %v", d, ok)
	}
}

func TestAddRefusals(t *testing.T) {
	defs := builtins(t)
	a := New(defs)
	p := "00000000-0000-4000-8000-000000000001"
	custom := roleID(t, defs, "ML Job Submitter")
	for _, c := range []struct {
		as   Assignment
		code string
	}{
		{Assignment{Scope: "/subscriptions/" + sub, RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-00000000dead", PrincipalID: p}, "RoleDefinitionDoesNotExist"},
		{Assignment{Scope: "/subscriptions/22222222-2222-2222-2222-222222222222", RoleDefinitionID: custom, PrincipalID: p}, "InvalidRoleAssignmentScope"},
		{Assignment{Scope: "/", RoleDefinitionID: custom, PrincipalID: p}, "InvalidRoleAssignmentScope"},
		{Assignment{Scope: "/subscriptions/" + sub + "/resourceGroups/rg1/computes", RoleDefinitionID: custom, PrincipalID: p}, "InvalidScope"},
		{Assignment{Scope: "/subscriptions/" + sub, RoleDefinitionID: custom, PrincipalID: "someone"}, "InvalidPrincipalId"},
	} {
		var ae *arm.Error
		if err := a.Add(&c.as); !errors.As(err, &ae) || ae.Code != c.code {
			t.Errorf("%+v: %v, want %s", c.as, err, c.code)
		}
	}
	for cond, code := range map[string]string{
		"@Resource[x] StringEquals 'y'": "ConditionNotSupported",
		"((!(ActionMatches{'x'})) OR (": "InvalidConditionSyntax",
		"@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals 'User'": "ConditionNotSupported",
	} {
		var ae *arm.Error
		err := a.Add(&Assignment{Scope: "/subscriptions/" + sub, RoleDefinitionID: roleID(t, defs, "Reader"), PrincipalID: p, Condition: cond})
		if !errors.As(err, &ae) || ae.Code != code {
			t.Errorf("an assignment with the condition %q: %v, want %s", cond, err, code)
		}
	}
	var ae *arm.Error
	if err := a.Add(&Assignment{Scope: "/subscriptions/" + sub, RoleDefinitionID: roleID(t, defs, "Reader"), PrincipalID: p, Condition: constrainRoles, ConditionVersion: "1.0"}); !errors.As(err, &ae) || ae.Code != "InvalidConditionVersion" {
		t.Errorf("conditionVersion 1.0: %v, want InvalidConditionVersion", err)
	}
	if a.Len() != 0 {
		t.Errorf("%d assignments kept from refusals", a.Len())
	}
	if err := a.Add(&Assignment{Scope: "/subscriptions/" + sub + "/resourceGroups/rg1", RoleDefinitionID: custom, PrincipalID: p}); err != nil {
		t.Errorf("the custom role below its assignable scope: %v", err)
	}
	if _, err := a.Decide(Request{Principals: []string{p}, Action: "x/read", Scope: "/subscriptions/" + sub + "/resourceGroups"}); err == nil {
		t.Error("Decide at a collection path: no error")
	}
}

// TestDenyAssignments: a deny assignment beats any role; it applies below
// its scope unless DoNotApplyToChildScopes; Everyone minus its exclusions.
func TestDenyAssignments(t *testing.T) {
	defs := builtins(t)
	a := New(defs)
	owner, admin := "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	rg1 := "/subscriptions/" + sub + "/resourceGroups/rg1"
	ws := rg1 + ml + "/workspaces/ws1"
	for _, p := range []string{owner, admin} {
		if err := a.Add(&Assignment{Scope: "/subscriptions/" + sub, RoleDefinitionID: roleID(t, defs, "Owner"), PrincipalID: p}); err != nil {
			t.Fatal(err)
		}
	}
	deny := &DenyAssignment{ID: "d1", Scope: rg1, Principals: []string{Everyone}, ExcludePrincipals: []string{admin},
		Permissions: []Permission{{Actions: []string{"*/delete"}}}}
	if err := a.AddDeny(deny); err != nil {
		t.Fatal(err)
	}
	local := &DenyAssignment{ID: "d2", Scope: rg1, Principals: []string{owner}, DoNotApplyToChildScopes: true,
		Permissions: []Permission{{Actions: []string{"Microsoft.Resources/subscriptions/resourceGroups/write"}}}}
	if err := a.AddDeny(local); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who, action, scope string
		allowed            bool
		deny               *DenyAssignment
	}{
		{owner, "Microsoft.MachineLearningServices/workspaces/delete", ws, false, deny},
		{admin, "Microsoft.MachineLearningServices/workspaces/delete", ws, true, nil},
		{owner, "Microsoft.MachineLearningServices/workspaces/write", ws, true, nil},
		{owner, "Microsoft.Resources/subscriptions/resourceGroups/write", rg1, false, local},
		{owner, "Microsoft.Resources/subscriptions/resourceGroups/write", ws, true, nil},
		{owner, "Microsoft.MachineLearningServices/workspaces/delete", "/subscriptions/" + sub + "/resourceGroups/rg2", true, nil},
	} {
		d, err := a.Decide(Request{Principals: []string{c.who}, Action: c.action, Scope: c.scope})
		if err != nil || d.Allowed != c.allowed || d.Deny != c.deny {
			t.Errorf("%s %s at %s: %+v %v, want allowed %v by deny %v", c.who, c.action, c.scope, d, err, c.allowed, c.deny)
		}
	}
}

func TestExpandGroups(t *testing.T) {
	g := map[string][]string{"u": {"a", "b"}, "a": {"c"}, "b": {"c", "u"}, "c": {"A"}}
	got := ExpandGroups("u", func(id string) []string { return g[id] })
	if !slices.Equal(got, []string{"u", "a", "b", "c"}) {
		t.Errorf("ExpandGroups = %v", got)
	}
}

// BenchmarkDecide: one decision in a tenant of 10,000 role assignments
// (100 subscriptions × 10 resource groups × 10 principals, plus the
// caller's own three, at the subscription, the resource group and the
// workspace), for an action the caller's role grants at the workspace
// and one no role grants (the worst case: every scope and principal
// looked at). p50 and p99 of the individual decisions are reported.
func BenchmarkDecide(b *testing.B) {
	defs := builtins(b)
	a := New(defs)
	reader, ds := roleID(b, defs, "Reader"), roleID(b, defs, "AzureML Data Scientist")
	for s := range 100 {
		for g := range 10 {
			for p := range 10 {
				scope := fmt.Sprintf("/subscriptions/%08d-0000-4000-8000-000000000000/resourceGroups/rg%d", s, g)
				if err := a.Add(&Assignment{Scope: scope, RoleDefinitionID: reader, PrincipalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", p)}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	me := "00000000-0000-4000-9000-000000000001"
	group := "00000000-0000-4000-9000-000000000002"
	sub0 := "/subscriptions/00000007-0000-4000-8000-000000000000"
	ws := sub0 + "/resourceGroups/rg3" + ml + "/workspaces/ws1"
	for _, as := range []Assignment{{Scope: sub0, RoleDefinitionID: reader, PrincipalID: group}, {Scope: sub0 + "/resourceGroups/rg3", RoleDefinitionID: reader, PrincipalID: me}, {Scope: ws, RoleDefinitionID: ds, PrincipalID: group}} {
		if err := a.Add(&as); err != nil {
			b.Fatal(err)
		}
	}
	if a.Len() != 10003 {
		b.Fatalf("%d assignments", a.Len())
	}
	for _, c := range []struct{ name, action string }{
		{"granted", "Microsoft.MachineLearningServices/workspaces/jobs/write"},
		{"denied", "Microsoft.MachineLearningServices/workspaces/computes/write"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := Request{Principals: []string{me, group}, Action: c.action, Scope: ws + "/jobs/j1"}
			took := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				d, err := a.Decide(req)
				took[i] = time.Since(start)
				if err != nil || d.Allowed != (c.name == "granted") {
					b.Fatalf("%+v %v", d, err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[b.N/2].Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(took[b.N*99/100].Nanoseconds())/1000, "p99-µs")
		})
	}
}

// TestCloneIsolated: a clone's changes leave the original as it was
// (the snapshots of package access are replaced whole, never changed
// under a reader), and Remove takes out exactly the assignment named.
func TestCloneIsolated(t *testing.T) {
	defs := builtins(t)
	a := New(defs)
	rg := "/subscriptions/" + sub + "/resourceGroups/rg1"
	p := "00000000-0000-4000-8000-000000000001"
	reader, owner := roleID(t, defs, "Reader"), roleID(t, defs, "Owner")
	if err := a.Add(&Assignment{ID: "r", Scope: rg, RoleDefinitionID: reader, PrincipalID: p}); err != nil {
		t.Fatal(err)
	}
	write := Request{Principals: []string{p}, Action: "Microsoft.Storage/storageAccounts/write", Scope: rg + "/providers/Microsoft.Storage/storageAccounts/sa"}
	read := write
	read.Action = "Microsoft.Storage/storageAccounts/read"
	allowed := func(a *Authorizer, r Request) bool {
		d, err := a.Decide(r)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	c := a.Clone()
	if err := c.Add(&Assignment{ID: "o", Scope: rg, RoleDefinitionID: owner, PrincipalID: p}); err != nil {
		t.Fatal(err)
	}
	if !allowed(c, write) || allowed(a, write) {
		t.Errorf("after Add to the clone: clone %v, original %v; want true, false", allowed(c, write), allowed(a, write))
	}
	if !c.Remove("r") || c.Remove("r") || c.Len() != 1 || a.Len() != 1 {
		t.Errorf("Remove: clone holds %d, original %d", c.Len(), a.Len())
	}
	if !allowed(a, read) || !allowed(c, read) {
		t.Error("the original lost its Reader, or the clone its Owner")
	}
	if len(a.Find(rg, p)) != 1 || a.Find(rg, p)[0].ID != "r" || len(c.Find(rg, p)) != 1 || c.Find(rg, p)[0].ID != "o" {
		t.Errorf("Find: original %v, clone %v", a.Find(rg, p), c.Find(rg, p))
	}
	if err := c.Add(&Assignment{ID: "o", Scope: rg, RoleDefinitionID: reader, PrincipalID: p}); err == nil {
		t.Error("a second assignment with the same ID was added")
	}
	if n := c.CountRole("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"); n != 1 {
		t.Errorf("CountRole(Owner) = %d, want 1", n)
	}
}

// TestManagementGroupScopes: an assignment at a management group grants
// below it when the request names the groups above its scope, and at a
// group's own resources; nothing without them.
func TestManagementGroupScopes(t *testing.T) {
	defs := builtins(t)
	a := New(defs)
	mg := arm.ManagementGroupID("corp")
	who := "00000000-0000-4000-8000-000000000003"
	if err := a.Add(&Assignment{Scope: mg, RoleDefinitionID: roleID(t, defs, "Reader"), PrincipalID: who}); err != nil {
		t.Fatal(err)
	}
	ws := "/subscriptions/" + sub + "/resourceGroups/rg1" + ml + "/workspaces/ws1"
	above := []string{arm.ManagementGroupKey("corp"), arm.ManagementGroupKey("root")}
	for _, c := range []struct {
		scope, action string
		above         []string
		allowed       bool
	}{
		{ws, "Microsoft.MachineLearningServices/workspaces/read", above, true},
		{ws, "Microsoft.MachineLearningServices/workspaces/read", nil, false},
		{ws, "Microsoft.MachineLearningServices/workspaces/write", above, false},
		{ws, "Microsoft.MachineLearningServices/workspaces/read", above[1:], false},
		{mg + "/providers/Microsoft.Authorization/policyAssignments/a", "Microsoft.Authorization/policyAssignments/read", nil, true},
		{mg, "Microsoft.Management/managementGroups/read", nil, true},
	} {
		d, err := a.Decide(Request{Principals: []string{who}, Action: c.action, Scope: c.scope, Above: c.above})
		if err != nil || d.Allowed != c.allowed {
			t.Errorf("%s at %s above %v: %+v %v, want %v", c.action, c.scope, c.above, d, err, c.allowed)
		}
	}
	if _, err := a.Decide(Request{Principals: []string{who}, Action: "x/read", Scope: "/providers/Microsoft.Management/managementGroups"}); err == nil {
		t.Error("a collection path is no scope")
	}
}
