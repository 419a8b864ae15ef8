package armtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/internal/uuid"
)

const (
	rav               = "?api-version=2022-04-01" // what @azure/arm-authorization 9.x sends
	roleDataScientist = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
	roleReader        = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	roleOwner         = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
)

// delegateCondition: may only assign and delete AzureML Data Scientist
// and Reader, to service principals (Azure's "Constrain roles and
// principal types" example, with these roles).
var delegateCondition = fmt.Sprintf(`(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
 )
 OR
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {%[1]s, %[2]s}
  AND
  @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
 )
)
AND
(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
 )
 OR
 (
  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {%[1]s, %[2]s}
  AND
  @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
 )
)`, roleDataScientist, roleReader)

func assignmentBody(role, principal, typ string) map[string]any {
	return map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/" + role,
		"principalId":      principal, "principalType": typ}}
}

// TestRoleAssignmentConditions: Role Based Access Control Administrator
// with a condition at a resource group delegates exactly what the
// condition says: the roles and principal types it names are assigned
// and deleted, anything else is refused (403 AuthorizationFailed with
// Azure's message, and a Failed event), conditions are stored and read
// as written, and malformed or unsupported ones are 400.
func TestRoleAssignmentConditions(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		rg := s.RG("rg1")
		ra := func() string { return rg + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.New() }
		fix := func(body map[string]any) map[string]any { // the roleDefinitionId of this subscription
			p := body["properties"].(map[string]any)
			p["roleDefinitionId"] = strings.Replace(p["roleDefinitionId"].(string), "00000000-0000-0000-0000-000000000000", strings.TrimPrefix(s.sub(), "/subscriptions/"), 1)
			return body
		}
		delegate := s.NewPrincipal(t, "delegate")
		target := s.NewPrincipal(t, "target")
		someUser := uuid.New() // not in the directory: principalType User is taken as given

		// The administrator gives the delegate its conditional role.
		delegation := ra()
		body := fix(assignmentBody("f58310d9-a9f6-439a-9e8d-f62e7b41a168", delegate.ObjectID, "ServicePrincipal"))
		body["properties"].(map[string]any)["condition"] = delegateCondition
		body["properties"].(map[string]any)["conditionVersion"] = "2.0"
		if r := s.Do(t, "PUT", delegation+rav, body); r.Status != 201 {
			t.Fatalf("the delegation: %d %s", r.Status, r.Body)
		}
		r := s.Do(t, "GET", delegation+rav, nil)
		props, _ := r.JSON()["properties"].(map[string]any)
		if r.Status != 200 || props["condition"] != delegateCondition || props["conditionVersion"] != "2.0" {
			t.Errorf("GET of the delegation: %d condition %q version %v, want them as written", r.Status, props["condition"], props["conditionVersion"])
		}

		// Allowed: the roles it names, to a service principal.
		ds := ra()
		if r := s.DoAs(t, delegate.Token, "PUT", ds+rav, fix(assignmentBody(roleDataScientist, target.ObjectID, "ServicePrincipal"))); r.Status != 201 {
			t.Fatalf("the delegate assigns AzureML Data Scientist: %d %s", r.Status, r.Body)
		}
		reader := ra()
		if r := s.DoAs(t, delegate.Token, "PUT", reader+rav, fix(assignmentBody(roleReader, target.ObjectID, "ServicePrincipal"))); r.Status != 201 {
			t.Fatalf("the delegate assigns Reader: %d %s", r.Status, r.Body)
		}

		// Refused: Owner; a user; each with Azure's message and an event.
		const write = "Microsoft.Authorization/roleAssignments/write"
		owner := ra()
		r = s.DoAs(t, delegate.Token, "PUT", owner+rav, fix(assignmentBody(roleOwner, target.ObjectID, "ServicePrincipal")))
		wantAuthorizationFailed(t, "the delegate assigns Owner", r, delegate, write, owner)
		toUser := ra()
		r = s.DoAs(t, delegate.Token, "PUT", toUser+rav, fix(assignmentBody(roleReader, someUser, "User")))
		wantAuthorizationFailed(t, "the delegate assigns Reader to a user", r, delegate, write, toUser)
		for _, id := range []string{owner, toUser} {
			if r := s.Do(t, "GET", id+rav, nil); r.Status != 404 {
				t.Errorf("a refused assignment: GET %d, want 404", r.Status)
			}
		}
		failed := 0
		for _, e := range s.Events(t, "resourceGroupName eq 'rg1'", 0) {
			id, _ := e["resourceId"].(string)
			if (strings.EqualFold(id, owner) || strings.EqualFold(id, toUser)) && e["status"].(map[string]any)["value"] == "Failed" &&
				e["subStatus"].(map[string]any)["value"] == "Forbidden" && e["caller"] == delegate.AppID {
				failed++
			}
		}
		if failed != 2 {
			t.Errorf("%d Failed (Forbidden) events of the refused assignments, want 2", failed)
		}
		// The same id, refused then allowed then refused: a decision made
		// without the body is not kept as the answer.
		again := ra()
		r = s.DoAs(t, delegate.Token, "PUT", again+rav, fix(assignmentBody(roleOwner, target.ObjectID, "ServicePrincipal")))
		wantAuthorizationFailed(t, "Owner at a new id", r, delegate, write, again)
		if r := s.DoAs(t, delegate.Token, "PUT", again+rav, fix(assignmentBody(roleDataScientist, target.ObjectID, "ServicePrincipal"))); r.Status != 409 {
			t.Errorf("AzureML Data Scientist at that id (the same role to the same principal as %s): %d %s, want 409 RoleAssignmentExists", ds, r.Status, r.Body)
		}
		r = s.DoAs(t, delegate.Token, "PUT", again+rav, fix(assignmentBody(roleOwner, target.ObjectID, "ServicePrincipal")))
		wantAuthorizationFailed(t, "Owner at that id again", r, delegate, write, again)

		// Deletes: one it may make; the administrator's Owner and Reader to
		// a user it may not.
		const del = "Microsoft.Authorization/roleAssignments/delete"
		if r := s.DoAs(t, delegate.Token, "DELETE", reader+rav, nil); r.Status != 200 {
			t.Errorf("the delegate deletes its Reader: %d %s", r.Status, r.Body)
		}
		adminOwner, adminUser := ra(), ra()
		s.put(t, adminOwner+rav, fmt.Sprintf(`{"properties":{"roleDefinitionId":%q,"principalId":%q,"principalType":"ServicePrincipal"}}`, s.sub()+"/providers/Microsoft.Authorization/roleDefinitions/"+roleOwner, target.ObjectID), 201)
		s.put(t, adminUser+rav, fmt.Sprintf(`{"properties":{"roleDefinitionId":%q,"principalId":%q,"principalType":"User"}}`, s.sub()+"/providers/Microsoft.Authorization/roleDefinitions/"+roleReader, someUser), 201)
		r = s.DoAs(t, delegate.Token, "DELETE", adminOwner+rav, nil)
		wantAuthorizationFailed(t, "the delegate deletes the administrator's Owner", r, delegate, del, adminOwner)
		r = s.DoAs(t, delegate.Token, "DELETE", adminUser+rav, nil)
		wantAuthorizationFailed(t, "the delegate deletes a user's Reader", r, delegate, del, adminUser)
		for _, id := range []string{adminOwner, adminUser, ds} {
			if r := s.Do(t, "GET", id+rav, nil); r.Status != 200 {
				t.Errorf("GET %s after the refused deletes: %d, want 200", id, r.Status)
			}
		}
		// Reads are not constrained by the condition.
		if r := s.DoAs(t, delegate.Token, "GET", rg+"/providers/Microsoft.Authorization/roleAssignments"+rav, nil); r.Status != 200 {
			t.Errorf("the delegate lists the assignments: %d %s", r.Status, r.Body)
		}
		// The delegation removed, the delegate may no longer assign.
		if r := s.Do(t, "DELETE", delegation+rav, nil); r.Status != 200 {
			t.Fatalf("deleting the delegation: %d %s", r.Status, r.Body)
		}
		late := ra()
		r = s.DoAs(t, delegate.Token, "PUT", late+rav, fix(assignmentBody(roleReader, target.ObjectID, "ServicePrincipal")))
		wantAuthorizationFailed(t, "the delegate after its delegation is deleted", r, delegate, write, late)

		// Malformed and unsupported conditions, and versions.
		for _, c := range []struct {
			name, cond, version string
			code, target, part  string
		}{
			{"unclosed", "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] GuidEquals " + roleReader, "2.0",
				"InvalidConditionSyntax", "/properties/condition", "line 1, column 188"},
			{"an unsupported attribute", "(!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:Description] StringEquals 'x')", "2.0",
				"ConditionNotSupported", "/properties/condition", "@Request[Microsoft.Authorization/roleAssignments:Description]"},
			{"a storage condition", "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'blobs-example-container'))", "2.0",
				"ConditionNotSupported", "/properties/condition", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"},
			{"version 1.0", delegateCondition, "1.0", "InvalidRequestContent", "/properties/conditionVersion", "'1.0'"},
			{"a version alone", "", "2.0", "InvalidRequestContent", "/properties/conditionVersion", "without a 'condition'"},
		} {
			b := fix(assignmentBody(roleReader, target.ObjectID, "ServicePrincipal"))
			p := b["properties"].(map[string]any)
			if c.cond != "" {
				p["condition"] = c.cond
			}
			p["conditionVersion"] = c.version
			id := ra()
			wantError(t, c.name, s.Do(t, "PUT", id+rav, b), 400, c.code, c.target, c.part)
		}
		// Without conditionVersion, 2.0 is stored.
		id := ra()
		b := fix(assignmentBody(roleReader, delegate.ObjectID, "ServicePrincipal"))
		b["properties"].(map[string]any)["condition"] = delegateCondition
		if r := s.Do(t, "PUT", id+rav, b); r.Status != 201 {
			t.Fatalf("a condition without conditionVersion: %d %s", r.Status, r.Body)
		}
		if props, _ := s.Do(t, "GET", id+rav, nil).JSON()["properties"].(map[string]any); props["conditionVersion"] != "2.0" {
			t.Errorf("a condition without conditionVersion: stored %v, want 2.0", props["conditionVersion"])
		}
		// A role definition with a condition stays refused.
		rd := s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/" + uuid.New()
		wantError(t, "a custom role with a condition", s.Do(t, "PUT", rd+rav, fmt.Sprintf(`{"properties":{"roleName":"conditional","assignableScopes":[%q],"permissions":[{"actions":["*/read"],"condition":"x","conditionVersion":"2.0"}]}}`, s.sub())),
			400, "ConditionNotSupported", "/properties/permissions/0/condition", "role definitions")
	})
}
