package resources

import (
	"context"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// The generic resource operations of Microsoft.Resources that are not
// served by the typed paths: the resource lists of a subscription and of
// a resource group (Resources_List, Resources_ListByResourceGroup), the
// resource-group list's $filter, and the moves, which mlgov refuses. The
// by-id and by-name operations (Resources_GetById, CreateOrUpdateById,
// ...) are the typed paths themselves: their URL is the resource's.

// genericRequest serves the paths above; ok is false for any other.
func (m *Manager) genericRequest(ctx context.Context, r *Request) (ok bool, resp *Response, err error) {
	id := r.ID
	if len(id.Parts) > 0 || id.SubscriptionID == "" {
		return false, nil, nil
	}
	switch t := id.Trailing; {
	case id.ResourceGroup != "" && (strings.EqualFold(t, "moveResources") || strings.EqualFold(t, "validateMoveResources")):
		return true, nil, arm.Errorf("OperationNotSupported", "mlgov does not move resources between resource groups or subscriptions (%s): a resource's id names its group, so a move is a create under the new id and a delete of the old one.", t)
	case strings.EqualFold(t, "resources"):
		if r.Method != "GET" {
			return true, nil, methodNotAllowed(r)
		}
		resp, err = m.listResources(ctx, r)
		return true, resp, err
	case id.ResourceGroup == "" && strings.EqualFold(t, "resourceGroups"):
		if r.Method != "GET" {
			return true, nil, methodNotAllowed(r)
		}
		resp, err = m.listGroups(ctx, r)
		return true, resp, err
	}
	return false, nil, nil
}

// listGroups is ResourceGroups_List, with its $filter (tagName, tagValue).
func (m *Manager) listGroups(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	filter, err := compileFilter(r.Query.Get("$filter"), groupFields)
	if err != nil {
		return nil, err
	}
	if err := m.requireSubscription(ctx, id.SubscriptionID); err != nil {
		return nil, err
	}
	q := store.ListQuery{ParentKey: arm.KeyOf("/subscriptions/" + id.SubscriptionID), TypeKey: arm.KeyOf(typeResourceGroup)}
	if filter == nil {
		return m.list(ctx, r, q)
	}
	return m.listFiltered(ctx, r, q, func(it *store.Resource) ([]byte, bool) {
		body, err := value.Parse(it.Body)
		if err != nil {
			return nil, false
		}
		return it.Body, filter.match(&filterItem{tags: body.Field("tags")})
	})
}

// listResources is Resources_List and Resources_ListByResourceGroup.
//
// What ARM lists: the resources of its index, which are the tracked
// resources (ARM's RPC contract, "Designing Resources": tracked resources
// are registered, tagged and indexed; proxy-only ones are addressable
// but not indexed). Tracked types may be nested (a workspace's computes
// and online endpoints are listed beside the workspace, named
// "workspace/compute" as ARM names nested resources in these lists);
// proxy resources (jobs, datastores, connections, subnets), extension
// resources and the policy resources are not listed, and neither are the
// subscription and its resource groups. For a type mlgov does not know
// (stored with --generic-providers) the stored body decides: one with a
// location is tracked (proxy resources have none).
//
// Items are the stored bodies (a superset of ARM's GenericResourceExpanded:
// ARM leaves properties out, the SDK reads them when present), with
// createdTime, changedTime and provisioningState added when $expand asks
// for them. $top is the page size, the nextLink leads on.
func (m *Manager) listResources(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	filter, err := compileFilter(r.Query.Get("$filter"), resourceFields)
	if err != nil {
		return nil, err
	}
	expand, err := parseExpand(r.Query.Get("$expand"))
	if err != nil {
		return nil, err
	}
	if err := m.requireSubscription(ctx, id.SubscriptionID); err != nil {
		return nil, err
	}
	q := store.ListQuery{SubscriptionKey: arm.KeyOf(id.SubscriptionID)}
	if id.ResourceGroup != "" {
		rg := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
		if _, err := m.getOne(ctx, rg, false); err != nil {
			return nil, err
		}
		q = store.ListQuery{KeyPrefix: rg.Key() + "/"}
	}
	if filter != nil && filter.typeKey != "" {
		q.TypeKey = filter.typeKey
	}
	return m.listFiltered(ctx, r, q, func(it *store.Resource) ([]byte, bool) {
		return m.listedResource(it, filter, expand)
	})
}

// listedResource decides whether a stored resource is in a resource list
// and returns its body as listed.
func (m *Manager) listedResource(it *store.Resource, filter *resourceFilter, expand expandSet) ([]byte, bool) {
	if it.TypeKey == arm.KeyOf(typeSubscription) || it.TypeKey == arm.KeyOf(typeResourceGroup) {
		return nil, false
	}
	id, err := arm.ParseID(it.ID)
	if err != nil || !id.IsResource() || id.IsExtension() {
		return nil, false
	}
	spec, known := m.reg.Lookup(it.TypeKey)
	if known && !spec.Tracked {
		return nil, false
	}
	nested := len(id.Parts) > 1
	if known && filter == nil && expand == 0 && !nested {
		return it.Body, true
	}
	body, err := value.Parse(it.Body)
	if err != nil {
		return nil, false
	}
	loc := body.Field("location")
	if !known && (loc.Kind() != value.String || loc.Str() == "") {
		return nil, false
	}
	if filter != nil && !filter.match(&filterItem{typ: id.Type(), name: id.FullName(), group: id.ResourceGroup,
		location: arm.NormalizeLocation(loc.Str()), tags: body.Field("tags")}) {
		return nil, false
	}
	if !nested && expand == 0 {
		return it.Body, true
	}
	if nested {
		body = body.With("name", str(id.FullName()))
	}
	if expand&expandCreatedTime != 0 {
		body = body.With("createdTime", timestamp(it.CreatedAt))
	}
	if expand&expandChangedTime != 0 {
		body = body.With("changedTime", timestamp(it.UpdatedAt))
	}
	if ps := get(body, "properties", "provisioningState"); expand&expandProvisioningState != 0 && ps.Kind() == value.String {
		body = body.With("provisioningState", ps)
	}
	return []byte(body.JSON()), true
}

// expandSet is what a resource list's $expand adds to each item.
type expandSet uint8

const (
	expandCreatedTime expandSet = 1 << iota
	expandChangedTime
	expandProvisioningState
)

// parseExpand reads $expand: a comma-separated list of createdTime,
// changedTime and provisioningState (ignoring case).
func parseExpand(raw string) (expandSet, error) {
	var s expandSet
	for _, v := range strings.Split(raw, ",") {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "":
		case "createdtime":
			s |= expandCreatedTime
		case "changedtime":
			s |= expandChangedTime
		case "provisioningstate":
			s |= expandProvisioningState
		default:
			e := arm.Errorf("InvalidQueryParameter", "The $expand value '%s' is not supported: a resource list expands createdTime, changedTime and provisioningState.", arm.Clip(strings.TrimSpace(v), 64))
			e.Target = "$expand"
			return 0, e
		}
	}
	return s, nil
}
