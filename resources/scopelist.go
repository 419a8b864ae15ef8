package resources

import (
	"context"
	"regexp"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// Lists at a scope of the extension types that set TypeSpec.ScopeList
// (management locks, role assignments, policy assignments and
// exemptions): {scope}/providers/NS/type, where the scope is a
// management group, a subscription, a resource group or a resource. As
// Azure lists locks (Get-AzResourceLock), role assignments
// (RoleAssignments_ListForScope) and policy assignments
// (PolicyAssignments_List): the resources of the type at, above (the
// management groups above included) or below the scope (below a
// management group: not listed); with $filter=atScope(), those at or
// above it (the ones that hold for it); with atExactScope(), those at it.
// A type's other $filter forms narrow the list further; any form it does
// not know is refused.

// ScopeFilter is a compiled $filter of a scope list.
type ScopeFilter struct {
	// AtScope keeps the resources at or above the scope only.
	AtScope bool
	// AtExactScope keeps the resources at the scope only.
	AtExactScope bool
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
	if (id.SubscriptionID == "" && id.ManagementGroup() == "") || id.TrailingNamespace == "" {
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
	typ := arm.KeyOf(spec.Type)
	if spec.ScopeListType != "" {
		typ = arm.KeyOf(spec.ScopeListType)
	}
	// What is at the management groups above the scope (and at the
	// scope, for a group), then what is in its subscription: keys of
	// groups sort before those of subscriptions, one cursor pages both.
	groups := map[string]bool{}
	if m.cfg.Tree != nil {
		for _, g := range m.cfg.Tree().Above(key) {
			groups[g] = true
		}
	}
	var qs []store.ListQuery
	if len(groups) > 0 || scope.SubscriptionID == "" {
		qs = append(qs, store.ListQuery{TypeKey: typ, KeyPrefix: arm.ManagementGroupKey("")})
	}
	if scope.SubscriptionID != "" {
		qs = append(qs, store.ListQuery{TypeKey: typ, KeyPrefix: arm.KeyOf("/subscriptions/"+scope.SubscriptionID) + "/"})
	}
	return m.listPhases(ctx, r, qs, func(it *store.Resource) ([]byte, bool) {
		at := it.ParentKey == key
		above := groups[it.ParentKey] || strings.HasPrefix(key, it.ParentKey+"/")
		below := strings.HasPrefix(it.ParentKey, key+"/")
		switch {
		case f.AtExactScope && !at:
			return nil, false
		case !at && !above && (!below || f.AtScope):
			return nil, false
		}
		return it.Body, f.Keep == nil || f.Keep(it.Body)
	})
}
