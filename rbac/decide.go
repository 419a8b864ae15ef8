package rbac

import (
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
)

// Assignment is a role assignment: the role RoleDefinitionID (any
// scope's form of its id, or its GUID) given to PrincipalID at Scope.
type Assignment struct {
	ID               string
	Scope            string
	RoleDefinitionID string
	PrincipalID      string
	PrincipalType    string
	// Condition is the assignment's condition (ABAC, conditionVersion
	// 2.0; "" for none): the role is granted for a request only when it
	// holds (condition.go). Add compiles it.
	Condition        string
	ConditionVersion string

	cond *Condition
}

// DenyAssignment is Azure's deny assignment (read-only, made by the
// platform): the actions it denies to its principals at its scope (and
// below, unless DoNotApplyToChildScopes).
type DenyAssignment struct {
	ID                      string
	Scope                   string
	Permissions             []Permission
	Principals              []string // object ids; Everyone for all
	ExcludePrincipals       []string
	DoNotApplyToChildScopes bool
}

// Everyone is the principal id of a deny assignment that applies to all
// (type SystemDefined).
const Everyone = "00000000-0000-0000-0000-000000000000"

// Request is one authorization question.
type Request struct {
	// Principals are the caller's object id and the ids of every group
	// it is a member of, directly or through other groups.
	Principals []string
	// Action is the operation, e.g.
	// Microsoft.MachineLearningServices/workspaces/computes/write.
	Action string
	// DataAction: Action is a data action (checked against DataActions).
	DataAction bool
	// Scope is the target: "/" or a subscription, resource group or
	// resource id.
	Scope string
	// Above are the keys of the management groups above Scope, nearest
	// first (arm.Tree.Above): their assignments apply to it too.
	Above []string
	// Attributes are the request's attributes for role assignment
	// conditions; nil when the caller does not know them (yet): an
	// assignment whose condition needs them then grants nothing, and
	// Decision.Conditional says so.
	Attributes *Attributes
}

// Decision is the answer and why.
type Decision struct {
	Allowed bool
	// Conditional is set when the action is not allowed without the
	// request's attributes, which the request did not give, but an
	// assignment whose condition reads them grants it: decide again
	// with them.
	Conditional bool
	// By is the assignment that allows, or the deny assignment that
	// denies (nil when no assignment grants the action).
	By   *Assignment
	Deny *DenyAssignment
}

// Authorizer holds role definitions and assignments, indexed for
// Decide: assignments by scope and principal, so that a decision looks
// at the few scopes above its target and the caller's own assignments
// there, whatever the number of assignments in the tenant. It is not
// safe for concurrent Add and Decide; build one and then share it
// read-only (or replace it whole).
type Authorizer struct {
	roles map[string]*role
	// byScope: scope key -> principal (lower-cased) -> assignments.
	byScope map[string]map[string][]*Assignment
	denies  map[string][]*compiledDeny
	// byID: the assignments that have an ID, for Remove.
	byID map[string]*Assignment
	n    int
}

type role struct {
	def   *RoleDefinition
	perms []compiledPermission
}

type compiledDeny struct {
	d                  *DenyAssignment
	perms              []compiledPermission
	principals, except map[string]bool
}

// New returns an Authorizer of the given role definitions.
func New(defs []*RoleDefinition) *Authorizer {
	a := &Authorizer{roles: map[string]*role{}, byScope: map[string]map[string][]*Assignment{}, denies: map[string][]*compiledDeny{}, byID: map[string]*Assignment{}}
	for _, d := range defs {
		a.roles[strings.ToLower(d.Name)] = &role{def: d, perms: compilePermissions(d.Permissions)}
	}
	return a
}

// Role returns the role definition of a GUID or role definition id.
func (a *Authorizer) Role(id string) (*RoleDefinition, bool) {
	r, ok := a.roles[roleGUID(id)]
	if !ok {
		return nil, false
	}
	return r.def, true
}

// Len is the number of role assignments held.
func (a *Authorizer) Len() int { return a.n }

// Add adds a role assignment. Its role must be known, and assignable at
// its scope (at or below one of the role's assignable scopes); its
// condition, if any, must be one ParseCondition compiles, of
// conditionVersion 2.0.
func (a *Authorizer) Add(as *Assignment) error {
	as.cond = nil
	if strings.TrimSpace(as.Condition) != "" || as.ConditionVersion != "" {
		if as.ConditionVersion != "" && as.ConditionVersion != ConditionVersion {
			return arm.Errorf("InvalidConditionVersion", "The role assignment condition version '%s' is not supported: only '%s' is.", arm.Clip(as.ConditionVersion, 16), ConditionVersion)
		}
		if strings.TrimSpace(as.Condition) == "" {
			return arm.Errorf("InvalidConditionVersion", "A role assignment with a conditionVersion needs a condition.")
		}
		c, err := ParseCondition(as.Condition)
		if err != nil {
			return err
		}
		as.cond = c
	}
	r, ok := a.roles[roleGUID(as.RoleDefinitionID)]
	if !ok {
		return arm.Errorf("RoleDefinitionDoesNotExist", "The role definition '%s' does not exist.", arm.Clip(as.RoleDefinitionID, 200))
	}
	key, err := scopeKey(as.Scope)
	if err != nil {
		return err
	}
	if !assignableAt(r.def.AssignableScopes, key) {
		return arm.Errorf("InvalidRoleAssignmentScope", "The role '%s' cannot be assigned at scope '%s': its assignable scopes are %s.", r.def.RoleName, as.Scope, strings.Join(r.def.AssignableScopes, ", "))
	}
	if !uuid.Valid(as.PrincipalID) {
		return arm.Errorf("InvalidPrincipalId", "The principal id '%s' is not a GUID.", arm.Clip(as.PrincipalID, 64))
	}
	m := a.byScope[key]
	if m == nil {
		m = map[string][]*Assignment{}
		a.byScope[key] = m
	}
	p := strings.ToLower(as.PrincipalID)
	if as.ID != "" {
		if _, dup := a.byID[as.ID]; dup {
			return arm.Errorf("RoleAssignmentExists", "The role assignment '%s' is already held.", as.ID)
		}
		a.byID[as.ID] = as
	}
	m[p] = append(m[p], as)
	a.n++
	return nil
}

// assignableAt reports whether scope key k is at or below one of the
// assignable scopes.
func assignableAt(scopes []string, k string) bool {
	for _, s := range scopes {
		sk, err := scopeKey(s)
		if err != nil {
			continue
		}
		if sk == "/" || k == sk || strings.HasPrefix(k, sk+"/") {
			return true
		}
	}
	return false
}

// AddDeny adds a deny assignment.
func (a *Authorizer) AddDeny(d *DenyAssignment) error {
	key, err := scopeKey(d.Scope)
	if err != nil {
		return err
	}
	set := func(ids []string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[strings.ToLower(id)] = true
		}
		return m
	}
	a.denies[key] = append(a.denies[key], &compiledDeny{d: d, perms: compilePermissions(d.Permissions), principals: set(d.Principals), except: set(d.ExcludePrincipals)})
	return nil
}

// Decide answers a request. A scope that is not one is an error.
func (a *Authorizer) Decide(req Request) (Decision, error) {
	scopes, err := ancestors(req.Scope)
	if err != nil {
		return Decision{}, err
	}
	if scopes[len(scopes)-1] != "/" {
		scopes = append(append(scopes, req.Above...), "/")
	}
	action := strings.ToLower(req.Action)
	principals := make([]string, len(req.Principals))
	for i, p := range req.Principals {
		principals[i] = strings.ToLower(p)
	}
	if len(a.denies) > 0 {
		for i, s := range scopes {
			for _, d := range a.denies[s] {
				if d.d.DoNotApplyToChildScopes && i > 0 {
					continue
				}
				if d.appliesTo(principals) && grants(d.perms, action, req.DataAction) {
					return Decision{Deny: d.d}, nil
				}
			}
		}
	}
	conditional := false
	for _, s := range scopes {
		m := a.byScope[s]
		if m == nil {
			continue
		}
		for _, p := range principals {
			for _, as := range m[p] {
				if r := a.roles[roleGUID(as.RoleDefinitionID)]; r != nil && grants(r.perms, action, req.DataAction) {
					if as.cond == nil {
						return Decision{Allowed: true, By: as}, nil
					}
					ok, known := as.cond.holds(action, req.Attributes)
					if ok {
						return Decision{Allowed: true, By: as}, nil
					}
					conditional = conditional || !known
				}
			}
		}
	}
	return Decision{Conditional: conditional}, nil
}

// appliesTo reports whether a deny assignment names one of the
// principals (or everyone) and excludes none of them.
func (d *compiledDeny) appliesTo(principals []string) bool {
	named := d.principals[Everyone]
	for _, p := range principals {
		if d.except[p] {
			return false
		}
		named = named || d.principals[p]
	}
	return named
}

// ExpandGroups returns id and the ids of every group it is a member of,
// directly or through other groups (memberOf gives the direct ones);
// cycles end.
func ExpandGroups(id string, memberOf func(string) []string) []string {
	out := []string{id}
	seen := map[string]bool{strings.ToLower(id): true}
	for i := 0; i < len(out); i++ {
		for _, g := range memberOf(out[i]) {
			if k := strings.ToLower(g); !seen[k] {
				seen[k] = true
				out = append(out, g)
			}
		}
	}
	return out
}

// Clone returns a copy of a that Add, AddDeny and Remove change without
// changing a: the decisions in force are replaced whole, never changed
// under a reader.
func (a *Authorizer) Clone() *Authorizer {
	c := &Authorizer{roles: a.roles, byScope: make(map[string]map[string][]*Assignment, len(a.byScope)), denies: make(map[string][]*compiledDeny, len(a.denies)),
		byID: make(map[string]*Assignment, len(a.byID)), n: a.n}
	for k, v := range a.byID {
		c.byID[k] = v
	}
	for k, m := range a.byScope {
		cm := make(map[string][]*Assignment, len(m))
		for p, l := range m {
			cm[p] = l[:len(l):len(l)] // an append copies
		}
		c.byScope[k] = cm
	}
	for k, l := range a.denies {
		c.denies[k] = l[:len(l):len(l)]
	}
	return c
}

// Remove removes the role assignment with the id (what Add was given);
// false when there is none.
func (a *Authorizer) Remove(id string) bool {
	as, ok := a.byID[id]
	if !ok {
		return false
	}
	delete(a.byID, id)
	key, _ := scopeKey(as.Scope)
	m := a.byScope[key]
	p := strings.ToLower(as.PrincipalID)
	l := m[p]
	for i, x := range l {
		if x == as {
			nl := make([]*Assignment, 0, len(l)-1)
			nl = append(append(nl, l[:i]...), l[i+1:]...)
			if len(nl) == 0 {
				delete(m, p)
				if len(m) == 0 {
					delete(a.byScope, key)
				}
			} else {
				m[p] = nl
			}
			break
		}
	}
	a.n--
	return true
}

// Find returns the assignments of the principal at exactly the scope.
func (a *Authorizer) Find(scope, principalID string) []*Assignment {
	key, err := scopeKey(scope)
	if err != nil {
		return nil
	}
	return a.byScope[key][strings.ToLower(principalID)]
}

// CountRole is the number of role assignments that give the role (a
// GUID or role definition id).
func (a *Authorizer) CountRole(id string) int {
	g := roleGUID(id)
	n := 0
	for _, m := range a.byScope {
		for _, l := range m {
			for _, as := range l {
				if roleGUID(as.RoleDefinitionID) == g {
					n++
				}
			}
		}
	}
	return n
}
