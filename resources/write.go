package resources

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// opRecord is the stored state of a long-running operation.
type opRecord struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	StartTime     string          `json:"startTime"`
	EndTime       string          `json:"endTime,omitempty"`
	Error         *opError        `json:"error,omitempty"`
	Kind          string          `json:"kind"` // put, patch, delete, action
	ResourceID    string          `json:"resourceId"`
	Action        string          `json:"action,omitempty"`
	ActionBody    json.RawMessage `json:"actionBody,omitempty"`
	Response      json.RawMessage `json:"response,omitempty"`
	ResultStatus  int             `json:"resultStatus,omitempty"`
	OperationName string          `json:"operationName"`
	Activity      activitylog.Op  `json:"activity"`
}

type opError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (m *Manager) parseBody(r *Request) (value.Value, error) {
	if len(strings.TrimSpace(string(r.Body))) == 0 {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "The request content was empty; a JSON object is required.")
	}
	// Strict: a duplicate key (compared case-insensitively, as every
	// lookup of the body is) or a number float64 cannot hold is refused
	// rather than stored as something else than what was sent.
	v, err := value.ParseStrict(r.Body)
	if err != nil {
		e := arm.Errorf("InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
		var se *value.SyntaxError
		if errors.As(err, &se) && se.Pointer != "" {
			e.Target = se.Pointer
		}
		return value.Value{}, e
	}
	if v.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "The request content must be a JSON object.")
	}
	return v, nil
}

func validateNames(id *arm.ID, spec *TypeSpec) error {
	if id.ResourceGroup != "" {
		if err := arm.ValidateResourceGroupName(id.ResourceGroup); err != nil {
			return err
		}
	}
	for _, p := range id.Parts {
		if err := arm.ValidateResourceName(p.Name); err != nil {
			return err
		}
	}
	if spec != nil && spec.Name != nil && id.IsResource() {
		return spec.Name(id.Name())
	}
	return nil
}

// checkParents verifies the subscription, resource group and parent
// resources exist (inside a transaction).
func checkParents(ctx context.Context, tx store.Tx, id *arm.ID) error {
	if _, err := tx.GetResource(ctx, arm.KeyOf("/subscriptions/"+id.SubscriptionID), false); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID)
		}
		return err
	}
	if id.IsResourceGroup() || id.ResourceGroup == "" {
		return nil
	}
	rg := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
	rgRes, err := tx.GetResource(ctx, rg.Key(), false)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(rg)
	} else if err != nil {
		return err
	}
	if provisioningState(rgRes.Body) == "Deleting" {
		return arm.Errorf("ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state and cannot perform this operation.", id.ResourceGroup)
	}
	for p := id.Parent(); p != nil && p.IsResource(); p = p.Parent() {
		if _, err := tx.GetResource(ctx, p.Key(), false); errors.Is(err, store.ErrNotFound) {
			return arm.Errorf("ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", p.FullName())
		} else if err != nil {
			return err
		}
	}
	return nil
}

func provisioningState(body []byte) string {
	v, err := value.Parse(body)
	if err != nil {
		return ""
	}
	return get(v, "properties", "provisioningState").Str()
}

func (m *Manager) ctxFor(id *arm.ID, r *Request, now time.Time) *Ctx {
	return &Ctx{ID: id, Now: now, NewID: m.cfg.NewID, TenantID: m.cfg.TenantID, BaseURL: r.BaseURL}
}

func (m *Manager) storeResource(id *arm.ID, stored value.Value, etag string, now time.Time, existing *store.Resource) *store.Resource {
	parent := ""
	if p := id.Parent(); p != nil {
		parent = p.Key()
	}
	res := &store.Resource{
		Key: id.Key(), ID: stored.Field("id").Str(), ParentKey: parent, TypeKey: arm.KeyOf(typeOf(id)),
		SubscriptionKey: arm.KeyOf(id.SubscriptionID), ResourceGroupKey: arm.KeyOf(id.ResourceGroup),
		Body: []byte(stored.JSON()), ETag: etag, CreatedAt: now, UpdatedAt: now,
	}
	if existing != nil {
		res.CreatedAt = existing.CreatedAt
	}
	return res
}

func (m *Manager) asyncHeaders(r *Request, id *arm.ID, opID, location string, withLocation bool) map[string]string {
	ns := "Microsoft.Resources"
	if id.IsResource() {
		ns = id.Parts[len(id.Parts)-1].Namespace
		for i := len(id.Parts) - 1; i >= 0; i-- {
			if id.Parts[i].Namespace != "" {
				ns = id.Parts[i].Namespace
				break
			}
		}
	}
	if location == "" {
		location = "global"
	}
	base := r.BaseURL + "/subscriptions/" + id.SubscriptionID + "/providers/" + ns + "/locations/" + location
	q := "?api-version=" + r.APIVersion
	h := map[string]string{"Azure-AsyncOperation": base + "/operationStatuses/" + opID + q}
	if withLocation {
		h["Location"] = base + "/operationResults/" + opID + q
	}
	return h
}

func (m *Manager) newOp(opID, kind string, id *arm.ID, now time.Time, act activitylog.Op) *opRecord {
	return &opRecord{ID: opID, Name: opID, Status: "InProgress", StartTime: timestamp(now).Str(), Kind: kind,
		ResourceID: id.String(), OperationName: act.OperationName, Activity: act}
}

func (m *Manager) saveOp(ctx context.Context, tx store.Tx, op *opRecord, id *arm.ID, now time.Time) error {
	return tx.PutOperation(ctx, m.storeOp(op, id, now))
}

func (m *Manager) storeOp(op *opRecord, id *arm.ID, now time.Time) *store.Operation {
	b, _ := json.Marshal(op)
	return &store.Operation{ID: arm.KeyOf(op.ID), ResourceKey: id.Key(), Status: op.Status, Body: b,
		NotBefore: now.Add(m.cfg.LROLatency), UpdatedAt: now}
}

// putPlan is everything a PUT writes, worked out from the resource as it
// was before (base; nil when it did not exist).
type putPlan struct {
	base   *store.Resource
	res    *store.Resource
	events []*store.Event
	op     *store.Operation // nil unless the type is long-running
	resp   *Response
}

// sameVersion reports whether the plan was made from existing.
func (p *putPlan) sameVersion(existing *store.Resource) bool {
	if p.base == nil || existing == nil {
		return p.base == nil && existing == nil
	}
	return p.base.ETag == existing.ETag && p.base.Key == existing.Key
}

// planPut works out a PUT of body at id over existing (nil: a create).
// It reads nothing from the store, so put can run it before taking the
// store's write lock, and again inside only if the resource changed in
// between.
func (m *Manager) planPut(r *Request, spec *TypeSpec, body value.Value, id *arm.ID, now time.Time, existing *store.Resource) (*putPlan, error) {
	var prev value.Value
	if existing != nil {
		var err error
		if prev, err = value.Parse(existing.Body); err != nil {
			return nil, err
		}
		if get(prev, "properties", "provisioningState").Str() == "Deleting" {
			return nil, arm.Errorf("Conflict", "The resource '%s' is being deleted.", id.Name())
		}
	}
	if spec.Validate != nil {
		if err := spec.Validate(body, existing == nil); err != nil {
			return nil, err
		}
	}
	stored, err := m.envelope(r, spec, body, prev, id, now)
	if err != nil {
		return nil, err
	}
	if spec.Defaults != nil {
		stored = spec.Defaults(m.ctxFor(id, r, now), stored, prev)
	}
	status := 201
	state := "Creating"
	if existing != nil {
		status, state = 200, "Updating"
	}
	if !spec.Async {
		state = "Succeeded"
	}
	stored = set(stored, str(state), "properties", "provisioningState")
	etag := m.cfg.NewID()
	p := &putPlan{base: existing, res: m.storeResource(id, stored, etag, now, existing)}
	act := m.opFor(r, id, operationName(spec.Type, "write"))
	evStatus := activitylog.Succeeded
	if spec.Async {
		evStatus = activitylog.Accepted
	}
	p.events = []*store.Event{
		activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), now, nil),
		activitylog.Event(act, evStatus, status, m.cfg.NewID(), now, nil),
	}
	p.resp = &Response{Status: status, Body: p.res.Body, Header: etagHeader(etag)}
	if spec.Async {
		op := m.newOp(m.cfg.NewID(), "put", id, now, act)
		p.op = m.storeOp(op, id, now)
		for k, v := range m.asyncHeaders(r, id, op.ID, stored.Field("location").Str(), false) {
			p.resp.Header[k] = v
		}
	}
	return p, nil
}

func (m *Manager) put(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	spec, _ := m.spec(id)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	if err := m.checkServed(r, spec); err != nil {
		return nil, err
	}
	if err := validateNames(id, spec); err != nil {
		return nil, err
	}
	body, err := m.parseBody(r)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	// Work the PUT out before taking the write lock, from the resource as
	// last committed; inside, only a resource that changed in between
	// (or an error, reported from there) makes it start over.
	var pre *putPlan
	if rs, err := store.GetResources(ctx, m.st, id.Key()); err == nil {
		pre, _ = m.planPut(r, spec, body, id, now, rs[0])
	}
	var resp *Response
	err = m.st.Write(ctx, func(tx store.Tx) error {
		if err := checkParents(ctx, tx, id); err != nil {
			return err
		}
		existing, err := tx.GetResource(ctx, id.Key(), true)
		if errors.Is(err, store.ErrNotFound) {
			existing = nil
		} else if err != nil {
			return err
		}
		if err := matchETag(r, existing); err != nil {
			return err
		}
		p := pre
		if p == nil || !p.sameVersion(existing) {
			if p, err = m.planPut(r, spec, body, id, now, existing); err != nil {
				return err
			}
		}
		if err := tx.PutResource(ctx, p.res); err != nil {
			return err
		}
		if err := tx.AppendEvents(ctx, p.events...); err != nil {
			return err
		}
		if p.op != nil {
			if err := tx.PutOperation(ctx, p.op); err != nil {
				return err
			}
		}
		resp = p.resp
		return nil
	})
	return resp, err
}

func (m *Manager) patch(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	spec, _ := m.spec(id)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	if err := m.checkServed(r, spec); err != nil {
		return nil, err
	}
	patch, err := m.parseBody(r)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	var resp *Response
	err = m.st.Write(ctx, func(tx store.Tx) error {
		if err := checkParents(ctx, tx, id); err != nil {
			return err
		}
		existing, err := tx.GetResource(ctx, id.Key(), true)
		if errors.Is(err, store.ErrNotFound) {
			return notFound(id)
		} else if err != nil {
			return err
		}
		if err := matchETag(r, existing); err != nil {
			return err
		}
		prev, err := value.Parse(existing.Body)
		if err != nil {
			return err
		}
		if get(prev, "properties", "provisioningState").Str() == "Deleting" {
			return arm.Errorf("Conflict", "The resource '%s' is being deleted.", id.Name())
		}
		if l := patch.Field("location"); l.Kind() == value.String && arm.NormalizeLocation(l.Str()) != prev.Field("location").Str() {
			if err := m.checkLocation(spec, l.Str(), false); err != nil {
				return err
			}
			return arm.Errorf("InvalidResourceLocation", "The location of '%s' cannot be changed from '%s' to '%s'.", id.Name(), prev.Field("location").Str(), arm.NormalizeLocation(l.Str()))
		}
		merged := prev
		for i := 0; i < patch.Len(); i++ {
			k, v := patch.MemberAt(i)
			switch strings.ToLower(k) {
			case "id", "name", "type", "systemdata", "location":
			case "tags", "identity":
				if v.Kind() == value.Null {
					merged = merged.Without(k)
				} else {
					merged = merged.With(k, v) // replaced wholesale
				}
			default:
				merged = merged.With(k, mergePatch(merged.Field(k), v))
			}
		}
		if spec.Validate != nil {
			if err := spec.Validate(merged, false); err != nil {
				return err
			}
		}
		stored, err := m.envelope(r, spec, merged, prev, id, now)
		if err != nil {
			return err
		}
		if spec.Defaults != nil {
			stored = spec.Defaults(m.ctxFor(id, r, now), stored, prev)
		}
		state := "Succeeded"
		if spec.Async {
			state = "Updating"
		}
		stored = set(stored, str(state), "properties", "provisioningState")
		etag := m.cfg.NewID()
		sr := m.storeResource(id, stored, etag, now, existing)
		if err := tx.PutResource(ctx, sr); err != nil {
			return err
		}
		act := m.opFor(r, id, operationName(spec.Type, "write"))
		status := 200
		evStatus := activitylog.Succeeded
		if spec.Async {
			status, evStatus = 202, activitylog.Accepted
		}
		if err := tx.AppendEvents(ctx,
			activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), now, nil),
			activitylog.Event(act, evStatus, status, m.cfg.NewID(), now, nil)); err != nil {
			return err
		}
		if !spec.Async {
			resp = &Response{Status: 200, Body: sr.Body, Header: etagHeader(etag)}
			return nil
		}
		op := m.newOp(m.cfg.NewID(), "patch", id, now, act)
		if err := m.saveOp(ctx, tx, op, id, now); err != nil {
			return err
		}
		resp = &Response{Status: 202, Header: m.asyncHeaders(r, id, op.ID, stored.Field("location").Str(), true)}
		return nil
	})
	return resp, err
}

func (m *Manager) delete(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	spec, _ := m.spec(id)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	if strings.EqualFold(spec.Type, "Microsoft.MachineLearningServices/workspaces/computes") {
		a := r.Query.Get("underlyingResourceAction")
		if !strings.EqualFold(a, "Delete") && !strings.EqualFold(a, "Detach") {
			return nil, arm.Errorf("InvalidQueryParameter", "Deleting a compute requires the query parameter underlyingResourceAction=Delete or Detach.")
		}
	}
	async := spec.Async || id.IsResourceGroup()
	now := m.cfg.Now()
	var resp *Response
	err := m.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetResource(ctx, arm.KeyOf("/subscriptions/"+id.SubscriptionID), false); errors.Is(err, store.ErrNotFound) {
			return arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID)
		}
		if !id.IsResourceGroup() && id.ResourceGroup != "" {
			rg := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
			if _, err := tx.GetResource(ctx, rg.Key(), false); errors.Is(err, store.ErrNotFound) {
				return notFound(rg)
			}
		}
		existing, err := tx.GetResource(ctx, id.Key(), true)
		if errors.Is(err, store.ErrNotFound) && id.IsResourceGroup() {
			return notFound(id) // ARM answers 404 for a resource group that does not exist
		}
		if errors.Is(err, store.ErrNotFound) {
			if r.IfMatch != "" {
				return arm.Errorf("PreconditionFailed", "The resource does not exist, so If-Match cannot match.")
			}
			resp = &Response{Status: 204}
			return nil
		} else if err != nil {
			return err
		}
		if err := matchETag(r, existing); err != nil {
			return err
		}
		act := m.opFor(r, id, operationName(typeOf(id), "delete"))
		if !async {
			if err := m.deleteTree(ctx, tx, id); err != nil {
				return err
			}
			resp = &Response{Status: 200}
			return tx.AppendEvents(ctx,
				activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), now, nil),
				activitylog.Event(act, activitylog.Succeeded, 200, m.cfg.NewID(), now, nil))
		}
		prev, err := value.Parse(existing.Body)
		if err != nil {
			return err
		}
		if get(prev, "properties", "provisioningState").Str() != "Deleting" {
			prev = set(prev, str("Deleting"), "properties", "provisioningState")
			existing.Body = []byte(prev.JSON())
			existing.UpdatedAt = now
			if err := tx.PutResource(ctx, existing); err != nil {
				return err
			}
		}
		op := m.newOp(m.cfg.NewID(), "delete", id, now, act)
		if err := m.saveOp(ctx, tx, op, id, now); err != nil {
			return err
		}
		resp = &Response{Status: 202, Header: m.asyncHeaders(r, id, op.ID, prev.Field("location").Str(), true)}
		return tx.AppendEvents(ctx,
			activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), now, nil),
			activitylog.Event(act, activitylog.Accepted, 202, m.cfg.NewID(), now, nil))
	})
	return resp, err
}

// deleteTree deletes a resource and everything under it (children and
// extension resources; for a resource group every resource in it).
func (m *Manager) deleteTree(ctx context.Context, tx store.Tx, id *arm.ID) error {
	for {
		items, err := tx.ListResources(ctx, store.ListQuery{KeyPrefix: id.Key() + "/", Limit: 500})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := tx.DeleteResource(ctx, it.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if len(items) < 500 {
			break
		}
	}
	if err := tx.DeleteResource(ctx, id.Key()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (m *Manager) collectionOrAction(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	if r.Method == "POST" && id.IsResource() {
		return m.action(ctx, r)
	}
	if r.Method != "GET" {
		return nil, methodNotAllowed(r)
	}
	if err := m.requireSubscription(ctx, id.SubscriptionID); err != nil {
		return nil, err
	}
	// Activity log: /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values
	if len(id.Parts) == 1 && strings.EqualFold(id.Parts[0].Namespace, "Microsoft.Insights") && strings.EqualFold(id.Parts[0].Type, "eventtypes") &&
		strings.EqualFold(id.Parts[0].Name, "management") && strings.EqualFold(id.Trailing, "values") && id.ResourceGroup == "" {
		return m.listEvents(ctx, r)
	}
	switch {
	case id.ResourceGroup == "" && len(id.Parts) == 0 && strings.EqualFold(id.Trailing, "resourceGroups"):
		return m.list(ctx, r, store.ListQuery{ParentKey: arm.KeyOf("/subscriptions/" + id.SubscriptionID), TypeKey: arm.KeyOf(typeResourceGroup)})
	case id.ResourceGroup == "" && len(id.Parts) == 0 && strings.EqualFold(id.Trailing, "resources"):
		// Resources only: not the subscription or its resource groups.
		return m.listFiltered(ctx, r, store.ListQuery{SubscriptionKey: arm.KeyOf(id.SubscriptionID)}, func(it *store.Resource) bool {
			return it.TypeKey != arm.KeyOf(typeSubscription) && it.TypeKey != arm.KeyOf(typeResourceGroup)
		})
	case id.IsResourceGroup() && strings.EqualFold(id.Trailing, "resources"):
		if _, err := m.getOne(ctx, id, false); err != nil {
			return nil, err
		}
		return m.list(ctx, r, store.ListQuery{KeyPrefix: id.Key() + "/"})
	}
	ct := id.CollectionType()
	if ct == "" {
		return nil, arm.Errorf("InvalidResourceType", "The path '%s' does not name a resource collection.", r.Path)
	}
	spec, _ := m.reg.Lookup(ct)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	q := store.ListQuery{TypeKey: arm.KeyOf(ct)}
	switch {
	case id.IsResource():
		if _, err := m.getOne(ctx, id, false); err != nil {
			return nil, err
		}
		q.ParentKey = id.Key()
	case id.ResourceGroup != "":
		rg := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
		if _, err := m.getOne(ctx, rg, false); err != nil {
			return nil, err
		}
		q.ParentKey = rg.Key()
	default:
		q.SubscriptionKey = arm.KeyOf(id.SubscriptionID)
	}
	return m.list(ctx, r, q)
}

func (m *Manager) action(ctx context.Context, r *Request) (*Response, error) {
	rid := &arm.ID{SubscriptionID: r.ID.SubscriptionID, ResourceGroup: r.ID.ResourceGroup, Parts: r.ID.Parts}
	spec, _ := m.spec(rid)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	if err := m.checkServed(r, spec); err != nil {
		return nil, err
	}
	as, ok := spec.Actions[arm.KeyOf(r.ID.Trailing)]
	if !ok {
		return nil, arm.Errorf("InvalidAction", "The action '%s' is not supported on resources of type '%s'.", r.ID.Trailing, spec.Type)
	}
	var body value.Value
	if len(strings.TrimSpace(string(r.Body))) > 0 {
		var err error
		if body, err = m.parseBody(r); err != nil {
			return nil, err
		}
	}
	now := m.cfg.Now()
	var resp *Response
	err := m.st.Write(ctx, func(tx store.Tx) error {
		if err := checkParents(ctx, tx, rid); err != nil {
			return err
		}
		existing, err := tx.GetResource(ctx, rid.Key(), true)
		if errors.Is(err, store.ErrNotFound) {
			return notFound(rid)
		} else if err != nil {
			return err
		}
		cur, err := value.Parse(existing.Body)
		if err != nil {
			return err
		}
		act := m.opFor(r, rid, operationName(spec.Type, as.Name+"/action"))
		if !as.Async {
			nr, out, err := as.Run(m.ctxFor(rid, r, now), cur, body)
			if err != nil {
				return err
			}
			if !nr.IsUndefined() {
				existing.Body, existing.ETag, existing.UpdatedAt = []byte(nr.JSON()), m.cfg.NewID(), now
				if err := tx.PutResource(ctx, existing); err != nil {
					return err
				}
			}
			resp = &Response{Status: 200}
			if !out.IsUndefined() {
				resp.Body = []byte(out.JSON())
			}
			return tx.AppendEvents(ctx,
				activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), now, nil),
				activitylog.Event(act, activitylog.Succeeded, 200, m.cfg.NewID(), now, nil))
		}
		if as.During != nil {
			nr := as.During(cur)
			existing.Body, existing.UpdatedAt = []byte(nr.JSON()), now
			if err := tx.PutResource(ctx, existing); err != nil {
				return err
			}
		}
		op := m.newOp(m.cfg.NewID(), "action", rid, now, act)
		op.Action = arm.KeyOf(r.ID.Trailing)
		if !body.IsUndefined() {
			op.ActionBody = json.RawMessage(body.JSON())
		}
		if err := m.saveOp(ctx, tx, op, rid, now); err != nil {
			return err
		}
		resp = &Response{Status: 202, Header: m.asyncHeaders(r, rid, op.ID, cur.Field("location").Str(), true)}
		return tx.AppendEvents(ctx,
			activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), now, nil),
			activitylog.Event(act, activitylog.Accepted, 202, m.cfg.NewID(), now, nil))
	})
	return resp, err
}
