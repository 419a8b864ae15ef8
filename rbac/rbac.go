// Package rbac decides Azure RBAC: whether a principal may perform an
// action at a scope, from role definitions, role assignments and deny
// assignments, as Azure documents the evaluation
// (docs/rbac.md and ../shared/docs/resource-model.md §6):
//
//  1. The assignments and deny assignments that apply are those at the
//     target scope or any ancestor (/, the subscription, the resource
//     group, each enclosing resource); a deny assignment with
//     DoNotApplyToChildScopes applies at its own scope only.
//  2. A deny assignment that names the principal (or everyone, minus its
//     exclusions) and matches the action denies: deny beats allow.
//  3. Of the role assignments of the principal and its groups (the
//     caller gives them, transitively: ExpandGroups), one whose role
//     grants the action allows it. A role grants an action when one of
//     its permissions matches it in Actions and not in NotActions
//     (DataActions and NotDataActions for data actions): the
//     subtraction is per permission, and roles add up (NotActions is not
//     a deny).
//  4. Otherwise the action is denied.
//
// Permission strings match ignoring case; a '*' matches any run of
// characters, '/' included. Decided here (Azure does not document it):
// "X/*/Y" also matches "X/Y", the '*' standing for no segment at all, so
// that AzureML Data Scientist's "workspaces/*/read" covers reading the
// workspace itself, as its description says it may, and its NotActions
// "workspaces/computes/*/write" covers creating a compute, which the
// role is documented not to allow. A permission with more than one '*'
// is refused, as ARM refuses it (InvalidActionOrNotAction).
//
// A role assignment with a condition (ABAC, condition.go) grants its
// role for a request only when the condition holds for it: Add compiles
// the condition, and refuses what mlgov does not evaluate, so that an
// assignment is never taken as unconditional; Decide evaluates it with
// the request's attributes, and says when it needs them
// (Decision.Conditional).
//
// The package depends on the standard library and arm only; it keeps no
// state but what Add and AddDeny give it and does no I/O.
package rbac

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
)

// Permission is one entry of a role definition's permissions.
type Permission struct {
	Actions          []string `json:"actions"`
	NotActions       []string `json:"notActions"`
	DataActions      []string `json:"dataActions"`
	NotDataActions   []string `json:"notDataActions"`
	Condition        *string  `json:"condition,omitempty"`
	ConditionVersion *string  `json:"conditionVersion,omitempty"`
}

// RoleDefinition is Azure's role definition (the shape of `az role
// definition list`; ID is "/providers/Microsoft.Authorization/roleDefinitions/{guid}",
// Name the GUID).
type RoleDefinition struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	RoleName         string       `json:"roleName"`
	RoleType         string       `json:"roleType"`
	Description      string       `json:"description"`
	AssignableScopes []string     `json:"assignableScopes"`
	Permissions      []Permission `json:"permissions"`
}

// LoadRoleDefinitions reads a JSON array of role definitions (the
// built-ins: builtin-roles.json of ../shared/corpus/rbac, or a user's
// file) and checks each (Validate).
func LoadRoleDefinitions(r io.Reader) ([]*RoleDefinition, error) {
	var defs []*RoleDefinition
	dec := json.NewDecoder(r)
	if err := dec.Decode(&defs); err != nil {
		return nil, fmt.Errorf("rbac: role definitions: %w", err)
	}
	for i, d := range defs {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("rbac: role definition %d (%s): %w", i, d.RoleName, err)
		}
	}
	return defs, nil
}

// Validate checks what ARM checks of a role definition: a GUID name, at
// least one assignable scope, and permission strings with at most one
// '*' each.
func (d *RoleDefinition) Validate() error {
	if !uuid.Valid(d.Name) {
		return arm.Errorf("InvalidRoleDefinitionId", "The role definition name '%s' is not a GUID.", arm.Clip(d.Name, 64))
	}
	if len(d.AssignableScopes) == 0 {
		return arm.Errorf("InvalidAssignableScopes", "The role definition '%s' has no assignable scopes.", d.RoleName)
	}
	for i, p := range d.Permissions {
		for _, l := range []struct {
			name string
			list []string
		}{{"actions", p.Actions}, {"notActions", p.NotActions}, {"dataActions", p.DataActions}, {"notDataActions", p.NotDataActions}} {
			for j, s := range l.list {
				if strings.Count(s, "*") > 1 {
					return arm.Errorf("InvalidActionOrNotAction", "'%s' (permissions[%d].%s[%d]) contains multiple wildcards. Only one is allowed.", arm.Clip(s, 200), i, l.name, j)
				}
				if s == "" {
					return arm.Errorf("InvalidActionOrNotAction", "permissions[%d].%s[%d] is empty.", i, l.name, j)
				}
			}
		}
	}
	return nil
}

// pattern is a compiled permission string: lower-cased, split at its '*'.
type pattern struct {
	prefix, suffix string
	wild           bool
}

func compilePattern(s string) pattern {
	s = strings.ToLower(s)
	pre, suf, wild := strings.Cut(s, "*")
	return pattern{prefix: pre, suffix: suf, wild: wild}
}

// match reports whether the lower-cased action a matches p.
func (p pattern) match(a string) bool {
	if !p.wild {
		return a == p.prefix
	}
	if len(a) >= len(p.prefix)+len(p.suffix) && strings.HasPrefix(a, p.prefix) && strings.HasSuffix(a, p.suffix) {
		return true
	}
	// "X/*/Y" also matches "X/Y" (see the package comment).
	return strings.HasSuffix(p.prefix, "/") && strings.HasPrefix(p.suffix, "/") &&
		len(a) == len(p.prefix)+len(p.suffix)-1 && strings.HasPrefix(a, p.prefix) && strings.HasSuffix(a, p.suffix)
}

func matchAny(ps []pattern, a string) bool {
	for _, p := range ps {
		if p.match(a) {
			return true
		}
	}
	return false
}

// compiledPermission is a Permission ready to match.
type compiledPermission struct {
	actions, notActions, dataActions, notDataActions []pattern
}

func compileAll(ss []string) []pattern {
	out := make([]pattern, len(ss))
	for i, s := range ss {
		out[i] = compilePattern(s)
	}
	return out
}

func compilePermissions(ps []Permission) []compiledPermission {
	out := make([]compiledPermission, len(ps))
	for i, p := range ps {
		out[i] = compiledPermission{compileAll(p.Actions), compileAll(p.NotActions), compileAll(p.DataActions), compileAll(p.NotDataActions)}
	}
	return out
}

// grants reports whether one of the permissions allows the lower-cased
// action (a data action when data).
func grants(ps []compiledPermission, action string, data bool) bool {
	for _, p := range ps {
		if data {
			if matchAny(p.dataActions, action) && !matchAny(p.notDataActions, action) {
				return true
			}
		} else if matchAny(p.actions, action) && !matchAny(p.notActions, action) {
			return true
		}
	}
	return false
}

// roleGUID returns the GUID at the end of a role definition id (any
// scope: "/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
// lower-cased.
func roleGUID(id string) string {
	return strings.ToLower(id[strings.LastIndexByte(id, '/')+1:])
}

// scopeKey is the lookup form of a scope: "/" or its lower-cased,
// canonical resource id.
func scopeKey(scope string) (string, error) {
	if scope == "/" || scope == "" {
		return "/", nil
	}
	id, err := arm.ParseID(scope)
	if err != nil || !validScope(id) {
		return "", arm.Errorf("InvalidScope", "The scope '%s' is not '/' or a management group, subscription, resource group or resource id.", arm.Clip(scope, 300))
	}
	return id.Key(), nil
}

// ancestors returns the keys of scope and of every scope above it in its
// path, from the scope itself up (the management groups above and "/"
// are added by Decide).
func ancestors(scope string) ([]string, error) {
	if scope == "/" || scope == "" {
		return []string{"/"}, nil
	}
	id, err := arm.ParseID(scope)
	if err != nil || !validScope(id) {
		return nil, arm.Errorf("InvalidScope", "The scope '%s' is not '/' or a management group, subscription, resource group or resource id.", arm.Clip(scope, 300))
	}
	var out []string
	for ; id != nil; id = id.Parent() {
		if k := id.Key(); k != "" {
			out = append(out, k)
		}
	}
	return out, nil
}

// validScope: a subscription, resource group or resource id, or one at
// the tenant (a management group, a resource at one, a tenant-level
// resource); not a collection or action path.
func validScope(id *arm.ID) bool {
	return id.Trailing == "" && (id.SubscriptionID != "" || len(id.Parts) > 0)
}
