package resources

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// The write path. Every PUT, PATCH, DELETE and POST action runs the same
// stages, in this order (docs/ARCHITECTURE.md):
//
//  1. attributes: the request is addressed (api-version, served type)
//     and its action named; after stage 2 its names are checked and its
//     body parsed, once, into an *Attributes;
//  2. authorize: the Authorizer decides whether the principal may do
//     the action at the resource's id, before anything is read or
//     validated (authorize.go: 403 AuthorizationFailed, and a caller
//     refused learns nothing of the resource);
//  3. load and lock: in the write transaction, the parents are checked
//     and the resource is read with its row locked, If-Match and
//     If-None-Match are checked; then the locks stage refuses what a
//     management lock forbids (locks.go);
//  4. build: the operation's builder works out the resource as it will
//     be stored (type hooks: validation, envelope, defaults);
//  5. mutating admission: each MutatingAdmission may change it
//     (policy Append and Modify);
//  6. validating admission: each ValidatingAdmission may refuse it or
//     record events (policy Deny, DenyAction, Audit);
//  7. persist: the resource, its activity-log events (with the ones
//     admission recorded) and its long-running operation are written;
//  8. notify: after the commit, each of Config.Committers is told (the
//     change feed's wake-up, the policy cache).
//
// Stages 4 to 6 need no writes: for a PUT they are worked out before the
// store's write lock from the committed state and only re-done inside
// when that state (the resource or its parents) changed in between or
// admission's inputs did (AdmissionVersion).

// Operation is what a write does to its resource.
type Operation uint8

const (
	OpCreate Operation = iota + 1 // PUT of a resource that does not exist
	OpUpdate                      // PUT of an existing resource, or PATCH
	OpDelete                      // DELETE
	OpAction                      // POST {id}/{action}
)

func (o Operation) String() string {
	switch o {
	case OpCreate:
		return "Create"
	case OpUpdate:
		return "Update"
	case OpDelete:
		return "Delete"
	case OpAction:
		return "Action"
	}
	return "Unknown"
}

// Attributes is one write as every stage sees it, built once per request
// (Kubernetes' admission.Attributes).
type Attributes struct {
	// Operation is set by the load stage for PUT (Create or Update).
	Operation Operation
	// ID is the resource written (for an action: the resource acted on).
	ID *arm.ID
	// Spec is the resource's type.
	Spec *TypeSpec
	// Action is the authorization action: {type}/write, {type}/delete or
	// {type}/{action}/action (Microsoft.MachineLearningServices/workspaces/computes/write).
	Action string
	// ActionName is the POST action's name as served ("" otherwise).
	ActionName string
	// Principal is the caller.
	Principal activitylog.Caller
	// APIVersion is the request's api-version.
	APIVersion string
	// Request is the request as received.
	Request *Request
	// Body is the request body as parsed (Undefined when there is none).
	Body value.Value
	// Now is the time of the write.
	Now time.Time

	// Set by the load stage.

	// Existing is the stored resource (nil when it does not exist) and
	// OldObject its body (Undefined then).
	Existing  *store.Resource
	OldObject value.Value
	// Subscription and ResourceGroup are the stored parents' bodies
	// (ResourceGroup is Undefined for subscription-level resources).
	Subscription  value.Value
	ResourceGroup value.Value

	// Set by the build stage, changed by mutating admission: the
	// resource as it will be stored (Undefined for a delete, and for an
	// action that leaves the resource as it is).
	Object value.Value

	// Events are activity-log events admission recorded: written with
	// the resource when the write commits.
	Events []*store.Event
	// RefusalEvents are written, in their own transaction, when the
	// write is refused (the policy deny events).
	RefusalEvents []*store.Event

	// secrets are the stored secrets of a Secrets type's resource,
	// loaded by the load stage of an action (Undefined when none, and
	// for the other writes, whose hooks only replace secrets from the
	// body: what a PUT prepares before the lock stays valid).
	secrets value.Value

	// versions the prepared stages depended on (see prepared).
	existingTag, subTag, rgTag string
	admissionVersion           uint64
	// subSeq is the Seq of the subscription's row (the locks stage
	// knows by it whether its index of the locks is current).
	subSeq int64
	// out is what persist writes, worked out by build.
	out *writePlan
	// tx is the write transaction while the stages run inside it (nil
	// before the lock).
	tx store.Tx
}

// MutatingAdmission may change a.Object (and record events). It must be
// deterministic for the same inputs and AdmissionVersion: its work may be
// done before the write lock and reused.
type MutatingAdmission interface {
	Admit(ctx context.Context, a *Attributes) error
}

// ValidatingAdmission may refuse a write or record events; it does not
// change a.Object. The same determinism rule applies.
type ValidatingAdmission interface {
	Validate(ctx context.Context, a *Attributes) error
}

// AdmissionVersioner is implemented by admission plugins whose decisions
// depend on state that changes (policy assignments): a different version
// makes a write prepared before the lock be prepared again.
type AdmissionVersioner interface {
	AdmissionVersion() uint64
}

// Committer is told of committed writes (the notify stage). a is nil for
// writes that are not requests (long-running operations completed in the
// background). Committed runs after the commit, on the request's
// goroutine: it must not block.
type Committer interface {
	Committed(a *Attributes)
}

// CommitFunc adapts a function to Committer.
type CommitFunc func(a *Attributes)

// Committed calls f(a).
func (f CommitFunc) Committed(a *Attributes) { f(a) }

func (m *Manager) notify(a *Attributes) {
	for _, c := range m.cfg.Committers {
		c.Committed(a)
	}
}

// writePlan is what the persist stage writes.
type writePlan struct {
	res      *store.Resource // put (nil: nothing)
	deleteID *arm.ID         // delete the tree at this id
	events   []*store.Event  // the operation's own events
	op       *store.Operation
	secrets  *store.Object // the resource's new secrets (nil: unchanged)
	// remirror: the type's mirrors run with the resource as it is
	// (ActionSpec.Remirror).
	remirror bool
	resp     *Response
	// respBody: the response's body is the stored resource.
	respBody bool
}

// writer is one operation's part of the write path.
type writer struct {
	op Operation
	// verb names the authorization action: write, delete or action.
	verb string
	// missing is what happens when the resource does not exist: a
	// response ends the write without changes, an error refuses it, and
	// (nil, nil) goes on (a create).
	missing func(m *Manager, a *Attributes) (*Response, error)
	// parents: the load stage checks the subscription, resource group
	// and parent resources (false: the subscription and resource group
	// only, as ARM does for DELETE).
	parents bool
	// build works out a.Object and a.out.
	build func(ctx context.Context, m *Manager, a *Attributes) error
}

// attributes is the first two stages: the request addressed (its
// api-version and served type checked, its action named), authorized,
// then its names and body checked and parsed.
func (m *Manager) attributes(ctx context.Context, r *Request, w *writer) (*Attributes, error) {
	id := r.ID
	if w.op == OpAction {
		id = &arm.ID{SubscriptionID: r.ID.SubscriptionID, ResourceGroup: r.ID.ResourceGroup, Parts: r.ID.Parts}
	}
	spec, _ := m.spec(id)
	if err := m.checkAPIVersion(r, spec); err != nil {
		return nil, err
	}
	if w.op != OpDelete {
		if err := m.checkServed(r, spec); err != nil {
			return nil, err
		}
	}
	a := &Attributes{Operation: w.op, ID: id, Spec: spec, Principal: r.Caller, APIVersion: r.APIVersion, Request: r}
	var as *ActionSpec
	switch w.op {
	case OpCreate, OpUpdate:
		a.Action = operationName(spec.Type, "write")
	case OpDelete:
		a.Action = operationName(typeOf(id), "delete")
	case OpAction:
		// The action is authorized by the name the caller sent, served or
		// not: whether the resource provider has it is its own check.
		as = spec.Actions[arm.KeyOf(r.ID.Trailing)]
		name := r.ID.Trailing
		if as != nil {
			name = as.Name
		}
		a.Action = operationName(spec.Type, name+"/action")
	}
	// Stage 2, authorize: from the action and the scope alone, before
	// anything is read or validated (authorize.go).
	if err := m.Authorize(ctx, &a.Principal, a.Action, a.ID.String()); err != nil {
		return nil, err
	}
	if spec.NoPatch && w == patchWriter {
		return nil, methodNotAllowed(r)
	}
	if spec.ReadOnly != "" && w.op != OpAction {
		return nil, arm.Errorf("OperationNotSupported", "%s", spec.ReadOnly)
	}
	switch w.op {
	case OpCreate, OpUpdate:
		if r.Method == "PUT" {
			if err := validateNames(id, spec); err != nil {
				return nil, err
			}
		}
		var body value.Value
		var err error
		if spec.EmptyBody && len(bytes.TrimSpace(r.Body)) == 0 {
			body = value.ObjectValue() // a PUT that carries nothing (a subscription's move)
		} else if body, err = m.parseBody(r); err != nil {
			return nil, err
		}
		a.Body = body
	case OpDelete:
		if err := spec.checkDelete(r); err != nil {
			return nil, err
		}
	case OpAction:
		if as == nil {
			return nil, arm.Errorf("InvalidAction", "The action '%s' is not supported on resources of type '%s'.", r.ID.Trailing, spec.Type)
		}
		a.ActionName = as.Name
		if len(bytes.TrimSpace(r.Body)) > 0 {
			body, err := m.parseBody(r)
			if err != nil {
				return nil, err
			}
			a.Body = body
		}
	}
	return a, nil
}

// write runs the write path for one request.
func (m *Manager) write(ctx context.Context, r *Request, w *writer) (*Response, error) {
	a, err := m.attributes(ctx, r, w)
	if err != nil {
		return nil, err
	}
	return m.run(ctx, a, w)
}

// run runs the stages after the first on attributes built by it (or, for
// the tags API, by tags.go: the write of a scope's tags).
func (m *Manager) run(ctx context.Context, a *Attributes, w *writer) (*Response, error) {
	var err error
	now := m.cfg.Now()
	a.Now = now
	if a.Request != nil && a.Request.DryRun {
		return m.dryRun(ctx, a, w, now)
	}
	// Stages 4-6 from the committed state, before the write lock (PUT
	// only: the other writes are rare and cheap to prepare inside).
	var pre *Attributes
	if w.op == OpCreate && !a.Spec.ReadsStore {
		pre = m.prepareCommitted(ctx, a, w, now)
	}
	var resp *Response
	var done *Attributes // the attributes of the attempt that committed
	err = m.st.Write(ctx, func(tx store.Tx) error {
		cur := *a // each attempt (the store may retry) starts from the request
		b := &cur
		if done, err := m.load(ctx, tx, b, w); err != nil || done != nil {
			resp = done
			return err
		}
		if err := m.checkLocks(ctx, tx, b); err != nil {
			return err
		}
		if pre != nil && pre.sameInputs(b, m.admissionVersion()) {
			b = pre
		} else if err := m.prepare(ctx, tx, b, w, now); err != nil {
			a.RefusalEvents = b.RefusalEvents
			return err
		}
		var err error
		resp, err = m.persist(ctx, tx, b)
		done = b
		return err
	})
	if err != nil {
		if len(a.RefusalEvents) > 0 {
			m.writeRefusalEvents(ctx, a.RefusalEvents)
		}
		return nil, err
	}
	if done != nil {
		m.notify(done)
	}
	return resp, nil
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// dryRun runs the stages up to validating admission in a transaction
// that is rolled back: what the write would store, or why it would be
// refused. Refused dry runs record no events.
func (m *Manager) dryRun(ctx context.Context, a *Attributes, w *writer, now time.Time) (*Response, error) {
	if w.op != OpCreate && w.op != OpUpdate {
		return nil, arm.Errorf("InvalidRequest", "Only a PUT can be tried without writing.")
	}
	var resp *Response
	err := m.st.Write(ctx, func(tx store.Tx) error {
		b := *a
		if done, err := m.load(ctx, tx, &b, w); err != nil || done != nil {
			resp = done
			return err
		}
		if err := m.checkLocks(ctx, tx, &b); err != nil {
			return err
		}
		if err := m.prepare(ctx, tx, &b, w, now); err != nil {
			return err
		}
		resp = &Response{Outcome: OK, Body: []byte(b.Object.JSON())}
		if b.Existing == nil {
			resp.Outcome = Created
		}
		return errDryRun
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	return resp, nil
}

// prepareCommitted runs stages 3-6 against the committed state, outside
// the write transaction. It returns nil when that fails (the write is
// then prepared inside, where the error is reported from).
func (m *Manager) prepareCommitted(ctx context.Context, a *Attributes, w *writer, now time.Time) *Attributes {
	keys := []string{a.ID.Key(), subscriptionKey(a.ID)}
	if a.ID.ResourceGroup != "" && !a.ID.IsResourceGroup() {
		keys = append(keys, (&arm.ID{SubscriptionID: a.ID.SubscriptionID, ResourceGroup: a.ID.ResourceGroup}).Key())
	}
	rs, err := store.GetResources(ctx, m.st, keys...)
	if err != nil || (rs[1] == nil && a.ID.SubscriptionID != "") || (len(rs) > 2 && rs[2] == nil) {
		return nil
	}
	p := *a
	if !p.setLoaded(rs[0], rs[1], rsAt(rs, 2)) {
		return nil
	}
	if err := m.prepare(ctx, nil, &p, w, now); err != nil {
		return nil
	}
	return &p
}

func rsAt(rs []*store.Resource, i int) *store.Resource {
	if i < len(rs) {
		return rs[i]
	}
	return nil
}

// setLoaded records what the load stage read; false if a body does not
// parse.
func (a *Attributes) setLoaded(existing, sub, rg *store.Resource) bool {
	a.Existing, a.OldObject, a.existingTag = existing, value.Value{}, ""
	if existing != nil {
		v, err := value.Parse(existing.Body)
		if err != nil {
			return false
		}
		a.OldObject, a.existingTag = v, existing.ETag
		if a.Operation == OpCreate {
			a.Operation = OpUpdate
		}
	}
	if sub != nil {
		v, err := value.Parse(sub.Body)
		if err != nil {
			return false
		}
		a.Subscription, a.subTag, a.subSeq = v, sub.ETag, sub.Seq
	}
	if rg != nil {
		v, err := value.Parse(rg.Body)
		if err != nil {
			return false
		}
		a.ResourceGroup, a.rgTag = v, rg.ETag
	}
	return true
}

// sameInputs reports whether p was prepared from the state b loaded.
func (p *Attributes) sameInputs(b *Attributes, admission uint64) bool {
	if p.admissionVersion != admission || p.subTag != b.subTag || p.rgTag != b.rgTag {
		return false
	}
	if (p.Existing == nil) != (b.Existing == nil) {
		return false
	}
	return p.Existing == nil || (p.existingTag == b.existingTag && p.Existing.Key == b.Existing.Key)
}

// load is the load-and-lock stage: parents, the resource (row locked),
// preconditions. A non-nil response ends the write there.
func (m *Manager) load(ctx context.Context, tx store.Tx, a *Attributes, w *writer) (*Response, error) {
	id := a.ID
	var sub *store.Resource
	var err error
	if id.SubscriptionID != "" {
		sub, err = tx.GetResource(ctx, arm.KeyOf("/subscriptions/"+id.SubscriptionID), false)
		if errors.Is(err, store.ErrNotFound) {
			return nil, arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID)
		} else if err != nil {
			return nil, err
		}
	}
	var rg *store.Resource
	if id.ResourceGroup != "" && !id.IsResourceGroup() {
		rgID := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
		rg, err = tx.GetResource(ctx, rgID.Key(), false)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound(rgID)
		} else if err != nil {
			return nil, err
		}
	}
	if w.parents {
		if rg != nil && provisioningState(rg.Body) == "Deleting" {
			return nil, arm.Errorf("ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state and cannot perform this operation.", id.ResourceGroup)
		}
		for p := id.Parent(); p != nil && p.IsResource(); p = p.Parent() {
			if _, err := tx.GetResource(ctx, p.Key(), false); errors.Is(err, store.ErrNotFound) {
				return nil, arm.Errorf("ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", p.FullName())
			} else if err != nil {
				return nil, err
			}
		}
	}
	existing, err := tx.GetResource(ctx, id.Key(), true)
	if errors.Is(err, store.ErrNotFound) {
		existing = nil
	} else if err != nil {
		return nil, err
	}
	if existing == nil && w.missing != nil {
		if resp, err := w.missing(m, a); err != nil || resp != nil {
			return resp, err
		}
	}
	if err := matchETag(a.Request, existing); err != nil {
		return nil, err
	}
	if !a.setLoaded(existing, sub, rg) {
		return nil, errors.New("a stored resource could not be parsed")
	}
	if a.Spec.Secrets && existing != nil && w.op == OpAction {
		if a.secrets, err = m.loadSecrets(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// prepare runs stages 4-6: build, mutating and validating admission. tx is nil when it runs before the write lock.
func (m *Manager) prepare(ctx context.Context, tx store.Tx, a *Attributes, w *writer, now time.Time) error {
	a.admissionVersion = m.admissionVersion()
	a.Events, a.RefusalEvents, a.tx = nil, nil, tx
	defer func() { a.tx = nil }()
	a.out = &writePlan{}
	if err := w.build(ctx, m, a); err != nil {
		return err
	}
	for _, p := range m.cfg.Mutating {
		if err := p.Admit(ctx, a); err != nil {
			return err
		}
	}
	for _, p := range m.cfg.Validating {
		if err := p.Validate(ctx, a); err != nil {
			return err
		}
	}
	// The stored resource is the object after admission.
	if a.out.res != nil && !a.Object.IsUndefined() {
		a.out.res.Body = []byte(a.Object.JSON())
		if a.out.respBody {
			a.out.resp.Body = a.out.res.Body
		}
	}
	return nil
}

// persist is the persist stage: the resource, the events and the
// operation, in the write transaction.
func (m *Manager) persist(ctx context.Context, tx store.Tx, a *Attributes) (*Response, error) {
	p := a.out
	if p.deleteID != nil {
		if err := m.deleteTree(ctx, tx, p.deleteID); err != nil {
			return nil, err
		}
	}
	if p.res != nil {
		if err := tx.PutResource(ctx, p.res); err != nil {
			return nil, err
		}
	}
	if err := m.cmkStage(ctx, tx, a); err != nil {
		return nil, err
	}
	if p.secrets != nil {
		if err := m.putSecrets(ctx, tx, p.secrets); err != nil {
			return nil, err
		}
	}
	switch {
	case p.deleteID != nil:
		if err := m.mirror(ctx, tx, a, value.Value{}); err != nil {
			return nil, err
		}
	case p.res != nil && !a.Object.IsUndefined():
		if err := m.mirror(ctx, tx, a, a.Object); err != nil {
			return nil, err
		}
	case p.remirror:
		if err := m.mirror(ctx, tx, a, a.OldObject); err != nil {
			return nil, err
		}
	}
	evs := p.events
	if len(a.Events) > 0 {
		evs = append(append([]*store.Event(nil), p.events...), a.Events...)
	}
	if err := tx.AppendEvents(ctx, evs...); err != nil {
		return nil, err
	}
	if p.op != nil {
		if err := tx.PutOperation(ctx, p.op); err != nil {
			return nil, err
		}
	}
	return p.resp, nil
}

// admissionVersion sums the versions of the admission plugins.
func (m *Manager) admissionVersion() uint64 {
	var v uint64
	for _, p := range m.cfg.Mutating {
		if av, ok := p.(AdmissionVersioner); ok {
			v += av.AdmissionVersion()
		}
	}
	for _, p := range m.cfg.Validating {
		if av, ok := p.(AdmissionVersioner); ok {
			v += av.AdmissionVersion()
		}
	}
	return v
}

// writeRefusalEvents writes the events of a refused write in their own
// transaction (the write's was rolled back).
func (m *Manager) writeRefusalEvents(ctx context.Context, evs []*store.Event) {
	_ = m.st.Write(context.WithoutCancel(ctx), func(tx store.Tx) error {
		return tx.AppendEvents(ctx, evs...)
	})
}
