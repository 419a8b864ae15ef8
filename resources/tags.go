package resources

import (
	"context"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Tags at scope: {scope}/providers/Microsoft.Resources/tags/default
// (Tags_GetAtScope, Tags_CreateOrUpdateAtScope, Tags_UpdateAtScope,
// Tags_DeleteAtScope), where the scope is a subscription, a resource
// group or a resource.
//
// It is not a resource of its own: it is a view of the scope's `tags`.
// Nothing is stored under the tags path; a GET reads the scope, and a
// write is a write of the scope resource through the one write path
// (pipeline.go), so that everything a tags-only PATCH of the resource
// meets, the tags API meets too: the scope loaded and locked, the
// Authorizer (action Microsoft.Resources/tags/write or /delete, what
// Azure's Tag Contributor role grants), admission (policy Modify, Append,
// Deny, Audit; for admission the write is a PATCH whose body is
// {"tags": <the tags as they will be>}, so govern evaluates only the
// policies that inspect tags, as Azure does for tags-only requests),
// the resource persisted with its activity-log events, the change feed.
//
// The new tags are worked out inside the write transaction from the tags
// as stored (a Merge or Delete on tags read before the lock would lose a
// concurrent change), and the answer is the tags as stored, after
// admission (a Modify that adds a tag shows in it).

const (
	typeTags = "Microsoft.Resources/tags"
	// tagsFirstAPIVersion is the first Microsoft.Resources api-version
	// with tags at scope.
	tagsFirstAPIVersion = "2019-10-01"
)

// tagsRequest serves the tags API and the subscription's tag names
// (GET /subscriptions/{s}/tagNames). ok is false when r is not for them.
func (m *Manager) tagsRequest(ctx context.Context, r *Request) (ok bool, resp *Response, err error) {
	id := r.ID
	switch {
	case id.ResourceGroup == "" && len(id.Parts) == 0 && strings.EqualFold(id.Trailing, "tagNames"):
		if r.Method != "GET" {
			return true, nil, methodNotAllowed(r)
		}
		resp, err = m.listTagNames(ctx, r)
		return true, resp, err
	case id.Trailing != "" && arm.EqualName(id.TrailingNamespace, "Microsoft.Resources") && arm.EqualName(id.Trailing, "tags"):
		return true, nil, arm.Errorf("OperationNotSupported", "'%s' is not a collection: a scope has one set of tags, read and written at {scope}/providers/Microsoft.Resources/tags/default.", arm.Clip(r.Path, 300))
	}
	scope, name, isTags := tagsScope(id)
	if !isTags {
		return false, nil, nil
	}
	switch {
	case id.Trailing != "":
		return true, nil, arm.Errorf("OperationNotSupported", "The tags resource has no action or child '%s': use GET, PUT, PATCH or DELETE on {scope}/providers/Microsoft.Resources/tags/default.", arm.Clip(id.Trailing, 64))
	case !strings.EqualFold(name, "default"):
		return true, nil, arm.Errorf("InvalidResourceName", "The tags resource of a scope is named 'default', not '%s'.", arm.Clip(name, 64))
	case len(r.APIVersion) < 10 || r.APIVersion[:10] < tagsFirstAPIVersion:
		return true, nil, arm.Errorf("InvalidApiVersionParameter", "The api-version '%s' has no tags at scope: Microsoft.Resources/tags/default exists from api-version %s on.", arm.Clip(r.APIVersion, 64), tagsFirstAPIVersion)
	}
	if _, _, nested := tagsScope(scope); nested {
		return true, nil, arm.Errorf("InvalidResourceType", "Tags have no tags: the scope of '%s' is itself a tags resource.", arm.Clip(r.Path, 300))
	}
	spec, _ := m.spec(scope)
	if scope.IsResource() && !spec.Tracked && !spec.Generic {
		// Proxy resources have neither location nor tags (ARM's RPC
		// contract tags tracked resources only); the ML types among them
		// that have tags keep them in properties.tags.
		return true, nil, arm.Errorf("OperationNotSupported", "Resources of type '%s' do not support tags: only tracked resources, resource groups and subscriptions have tags at scope.", spec.Type)
	}
	switch r.Method {
	case "GET":
		resp, err = m.getTags(ctx, scope)
	case "PUT", "PATCH", "DELETE":
		resp, err = m.writeTags(ctx, r, scope, spec)
	default:
		err = methodNotAllowed(r)
	}
	return true, resp, err
}

// tagsScope returns the scope and name of a tags path
// ({scope}/providers/Microsoft.Resources/tags/{name}[/...]).
func tagsScope(id *arm.ID) (scope *arm.ID, name string, ok bool) {
	n := len(id.Parts)
	if n == 0 {
		return nil, "", false
	}
	last := id.Parts[n-1]
	if !arm.EqualName(last.Namespace, "Microsoft.Resources") || !arm.EqualName(last.Type, "tags") {
		return nil, "", false
	}
	return &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[: n-1 : n-1]}, last.Name, true
}

// tagsScopeOf is the scope a refused request on the tags API is logged
// against (RecordFailure): the resource whose tags it would have
// written, as the events of an applied one are.
func tagsScopeOf(id *arm.ID) *arm.ID {
	if scope, _, ok := tagsScope(id); ok && id.Trailing == "" {
		return scope
	}
	return id
}

// getTags is Tags_GetAtScope: the scope's tags as a tags resource.
func (m *Manager) getTags(ctx context.Context, scope *arm.ID) (*Response, error) {
	got, err := m.readOne(ctx, scope, true)
	if err != nil {
		return nil, err
	}
	return tagsView(got.Body)
}

// tagsView renders the tags resource of a stored scope resource's body.
func tagsView(body []byte) (*Response, error) {
	v, err := value.Parse(body)
	if err != nil {
		return nil, err
	}
	tags := v.Field("tags")
	if tags.Kind() != value.Object {
		tags = value.ObjectValue()
	}
	out := value.ObjectValue(
		value.Member{Key: "id", Value: str(v.Field("id").Str() + "/providers/" + typeTags + "/default")},
		value.Member{Key: "name", Value: str("default")},
		value.Member{Key: "type", Value: str(typeTags)},
		value.Member{Key: "properties", Value: value.ObjectValue(value.Member{Key: "tags", Value: tags})},
	)
	return &Response{Body: []byte(out.JSON())}, nil
}

// tagsOp is what a write of the tags API does to the scope's tags.
type tagsOp uint8

const (
	tagsReplace tagsOp = iota // PUT, PATCH Replace: the given tags are the tags
	tagsMerge                 // PATCH Merge: given names added or their values replaced
	tagsDelete                // PATCH Delete: given names (or name/value pairs) removed
	tagsClear                 // DELETE: no tags
)

// parseTagsBody reads the body of a PUT (TagsResource:
// {"properties":{"tags":{...}}}) or PATCH (TagsPatchResource:
// {"operation":"Merge|Replace|Delete","properties":{"tags":{...}}}).
// properties.tags is required: an absent or misspelt one would otherwise
// silently remove every tag.
func (m *Manager) parseTagsBody(r *Request) (tagsOp, value.Value, error) {
	if r.Method == "DELETE" {
		return tagsClear, value.ObjectValue(), nil
	}
	body, err := m.parseBody(r)
	if err != nil {
		return 0, value.Value{}, err
	}
	op := tagsReplace
	if r.Method == "PATCH" {
		o := body.Field("operation")
		switch {
		case o.Kind() != value.String:
			return 0, value.Value{}, targeted(arm.Errorf("InvalidRequestContent", "'operation' is required: Merge, Replace or Delete."), "/operation")
		case strings.EqualFold(o.Str(), "Merge"):
			op = tagsMerge
		case strings.EqualFold(o.Str(), "Replace"):
			op = tagsReplace
		case strings.EqualFold(o.Str(), "Delete"):
			op = tagsDelete
		default:
			return 0, value.Value{}, targeted(arm.Errorf("InvalidRequestContent", "The operation '%s' is not valid: use Merge, Replace or Delete.", arm.Clip(o.Str(), 64)), "/operation")
		}
	}
	props := body.Field("properties")
	if props.Kind() != value.Object {
		return 0, value.Value{}, targeted(arm.Errorf("InvalidRequestContent", "'properties' is required: {\"properties\":{\"tags\":{...}}}."), "/properties")
	}
	tags := props.Field("tags")
	if tags.Kind() != value.Object {
		return 0, value.Value{}, targeted(arm.Errorf("InvalidRequestContent", "'properties.tags' is required: a JSON object of tag names and string values ({} for none)."), "/properties/tags")
	}
	if err := validateTags(tags); err != nil {
		return 0, value.Value{}, err
	}
	return op, tags, nil
}

func targeted(e *arm.Error, target string) *arm.Error {
	e.Target = target
	return e
}

// applyTags works out the tags after op.
func applyTags(cur value.Value, op tagsOp, given value.Value) value.Value {
	switch op {
	case tagsReplace:
		return given
	case tagsClear:
		return value.ObjectValue()
	case tagsMerge:
		// Tag names compare ignoring case: a given name replaces the
		// value of the one stored (which keeps its casing).
		for _, t := range given.Members() {
			cur = cur.With(t.Key, t.Value)
		}
		return cur
	}
	// Delete: "based on given names or name/value pairs" (the REST
	// specification): an empty value removes the name whatever its value,
	// any other removes it only when the stored value is the same; a pair
	// that does not match leaves the tag (not an error).
	for _, t := range given.Members() {
		v, ok := cur.Get(t.Key)
		if ok && (t.Value.Str() == "" || v.Str() == t.Value.Str()) {
			cur = cur.Without(t.Key)
		}
	}
	return cur
}

// writeTags is a PUT, PATCH or DELETE of the tags API: a write of the
// scope resource (see the top of this file).
func (m *Manager) writeTags(ctx context.Context, r *Request, scope *arm.ID, spec *TypeSpec) (*Response, error) {
	if err := m.checkServed(r, spec); err != nil {
		return nil, err
	}
	action := typeTags + "/write"
	if r.Method == "DELETE" {
		action = typeTags + "/delete"
	}
	if err := m.Authorize(ctx, &r.Caller, action, scope.String()); err != nil {
		return nil, err
	}
	op, given, err := m.parseTagsBody(r)
	if err != nil {
		return nil, err
	}
	// Admission sees a PATCH of the scope's tags alone (Body is set by
	// the build, from the stored tags); the events are the request's own.
	patch := *r
	patch.Method, patch.Path, patch.ID, patch.Body, patch.IfMatch, patch.IfNoneMatch = "PATCH", scope.String(), scope, nil, "", ""
	a := &Attributes{Operation: OpUpdate, ID: scope, Spec: spec, Action: action, Principal: r.Caller, APIVersion: r.APIVersion, Request: &patch}
	w := &writer{op: OpUpdate, verb: "write", parents: true,
		missing: func(m *Manager, a *Attributes) (*Response, error) { return nil, notFound(a.ID) },
		build: func(ctx context.Context, m *Manager, a *Attributes) error {
			return m.buildTags(a, r, op, given)
		}}
	resp, err := m.run(ctx, a, w)
	if err != nil {
		return nil, err
	}
	if r.Method == "DELETE" {
		// 200 without a body: @azure/arm-resources' deleteAtScope takes
		// 200 or 202 only.
		return &Response{}, nil
	}
	return tagsView(resp.Body)
}

// buildTags is the build stage of a tags write: the stored resource
// with its tags changed (and, when it has systemData, its last
// modification), answered 200 at once: a tags change is synchronous,
// also for the types whose PATCH is a long-running operation.
func (m *Manager) buildTags(a *Attributes, orig *Request, op tagsOp, given value.Value) error {
	if err := beingDeleted(a); err != nil {
		return err
	}
	cur := a.OldObject.Field("tags")
	if cur.Kind() != value.Object {
		cur = value.ObjectValue()
	}
	next := applyTags(cur, op, given)
	if err := validateTags(next); err != nil {
		return err
	}
	a.Body = value.ObjectValue(value.Member{Key: "tags", Value: next})
	obj := a.OldObject.With("tags", next)
	if sd := obj.Field("systemData"); sd.Kind() == value.Object {
		obj = obj.With("systemData", sd.With("lastModifiedBy", str(a.Principal.Name)).
			With("lastModifiedByType", str(callerType(a.Principal))).With("lastModifiedAt", timestamp(a.Now)))
	}
	a.Object = obj
	res := *a.Existing
	res.ETag, res.UpdatedAt = m.cfg.NewID(), a.Now
	p := a.out
	p.res = &res
	p.resp, p.respBody = &Response{}, true
	p.events = m.events(a, m.opFor(orig, a.ID, a.Action), activitylog.Succeeded, 200)
	return nil
}

// listTagNames is Tags_List: every tag name used in the subscription
// (on the subscription, its resource groups and its resources), with
// how many carry it and its values with theirs, by name (names compare
// ignoring case, values exactly). mlgov has no predefined tags, so
// every name listed is in use. It reads the subscription's resources
// for each page (Azure answers it from a cache).
func (m *Manager) listTagNames(ctx context.Context, r *Request) (*Response, error) {
	sub := r.ID.SubscriptionID
	if err := m.requireSubscription(ctx, sub); err != nil {
		return nil, err
	}
	limit, err := ParseTop(r.Query.Get("$top"), r.Query.Has("$top"), m.cfg.PageSize)
	if err != nil {
		return nil, err
	}
	after := ""
	if t := r.Query.Get("$skipToken"); t != "" {
		if after, err = parseSkipToken(t); err != nil {
			return nil, err
		}
	}
	type tagValue struct {
		value string
		n     int64
	}
	type tagName struct {
		name   string
		n      int64
		values map[string]*tagValue
	}
	prefix := "/subscriptions/" + sub + "/tagNames/"
	names := map[string]*tagName{}
	for res, err := range store.ListAll(ctx, m.st, store.ListQuery{SubscriptionKey: arm.KeyOf(sub)}) {
		if err != nil {
			return nil, err
		}
		v, err := value.Parse(res.Body)
		if err != nil {
			continue
		}
		tags := v.Field("tags")
		if tags.Kind() != value.Object {
			continue
		}
		for i := 0; i < tags.Len(); i++ {
			k, tv := tags.MemberAt(i)
			key := arm.KeyOf(prefix + k)
			if key <= after {
				continue
			}
			tn := names[key]
			if tn == nil {
				tn = &tagName{name: k, values: map[string]*tagValue{}}
				names[key] = tn
			}
			tn.n++
			val := tn.values[tv.Str()]
			if val == nil {
				val = &tagValue{value: tv.Str()}
				tn.values[tv.Str()] = val
			}
			val.n++
		}
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	page := &Response{List: true}
	if len(keys) > limit {
		keys = keys[:limit]
		page.Next = skipToken(keys[limit-1])
	}
	count := func(n int64) value.Value {
		return value.ObjectValue(value.Member{Key: "type", Value: str("Total")}, value.Member{Key: "value", Value: value.IntValue(n)})
	}
	for _, k := range keys {
		tn := names[k]
		vals := make([]string, 0, len(tn.values))
		for v := range tn.values {
			vals = append(vals, v)
		}
		slices.Sort(vals)
		items := make([]value.Value, len(vals))
		for i, v := range vals {
			items[i] = value.ObjectValue(
				value.Member{Key: "id", Value: str(prefix + tn.name + "/tagValues/" + v)},
				value.Member{Key: "tagValue", Value: str(v)},
				value.Member{Key: "count", Value: count(tn.values[v].n)})
		}
		item := value.ObjectValue(
			value.Member{Key: "id", Value: str(prefix + tn.name)},
			value.Member{Key: "tagName", Value: str(tn.name)},
			value.Member{Key: "count", Value: count(tn.n)},
			value.Member{Key: "values", Value: value.ArrayValue(items)})
		page.Items = append(page.Items, []byte(item.JSON()))
	}
	return page, nil
}
