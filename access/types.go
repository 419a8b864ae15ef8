package access

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/rbac"
	"github.com/mlgov/mlgov/resources"
)

// The Microsoft.Authorization RBAC types, as extension resources of the
// write path at every scope (a subscription, a resource group, a
// resource): the envelope is the write path's, the properties are
// checked and completed here.
const (
	TypeRoleAssignment = "Microsoft.Authorization/roleAssignments"
	TypeRoleDefinition = "Microsoft.Authorization/roleDefinitions"
)

// principalTypes are the values of a role assignment's principalType.
var principalTypes = []string{"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}

// assignmentProps are a role assignment's properties.
type assignmentProps struct {
	RoleDefinitionID                   string  `json:"roleDefinitionId"`
	PrincipalID                        string  `json:"principalId"`
	PrincipalType                      string  `json:"principalType,omitempty"`
	Scope                              string  `json:"scope"`
	Description                        *string `json:"description,omitempty"`
	Condition                          string  `json:"condition,omitempty"`
	ConditionVersion                   string  `json:"conditionVersion,omitempty"`
	DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId,omitempty"`
	CreatedOn                          string  `json:"createdOn,omitempty"`
	UpdatedOn                          string  `json:"updatedOn,omitempty"`
	CreatedBy                          string  `json:"createdBy,omitempty"`
	UpdatedBy                          string  `json:"updatedBy,omitempty"`
}

// roleProps are a custom role definition's properties.
type roleProps struct {
	RoleName         string            `json:"roleName"`
	Type             string            `json:"type"`
	Description      string            `json:"description"`
	AssignableScopes []string          `json:"assignableScopes"`
	Permissions      []rbac.Permission `json:"permissions"`
	CreatedOn        string            `json:"createdOn,omitempty"`
	UpdatedOn        string            `json:"updatedOn,omitempty"`
	CreatedBy        string            `json:"createdBy,omitempty"`
	UpdatedBy        string            `json:"updatedBy,omitempty"`
}

// Register adds the role assignment and custom role definition types
// to reg, and the role table of a workspace's identity to its writes
// (identity.go).
func (a *Access) Register(reg *resources.Registry) {
	reg.Add(&resources.TypeSpec{Type: TypeRoleAssignment, Extension: true, NoProvisioningState: true, CreatedOnUpdate: true,
		Build: a.buildAssignment, ScopeList: a.assignmentFilter})
	reg.Add(&resources.TypeSpec{Type: TypeRoleDefinition, Extension: true, NoProvisioningState: true, CreatedOnUpdate: true,
		Build: a.buildRole})
	reg.AddMirrors(typeWorkspace, identityMirrors)
}

// invalid is a 400 InvalidRequestContent pointing into the body.
func invalid(target, format string, args ...any) *arm.Error {
	e := arm.Errorf("InvalidRequestContent", format, args...)
	e.Target = target
	return e
}

// decodeProps decodes the body's properties into v, refusing fields it
// does not know.
func decodeProps(body value.Value, what string, v any) error {
	p := body.Field("properties")
	if p.Kind() != value.Object {
		return invalid("/properties", "A %s needs an object 'properties'.", what)
	}
	dec := json.NewDecoder(strings.NewReader(p.JSON()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("/properties", "The %s's properties are not valid: %s.", what, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// buildAssignment checks and completes a role assignment.
func (a *Access) buildAssignment(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	if !uuid.Valid(c.ID.Name()) {
		return value.Value{}, arm.Errorf("InvalidRoleAssignmentId", "The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", arm.Clip(c.ID.Name(), 64))
	}
	var p assignmentProps
	if err := decodeProps(body, "role assignment", &p); err != nil {
		return value.Value{}, err
	}
	scope := c.ID.Parent().String()
	switch {
	case p.RoleDefinitionID == "":
		return value.Value{}, invalid("/properties/roleDefinitionId", "A role assignment needs 'roleDefinitionId', the id of the role it gives.")
	case p.PrincipalID == "":
		return value.Value{}, invalid("/properties/principalId", "A role assignment needs 'principalId', the object id of the user, group or service principal it gives the role to.")
	case !uuid.Valid(p.PrincipalID):
		return value.Value{}, arm.Errorf("InvalidPrincipalId", "The principal id '%s' is not a GUID.", arm.Clip(p.PrincipalID, 64))
	case p.Scope != "" && !strings.EqualFold(p.Scope, scope):
		return value.Value{}, invalid("/properties/scope", "The role assignment's scope '%s' is not the scope of its path, '%s'.", arm.Clip(p.Scope, 300), scope)
	}
	// A condition: compiled now (a syntax error is 400
	// InvalidConditionSyntax, what mlgov does not evaluate 400
	// ConditionNotSupported: never stored as if it held), version 2.0
	// (the default, as the Azure CLI sends it).
	switch {
	case strings.TrimSpace(p.Condition) == "" && p.ConditionVersion != "":
		return value.Value{}, invalid("/properties/conditionVersion", "The given role assignment condition is invalid: 'conditionVersion' is set without a 'condition'.")
	case strings.TrimSpace(p.Condition) == "":
		p.Condition = ""
	case p.ConditionVersion != "" && p.ConditionVersion != rbac.ConditionVersion:
		return value.Value{}, invalid("/properties/conditionVersion", "The given role assignment condition is invalid: the condition version '%s' is not supported; use '%s'.", arm.Clip(p.ConditionVersion, 16), rbac.ConditionVersion)
	default:
		if _, err := rbac.ParseCondition(p.Condition); err != nil {
			return value.Value{}, err
		}
		p.ConditionVersion = rbac.ConditionVersion
	}
	if p.PrincipalType != "" {
		ok := false
		for _, t := range principalTypes {
			if strings.EqualFold(t, p.PrincipalType) {
				p.PrincipalType, ok = t, true
			}
		}
		if !ok {
			return value.Value{}, invalid("/properties/principalType", "The principal type '%s' is not one of %s.", arm.Clip(p.PrincipalType, 64), strings.Join(principalTypes, ", "))
		}
	}
	// The principal is looked up in the directory; as in Azure, a given
	// principalType lets an assignment name a principal the directory
	// does not hold (yet: Azure's answer to its replication delay), and
	// then the managed identities are not searched (a scan of their
	// resources) — only a directory object of another type is refused.
	if a.cfg.Principal != nil {
		typ, ok, err := a.principal(c.Context, p.PrincipalID, p.PrincipalType == "")
		if err != nil {
			return value.Value{}, err
		}
		switch {
		case !ok && p.PrincipalType == "":
			return value.Value{}, arm.Errorf("PrincipalNotFound", "Principal %s does not exist in the directory %s. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.",
				strings.ReplaceAll(strings.ToLower(p.PrincipalID), "-", ""), c.TenantID)
		case ok && p.PrincipalType == "":
			p.PrincipalType = typ
		case ok && !strings.EqualFold(p.PrincipalType, typ):
			return value.Value{}, invalid("/properties/principalType", "The principal type '%s' is not the type of principal %s, which is a %s.", p.PrincipalType, p.PrincipalID, typ)
		}
	}
	if p.PrincipalType == "" {
		return value.Value{}, invalid("/properties/principalType", "A role assignment needs 'principalType' (%s).", strings.Join(principalTypes, ", "))
	}
	// The authorize stage allowed the write from its action and scope
	// alone; decided again with the assignment written (@Request), which
	// the conditions of the caller's assignments may constrain.
	if err := a.authorizeAssignment(c.Context, &c.Principal, "write", c.ID,
		&rbac.Attributes{Request: rbac.AssignmentAttributesOf(p.RoleDefinitionID, p.PrincipalID, p.PrincipalType)}); err != nil {
		return value.Value{}, err
	}
	s, err := a.current(c.Context)
	if err != nil {
		return value.Value{}, err
	}
	role, ok := s.authz.Role(p.RoleDefinitionID)
	if !ok {
		return value.Value{}, arm.Errorf("RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", arm.Clip(roleName(p.RoleDefinitionID), 64))
	}
	// The role definition id as Azure stores it: the subscription's form
	// (the tenant's at a management group).
	p.RoleDefinitionID = "/providers/Microsoft.Authorization/roleDefinitions/" + role.Name
	if c.ID.SubscriptionID != "" {
		p.RoleDefinitionID = "/subscriptions/" + c.ID.SubscriptionID + p.RoleDefinitionID
	}
	// What rbac.Add checks (assignable scope), on a scratch Authorizer.
	if err := rbac.New([]*rbac.RoleDefinition{role}).Add(&rbac.Assignment{Scope: scope, RoleDefinitionID: role.Name, PrincipalID: p.PrincipalID}); err != nil {
		return value.Value{}, err
	}
	key := c.ID.Key()
	for _, as := range s.authz.Find(scope, p.PrincipalID) {
		if as.ID != key && strings.EqualFold(roleName(as.RoleDefinitionID), role.Name) {
			return value.Value{}, arm.Errorf("RoleAssignmentExists", "The role assignment already exists: '%s' gives the same role to the same principal at the same scope.", as.ID)
		}
	}
	now := c.Now.UTC().Format("2006-01-02T15:04:05.0000000Z")
	p.Scope, p.CreatedOn, p.UpdatedOn, p.CreatedBy, p.UpdatedBy = scope, now, now, c.Principal.ObjectID, c.Principal.ObjectID
	if !existing.IsUndefined() {
		var old assignmentProps
		_ = json.Unmarshal([]byte(existing.Field("properties").JSON()), &old)
		if !strings.EqualFold(old.PrincipalID, p.PrincipalID) || !strings.EqualFold(roleName(old.RoleDefinitionID), role.Name) {
			return value.Value{}, arm.Errorf("RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated: the role assignment '%s' gives '%s' to '%s'; delete it and create another.", c.ID.Name(), roleName(old.RoleDefinitionID), old.PrincipalID)
		}
		p.CreatedOn, p.CreatedBy = old.CreatedOn, old.CreatedBy
	}
	return withProps(obj, p)
}

// roleName is the GUID at the end of a role definition id.
func roleName(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

func withProps(obj value.Value, p any) (value.Value, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return value.Value{}, err
	}
	v, err := value.Parse(b)
	if err != nil {
		return value.Value{}, err
	}
	return obj.With("properties", v), nil
}

// buildRole checks and completes a custom role definition.
func (a *Access) buildRole(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	name := c.ID.Name()
	if !uuid.Valid(name) {
		return value.Value{}, arm.Errorf("InvalidRoleDefinitionId", "The role definition ID '%s' is not valid. The role definition ID must be a GUID.", arm.Clip(name, 64))
	}
	if _, ok := a.builtin[strings.ToLower(name)]; ok {
		return value.Value{}, arm.Errorf("RoleDefinitionBuiltIn", "The role definition '%s' is a built-in role: built-in roles cannot be changed.", name)
	}
	var p roleProps
	if err := decodeProps(body, "role definition", &p); err != nil {
		return value.Value{}, err
	}
	switch {
	case strings.TrimSpace(p.RoleName) == "":
		return value.Value{}, invalid("/properties/roleName", "A role definition needs 'roleName'.")
	case p.Type != "" && !strings.EqualFold(p.Type, "CustomRole"):
		return value.Value{}, invalid("/properties/type", "The role definition type '%s' cannot be written: only custom roles are ('CustomRole').", arm.Clip(p.Type, 64))
	case len(p.Permissions) == 0:
		return value.Value{}, invalid("/properties/permissions", "A role definition needs 'permissions', with at least one entry.")
	}
	scopeSub := c.ID.SubscriptionID
	for i, sc := range p.AssignableScopes {
		id, err := arm.ParseID(sc)
		if err != nil || id.Trailing != "" || id.SubscriptionID == "" {
			return value.Value{}, invalid("/properties/assignableScopes/"+strconv.Itoa(i), "The assignable scope '%s' is not a subscription, resource group or resource id.", arm.Clip(sc, 300))
		}
		if !strings.EqualFold(id.SubscriptionID, scopeSub) {
			return value.Value{}, invalid("/properties/assignableScopes/"+strconv.Itoa(i), "The assignable scope '%s' is not in the subscription '%s' the role definition is created in.", arm.Clip(sc, 300), scopeSub)
		}
	}
	for i := range p.Permissions {
		pm := &p.Permissions[i]
		if pm.Condition != nil || pm.ConditionVersion != nil {
			e := arm.Errorf("ConditionNotSupported", "Conditions in role definitions' permissions are not evaluated by mlgov, so a role definition with one is refused rather than taken as unconditional: remove 'condition' and 'conditionVersion' (conditions are served on role assignments, conditionVersion 2.0, for Microsoft.Authorization/roleAssignments/write and /delete).")
			e.Target = "/properties/permissions/" + strconv.Itoa(i) + "/condition"
			return value.Value{}, e
		}
		for _, l := range []*[]string{&pm.Actions, &pm.NotActions, &pm.DataActions, &pm.NotDataActions} {
			if *l == nil {
				*l = []string{}
			}
		}
	}
	p.Type = "CustomRole"
	d := &rbac.RoleDefinition{Name: name, RoleName: p.RoleName, RoleType: "CustomRole", Description: p.Description, AssignableScopes: p.AssignableScopes, Permissions: p.Permissions}
	if err := d.Validate(); err != nil {
		return value.Value{}, err
	}
	s, err := a.current(c.Context)
	if err != nil {
		return value.Value{}, err
	}
	key := c.ID.Key()
	for _, other := range append(append([]*rbac.RoleDefinition(nil), a.cfg.Roles...), values(s.custom)...) {
		if strings.EqualFold(other.Name, name) && other.RoleType == "CustomRole" && arm.KeyOf(other.ID) != key {
			return value.Value{}, arm.Errorf("RoleDefinitionExists", "A custom role with the ID '%s' already exists at '%s'.", name, other.ID)
		}
		if strings.EqualFold(other.RoleName, p.RoleName) && !strings.EqualFold(other.Name, name) {
			return value.Value{}, arm.Errorf("RoleDefinitionWithSameNameExists", "A role definition cannot be updated with a name that already exists: '%s' is the role '%s'.", p.RoleName, other.Name)
		}
	}
	now := c.Now.UTC().Format("2006-01-02T15:04:05.0000000Z")
	p.CreatedOn, p.UpdatedOn, p.CreatedBy, p.UpdatedBy = now, now, c.Principal.ObjectID, c.Principal.ObjectID
	if !existing.IsUndefined() {
		var old roleProps
		_ = json.Unmarshal([]byte(existing.Field("properties").JSON()), &old)
		p.CreatedOn, p.CreatedBy = old.CreatedOn, old.CreatedBy
	}
	return withProps(obj, p)
}

func values(m map[string]*rbac.RoleDefinition) []*rbac.RoleDefinition {
	out := make([]*rbac.RoleDefinition, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	return out
}

// Validate implements resources.ValidatingAdmission: the delete of a
// role assignment is decided again with the assignment deleted
// (@Resource), which the conditions of the caller's assignments may
// constrain; a custom role that role assignments give cannot be deleted
// (Azure's RoleDefinitionHasAssignments).
func (a *Access) Validate(ctx context.Context, at *resources.Attributes) error {
	if at.Operation != resources.OpDelete || at.Spec == nil {
		return nil
	}
	if arm.EqualName(at.Spec.Type, TypeRoleAssignment) && at.Existing != nil {
		var b struct {
			Properties assignmentProps `json:"properties"`
		}
		if err := json.Unmarshal(at.Existing.Body, &b); err != nil {
			return err
		}
		p := b.Properties
		return a.authorizeAssignment(ctx, &at.Principal, "delete", at.ID,
			&rbac.Attributes{Resource: rbac.AssignmentAttributesOf(p.RoleDefinitionID, p.PrincipalID, p.PrincipalType)})
	}
	if !arm.EqualName(at.Spec.Type, TypeRoleDefinition) {
		return nil
	}
	s, err := a.current(ctx)
	if err != nil {
		return err
	}
	if n := s.authz.CountRole(at.ID.Name()); n > 0 {
		return arm.Errorf("RoleDefinitionHasAssignments", "The role definition '%s' cannot be deleted: %d role assignment(s) give it. Delete them first.", at.ID.Name(), n)
	}
	return nil
}

// assignmentFilter compiles the $filter of a list of role assignments:
// atScope(), principalId eq '{id}', assignedTo('{id}') (the principal
// and the groups it is a member of), and atScope() and one of the
// others joined by 'and'.
func (a *Access) assignmentFilter(f string) (*resources.ScopeFilter, error) {
	out := &resources.ScopeFilter{}
	f = strings.TrimSpace(f)
	if f == "" {
		return out, nil
	}
	bad := func() error {
		e := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported on a list of role assignments: use atScope(), principalId eq '{objectId}', assignedTo('{objectId}'), or atScope() and one of the other two.", arm.Clip(f, 200))
		e.Target = "$filter"
		return e
	}
	for _, term := range splitAnd(f) {
		switch {
		case resources.IsAtScope(term):
			if out.AtScope {
				return nil, bad()
			}
			out.AtScope = true
		case out.Keep != nil:
			return nil, bad()
		default:
			keep, ok := a.principalTerm(term)
			if !ok {
				return nil, bad()
			}
			out.Keep = keep
		}
	}
	return out, nil
}

// splitAnd splits a $filter at ' and ' (any case).
func splitAnd(f string) []string {
	var out []string
	for {
		i := strings.Index(strings.ToLower(f), " and ")
		if i < 0 {
			return append(out, strings.TrimSpace(f))
		}
		out = append(out, strings.TrimSpace(f[:i]))
		f = f[i+5:]
	}
}

// principalTerm compiles principalId eq '{id}' or assignedTo('{id}').
func (a *Access) principalTerm(t string) (func([]byte) bool, bool) {
	lower := strings.ToLower(t)
	var id string
	var groups bool
	switch {
	case strings.HasPrefix(lower, "principalid eq '") && strings.HasSuffix(t, "'"):
		id = t[len("principalid eq '") : len(t)-1]
	case strings.HasPrefix(lower, "assignedto('") && strings.HasSuffix(t, "')"):
		id, groups = t[len("assignedto('"):len(t)-2], true
	default:
		return nil, false
	}
	if !uuid.Valid(id) {
		return nil, false
	}
	want := map[string]bool{strings.ToLower(id): true}
	if groups && a.cfg.MemberOf != nil {
		for _, g := range rbac.ExpandGroups(id, func(x string) []string {
			gs, _ := a.cfg.MemberOf(context.Background(), x)
			return gs
		}) {
			want[strings.ToLower(g)] = true
		}
	}
	return func(body []byte) bool {
		var b struct {
			Properties struct {
				PrincipalID string `json:"principalId"`
			} `json:"properties"`
		}
		return json.Unmarshal(body, &b) == nil && want[strings.ToLower(b.Properties.PrincipalID)]
	}, true
}
