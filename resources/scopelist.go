package resources

import (
	"context"
	"regexp"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// Lists at a scope of the extension types that set TypeSpec.ScopeList
// (management locks, role assignments): {scope}/providers/NS/type, where
// the scope is a subscription, a resource group or a resource. As Azure
// lists locks (Get-AzResourceLock) and role assignments
// (RoleAssignments_ListForScope): the resources of the type at, above or
// below the scope; with $filter=atScope(), those at or above it (the
// ones that hold for it). A type's other $filter forms narrow the list
// further; any form it does not know is refused.

// ScopeFilter is a compiled $filter of a scope list.
type ScopeFilter struct {
	// AtScope keeps the resources at or above the scope only.
	AtScope bool
	// Keep, when set, keeps the resources whose body it accepts.
	Keep func(body []byte) bool
}

var atScopeFilter = regexp.MustCompile(`^(?i:\s*atscope\(\s*\)\s*)$`)

// IsAtScope reports whether a $filter is atScope().
func IsAtScope(f string) bool { return atScopeFilter.MatchString(f) }

// atScopeOnly is the ScopeList of a type whose only filter is
// atScope(); what names the type's resources and holds describes what
// atScope() keeps, for the error.
func atScopeOnly(what, holds string) func(string) (*ScopeFilter, error) {
	return func(f string) (*ScopeFilter, error) {
		switch {
		case strings.TrimSpace(f) == "":
			return &ScopeFilter{}, nil
		case IsAtScope(f):
			return &ScopeFilter{AtScope: true}, nil
		}
		e := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported on a list of %s: the only filter is atScope() (%s).", arm.Clip(f, 200), what, holds)
		e.Target = "$filter"
		return nil, e
	}
}

// scopeListRequest serves the lists at a scope; ok is false for other
// paths.
func (m *Manager) scopeListRequest(ctx context.Context, r *Request) (ok bool, resp *Response, err error) {
	id := r.ID
	if id.SubscriptionID == "" || id.TrailingNamespace == "" {
		return false, nil, nil
	}
	spec, found := m.reg.Lookup(id.TrailingNamespace + "/" + id.Trailing)
	if !found || spec.ScopeList == nil {
		return false, nil, nil
	}
	resp, err = m.listAtScope(ctx, r, spec)
	return true, resp, err
}

func (m *Manager) listAtScope(ctx context.Context, r *Request, spec *TypeSpec) (*Response, error) {
	if r.Method != "GET" {
		return nil, methodNotAllowed(r)
	}
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	f, err := spec.ScopeList(r.Query.Get("$filter"))
	if err != nil {
		return nil, err
	}
	scope := &arm.ID{SubscriptionID: r.ID.SubscriptionID, ResourceGroup: r.ID.ResourceGroup, Parts: r.ID.Parts}
	if scope.IsSubscription() {
		if err := m.requireSubscription(ctx, scope.SubscriptionID); err != nil {
			return nil, err
		}
	} else if _, err := m.readOne(ctx, scope, true); err != nil {
		return nil, err
	}
	key := scope.Key()
	subKey := arm.KeyOf("/subscriptions/" + scope.SubscriptionID)
	typ := spec.Type
	if spec.ScopeListType != "" {
		typ = spec.ScopeListType
	}
	q := store.ListQuery{TypeKey: arm.KeyOf(typ), KeyPrefix: subKey + "/"}
	return m.listFiltered(ctx, r, q, func(it *store.Resource) ([]byte, bool) {
		at := it.ParentKey == key
		above := strings.HasPrefix(key, it.ParentKey+"/")
		below := strings.HasPrefix(it.ParentKey, key+"/")
		if !at && !above && (!below || f.AtScope) {
			return nil, false
		}
		return it.Body, f.Keep == nil || f.Keep(it.Body)
	})
}
