package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/rbac"
)

// RoleDefinitions serves the built-in role definitions loaded at start
// (serve's --role-definitions), read-only, as ARM and
// @azure/arm-authorization read them:
//
//	GET {scope}/providers/Microsoft.Authorization/roleDefinitions[?$filter=roleName eq '…' | type eq 'BuiltInRole'|'CustomRole']
//	GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}
//	GET /providers/Microsoft.Authorization/roleDefinitions/{guid}   (getById)
//
// where scope is nothing (the tenant), a subscription, a resource group
// or a resource. Read at a subscription or below, a definition's id is
// the subscription's (/subscriptions/{s}/providers/…/roleDefinitions/{guid}),
// as ARM answers. Custom roles (Custom) are listed and read with them;
// they are written through the resource manager (package access).
type RoleDefinitions struct {
	defs []*rbac.RoleDefinition
	// Custom returns the custom role definitions (nil: none).
	Custom func(ctx context.Context) ([]*rbac.RoleDefinition, error)
}

// NewRoleDefinitions serves defs.
func NewRoleDefinitions(defs []*rbac.RoleDefinition) *RoleDefinitions {
	return &RoleDefinitions{defs: defs}
}

// Definitions returns the built-in role definitions.
func (p *RoleDefinitions) Definitions() []*rbac.RoleDefinition { return p.defs }

// Len is the number of role definitions.
func (p *RoleDefinitions) Len() int { return len(p.defs) }

// roleDefinitionsPath reports whether id names the role definitions (or
// one of them) at some scope, and returns the scope's subscription ("" at
// the tenant).
func roleDefinitionsPath(id *arm.ID) (sub string, ok bool) {
	var ns, typ string
	switch n := len(id.Parts); {
	case n > 0 && id.Trailing == "":
		ns, typ = id.Parts[n-1].Namespace, id.Parts[n-1].Type
	case id.Trailing != "":
		ns, typ = id.TrailingNamespace, id.Trailing
	default:
		return "", false
	}
	return id.SubscriptionID, strings.EqualFold(ns, "Microsoft.Authorization") && strings.EqualFold(typ, "roleDefinitions")
}

func (p *RoleDefinitions) serve(w http.ResponseWriter, req *http.Request, id *arm.ID, sub string) {
	q, ok := readOnlyGET(w, req, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on role definitions.", req.Method))
	if !ok {
		return
	}
	defs := p.defs
	if p.Custom != nil {
		custom, err := p.Custom(req.Context())
		if err != nil {
			writeError(w, 500, arm.Errorf("InternalServerError", "The custom role definitions could not be read."))
			return
		}
		slices.SortFunc(custom, func(a, b *rbac.RoleDefinition) int { return strings.Compare(a.RoleName, b.RoleName) })
		defs = append(slices.Clip(defs), custom...)
	}
	prefix := "/providers/Microsoft.Authorization/roleDefinitions/"
	if sub != "" {
		prefix = "/subscriptions/" + sub + prefix
	}
	out := func(d *rbac.RoleDefinition) map[string]any {
		perms := d.Permissions
		if perms == nil {
			perms = []rbac.Permission{}
		}
		return map[string]any{"id": prefix + d.Name, "name": d.Name, "type": "Microsoft.Authorization/roleDefinitions",
			"properties": map[string]any{"roleName": d.RoleName, "type": d.RoleType, "description": d.Description,
				"assignableScopes": d.AssignableScopes, "permissions": perms}}
	}
	if id.Trailing == "" {
		name := id.Parts[len(id.Parts)-1].Name
		for _, d := range defs {
			if strings.EqualFold(d.Name, name) {
				if req.Method == "HEAD" { // checkExistence: 204, as ARM answers
					w.WriteHeader(204)
					return
				}
				writeJSON(w, 200, out(d))
				return
			}
		}
		writeError(w, 404, arm.Errorf("RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", arm.Clip(name, 64)))
		return
	}
	keep, err := roleFilter(q.Get("$filter"))
	if err != nil {
		writeError(w, 400, err)
		return
	}
	list := []map[string]any{}
	for _, d := range defs {
		if keep(d) {
			list = append(list, out(d))
		}
	}
	writeJSON(w, 200, map[string]any{"value": list})
}

// roleFilter compiles the $filter of the role definitions list: what
// ARM documents for it, roleName eq '…' or type eq 'BuiltInRole' |
// 'CustomRole' (values compared ignoring case); anything else is
// refused, not ignored.
func roleFilter(f string) (func(*rbac.RoleDefinition) bool, *arm.Error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return func(*rbac.RoleDefinition) bool { return true }, nil
	}
	bad := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported for role definitions: use roleName eq 'name' or type eq 'BuiltInRole' (or 'CustomRole').", arm.Clip(f, 200))
	field, rest, ok := strings.Cut(f, " ")
	op, lit, ok2 := strings.Cut(strings.TrimSpace(rest), " ")
	lit = strings.TrimSpace(lit)
	if !ok || !ok2 || !strings.EqualFold(op, "eq") || len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return nil, bad
	}
	v := strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
	switch {
	case strings.EqualFold(field, "roleName"):
		return func(d *rbac.RoleDefinition) bool { return strings.EqualFold(d.RoleName, v) }, nil
	case strings.EqualFold(field, "type"):
		return func(d *rbac.RoleDefinition) bool { return strings.EqualFold(d.RoleType, v) }, nil
	}
	return nil, bad
}
