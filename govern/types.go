package govern

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// The Microsoft.Authorization policy types, as types of the write path:
// the envelope (id, name, type, systemData, location and identity for
// assignments) is the write path's, the properties are policyres's.
const (
	TypeDefinition    = "Microsoft.Authorization/policyDefinitions"
	TypeSetDefinition = "Microsoft.Authorization/policySetDefinitions"
	TypeAssignment    = "Microsoft.Authorization/policyAssignments"
	TypeExemption     = "Microsoft.Authorization/policyExemptions"
)

// policyTypes are the type keys whose changes change the snapshot.
var policyTypes = map[string]bool{
	arm.KeyOf(TypeDefinition): true, arm.KeyOf(TypeSetDefinition): true,
	arm.KeyOf(TypeAssignment): true, arm.KeyOf(TypeExemption): true,
	arm.KeyOf(TypeAttestation): true,
}

type buildFunc func(ctx context.Context, id *arm.ID, body, existing value.Value, r policyres.Resolver, opts policyres.Options) (value.Value, error)

// Register adds the policy types to reg, built with g's built-ins and
// alias catalog.
func (g *Governor) Register(reg *resources.Registry) {
	g.registerAttestations(reg)
	for _, t := range []struct {
		typ     string
		build   buildFunc
		created bool // 201 on update too (what @azure/arm-policy accepts)
	}{
		{TypeDefinition, policyres.BuildDefinition, true},
		{TypeSetDefinition, policyres.BuildSetDefinition, false},
		{TypeAssignment, policyres.BuildAssignment, true},
		{TypeExemption, policyres.BuildExemption, false},
	} {
		build := t.build
		reg.Add(&resources.TypeSpec{Type: t.typ, Extension: true, ReadsStore: true, CreatedOnUpdate: t.created, NoProvisioningState: true,
			// Azure answers an assignment's delete with the assignment (and
			// @azure/arm-policy reads it).
			DeleteReturnsBody: t.typ == TypeAssignment,
			ScopeList:         scopeList(t.typ, g.now),
			Build: func(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
				r := resolver{b: g.builtins, tree: g.tree, get: txGetter(c.Get)}
				props, err := build(c.Context, c.ID, body, existing, r, policyres.Options{Aliases: g.catalog, Caller: callerID(c), Now: c.Now})
				if err != nil {
					return value.Value{}, err
				}
				return obj.With("properties", props), nil
			}})
	}
}

func callerID(c *resources.Ctx) string {
	if c.Principal.ObjectID != "" {
		return c.Principal.ObjectID
	}
	return c.Principal.AppID
}

// txGetter adapts the write path's reads (Ctx.Get) to a getter.
func txGetter(get func(key string) (*store.Resource, error)) getter {
	return func(_ context.Context, key string) (*store.Resource, error) {
		if get == nil {
			return nil, errors.New("no reads in this context")
		}
		return get(key)
	}
}

// policyListFilter compiles the $filter of a list of policy assignments
// (policyDefinitionId eq '{id}') or exemptions (policyAssignmentId eq
// '{id}', excludeExpired()), besides atScope() and atExactScope() (the
// scope list: resources.ScopeFilter). Terms combine with 'and'; any
// other form is refused, never ignored.
func policyListFilter(typ string, now func() time.Time) func(string) (*resources.ScopeFilter, error) {
	field, what := "policyDefinitionId", "policy assignments"
	if typ == TypeExemption {
		field, what = "policyAssignmentId", "policy exemptions"
	}
	return func(f string) (*resources.ScopeFilter, error) {
		out := &resources.ScopeFilter{}
		f = strings.TrimSpace(f)
		if f == "" {
			return out, nil
		}
		bad := func() error {
			forms := "atScope(), atExactScope(), " + field + " eq '{id}'"
			if typ == TypeExemption {
				forms += ", excludeExpired()"
			}
			e := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported on a list of %s: use %s (joined with 'and').", arm.Clip(f, 200), what, forms)
			e.Target = "$filter"
			return e
		}
		var want string
		expired := false
		for _, term := range odata.SplitAnd(f) {
			t := strings.ToLower(strings.ReplaceAll(term, " ", ""))
			switch {
			case t == "atscope()" && !out.AtScope && !out.AtExactScope:
				out.AtScope = true
			case t == "atexactscope()" && !out.AtScope && !out.AtExactScope:
				out.AtExactScope = true
			case t == "excludeexpired()" && typ == TypeExemption && !expired:
				expired = true
			default:
				name, val, ok := eqClause(term)
				if !ok || !strings.EqualFold(name, field) || want != "" {
					return nil, bad()
				}
				want = arm.KeyOf(policyres.CanonicalID(val))
			}
		}
		if want == "" && !expired {
			return out, nil
		}
		out.Keep = func(body []byte) bool {
			v, err := value.Parse(body)
			if err != nil {
				return false
			}
			p := v.Field("properties")
			if want != "" && arm.KeyOf(policyres.CanonicalID(p.Field(field).Str())) != want {
				return false
			}
			if expired {
				if t, err := time.Parse(time.RFC3339Nano, p.Field("expiresOn").Str()); err == nil && !t.After(now()) {
					return false
				}
			}
			return true
		}
		return out, nil
	}
}

// scopeList is the scope list of the policy types listed at a scope
// (assignments and exemptions); definitions are listed by listDefinitions.
func scopeList(typ string, now func() time.Time) func(string) (*resources.ScopeFilter, error) {
	if typ != TypeAssignment && typ != TypeExemption {
		return nil
	}
	return policyListFilter(typ, now)
}
