package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/deploy/template"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// Config configures an Engine.
type Config struct {
	TenantID string
	NewID    func() string
	Now      func() time.Time
	// Poll is how often a long-running resource (and a nested
	// deployment) is checked while the deployment waits for it (default
	// 25 ms).
	Poll time.Duration
	// Parallel is how many resources of one wave are written at once
	// (default 16; Azure writes up to 800).
	Parallel int
	// Lease is how long a replica's claim on a running deployment lasts
	// without renewal (default 30 s): another replica resumes it after.
	Lease time.Duration
	// Sweep is how often the leases of running deployments are checked
	// for runners that stopped (default 5 s); FullSweep how often every
	// deployment is looked at for one accepted but never started (its
	// replica stopped between the commit and the lease; default 10 min,
	// and once at start).
	Sweep, FullSweep time.Duration
	// Log reports what fails in the background (nil: nothing).
	Log resources.Logger
}

// Engine runs deployments.
type Engine struct {
	mgr   *resources.Manager
	st    store.Store
	cfg   Config
	owner string

	mu      sync.Mutex
	running map[string]bool
	base    context.Context
	wg      sync.WaitGroup
}

// New returns an Engine and registers the deployment types with the
// manager's registry. Its Committed must be among the manager's
// Committers (Committer returns it), and Run must run for deployments to
// resume after a restart.
func New(mgr *resources.Manager, st store.Store, cfg Config) *Engine {
	if cfg.Poll <= 0 {
		cfg.Poll = 25 * time.Millisecond
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = 5 * time.Second
	}
	if cfg.FullSweep <= 0 {
		cfg.FullSweep = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	e := &Engine{mgr: mgr, st: st, cfg: cfg, owner: cfg.NewID(), running: map[string]bool{}, base: context.Background()}
	e.register(mgr.Registry())
	return e
}

// Committed starts a deployment this replica accepted (the notify stage
// of its PUT).
func (e *Engine) Committed(a *resources.Attributes) {
	if a == nil || a.Spec == nil || a.Spec.Type != TypeDeployments || (a.Operation != resources.OpCreate && a.Operation != resources.OpUpdate) {
		return
	}
	if a.Object.Field("properties").Field("provisioningState").Str() != stateAccepted {
		return
	}
	e.start(a.ID)
}

// Run resumes, until ctx ends, the deployments no replica runs: at once
// (after a restart) and every Sweep. Deployments started by Committed
// run under ctx as well.
func (e *Engine) Run(ctx context.Context) {
	e.mu.Lock()
	e.base = ctx
	e.mu.Unlock()
	t := time.NewTicker(e.cfg.Sweep)
	defer t.Stop()
	full := time.Time{}
	for {
		if time.Since(full) >= e.cfg.FullSweep {
			e.sweep(ctx)
			full = time.Now()
		} else {
			e.sweepLeases(ctx)
		}
		select {
		case <-ctx.Done():
			e.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// sweepLeases resumes the deployments whose runner's lease expired.
func (e *Engine) sweepLeases(ctx context.Context) {
	var os []*store.Object
	err := e.st.Read(ctx, func(tx store.Tx) error {
		var err error
		os, err = tx.ListObjects(ctx, kindLease)
		return err
	})
	if err != nil {
		e.logf("deployments: sweep: %v", err)
		return
	}
	now := e.cfg.Now()
	for _, o := range os {
		var l lease
		if json.Unmarshal(o.Body, &l) != nil || l.Expires.After(now) {
			continue
		}
		// The lease is keyed by the deployment's key; its id as written
		// is the record's.
		rs, err := store.GetResources(ctx, e.st, o.Key)
		if err != nil || rs[0] == nil {
			e.release(o.Key)
			continue
		}
		if id, err := arm.ParseID(rs[0].ID); err == nil {
			e.start(id)
		}
	}
}

// Wait waits for the deployments this engine runs (tests).
func (e *Engine) Wait() { e.wg.Wait() }

func (e *Engine) sweep(ctx context.Context) {
	for r, err := range store.ListAll(ctx, e.st, store.ListQuery{TypeKey: arm.KeyOf(TypeDeployments)}) {
		if err != nil {
			e.logf("deployments: sweep: %v", err)
			return
		}
		if !active(provisioningState(r.Body)) {
			continue
		}
		if id, err := arm.ParseID(r.ID); err == nil {
			e.start(id)
		}
	}
}

func provisioningState(body []byte) string {
	var b struct {
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Properties.ProvisioningState
}

func (e *Engine) logf(format string, args ...any) {
	if e.cfg.Log != nil {
		e.cfg.Log.Error(fmt.Sprintf(format, args...))
	}
}

func (e *Engine) start(id *arm.ID) {
	key := id.Key()
	e.mu.Lock()
	if e.running[key] {
		e.mu.Unlock()
		return
	}
	e.running[key] = true
	ctx := e.base
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.running, key)
			e.mu.Unlock()
		}()
		if err := e.runLeased(ctx, id); err != nil && ctx.Err() == nil {
			e.logf("deployment %s: %v", id, err)
		}
	}()
}

// The lease of a running deployment: a store object naming its runner.
const kindLease = "deploymentLease"

type lease struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// claim takes or renews the lease of key; false when another runner
// holds it.
func (e *Engine) claim(ctx context.Context, key string) (bool, error) {
	ok := false
	err := e.st.Write(ctx, func(tx store.Tx) error {
		now := e.cfg.Now()
		o, err := tx.GetObject(ctx, kindLease, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			var l lease
			if json.Unmarshal(o.Body, &l) == nil && l.Owner != e.owner && l.Expires.After(now) {
				return nil
			}
		}
		b, _ := json.Marshal(lease{Owner: e.owner, Expires: now.Add(e.cfg.Lease)})
		ok = true
		return tx.PutObject(ctx, &store.Object{Kind: kindLease, Key: key, Body: b, UpdatedAt: now})
	})
	return ok, err
}

func (e *Engine) release(key string) {
	_ = e.st.Write(context.Background(), func(tx store.Tx) error {
		o, err := tx.GetObject(context.Background(), kindLease, key)
		if err != nil {
			return nil
		}
		var l lease
		if json.Unmarshal(o.Body, &l) == nil && l.Owner != e.owner {
			return nil
		}
		return tx.DeleteObject(context.Background(), kindLease, key)
	})
}

// runLeased runs a deployment under its lease, renewed while it runs.
func (e *Engine) runLeased(ctx context.Context, id *arm.ID) error {
	key := id.Key()
	ok, err := e.claim(ctx, key)
	if err != nil || !ok {
		return err
	}
	defer e.release(key)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(e.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if ok, err := e.claim(rctx, key); err == nil && !ok {
					cancel() // another replica took it over
					return
				}
			}
		}
	}()
	return e.execute(rctx, id)
}

// run is one deployment being executed.
type run struct {
	e      *Engine
	id     *arm.ID
	st     *stored
	corr   string
	plan   *template.Plan
	planMu sync.Mutex
	apis   map[string]string // resource id (lower) -> apiVersion of the template
	res    resolver
	// done: resources a resumed run wrote before it stopped (by lower-
	// cased id), not written again.
	done map[string]bool
}

// result is what writing (or deleting) one resource did.
type result struct {
	id, typ, name, api string
	op                 string // Create, Delete
	status             string // OK, Created, Forbidden, ...
	err                *arm.Error
	start, end         time.Time
}

// execute runs an accepted deployment to its end.
func (e *Engine) execute(ctx context.Context, id *arm.ID) error {
	rec, err := e.record(ctx, id)
	if err != nil || rec.IsUndefined() {
		return err
	}
	if !active(rec.Field("properties").Field("provisioningState").Str()) {
		return nil
	}
	sec, err := e.mgr.ReadSecrets(ctx, id)
	if err != nil {
		return err
	}
	if sec.Kind() != value.Object {
		return e.finish(ctx, id, stateFailed, nil, arm.Errorf("DeploymentFailed", "The deployment's template is not kept."), value.Value{})
	}
	r := &run{e: e, id: id, st: storedFrom(sec), corr: rec.Field("properties").Field("correlationId").Str(), apis: map[string]string{}}
	r.res = resolver{r: r}
	ok, done, err := e.begin(ctx, id)
	if err != nil || !ok {
		return err
	}
	r.done = done
	tmpl, err := template.FromValue(r.st.Template)
	if err != nil {
		return e.finish(ctx, id, stateFailed, nil, templateError(err), value.Value{})
	}
	rgLoc := ""
	if id.ResourceGroup != "" {
		rg, err := e.record(ctx, &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup})
		if err != nil {
			return err
		}
		rgLoc = rg.Field("location").Str()
	}
	s := &spec{mode: r.st.Mode, location: r.st.Location}
	plan, err := tmpl.Plan(ctx, r.st.Parameters, e.context(id, s, rgLoc, e.cfg.Now()), r.res)
	if err != nil {
		return e.finish(ctx, id, stateFailed, nil, templateError(err), value.Value{})
	}
	r.plan = plan
	for _, res := range plan.Resources {
		r.apis[strings.ToLower(res.ID)] = res.APIVersion
	}
	results, canceled, err := r.writeAll(ctx)
	if err != nil {
		return err
	}
	for _, res := range plan.Resources {
		if r.done[strings.ToLower(res.ID)] {
			results = append(results, &result{id: res.ID, typ: res.Type, name: res.Name, api: res.APIVersion, op: "Create", status: "OK"})
		}
	}
	if canceled {
		return e.finish(ctx, id, stateCanceled, results, nil, value.Value{})
	}
	var failed []*arm.Error
	for _, x := range results {
		if x.err != nil {
			failed = append(failed, x.err)
		}
	}
	if len(failed) == 0 && s.mode == "Complete" {
		dels, err := r.deleteUnnamed(ctx)
		if err != nil {
			return err
		}
		results = append(results, dels...)
		for _, x := range dels {
			if x.err != nil {
				failed = append(failed, x.err)
			}
		}
	}
	if len(failed) > 0 {
		return e.finish(ctx, id, stateFailed, results, deploymentFailed(failed), value.Value{})
	}
	outs, err := plan.Outputs(ctx, r.res)
	if err != nil {
		oe := templateError(err)
		oe.Code = "DeploymentOutputEvaluationFailed"
		return e.finish(ctx, id, stateFailed, results, oe, value.Value{})
	}
	return e.finish(ctx, id, stateSucceeded, results, nil, outs)
}

func deploymentFailed(details []*arm.Error) *arm.Error {
	return &arm.Error{Code: "DeploymentFailed", Message: "At least one resource deployment operation failed. Please list deployment operations for details.", Details: details}
}

// writeAll writes the plan's resources wave by wave, Parallel at a time;
// a resource whose dependency failed is not written. canceled reports a
// cancel seen between waves.
func (r *run) writeAll(ctx context.Context) (results []*result, canceled bool, err error) {
	failed := map[string]bool{}
	rs := r.plan.Resources
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j].Wave == rs[i].Wave {
			j++
		}
		state, err := r.e.state(ctx, r.id)
		if err != nil {
			return results, false, err
		}
		if state == stateCanceled {
			return results, true, nil
		}
		wave := make([]*result, j-i)
		sem := make(chan struct{}, r.e.cfg.Parallel)
		var wg sync.WaitGroup
		for k, res := range rs[i:j] {
			blocked := false
			for _, d := range res.DependsOn {
				if failed[strings.ToLower(d)] {
					blocked = true
				}
			}
			if blocked {
				failed[strings.ToLower(res.ID)] = true
				continue
			}
			if r.done[strings.ToLower(res.ID)] {
				continue // written before a restart: its operation is recorded
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				wave[k] = r.write(ctx, res)
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return results, false, err
		}
		var done []*result
		for k, x := range wave {
			if x == nil {
				continue
			}
			if x.err != nil {
				failed[strings.ToLower(rs[i+k].ID)] = true
			}
			done = append(done, x)
		}
		if err := r.e.recordOperations(ctx, r.id, done); err != nil {
			return results, false, err
		}
		results = append(results, done...)
		i = j
	}
	return results, false, nil
}

// write writes one resource of the plan through the write path, as the
// deployment's caller, and waits for it.
func (r *run) write(ctx context.Context, res *template.Resource) *result {
	x := &result{id: res.ID, typ: res.Type, name: res.Name, api: res.APIVersion, op: "Create", start: r.e.cfg.Now()}
	defer func() { x.end = r.e.cfg.Now() }()
	if res.Deferred {
		r.planMu.Lock()
		err := r.plan.Resolve(ctx, res, r.res)
		r.planMu.Unlock()
		if err != nil {
			x.fail(templateError(err))
			return x
		}
	}
	id, err := arm.ParseID(res.ID)
	if err != nil {
		x.fail(arm.Errorf("InvalidResourceId", "'%s' is not a resource id: %v", res.ID, err))
		return x
	}
	body := res.Body
	if res.Deployment != nil {
		tmpl, params := r.plan.NestedTemplate(res.Deployment)
		props := value.ObjectValue(value.Member{Key: "mode", Value: value.StringValue(res.Deployment.Mode)},
			value.Member{Key: "template", Value: tmpl}, value.Member{Key: "parameters", Value: params})
		body = body.With("properties", props)
		if id.ResourceGroup == "" && body.Field("location").IsUndefined() {
			body = body.With("location", value.StringValue(r.st.Location))
		}
	}
	resp, err := r.e.mgr.Handle(ctx, &resources.Request{Method: "PUT", Path: res.ID, ID: id, APIVersion: res.APIVersion,
		Body: []byte(body.JSON()), Caller: r.st.Caller, CorrelationID: r.corr})
	if err != nil {
		x.fail(asARM(err))
		return x
	}
	x.status = "OK"
	if resp.Outcome == resources.Created {
		x.status = "Created"
	}
	if resp.Operation != nil {
		aerr, err := r.e.mgr.WaitOperation(ctx, resp.Operation, r.e.cfg.Poll)
		if err != nil {
			x.fail(asARM(err))
			return x
		}
		if aerr != nil {
			x.fail(&arm.Error{Code: "ResourceDeploymentFailure", Message: "The resource operation completed with terminal provisioning state 'Failed'.", Details: []*arm.Error{aerr}})
			return x
		}
	}
	if res.Deployment != nil {
		if aerr := r.waitNested(ctx, id); aerr != nil {
			x.fail(aerr)
		}
	}
	return x
}

func (x *result) fail(e *arm.Error) {
	x.err = e
	x.status = statusName(e.Code)
}

// waitNested waits for a nested deployment to end; its error, if it
// failed.
func (r *run) waitNested(ctx context.Context, id *arm.ID) *arm.Error {
	for {
		rec, err := r.e.record(ctx, id)
		if err != nil {
			return asARM(err)
		}
		switch st := rec.Field("properties").Field("provisioningState").Str(); st {
		case stateSucceeded:
			return nil
		case stateFailed, stateCanceled:
			ev := rec.Field("properties").Field("error")
			e := &arm.Error{Code: "DeploymentFailed", Message: fmt.Sprintf("The nested deployment '%s' ended in state '%s'.", id.Name(), st)}
			if ev.Kind() == value.Object {
				e.Details = []*arm.Error{errorFrom(ev)}
			}
			return e
		}
		select {
		case <-ctx.Done():
			return asARM(ctx.Err())
		case <-time.After(r.e.cfg.Poll):
		}
	}
}

// deleteUnnamed is Complete mode: the resource group's resources that
// the template does not name (nor skips by a false condition) are
// deleted through the write path.
func (r *run) deleteUnnamed(ctx context.Context) ([]*result, error) {
	victims, err := r.e.unnamed(ctx, r.plan, r.id)
	if err != nil {
		return nil, err
	}
	var out []*result
	for _, v := range victims {
		id, err := arm.ParseID(v.ID)
		if err != nil {
			continue
		}
		x := &result{id: v.ID, typ: id.Type(), name: id.FullName(), op: "Delete", start: r.e.cfg.Now(), api: r.e.apiVersion(id.Type())}
		resp, err := r.e.mgr.Handle(ctx, &resources.Request{Method: "DELETE", Path: v.ID, ID: id, APIVersion: x.api, Caller: r.st.Caller, CorrelationID: r.corr})
		if err != nil {
			x.fail(asARM(err))
		} else {
			x.status = "OK"
			if resp.Operation != nil {
				if aerr, err := r.e.mgr.WaitOperation(ctx, resp.Operation, r.e.cfg.Poll); err != nil {
					x.fail(asARM(err))
				} else if aerr != nil {
					x.fail(aerr)
				}
			}
		}
		x.end = r.e.cfg.Now()
		out = append(out, x)
	}
	if err := r.e.recordOperations(ctx, r.id, out); err != nil {
		return out, err
	}
	return out, nil
}

// unnamed lists what Complete mode deletes: the tracked resources of the
// deployment's resource group (what the group's list shows, deployments
// aside) that the plan neither writes nor skips by a false condition.
func (e *Engine) unnamed(ctx context.Context, plan *template.Plan, dep *arm.ID) ([]*store.Resource, error) {
	keep := map[string]bool{}
	for _, res := range plan.Resources {
		keep[arm.KeyOf(res.ID)] = true
	}
	for _, s := range plan.Skipped {
		keep[arm.KeyOf(s)] = true
	}
	rg := &arm.ID{SubscriptionID: dep.SubscriptionID, ResourceGroup: dep.ResourceGroup}
	var out []*store.Resource
	for res, err := range store.ListAll(ctx, e.st, store.ListQuery{ParentKey: rg.Key()}) {
		if err != nil {
			return nil, err
		}
		var b struct {
			Type     string `json:"type"`
			Location string `json:"location"`
		}
		if keep[res.Key] || json.Unmarshal(res.Body, &b) != nil || b.Location == "" || strings.EqualFold(b.Type, TypeDeployments) {
			continue
		}
		out = append(out, res)
	}
	return out, nil
}

// apiVersion is the api-version used for a type the template does not
// give one for: the newest the type declares.
func (e *Engine) apiVersion(typ string) string {
	if spec, ok := e.mgr.Registry().Lookup(typ); ok && len(spec.APIVersions) > 0 {
		return spec.APIVersions[len(spec.APIVersions)-1]
	}
	return "2024-04-01"
}

// record reads a resource's body (Undefined when it does not exist).
func (e *Engine) record(ctx context.Context, id *arm.ID) (value.Value, error) {
	rs, err := store.GetResources(ctx, e.st, id.Key())
	if err != nil || rs[0] == nil {
		return value.Value{}, err
	}
	return value.Parse(rs[0].Body)
}

func (e *Engine) state(ctx context.Context, id *arm.ID) (string, error) {
	rec, err := e.record(ctx, id)
	return rec.Field("properties").Field("provisioningState").Str(), err
}

// begin starts or resumes a run: an Accepted deployment becomes Running
// and the operations of an earlier run of its name are deleted; a
// Running one (its runner stopped) is resumed, done holding the
// resources its operations record as written. ok is false in any other
// state.
func (e *Engine) begin(ctx context.Context, id *arm.ID) (ok bool, done map[string]bool, err error) {
	err = e.mgr.ProviderWrite(ctx, func(p *resources.ProviderTx) error {
		ok, done = false, map[string]bool{}
		rec, found, err := p.Get(id)
		if err != nil || !found {
			return err
		}
		ops, err := p.Children(id, TypeOperations)
		if err != nil {
			return err
		}
		switch rec.Field("properties").Field("provisioningState").Str() {
		case stateAccepted:
			for _, o := range ops {
				oid, err := arm.ParseID(o.ID)
				if err != nil {
					return err
				}
				if err := p.Delete(oid); err != nil {
					return err
				}
			}
			ok = true
			return p.Put(id, rec.With("properties", rec.Field("properties").With("provisioningState", value.StringValue(stateRunning))))
		case stateRunning:
			for _, o := range ops {
				v, err := value.Parse(o.Body)
				if err != nil {
					continue
				}
				op := v.Field("properties")
				if op.Field("provisioningState").Str() == stateSucceeded && op.Field("provisioningOperation").Str() == "Create" {
					done[strings.ToLower(op.Field("targetResource").Field("id").Str())] = true
				}
			}
			ok = true
		}
		return nil
	})
	return ok, done, err
}

// finish records the end of a deployment: its state (a cancel that came
// meanwhile stays), outputs, the resources written and the error.
func (e *Engine) finish(ctx context.Context, id *arm.ID, state string, results []*result, failure *arm.Error, outputs value.Value) error {
	return e.mgr.ProviderWrite(context.WithoutCancel(ctx), func(p *resources.ProviderTx) error {
		rec, found, err := p.Get(id)
		if err != nil || !found {
			return err
		}
		props := rec.Field("properties")
		if props.Field("provisioningState").Str() == stateCanceled {
			state = stateCanceled
		}
		props = props.With("provisioningState", value.StringValue(state))
		props = props.With("duration", value.StringValue(duration(props.Field("timestamp").Str(), p.Now())))
		var outRes []value.Value
		for _, x := range results {
			if x.err == nil && x.op == "Create" {
				outRes = append(outRes, value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(x.id)}))
			}
		}
		props = props.With("outputResources", value.ArrayValue(outRes))
		if !outputs.IsUndefined() && outputs.Len() > 0 {
			props = props.With("outputs", outputs)
		}
		if failure != nil {
			props = props.With("error", errorValue(failure))
		}
		return p.Put(id, rec.With("properties", props))
	})
}

// recordOperations stores the deployment operations of results.
func (e *Engine) recordOperations(ctx context.Context, dep *arm.ID, results []*result) error {
	if len(results) == 0 {
		return nil
	}
	return e.mgr.ProviderWrite(context.WithoutCancel(ctx), func(p *resources.ProviderTx) error {
		for _, x := range results {
			opID := operationID(x.id, x.op)
			id := dep.Child("operations", opID)
			state := stateSucceeded
			props := []value.Member{
				{Key: "provisioningOperation", Value: value.StringValue(x.op)},
				{Key: "provisioningState", Value: value.StringValue(state)},
				{Key: "timestamp", Value: value.StringValue(x.end.UTC().Format(time.RFC3339Nano))},
				{Key: "duration", Value: value.StringValue("PT" + fmt.Sprint(x.end.Sub(x.start).Seconds()) + "S")},
				{Key: "trackingId", Value: value.StringValue(e.cfg.NewID())},
				{Key: "statusCode", Value: value.StringValue(x.status)},
				{Key: "targetResource", Value: value.ObjectValue(
					value.Member{Key: "id", Value: value.StringValue(x.id)},
					value.Member{Key: "resourceType", Value: value.StringValue(x.typ)},
					value.Member{Key: "resourceName", Value: value.StringValue(x.name)},
					value.Member{Key: "apiVersion", Value: value.StringValue(x.api)})},
			}
			if x.err != nil {
				props[1].Value = value.StringValue(stateFailed)
				props = append(props, value.Member{Key: "statusMessage", Value: value.ObjectValue(
					value.Member{Key: "status", Value: value.StringValue(stateFailed)},
					value.Member{Key: "error", Value: errorValue(x.err)})})
			}
			body := value.ObjectValue(
				value.Member{Key: "id", Value: value.StringValue(id.String())},
				value.Member{Key: "operationId", Value: value.StringValue(opID)},
				value.Member{Key: "properties", Value: value.ObjectValue(props...)})
			if err := p.Put(id, body); err != nil {
				return err
			}
		}
		return nil
	})
}

// operationID is stable per resource and operation: a deployment run
// again (resumed) rewrites its operations rather than adding more.
func operationID(resID, op string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(resID) + "|" + op))
	return fmt.Sprintf("%016X", h.Sum64())
}

func asARM(err error) *arm.Error {
	var ae *arm.Error
	if errors.As(err, &ae) {
		return ae
	}
	return &arm.Error{Code: "InternalServerError", Message: err.Error()}
}

// statusName is the HTTP status name of an error code, as a deployment
// operation's statusCode shows it.
func statusName(code string) string {
	switch code {
	case "AuthorizationFailed", "RequestDisallowedByPolicy", "LinkedAuthorizationFailed":
		return "Forbidden"
	case "ScopeLocked", "Conflict", "DeploymentActive":
		return "Conflict"
	case "ResourceNotFound", "ResourceGroupNotFound", "ParentResourceNotFound", "SubscriptionNotFound":
		return "NotFound"
	case "InternalServerError":
		return "InternalServerError"
	}
	return "BadRequest"
}

// errorValue is an ARM error as JSON ({code, message, target, details,
// additionalInfo}).
func errorValue(e *arm.Error) value.Value {
	m := []value.Member{{Key: "code", Value: value.StringValue(e.Code)}, {Key: "message", Value: value.StringValue(e.Message)}}
	if e.Target != "" {
		m = append(m, value.Member{Key: "target", Value: value.StringValue(e.Target)})
	}
	if len(e.Details) > 0 {
		ds := make([]value.Value, len(e.Details))
		for i, d := range e.Details {
			ds[i] = errorValue(d)
		}
		m = append(m, value.Member{Key: "details", Value: value.ArrayValue(ds)})
	}
	if len(e.AdditionalInfo) > 0 {
		b, _ := json.Marshal(e.AdditionalInfo)
		if v, err := value.Parse(b); err == nil {
			m = append(m, value.Member{Key: "additionalInfo", Value: v})
		}
	}
	return value.ObjectValue(m...)
}

// errorFrom reads an ARM error back from JSON.
func errorFrom(v value.Value) *arm.Error {
	e := &arm.Error{Code: v.Field("code").Str(), Message: v.Field("message").Str(), Target: v.Field("target").Str()}
	for _, d := range v.Field("details").Elems() {
		e.Details = append(e.Details, errorFrom(d))
	}
	if ai := v.Field("additionalInfo"); ai.Kind() == value.Array {
		_ = json.Unmarshal([]byte(ai.JSON()), &e.AdditionalInfo)
	}
	return e
}

// resolver answers reference() and list*() with requests of the
// deployment's caller.
type resolver struct{ r *run }

func (rv resolver) Reference(ctx context.Context, id, apiVersion string, full bool) (value.Value, error) {
	pid, err := arm.ParseID(id)
	if err != nil {
		return value.Value{}, fmt.Errorf("'%s' is not a resource id", id)
	}
	if apiVersion == "" {
		apiVersion = rv.r.apis[strings.ToLower(id)]
	}
	if apiVersion == "" {
		apiVersion = rv.r.e.apiVersion(pid.Type())
	}
	resp, err := rv.r.e.mgr.Handle(ctx, &resources.Request{Method: "GET", Path: id, ID: pid, APIVersion: apiVersion, Caller: rv.r.st.Caller, CorrelationID: rv.r.corr})
	if err != nil {
		return value.Value{}, err
	}
	v, err := value.Parse(resp.Body)
	if err != nil {
		return value.Value{}, err
	}
	if full {
		return v, nil
	}
	return v.Field("properties"), nil
}

func (rv resolver) List(ctx context.Context, action, id, apiVersion string, args value.Value) (value.Value, error) {
	pid, err := arm.ParseID(id + "/" + action)
	if err != nil {
		return value.Value{}, fmt.Errorf("'%s' is not a resource id", id)
	}
	var body []byte
	if !args.IsUndefined() {
		body = []byte(args.JSON())
	}
	resp, err := rv.r.e.mgr.Handle(ctx, &resources.Request{Method: "POST", Path: id + "/" + action, ID: pid, APIVersion: apiVersion, Body: body, Caller: rv.r.st.Caller, CorrelationID: rv.r.corr})
	if err != nil {
		return value.Value{}, err
	}
	if len(resp.Body) == 0 {
		return value.ObjectValue(), nil
	}
	return value.Parse(resp.Body)
}
