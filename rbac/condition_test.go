package rbac

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
)

// GUIDs of the documented examples ("Examples to delegate Azure role
// assignment management with conditions").
const (
	backupContributor = "5e467623-bb1f-42f4-a55d-6e525e11384b"
	backupReader      = "a795c7a0-d4a2-40c1-ae25-d81f01202912"
	ownerRole         = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	rbacAdminRole     = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	uaaRole           = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	marketing         = "28c35fea-2099-4cf5-8ad9-473547bc9423"
	someUser          = "ea585310-c95c-4a68-af22-49af4363bbb1"

	writeAction  = "Microsoft.Authorization/roleAssignments/write"
	deleteAction = "Microsoft.Authorization/roleAssignments/delete"
)

// constrainRoles is "Example: Constrain roles", as the condition editor
// writes it (several lines).
const constrainRoles = `(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
 )
 OR 
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912}
 )
)
AND
(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
 )
 OR 
 (
  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912}
 )
)`

// The other documented examples, as Azure PowerShell writes them (one
// line).
const (
	constrainRolesAndTypes  = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'Group'})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'Group'}))"
	constrainRolesAndGroups = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {28c35fea-2099-4cf5-8ad9-473547bc9423, 86951b8b-723a-407b-a74a-1bca3f0c95d0})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {28c35fea-2099-4cf5-8ad9-473547bc9423, 86951b8b-723a-407b-a74a-1bca3f0c95d0}))"
	constrainVMs            = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {ea585310-c95c-4a68-af22-49af4363bbb1})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {ea585310-c95c-4a68-af22-49af4363bbb1}))"
	constrainACR            = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {7f951dda-4ed3-4680-a7ca-43fe172d538d} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {7f951dda-4ed3-4680-a7ca-43fe172d538d} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))"
	constrainAdd            = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {5e467623-bb1f-42f4-a55d-6e525e11384b, a795c7a0-d4a2-40c1-ae25-d81f01202912}))"
	allButPrivileged        = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, f58310d9-a9f6-439a-9e8d-f62e7b41a168, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, f58310d9-a9f6-439a-9e8d-f62e7b41a168, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9}))"
	// The first published form of the last example: ForAnyOfAnyValues
	// with GuidNotEquals holds when the role differs from any one of the
	// three, that is always. Azure's semantics, kept.
	allButPrivilegedAnyOfAny = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, f58310d9-a9f6-439a-9e8d-f62e7b41a168, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, f58310d9-a9f6-439a-9e8d-f62e7b41a168, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9}))"
)

func req(role, principal, typ string) *Attributes {
	return &Attributes{Request: AssignmentAttributesOf("/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/"+role, principal, typ)}
}

func res(role, principal, typ string) *Attributes {
	return &Attributes{Resource: AssignmentAttributesOf(role, principal, typ)}
}

// TestConditionExamples: the documented examples compile and hold for
// what they say they allow, and only that.
func TestConditionExamples(t *testing.T) {
	type check struct {
		action string
		at     *Attributes
		want   bool
	}
	sp, user, group := "ServicePrincipal", "User", "Group"
	for _, c := range []struct {
		name, cond string
		checks     []check
	}{
		{"constrain roles", constrainRoles, []check{
			{writeAction, req(backupContributor, someUser, user), true},
			{writeAction, req(strings.ToUpper(backupReader), someUser, user), true},
			{writeAction, req(ownerRole, someUser, user), false},
			{deleteAction, res(backupReader, someUser, sp), true},
			{deleteAction, res(ownerRole, someUser, sp), false},
			// A write is not judged by the deleted assignment's attributes.
			{writeAction, res(backupReader, someUser, sp), false},
			{"Microsoft.Authorization/roleAssignments/read", nil, true},
			{"Microsoft.Support/supportTickets/write", nil, true},
		}},
		{"constrain roles and principal types", constrainRolesAndTypes, []check{
			{writeAction, req(backupContributor, someUser, user), true},
			{writeAction, req(backupContributor, someUser, "group"), true},
			{writeAction, req(backupContributor, someUser, sp), false},
			{writeAction, req(ownerRole, someUser, user), false},
			{deleteAction, res(backupReader, someUser, group), true},
			{deleteAction, res(backupReader, someUser, sp), false},
		}},
		{"constrain roles and groups", constrainRolesAndGroups, []check{
			{writeAction, req(backupContributor, marketing, group), true},
			{writeAction, req(backupContributor, strings.ToUpper(marketing), group), true},
			{writeAction, req(backupContributor, someUser, user), false},
			{deleteAction, res(backupContributor, marketing, group), true},
		}},
		{"constrain VM management", constrainVMs, []check{
			{writeAction, req("1c0163c0-47e6-4577-8991-ea5c82e286e4", someUser, user), true},
			{writeAction, req("1c0163c0-47e6-4577-8991-ea5c82e286e4", marketing, group), false},
		}},
		{"constrain ACR management", constrainACR, []check{
			{writeAction, req("7f951dda-4ed3-4680-a7ca-43fe172d538d", someUser, sp), true},
			{writeAction, req("7f951dda-4ed3-4680-a7ca-43fe172d538d", someUser, user), false},
			{deleteAction, res("7f951dda-4ed3-4680-a7ca-43fe172d538d", someUser, sp), true},
		}},
		{"constrain add only", constrainAdd, []check{
			{writeAction, req(backupContributor, someUser, user), true},
			{writeAction, req(ownerRole, someUser, user), false},
			{deleteAction, res(ownerRole, someUser, user), true},
			{deleteAction, nil, true},
		}},
		{"all roles but the privileged ones", allButPrivileged, []check{
			{writeAction, req(backupContributor, someUser, user), true},
			{writeAction, req(ownerRole, someUser, user), false},
			{writeAction, req(uaaRole, someUser, user), false},
			{deleteAction, res(rbacAdminRole, someUser, user), false},
			{deleteAction, res(backupReader, someUser, user), true},
		}},
		{"ForAnyOfAnyValues:GuidNotEquals holds for every role", allButPrivilegedAnyOfAny, []check{
			{writeAction, req(ownerRole, someUser, user), true},
			{deleteAction, res(uaaRole, someUser, user), true},
		}},
		{"operators alone, && and ||, NOT, quoted GUIDs", `(!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) || (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] GuidEquals '` + backupReader + `' && NOT @Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals 'User'))`, []check{
			{writeAction, req(backupReader, someUser, group), true},
			{writeAction, req(backupReader, someUser, user), false},
			// StringEquals is case-sensitive: 'user' is not 'User'.
			{writeAction, req(backupReader, someUser, "user"), true},
			{writeAction, req(backupContributor, someUser, group), false},
		}},
		{"one clause for both actions, negative operators", `(!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) AND !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringNotEqualsIgnoreCase 'user' AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] GuidNotEquals ` + someUser + `)`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cond, err := ParseCondition(c.cond)
			if c.checks == nil {
				// The last case reads @Request for a delete: refused.
				var ae *arm.Error
				if !errors.As(err, &ae) || ae.Code != "ConditionNotSupported" || !strings.Contains(ae.Message, "roleAssignments/delete") {
					t.Fatalf("ParseCondition = %v, want ConditionNotSupported naming the delete", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCondition: %v", err)
			}
			if cond.String() != c.cond {
				t.Errorf("String() is not the condition as written")
			}
			for _, k := range c.checks {
				ok, known := cond.holds(strings.ToLower(k.action), k.at)
				if !known || ok != k.want {
					t.Errorf("holds(%s, %+v) = %v (known %v), want %v", k.action, attrText(k.at), ok, known, k.want)
				}
			}
		})
	}
}

func attrText(at *Attributes) string {
	switch {
	case at == nil:
		return "no attributes"
	case at.Request != nil:
		return "@Request " + at.Request.RoleDefinitionID + " " + at.Request.PrincipalID + " " + at.Request.PrincipalType
	case at.Resource != nil:
		return "@Resource " + at.Resource.RoleDefinitionID + " " + at.Resource.PrincipalID + " " + at.Resource.PrincipalType
	}
	return "?"
}

// TestConditionUnknown: without attributes, a condition that reads them
// for the action is not known; one that does not is.
func TestConditionUnknown(t *testing.T) {
	c, err := ParseCondition(constrainAdd)
	if err != nil {
		t.Fatal(err)
	}
	if ok, known := c.holds(strings.ToLower(writeAction), nil); ok || known {
		t.Errorf("write without attributes: %v %v, want not known", ok, known)
	}
	if ok, known := c.holds(strings.ToLower(deleteAction), nil); !ok || !known {
		t.Errorf("delete without attributes: %v %v, want true", ok, known)
	}
	// Constant residuals: the write is never allowed.
	c, err = ParseCondition("!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})")
	if err != nil {
		t.Fatal(err)
	}
	if ok, known := c.holds(strings.ToLower(writeAction), nil); ok || !known {
		t.Errorf("write forbidden: %v %v, want false, known", ok, known)
	}
}

// TestConditionErrors: syntax errors name their line and column;
// what mlgov does not evaluate is ConditionNotSupported, naming it.
func TestConditionErrors(t *testing.T) {
	const w = "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})"
	const attr = "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"
	for _, c := range []struct {
		cond, code string
		in         []string // substrings of the message
	}{
		{"", "InvalidConditionSyntax", []string{"line 1, column 1", "found end of condition"}},
		{"(" + w + ") OR (", "InvalidConditionSyntax", []string{"line 1, column 73", "found end of condition"}},
		{"(" + w + " OR " + attr + " GuidEquals " + backupReader, "InvalidConditionSyntax", []string{"')' to close the '(' at line 1, column 1", "found end of condition"}},
		{"(" + w + ")\nOR\n(" + attr + " ForAnyOfAnyValues:GuidEquals {" + backupReader + ", })", "InvalidConditionSyntax", []string{"line 3, column 137", "found '}'"}},
		{w + " OR " + attr + " GuidEquals 'abc", "InvalidConditionSyntax", []string{"column 148", "not closed"}},
		{w + " OR " + attr + " GuidEquals " + backupReader + " AND " + attr + " GuidEquals " + backupReader + " OR " + w, "InvalidConditionSyntax", []string{"mixed without parentheses"}},
		{w + " OR " + attr + " GuidEquals not-a-guid", "InvalidConditionSyntax", []string{"'not-a-guid' is not a GUID", "column 148"}},
		{w + " OR " + attr + " GuidEquals {" + backupReader + ", " + ownerRole + "}", "InvalidConditionSyntax", []string{"compares with one value"}},
		{w + " OR @Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals User", "InvalidConditionSyntax", []string{"'User' is not a quoted string"}},
		{w + " OR " + attr + " GuidEquals " + backupReader + " )", "InvalidConditionSyntax", []string{"unexpected ')'"}},
		{w + " OR @Request Microsoft", "InvalidConditionSyntax", []string{"@Source[name]"}},
		{w + " # x", "InvalidConditionSyntax", []string{"unexpected '#'", "column 67"}},
		{strings.Repeat("(", 100) + w + strings.Repeat(")", 100), "InvalidConditionSyntax", []string{"nests more than"}},
		{strings.Repeat("!", 100) + w, "InvalidConditionSyntax", []string{"nests more than"}},

		{"!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}) OR @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'x'", "ConditionNotSupported", []string{"ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}", "column 3"}},
		{"!(ActionMatches{'Microsoft.Authorization/roleAssignments/*'}) OR " + attr + " GuidEquals " + backupReader, "ConditionNotSupported", []string{"ActionMatches{'Microsoft.Authorization/roleAssignments/*'}"}},
		{w + " OR @Request[Microsoft.Authorization/roleAssignments:Scope] StringEquals 'x'", "ConditionNotSupported", []string{"@Request[Microsoft.Authorization/roleAssignments:Scope]", "column 70"}},
		{w + " OR @Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Engineering_Project] StringEquals 'x'", "ConditionNotSupported", []string{"@Principal"}},
		{w + " OR " + attr + " StringEqualsIgnoreCase '" + backupReader + "'", "ConditionNotSupported", []string{"'StringEqualsIgnoreCase' is not supported on Microsoft.Authorization/roleAssignments:RoleDefinitionId"}},
		{w + " OR " + attr + " ForAnyOfAnyValues:GuidLike {" + backupReader + "}", "ConditionNotSupported", []string{"'ForAnyOfAnyValues:GuidLike'"}},
		{w + " OR " + attr + " ForSomeValues:GuidEquals {" + backupReader + "}", "ConditionNotSupported", []string{"'ForSomeValues:GuidEquals'"}},
		{w + " OR Exists " + attr, "ConditionNotSupported", []string{"Exists"}},
		{"!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'} AND SubOperationMatches{'x'}) OR " + attr + " GuidEquals " + backupReader, "ConditionNotSupported", []string{"SubOperationMatches"}},
		// An attribute without ActionMatches would constrain every action.
		{attr + " GuidEquals " + backupReader, "ConditionNotSupported", []string{"does not hold for every action", "column 1"}},
		// The write's attributes are @Request, the delete's @Resource.
		{w + " OR @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] GuidEquals " + backupReader, "ConditionNotSupported", []string{"not an attribute of Microsoft.Authorization/roleAssignments/write"}},
		// Unreachable, still refused.
		{"(" + w + " OR ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) OR @Request[Bogus:x] GuidEquals " + backupReader, "ConditionNotSupported", []string{"@Request[Bogus:x]"}},
	} {
		_, err := ParseCondition(c.cond)
		var ae *arm.Error
		if !errors.As(err, &ae) || ae.Code != c.code || ae.Target != "/properties/condition" {
			t.Errorf("ParseCondition(%q) = %v, want %s", c.cond, err, c.code)
			continue
		}
		for _, s := range c.in {
			if !strings.Contains(ae.Message, s) {
				t.Errorf("ParseCondition(%q): %q does not say %q", c.cond, ae.Message, s)
			}
		}
	}
}

// TestDecideConditions: an assignment with a condition grants its role
// only when the condition holds for the request; without the request's
// attributes the decision is Conditional; an unconditional grant wins.
func TestDecideConditions(t *testing.T) {
	defs := []*RoleDefinition{
		{Name: rbacAdminRole, RoleName: "Role Based Access Control Administrator", AssignableScopes: []string{"/"},
			Permissions: []Permission{{Actions: []string{"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read"}}}},
		{Name: backupReader, RoleName: "Backup Reader", AssignableScopes: []string{"/"}, Permissions: []Permission{{Actions: []string{"*/read"}}}},
	}
	const sub = "/subscriptions/11111111-1111-1111-1111-111111111111"
	rg := sub + "/resourceGroups/rg1"
	target := rg + "/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-00000000000a"
	delegate, other := "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	a := New(defs)
	if err := a.Add(&Assignment{ID: "c", Scope: rg, RoleDefinitionID: rbacAdminRole, PrincipalID: delegate, Condition: constrainRolesAndTypes, ConditionVersion: "2.0"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		principal    string
		action       string
		at           *Attributes
		allowed, cnd bool
	}{
		{"write of an allowed role", delegate, writeAction, req(backupReader, other, "User"), true, false},
		{"write of Owner", delegate, writeAction, req(ownerRole, other, "User"), false, false},
		{"write to a service principal", delegate, writeAction, req(backupReader, other, "ServicePrincipal"), false, false},
		{"write without attributes", delegate, writeAction, nil, false, true},
		{"delete of an allowed one", delegate, deleteAction, res(backupContributor, other, "Group"), true, false},
		{"delete of Owner", delegate, deleteAction, res(ownerRole, other, "Group"), false, false},
		{"read: not constrained", delegate, "Microsoft.Authorization/roleAssignments/read", nil, true, false},
		{"another principal", other, writeAction, req(backupReader, other, "User"), false, false},
	} {
		d, err := a.Decide(Request{Principals: []string{c.principal}, Action: c.action, Scope: target, Attributes: c.at})
		if err != nil || d.Allowed != c.allowed || d.Conditional != c.cnd {
			t.Errorf("%s: %+v %v, want allowed %v conditional %v", c.name, d, err, c.allowed, c.cnd)
		}
	}
	// An unconditional grant at a scope above wins over the condition.
	if err := a.Add(&Assignment{ID: "u", Scope: sub, RoleDefinitionID: rbacAdminRole, PrincipalID: delegate}); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Decide(Request{Principals: []string{delegate}, Action: writeAction, Scope: target}); !d.Allowed || d.By.ID != "u" {
		t.Errorf("with an unconditional assignment too: %+v, want allowed by it", d)
	}
	// Clone keeps the compiled condition.
	b := a.Clone()
	b.Remove("u")
	if d, _ := b.Decide(Request{Principals: []string{delegate}, Action: writeAction, Scope: target, Attributes: req(ownerRole, other, "User")}); d.Allowed {
		t.Errorf("the clone without the unconditional assignment allows Owner: %+v", d)
	}
}

// FuzzParseCondition: the parser never panics, and what it compiles
// evaluates without panicking.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{constrainRoles, constrainRolesAndTypes, constrainAdd, allButPrivileged, "", "(", "@Request[", "'", "!!!x", "a AND b OR c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s)
		if err != nil {
			var ae *arm.Error
			if !errors.As(err, &ae) {
				t.Fatalf("ParseCondition(%q): %v is not an *arm.Error", s, err)
			}
			return
		}
		for _, a := range []string{writeAction, deleteAction, "x/read"} {
			c.holds(strings.ToLower(a), nil)
			c.holds(strings.ToLower(a), req(backupReader, someUser, "User"))
			c.holds(strings.ToLower(a), res(backupReader, someUser, "User"))
		}
	})
}

// BenchmarkCondition is the evaluation of a compiled condition (the
// documented "constrain roles and principal types") for a write: no
// allocations.
func BenchmarkCondition(b *testing.B) {
	c, err := ParseCondition(constrainRolesAndTypes)
	if err != nil {
		b.Fatal(err)
	}
	at := req(backupReader, someUser, "Group")
	action := strings.ToLower(writeAction)
	if n := testing.AllocsPerRun(100, func() { c.holds(action, at) }); n != 0 {
		b.Fatalf("%v allocations per evaluation, want 0", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := c.holds(action, at); !ok {
			b.Fatal("the condition does not hold")
		}
	}
}
