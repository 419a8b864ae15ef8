package resources

import (
	"context"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// Authorization. Every request is authorized by its action and scope
// alone, before anything is read: the order at request time is
// authenticate (401), RBAC (403 AuthorizationFailed), then everything
// the resource provider checks (../shared/docs/resource-model.md §3.5).
// A caller that may not read a resource learns nothing of it, not even
// whether it exists.
//
//   - Writes: the write path's authorize stage (pipeline.go) decides
//     Attributes.Action at Attributes.ID.
//   - Reads (GET, HEAD): {type}/read at the resource; a view or a list
//     below a scope, {type}/{collection}/read at the scope
//     (readTarget). A list the caller may not read at its scope is not
//     refused: it keeps the items the caller may read ({item type}/read
//     at the item), so that a principal with a role on one workspace
//     sees that workspace in the lists above it. Any other read is
//     refused.

// Authorizer decides what principals may do (package access: Azure
// RBAC). It is asked once per request for the caller's Decider.
type Authorizer interface {
	Decider(ctx context.Context, c *activitylog.Caller) (Decider, error)
}

// Decider answers for one caller whether it may perform an action at a
// scope (a resource id). It must be safe for concurrent use.
type Decider interface {
	Allowed(action, scope string) bool
}

// AllowAll is the Authorizer that allows everything (access control not
// configured: tests of other parts, and the store tools).
type AllowAll struct{}

// Decider returns a Decider that allows everything.
func (AllowAll) Decider(context.Context, *activitylog.Caller) (Decider, error) {
	return allowAll{}, nil
}

type allowAll struct{}

func (allowAll) Allowed(string, string) bool { return true }

// AuthorizationFailed is ARM's refusal of a caller that may not perform
// action at scope (resource-model §3.5).
func AuthorizationFailed(c *activitylog.Caller, action, scope string) *arm.Error {
	name := c.Name
	if name == "" {
		name = c.ObjectID
	}
	return arm.Errorf("AuthorizationFailed", "The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		name, c.ObjectID, action, scope)
}

// Authorize refuses the caller an action at a scope it may not perform
// (403 AuthorizationFailed).
func (m *Manager) Authorize(ctx context.Context, c *activitylog.Caller, action, scope string) error {
	d, err := m.authz.Decider(ctx, c)
	if err != nil {
		return err
	}
	if !d.Allowed(RBACAction(action), scope) {
		return AuthorizationFailed(c, RBACAction(action), scope)
	}
	return nil
}

// RBACAction is the action as RBAC names it: the resource group's
// actions are Microsoft.Resources/subscriptions/resourceGroups/…, the
// type below the subscription it is.
func RBACAction(action string) string {
	const rg = "Microsoft.Resources/resourceGroups/"
	if len(action) > len(rg) && strings.EqualFold(action[:len(rg)], rg) {
		return "Microsoft.Resources/subscriptions/resourceGroups/" + action[len(rg):]
	}
	return action
}

// readTarget is the action and scope of a GET or HEAD (see the top of
// the file).
func readTarget(id *arm.ID) (action string, scope *arm.ID) {
	if id.Trailing == "" {
		return RBACAction(typeOf(id) + "/read"), id
	}
	scope = &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}
	if id.TrailingNamespace != "" {
		return id.TrailingNamespace + "/" + id.Trailing + "/read", scope
	}
	return RBACAction(typeOf(scope) + "/" + id.Trailing + "/read"), scope
}

// authorizeRead runs a read: at once when the caller may read its
// target; otherwise as a list that keeps the items the caller may read,
// and refused when it is anything else (or fails: a caller refused the
// scope is not told that it does not exist).
func (m *Manager) authorizeRead(ctx context.Context, r *Request, serve func() (*Response, error)) (*Response, error) {
	d, err := m.authz.Decider(ctx, &r.Caller)
	if err != nil {
		return nil, err
	}
	action, scope := readTarget(r.ID)
	s := scope.String()
	if s == "" {
		s = "/"
	}
	if d.Allowed(action, s) {
		return serve()
	}
	if narrow := activityLogScope(r); narrow != "" && d.Allowed(action, narrow) {
		return serve()
	}
	f := &itemFilter{d: d}
	r.items = f
	resp, err := serve()
	r.items = nil
	if err != nil || resp == nil || !resp.List || !f.used {
		return nil, AuthorizationFailed(&r.Caller, action, s)
	}
	return resp, nil
}

// isActivityLog reports whether id is a subscription's activity log
// (/subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values).
func isActivityLog(id *arm.ID) bool {
	return len(id.Parts) == 1 && strings.EqualFold(id.Parts[0].Namespace, "Microsoft.Insights") && strings.EqualFold(id.Parts[0].Type, "eventtypes") &&
		strings.EqualFold(id.Parts[0].Name, "management") && strings.EqualFold(id.Trailing, "values") && id.ResourceGroup == ""
}

// activityLogScope is the scope a read of the activity log is limited
// to by its $filter: a resource group (resourceGroupName eq) or a
// resource of the subscription (resourceUri eq), whose readers may read
// its events as Azure lets them; "" for any other read.
func activityLogScope(r *Request) string {
	if !isActivityLog(r.ID) {
		return ""
	}
	var q store.EventQuery
	if activitylog.ParseFilter(r.Query.Get("$filter"), &q) != nil {
		return "" // refused as a whole when it is served
	}
	sub := "/subscriptions/" + r.ID.SubscriptionID
	switch {
	case q.ResourceKey != "":
		id, err := arm.ParseID(q.ResourceKey)
		if err != nil || !arm.EqualName(id.SubscriptionID, r.ID.SubscriptionID) || (q.ResourceGroup != "" && !arm.EqualName(id.ResourceGroup, q.ResourceGroup)) {
			return ""
		}
		return id.String()
	case q.ResourceGroup != "":
		return sub + "/resourceGroups/" + q.ResourceGroup
	}
	return ""
}

// itemFilter keeps the items of a list the caller may read; used is
// set by the lists that apply it (any other read is refused).
type itemFilter struct {
	d    Decider
	used bool
}

// keep reports whether the caller may read the stored resource.
func (f *itemFilter) keep(it *store.Resource) bool {
	id, err := arm.ParseID(it.ID)
	if err != nil {
		return false
	}
	action := RBACAction(typeOf(id) + "/read")
	return f.d.Allowed(action, it.ID)
}
