package resources

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// The four writers: what PUT, PATCH, DELETE and a POST action each do in
// the stages of the write path (pipeline.go).

var (
	putWriter   = &writer{op: OpCreate, verb: "write", parents: true, build: buildPut}
	patchWriter = &writer{op: OpUpdate, verb: "write", parents: true, build: buildPatch,
		missing: func(m *Manager, a *Attributes) (*Response, error) { return nil, notFound(a.ID) }}
	deleteWriter = &writer{op: OpDelete, verb: "delete", build: buildDelete, missing: deleteMissing}
	actionWriter = &writer{op: OpAction, verb: "action", parents: true, build: buildAction,
		missing: func(m *Manager, a *Attributes) (*Response, error) { return nil, notFound(a.ID) }}
)

func (m *Manager) put(ctx context.Context, r *Request) (*Response, error) {
	return m.write(ctx, r, putWriter)
}

func (m *Manager) patch(ctx context.Context, r *Request) (*Response, error) {
	return m.write(ctx, r, patchWriter)
}

func (m *Manager) delete(ctx context.Context, r *Request) (*Response, error) {
	return m.write(ctx, r, deleteWriter)
}

func (m *Manager) action(ctx context.Context, r *Request) (*Response, error) {
	return m.write(ctx, r, actionWriter)
}

// checkDelete checks a DELETE's query for the type (computes name what
// happens to the underlying resource).
func (s *TypeSpec) checkDelete(r *Request) error {
	if strings.EqualFold(s.Type, "Microsoft.MachineLearningServices/workspaces/computes") {
		a := r.Query.Get("underlyingResourceAction")
		if !strings.EqualFold(a, "Delete") && !strings.EqualFold(a, "Detach") {
			return arm.Errorf("InvalidQueryParameter", "Deleting a compute requires the query parameter underlyingResourceAction=Delete or Detach.")
		}
	}
	return nil
}

// deleteMissing: ARM answers 404 for a resource group that does not
// exist, 204 for any other resource, and 412 when If-Match names one.
func deleteMissing(m *Manager, a *Attributes) (*Response, error) {
	if a.ID.IsResourceGroup() {
		return nil, notFound(a.ID)
	}
	if a.Request.IfMatch != "" {
		return nil, arm.Errorf("PreconditionFailed", "The resource does not exist, so If-Match cannot match.")
	}
	return &Response{Outcome: NoContent}, nil
}

// events returns the start and end events of the write.
func (m *Manager) events(a *Attributes, act activitylog.Op, end activitylog.Status, status int) []*store.Event {
	return []*store.Event{
		activitylog.Event(act, activitylog.Started, 0, m.cfg.NewID(), a.Now, nil),
		activitylog.Event(act, end, status, m.cfg.NewID(), a.Now, nil),
	}
}

// stored finishes the build of a PUT or PATCH: the provisioning state,
// the stored resource (its body is set from a.Object after admission),
// the events, the response and, for long-running types, the operation.
func (m *Manager) stored(a *Attributes, obj value.Value, create, patch bool) {
	spec, id := a.Spec, a.ID
	status, state := 200, "Updating"
	if create {
		status, state = 201, "Creating"
	}
	if !spec.Async {
		state = "Succeeded"
	}
	a.Object = obj
	if !spec.NoProvisioningState {
		a.Object = set(obj, str(state), "properties", "provisioningState")
	}
	etag := m.cfg.NewID()
	p := a.out
	p.res = m.storeResource(id, a.Object, etag, a.Now, a.Existing)
	act := m.opFor(a.Request, id, a.Action)
	end := activitylog.Succeeded
	if spec.Async {
		end = activitylog.Accepted
		if patch {
			status = 202
		}
	}
	p.events = m.events(a, act, end, status)
	if patch && spec.Async {
		op := m.newOp(m.cfg.NewID(), "patch", id, a.Now, act)
		p.op = m.storeOp(op, id, a.Now)
		p.resp = &Response{Outcome: Accepted, Operation: asyncOp(id, op.ID, a.Object.Field("location").Str())}
		return
	}
	p.resp = &Response{ETag: etag}
	if (create || spec.CreatedOnUpdate && !patch) && !spec.CreatedOK {
		p.resp.Outcome = Created
	}
	p.respBody = true
	if spec.Async {
		op := m.newOp(m.cfg.NewID(), "put", id, a.Now, act)
		p.op = m.storeOp(op, id, a.Now)
		p.resp.Operation = asyncOp(id, op.ID, a.Object.Field("location").Str())
	}
}

// typeHooks runs the type's Defaults and Build hooks on the enveloped
// object (body: what was sent, or for a PATCH the merged resource).
func (m *Manager) typeHooks(ctx context.Context, a *Attributes, obj, body value.Value) (value.Value, error) {
	spec := a.Spec
	if spec.Defaults == nil && spec.Build == nil {
		return obj, nil
	}
	c := m.hookCtx(ctx, a)
	if spec.Defaults != nil {
		obj = spec.Defaults(c, obj, a.OldObject)
	}
	if spec.Build != nil {
		return spec.Build(c, obj, body, a.OldObject)
	}
	return obj, nil
}

func beingDeleted(a *Attributes) error {
	if get(a.OldObject, "properties", "provisioningState").Str() == "Deleting" {
		return arm.Errorf("Conflict", "The resource '%s' is being deleted.", a.ID.Name())
	}
	return nil
}

// buildPut: the body validated, enveloped and completed by the type.
func buildPut(ctx context.Context, m *Manager, a *Attributes) error {
	spec := a.Spec
	if a.Existing != nil {
		if err := beingDeleted(a); err != nil {
			return err
		}
	}
	if spec.Validate != nil {
		if err := spec.Validate(a.Body, a.Existing == nil); err != nil {
			return err
		}
	}
	obj, err := m.envelope(a.Request, spec, a.Body, a.OldObject, a.ID, a.Now)
	if err != nil {
		return err
	}
	if obj, err = m.typeHooks(ctx, a, obj, a.Body); err != nil {
		return err
	}
	m.stored(a, obj, a.Existing == nil, false)
	return nil
}

// buildPatch: the body merged into the stored resource (RFC 7396; tags
// and identity replaced whole), then as a PUT of the result.
func buildPatch(ctx context.Context, m *Manager, a *Attributes) error {
	spec, prev, patch := a.Spec, a.OldObject, a.Body
	if err := beingDeleted(a); err != nil {
		return err
	}
	if l := patch.Field("location"); l.Kind() == value.String && arm.NormalizeLocation(l.Str()) != prev.Field("location").Str() {
		if err := m.checkLocation(spec, l.Str(), false); err != nil {
			return err
		}
		return arm.Errorf("InvalidResourceLocation", "The location of '%s' cannot be changed from '%s' to '%s'.", a.ID.Name(), prev.Field("location").Str(), arm.NormalizeLocation(l.Str()))
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
	obj, err := m.envelope(a.Request, spec, merged, prev, a.ID, a.Now)
	if err != nil {
		return err
	}
	if obj, err = m.typeHooks(ctx, a, obj, merged); err != nil {
		return err
	}
	m.stored(a, obj, false, true)
	return nil
}

// buildDelete: synchronous types (and resources without a resource
// group) are deleted with what is under them; long-running ones are
// marked Deleting and completed by an operation.
func buildDelete(ctx context.Context, m *Manager, a *Attributes) error {
	id, p := a.ID, a.out
	act := m.opFor(a.Request, id, a.Action)
	if !(a.Spec.Async || id.IsResourceGroup()) {
		p.deleteID = id
		p.events = m.events(a, act, activitylog.Succeeded, 200)
		p.resp = &Response{}
		if a.Spec.DeleteReturnsBody && a.Existing != nil {
			p.resp.Body = a.Existing.Body
		}
		return nil
	}
	prev := a.OldObject
	if get(prev, "properties", "provisioningState").Str() != "Deleting" {
		prev = set(prev, str("Deleting"), "properties", "provisioningState")
		res := *a.Existing
		res.Body, res.UpdatedAt = []byte(prev.JSON()), a.Now
		p.res = &res
	}
	op := m.newOp(m.cfg.NewID(), "delete", id, a.Now, act)
	p.op = m.storeOp(op, id, a.Now)
	p.events = m.events(a, act, activitylog.Accepted, 202)
	p.resp = &Response{Outcome: Accepted, Operation: asyncOp(id, op.ID, prev.Field("location").Str())}
	return nil
}

// buildAction: a synchronous action runs now (its new resource body, if
// any, is the object); a long-running one sets the resource's state while
// it runs (During) and is completed by an operation.
func buildAction(ctx context.Context, m *Manager, a *Attributes) error {
	as := a.Spec.Actions[arm.KeyOf(a.ActionName)]
	p, cur := a.out, a.OldObject
	act := m.opFor(a.Request, a.ID, a.Action)
	if !as.Async {
		nr, out, err := as.Run(m.hookCtx(ctx, a), cur, a.Body)
		if err != nil {
			return err
		}
		if !nr.IsUndefined() {
			a.Object = nr
			res := *a.Existing
			res.ETag, res.UpdatedAt = m.cfg.NewID(), a.Now
			p.res = &res
		}
		p.remirror = as.Remirror
		p.resp = &Response{}
		status := 200
		if !out.IsUndefined() {
			p.resp.Body = []byte(out.JSON())
		} else if as.NoContent {
			p.resp.Outcome, status = NoContent, 204
		}
		p.events = m.events(a, act, activitylog.Succeeded, status)
		return nil
	}
	if as.During != nil {
		a.Object = as.During(cur)
		res := *a.Existing
		res.UpdatedAt = a.Now
		p.res = &res
	}
	op := m.newOp(m.cfg.NewID(), "action", a.ID, a.Now, act)
	op.Action = arm.KeyOf(a.ActionName)
	if !a.Body.IsUndefined() {
		op.ActionBody = json.RawMessage(a.Body.JSON())
	}
	p.op = m.storeOp(op, a.ID, a.Now)
	p.events = m.events(a, act, activitylog.Accepted, 202)
	p.resp = &Response{Outcome: Accepted, Operation: asyncOp(a.ID, op.ID, cur.Field("location").Str())}
	return nil
}
