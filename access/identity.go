package access

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// The role table of a workspace's system-assigned identity
// (../shared/docs/resource-model.md §5.1): made with the workspace, kept
// with it (a change of its linked resources moves the roles; resyncKeys
// restores what was removed), removed with it. The role assignments are
// the resource provider's own writes: mirrors of the workspace's
// writes (resources.TypeSpec.Mirrors), in the same transaction.

const typeWorkspace = "Microsoft.MachineLearningServices/workspaces"

// Built-in role GUIDs of the table.
const (
	roleContributor            = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	roleStorageBlobDataContrib = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	roleKeyVaultAdministrator  = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
)

// identityRole is one row of a workspace identity's role table.
type identityRole struct {
	scope *arm.ID
	role  string
}

// identityRoles is the role table of the workspace obj (at id): none
// without a system-assigned identity.
func identityRoles(id *arm.ID, obj value.Value) (principal string, rows []identityRole) {
	ident := obj.Field("identity")
	if !strings.Contains(strings.ToLower(ident.Field("type").Str()), "systemassigned") {
		return "", nil
	}
	principal = ident.Field("principalId").Str()
	if principal == "" {
		return "", nil
	}
	rows = append(rows, identityRole{id, roleContributor}, identityRole{&arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}, roleContributor})
	props := obj.Field("properties")
	for _, l := range []struct{ prop, role string }{
		{"containerRegistry", roleContributor},
		{"storageAccount", roleStorageBlobDataContrib},
		{"keyVault", roleKeyVaultAdministrator},
	} {
		if ref, err := arm.ParseID(props.Field(l.prop).Str()); err == nil && ref.IsResource() && ref.Trailing == "" {
			rows = append(rows, identityRole{ref, l.role})
		}
	}
	return principal, rows
}

// identityAssignmentID is the id of a row's role assignment: its name
// is derived from the workspace, the principal, the role and the scope,
// so that a resync finds the one it made.
func identityAssignmentID(ws *arm.ID, principal string, r identityRole) *arm.ID {
	h := sha256.Sum256([]byte(ws.Key() + "\n" + strings.ToLower(principal) + "\n" + r.role + "\n" + r.scope.Key()))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	name := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	id, _ := arm.ParseID(r.scope.String() + "/providers/Microsoft.Authorization/roleAssignments/" + name)
	return id
}

// identityMirrors keeps the role table of a workspace write (obj as
// stored, Undefined for a delete; old as it was).
func identityMirrors(c *resources.Ctx, obj, old value.Value) []resources.Mirror {
	ws := c.ID
	var out []resources.Mirror
	want := map[string]bool{}
	principal, rows := identityRoles(ws, obj)
	now := c.Now.UTC().Format("2006-01-02T15:04:05.0000000Z")
	for _, r := range rows {
		id := identityAssignmentID(ws, principal, r)
		want[id.Key()] = true
		p := assignmentProps{
			RoleDefinitionID: "/subscriptions/" + ws.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + r.role,
			PrincipalID:      principal, PrincipalType: "ServicePrincipal", Scope: r.scope.String(),
			CreatedOn: now, UpdatedOn: now, CreatedBy: c.Principal.ObjectID, UpdatedBy: c.Principal.ObjectID,
		}
		desc := "The system-assigned identity of the workspace " + ws.String()
		p.Description = &desc
		out = append(out, resources.Mirror{ID: id, Update: func(cur value.Value) value.Value {
			if !cur.IsUndefined() && strings.EqualFold(cur.Field("properties").Field("principalId").Str(), principal) {
				return cur // as it is: a resync changes nothing that holds
			}
			body := value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id.String())},
				value.Member{Key: "name", Value: value.StringValue(id.Name())},
				value.Member{Key: "type", Value: value.StringValue(TypeRoleAssignment)})
			v, err := withProps(body, p)
			if err != nil {
				return cur
			}
			return v
		}})
	}
	oldPrincipal, oldRows := identityRoles(ws, old)
	for _, r := range oldRows {
		if id := identityAssignmentID(ws, oldPrincipal, r); !want[id.Key()] {
			out = append(out, resources.Mirror{ID: id, Update: func(value.Value) value.Value { return value.Value{} }})
		}
	}
	return out
}

// identityKeys are the store keys of the role assignments of a
// workspace write's role tables, before and after it.
func identityKeys(at *resources.Attributes) []string {
	var keys []string
	for _, obj := range []value.Value{at.OldObject, at.Object} {
		principal, rows := identityRoles(at.ID, obj)
		for _, r := range rows {
			keys = append(keys, identityAssignmentID(at.ID, principal, r).Key())
		}
	}
	return keys
}

// identityTypes are the types whose resources have managed identities
// that role assignments may name: user-assigned identities
// (properties.principalId) and the resources with a system-assigned
// identity (identity.principalId): workspaces, computes and policy
// assignments.
var identityTypes = []struct {
	typ  string
	path []string
}{
	{"Microsoft.ManagedIdentity/userAssignedIdentities", []string{"properties", "principalId"}},
	{typeWorkspace, []string{"identity", "principalId"}},
	{typeWorkspace + "/computes", []string{"identity", "principalId"}},
	// A policy assignment's identity: what its remediations act as.
	{"Microsoft.Authorization/policyAssignments", []string{"identity", "principalId"}},
}

// principal is Config.Principal, and then, when managed is set, the
// managed identities: they are service principals of the tenant (Azure
// creates them in the directory with their resource), here found by
// their resources, a scan of every resource of identityTypes.
func (a *Access) principal(ctx context.Context, oid string, managed bool) (string, bool, error) {
	typ, ok, err := a.cfg.Principal(ctx, oid)
	if err != nil || ok || !managed {
		return typ, ok, err
	}
	for _, it := range identityTypes {
		for r, err := range store.ListAll(ctx, a.st, store.ListQuery{TypeKey: arm.KeyOf(it.typ)}) {
			if err != nil {
				return "", false, err
			}
			v, err := value.Parse(r.Body)
			if err != nil {
				continue
			}
			for _, k := range it.path {
				v = v.Field(k)
			}
			if strings.EqualFold(v.Str(), oid) {
				return "ServicePrincipal", true, nil
			}
		}
	}
	return "", false, nil
}
