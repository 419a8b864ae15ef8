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

func provisioningState(body []byte) string {
	v, err := value.Parse(body)
	if err != nil {
		return ""
	}
	return get(v, "properties", "provisioningState").Str()
}

func (m *Manager) ctxFor(id *arm.ID, r *Request, now time.Time) *Ctx {
	return &Ctx{ID: id, Now: now, NewID: m.cfg.NewID, TenantID: m.cfg.TenantID, APIVersion: r.APIVersion, Principal: r.Caller, ScoringURL: m.cfg.ScoringURL, cmk: m.keyWrapper()}
}

// hookCtx is the Ctx of a write's type hooks: with the transaction's
// reads when the write is prepared inside it.
func (m *Manager) hookCtx(ctx context.Context, a *Attributes) *Ctx {
	c := m.ctxFor(a.ID, a.Request, a.Now)
	c.Context = ctx
	if a.Spec.Secrets {
		c.Secrets = a.secrets
		c.SetSecrets = func(v value.Value) {
			a.secrets = v
			a.out.secrets = &store.Object{Kind: KindSecrets, Key: a.ID.Key(), Body: []byte(v.JSON()), UpdatedAt: a.Now}
		}
	}
	c.Body = a.Body
	if tx := a.tx; tx != nil {
		c.Children = func(parent *arm.ID, typ string) ([]*store.Resource, error) {
			return tx.ListResources(ctx, store.ListQuery{ParentKey: parent.Key(), TypeKey: arm.KeyOf(typ)})
		}
		c.Get = func(key string) (*store.Resource, error) {
			r, err := tx.GetResource(ctx, key, false)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			return r, err
		}
	} else {
		c.Children = func(parent *arm.ID, typ string) ([]*store.Resource, error) {
			var out []*store.Resource
			err := m.st.Read(ctx, func(tx store.Tx) (err error) {
				out, err = tx.ListResources(ctx, store.ListQuery{ParentKey: parent.Key(), TypeKey: arm.KeyOf(typ)})
				return err
			})
			return out, err
		}
		c.Get = func(key string) (*store.Resource, error) {
			rs, err := store.GetResources(ctx, m.st, key)
			if err != nil {
				return nil, err
			}
			return rs[0], nil
		}
	}
	return c
}

func (m *Manager) storeResource(id *arm.ID, stored value.Value, etag string, now time.Time, existing *store.Resource) *store.Resource {
	parent := ""
	if p := id.Parent(); p != nil {
		parent = p.Key()
	}
	res := &store.Resource{
		Key: id.Key(), ID: stored.Field("id").Str(), ParentKey: parent, TypeKey: arm.KeyOf(typeOf(id)),
		SubscriptionKey: arm.KeyOf(id.SubscriptionID), ResourceGroupKey: arm.KeyOf(id.ResourceGroup),
		ETag: etag, CreatedAt: now, UpdatedAt: now, // Body: set from the object after admission
	}
	if existing != nil {
		res.CreatedAt = existing.CreatedAt
	}
	return res
}

// asyncOp names the operation opID of a write to id, for the client
// to poll: under the namespace of the resource's type and its location.
func asyncOp(id *arm.ID, opID, location string) *AsyncOperation {
	ns := "Microsoft.Resources"
	for i := len(id.Parts) - 1; i >= 0; i-- {
		if id.Parts[i].Namespace != "" {
			ns = id.Parts[i].Namespace
			break
		}
	}
	if location == "" {
		location = "global"
	}
	return &AsyncOperation{ID: opID, SubscriptionID: id.SubscriptionID, Namespace: ns, Location: location}
}

func (m *Manager) newOp(opID, kind string, id *arm.ID, now time.Time, act activitylog.Op) *opRecord {
	return &opRecord{ID: opID, Name: opID, Status: "InProgress", StartTime: timestamp(now).Str(), Kind: kind,
		ResourceID: id.String(), OperationName: act.OperationName, Activity: act}
}

func (m *Manager) storeOp(op *opRecord, id *arm.ID, now time.Time) *store.Operation {
	b, _ := json.Marshal(op)
	return &store.Operation{ID: arm.KeyOf(op.ID), ResourceKey: id.Key(), Status: op.Status, Body: b,
		NotBefore: now.Add(m.cfg.LROLatency), UpdatedAt: now}
}

// deleteTree deletes a resource and everything under it (children and
// extension resources; for a resource group every resource in it).
func (m *Manager) deleteTree(ctx context.Context, tx store.Tx, id *arm.ID) error {
	if err := m.checkKeysInUse(ctx, tx, id); err != nil {
		return err
	}
	for {
		items, err := tx.ListResources(ctx, store.ListQuery{KeyPrefix: id.Key() + "/", Limit: 500})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := m.deleteOne(ctx, tx, it.Key, it.TypeKey); err != nil {
				return err
			}
		}
		if len(items) < 500 {
			break
		}
	}
	return m.deleteOne(ctx, tx, id.Key(), arm.KeyOf(typeOf(id)))
}

// deleteOne deletes a resource and the store objects that are its
// (TypeSpec.objects).
func (m *Manager) deleteOne(ctx context.Context, tx store.Tx, key, typeKey string) error {
	if err := tx.DeleteResource(ctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	spec, _ := m.reg.Lookup(typeKey)
	if spec.cleanup != nil {
		if err := spec.cleanup(ctx, tx, key); err != nil {
			return err
		}
	}
	for _, kind := range spec.objects {
		if err := tx.DeleteObject(ctx, kind, key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (m *Manager) collectionOrAction(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	if ok, resp, err := m.genericRequest(ctx, r); ok {
		return resp, err
	}
	if r.Method == "POST" && id.IsResource() {
		return m.action(ctx, r)
	}
	if r.Method != "GET" {
		return nil, methodNotAllowed(r)
	}
	if id.IsResource() {
		if resp, ok, err := m.view(ctx, r); ok {
			return resp, err
		}
	}
	if err := m.requireSubscription(ctx, id.SubscriptionID); err != nil {
		return nil, err
	}
	// Activity log: /subscriptions/{s}/providers/Microsoft.Insights/eventtypes/management/values
	if isActivityLog(id) {
		return m.listEvents(ctx, r)
	}
	ct := id.CollectionType()
	if ct == "" {
		return nil, arm.Errorf("InvalidResourceType", "The path '%s' does not name a resource collection.", r.Path)
	}
	spec, _ := m.reg.Lookup(ct)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	// A list of a type mlgov does not serve is refused as its writes are:
	// an empty list would say that none exist where mlgov cannot know.
	if err := m.checkServed(r, spec); err != nil {
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
	case spec != nil && spec.ListAtScopeOnly:
		q.ParentKey = arm.KeyOf("/subscriptions/" + id.SubscriptionID)
	default:
		q.SubscriptionKey = arm.KeyOf(id.SubscriptionID)
	}
	return m.list(ctx, r, q)
}

// view serves a GET of one of a type's Views ({id}/{view}); ok is false
// when the path names none.
func (m *Manager) view(ctx context.Context, r *Request) (resp *Response, ok bool, err error) {
	id := &arm.ID{SubscriptionID: r.ID.SubscriptionID, ResourceGroup: r.ID.ResourceGroup, Parts: r.ID.Parts}
	spec, _ := m.spec(id)
	v := spec.Views[arm.KeyOf(r.ID.Trailing)]
	if v == nil {
		return nil, false, nil
	}
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, true, err
	}
	got, err := m.getOne(ctx, id, false)
	if err != nil {
		return nil, true, err
	}
	res, err := value.Parse(got.Body)
	if err != nil {
		return nil, true, err
	}
	c := m.ctxFor(id, r, m.cfg.Now())
	c.Context = ctx
	out, err := v(c, res)
	if err != nil {
		return nil, true, err
	}
	return &Response{Body: []byte(out.JSON())}, true, nil
}
