package govern

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// How a remediation runs. Its state is in the store, so that any replica
// can carry it on and a restart resumes it:
//
//   - the remediation resource (provisioningState, deploymentStatus),
//     updated by the replica holding its lease;
//   - the lease: a store object (kind remediationLease) read and written
//     with the remediation's row locked (GetResource forUpdate: SELECT
//     ... FOR UPDATE on PostgreSQL, the one writer on SQLite), so two
//     replicas never both hold it; every step renews it, and a replica
//     that finds it taken stops;
//   - the resources to remediate, found once (kind remediationTargets);
//   - a deployment record per resource (kind "remediation/" + the
//     remediation's correlationId, keyed by the resource's key), written
//     Running before the resource's write and Succeeded or Failed after.
//
// A record still Running after a restart is a write that may or may not
// have happened: the resource is evaluated again, and written only if it
// is still non-compliant (a Modify that was written is compliant), so no
// resource is written twice. A DeployIfNotExists deployment is named
// after the remediation and the resource, so starting it again is the
// same deployment (Deployer.Deploy).

const (
	kindRemediationLease   = "remediationLease"
	kindRemediationTargets = "remediationTargets"
	kindRemediationPrefix  = "remediation/"
)

// Deployment record statuses (Skipped ones are not listed: the resource
// was compliant when its turn came).
const (
	deploymentRunning   = "Running"
	deploymentSucceeded = "Succeeded"
	deploymentFailed    = "Failed"
	deploymentSkipped   = "Skipped"
)

var (
	errLeaseLost       = errors.New("remediation lease lost")
	errRemediationGone = errors.New("remediation deleted")
)

type remTarget struct {
	ID       string `json:"id"`
	Location string `json:"location,omitempty"`
}

type remDeployment struct {
	RemediatedResourceID string    `json:"remediatedResourceId"`
	DeploymentID         string    `json:"deploymentId,omitempty"`
	Status               string    `json:"status"`
	ResourceLocation     string    `json:"resourceLocation,omitempty"`
	Error                *remError `json:"error,omitempty"`
	CreatedOn            string    `json:"createdOn"`
	LastUpdatedOn        string    `json:"lastUpdatedOn"`
}

type remError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type remLease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

func recordsKind(correlationID string) string {
	return kindRemediationPrefix + strings.ToLower(correlationID)
}

// Wake makes Run look for remediations now.
func (r *Remediator) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Committed implements resources.Committer: a remediation written (or
// canceled) is looked at at once; a deleted one's records are deleted.
func (r *Remediator) Committed(a *resources.Attributes) {
	if a == nil || !arm.EqualName(a.Spec.Type, TypeRemediation) {
		return
	}
	if a.Operation == resources.OpDelete {
		corr := a.OldObject.Field("properties").Field("correlationId").Str()
		go r.forget(context.Background(), a.ID.Key(), corr)
		return
	}
	r.Wake()
}

// forget deletes what the remediation key (of correlation id corr) kept
// besides itself: its deployment records, targets and lease.
func (r *Remediator) forget(ctx context.Context, key, corr string) {
	_ = r.st.Write(ctx, func(tx store.Tx) error {
		if corr != "" {
			objs, err := tx.ListObjects(ctx, recordsKind(corr))
			if err != nil {
				return err
			}
			for _, o := range objs {
				if err := tx.DeleteObject(ctx, o.Kind, o.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			if err := tx.DeleteObject(ctx, kindRemediationTargets, strings.ToLower(corr)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := tx.DeleteObject(ctx, kindRemediationLease, key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

// Run works on the remediations in progress until ctx ends, writing
// through mgr as the assignments' identities: at once when woken, and
// every poll for those whose lease another replica let lapse. owner
// names this replica in the leases.
func (r *Remediator) Run(ctx context.Context, mgr *resources.Manager, owner string, poll time.Duration, log *slog.Logger) {
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := r.RunOnce(ctx, mgr, owner); err != nil && ctx.Err() == nil {
			log.Warn("remediation failed; it is resumed when its lease ends", "error", err)
		}
		if err := r.runAutoDeploys(ctx, mgr); err != nil && ctx.Err() == nil {
			log.Warn("an automatic DeployIfNotExists deployment failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// RunOnce works on every remediation in progress whose lease it gets,
// one after the other, and returns the first error.
func (r *Remediator) RunOnce(ctx context.Context, mgr *resources.Manager, owner string) error {
	var keys []string
	for res, err := range store.ListAll(ctx, r.st, store.ListQuery{TypeKey: arm.KeyOf(TypeRemediation)}) {
		if err != nil {
			return err
		}
		var rm remediation
		if json.Unmarshal(res.Body, &rm) == nil && !rm.Properties.terminal() {
			keys = append(keys, res.Key)
		}
	}
	var first error
	for _, k := range keys {
		ok, err := r.claim(ctx, k, owner)
		if err == nil && ok {
			err = r.run(ctx, mgr, owner, k)
		}
		if err != nil && !errors.Is(err, errLeaseLost) && !errors.Is(err, errRemediationGone) && first == nil {
			first = err
		}
	}
	return first
}

// claim takes the lease of the remediation key for owner, when it is
// free, lapsed or owner's already.
func (r *Remediator) claim(ctx context.Context, key, owner string) (bool, error) {
	ok := false
	err := r.st.Write(ctx, func(tx store.Tx) error {
		ok = false
		res, err := tx.GetResource(ctx, key, true)
		if errors.Is(err, store.ErrNotFound) || res == nil {
			return nil
		}
		if err != nil {
			return err
		}
		now := r.now()
		if o, err := tx.GetObject(ctx, kindRemediationLease, key); err == nil {
			var l remLease
			if json.Unmarshal(o.Body, &l) == nil && l.Owner != owner && l.Until.After(now) {
				return nil
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ok = true
		return r.putLease(ctx, tx, key, owner, now)
	})
	return ok, err
}

func (r *Remediator) putLease(ctx context.Context, tx store.Tx, key, owner string, now time.Time) error {
	b, _ := json.Marshal(remLease{Owner: owner, Until: now.Add(r.lease)})
	return tx.PutObject(ctx, &store.Object{Kind: kindRemediationLease, Key: key, Body: b, UpdatedAt: now})
}

// keepLease renews owner's lease of the remediation key every third of
// the lease until ctx ends; a lease found taken is left (the next update
// stops the remediation).
func (r *Remediator) keepLease(ctx context.Context, key, owner string) {
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = r.st.Write(ctx, func(tx store.Tx) error {
			if _, err := tx.GetResource(ctx, key, true); err != nil {
				return err
			}
			o, err := tx.GetObject(ctx, kindRemediationLease, key)
			if err != nil {
				return err
			}
			var l remLease
			if json.Unmarshal(o.Body, &l) != nil || l.Owner != owner {
				return errLeaseLost
			}
			return r.putLease(ctx, tx, key, owner, r.now())
		})
	}
}

// update changes the remediation key with fn (and writes objs) in one
// transaction, as owner, renewing its lease: errLeaseLost when another
// replica holds it, errRemediationGone when it was deleted.
func (r *Remediator) update(ctx context.Context, key, owner string, objs []*store.Object, fn func(p *remProps)) (*remProps, error) {
	var out *remProps
	err := r.st.Write(ctx, func(tx store.Tx) error {
		res, err := tx.GetResource(ctx, key, true)
		if errors.Is(err, store.ErrNotFound) || (err == nil && res == nil) {
			return errRemediationGone
		}
		if err != nil {
			return err
		}
		now := r.now()
		if o, err := tx.GetObject(ctx, kindRemediationLease, key); err == nil {
			var l remLease
			if json.Unmarshal(o.Body, &l) == nil && l.Owner != owner {
				return errLeaseLost
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		body, err := value.Parse(res.Body)
		if err != nil {
			return err
		}
		var rm remediation
		if err := json.Unmarshal(res.Body, &rm); err != nil {
			return err
		}
		p := rm.Properties
		if fn != nil {
			fn(&p)
		}
		p.LastUpdatedOn = now.UTC().Format(time.RFC3339Nano)
		b, _ := json.Marshal(&p)
		props, err := value.Parse(b)
		if err != nil {
			return err
		}
		nres := *res
		nres.Body = []byte(body.With("properties", props).JSON())
		nres.ETag = r.newID()
		nres.UpdatedAt = now
		if err := tx.PutResource(ctx, &nres); err != nil {
			return err
		}
		for _, o := range objs {
			o.UpdatedAt = now
			if err := tx.PutObject(ctx, o); err != nil {
				return err
			}
		}
		out = &p
		return r.putLease(ctx, tx, key, owner, now)
	})
	return out, err
}

// load reads the remediation key.
func (r *Remediator) load(ctx context.Context, key string) (*remediation, error) {
	rs, err := store.GetResources(ctx, r.st, key)
	if err != nil {
		return nil, err
	}
	if rs[0] == nil {
		return nil, errRemediationGone
	}
	var rm remediation
	if err := json.Unmarshal(rs[0].Body, &rm); err != nil {
		return nil, err
	}
	return &rm, nil
}

// finish ends the remediation in state with message.
func (r *Remediator) finish(ctx context.Context, key, owner, state, msg string) error {
	_, err := r.update(ctx, key, owner, nil, func(p *remProps) {
		p.ProvisioningState, p.StatusMessage = state, msg
	})
	return err
}

// run carries the remediation key on from where it is.
func (r *Remediator) run(ctx context.Context, mgr *resources.Manager, owner, key string) error {
	rm, err := r.load(ctx, key)
	if err != nil {
		return err
	}
	p := &rm.Properties
	switch p.ProvisioningState {
	case RemediationCancelling:
		return r.finish(ctx, key, owner, RemediationCanceled, "The remediation was canceled before it started deploying.")
	case RemediationAccepted, RemediationEvaluating, "":
		if _, err := r.update(ctx, key, owner, nil, func(p *remProps) {
			if p.ProvisioningState != RemediationCancelling {
				p.ProvisioningState = RemediationEvaluating
			}
		}); err != nil {
			return err
		}
		targets, err := r.discover(ctx, rm)
		if err != nil {
			var ae *arm.Error
			if errors.As(err, &ae) {
				return r.finish(ctx, key, owner, RemediationFailed, ae.Message)
			}
			return err
		}
		b, _ := json.Marshal(targets)
		if _, err := r.update(ctx, key, owner, []*store.Object{{Kind: kindRemediationTargets, Key: strings.ToLower(p.CorrelationID), Body: b}}, func(p *remProps) {
			if p.ProvisioningState != RemediationCancelling {
				p.ProvisioningState = RemediationRunning
			}
			p.DeploymentStatus = remSummary{TotalDeployments: len(targets)}
		}); err != nil {
			return err
		}
	}
	return r.deploy(ctx, mgr, owner, key)
}

// resourceID parses a remediation's ID into its scope.
func remediationScope(rm *remediation) (*arm.ID, error) {
	id, err := arm.ParseID(rm.ID)
	if err != nil {
		return nil, err
	}
	return scopeOf(id), nil
}

// discover finds the resources to remediate: the assignment's
// non-compliant records under the remediation's scope
// (ExistingNonCompliant), or the resources under it evaluated again
// (ReEvaluateCompliance); then the filters and resourceCount.
func (r *Remediator) discover(ctx context.Context, rm *remediation) ([]remTarget, error) {
	p := &rm.Properties
	scope, err := remediationScope(rm)
	if err != nil {
		return nil, err
	}
	as, m, err := r.target(ctx, scope, p)
	if err != nil {
		return nil, err
	}
	// The narrower of the remediation's and the assignment's scopes.
	under := scope.Key()
	if ak := arm.KeyOf(canonicalScope(as.a.Scope)); keyWithin(ak, under) {
		under = ak
	}
	var locs map[string]bool
	var ids map[string]bool
	if f := p.Filters; f != nil {
		if len(f.Locations) > 0 {
			locs = map[string]bool{}
			for _, l := range f.Locations {
				locs[strings.ToLower(l)] = true
			}
		}
		if len(f.ResourceIDs) > 0 {
			ids = map[string]bool{}
			for _, id := range f.ResourceIDs {
				ids[arm.KeyOf(id)] = true
			}
		}
	}
	var out []remTarget
	keep := func(key, id, loc string) bool {
		if locs != nil && !locs[strings.ToLower(arm.NormalizeLocation(loc))] {
			return true
		}
		if ids != nil && !ids[key] {
			return true
		}
		out = append(out, remTarget{ID: id, Location: loc})
		return len(out) < p.ResourceCount
	}
	if p.ResourceDiscoveryMode == DiscoverReEvaluateCompliance {
		ev := r.newEvaluator(ctx)
		if id, err := arm.ParseID(under); err == nil && len(id.Parts) > 0 {
			// A resource's scope: the resource itself first.
			rs, err := store.GetResources(ctx, r.st, under)
			if err != nil {
				return nil, err
			}
			if rs[0] != nil {
				if obj, err := value.Parse(rs[0].Body); err == nil && ev.nonCompliant(as, m, obj, "") &&
					!keep(rs[0].Key, obj.Field("id").Str(), obj.Field("location").Str()) {
					return out, nil
				}
			}
		}
		for res, err := range store.ListAll(ctx, r.st, store.ListQuery{KeyPrefix: under + "/"}) {
			if err != nil {
				return nil, err
			}
			obj, err := value.Parse(res.Body)
			if err != nil {
				continue
			}
			if ev.nonCompliant(as, m, obj, "") && !keep(res.Key, obj.Field("id").Str(), obj.Field("location").Str()) {
				break
			}
		}
		return out, nil
	}
	q := store.PolicyStateQuery{Under: under, AssignmentKey: as.key, Where: "state = ?", Args: []any{NonCompliant}, Limit: 1000}
	for {
		var page []*store.PolicyState
		if err := r.g.cs.Read(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.ListPolicyStates(ctx, q)
			return err
		}); err != nil {
			return nil, err
		}
		// The records keep the resource's key: its ID and location are
		// the resource's.
		var keys []string
		for _, s := range page {
			if s.ReferenceKey == m.refKey {
				keys = append(keys, s.ResourceKey)
			}
		}
		rs, err := store.GetResources(ctx, r.st, keys...)
		if err != nil {
			return nil, err
		}
		for i, res := range rs {
			if res == nil {
				continue
			}
			var env struct {
				ID       string `json:"id"`
				Location string `json:"location"`
			}
			if json.Unmarshal(res.Body, &env) != nil || env.ID == "" {
				continue
			}
			if !keep(keys[i], env.ID, env.Location) {
				return out, nil
			}
		}
		if len(page) < q.Limit {
			return out, nil
		}
		last := page[len(page)-1]
		q.After = &store.PolicyStateKey{ResourceKey: last.ResourceKey, AssignmentKey: last.AssignmentKey, ReferenceKey: last.ReferenceKey}
	}
}

// evaluator evaluates stored resources with their resource group and
// subscription (read once each).
type evaluator struct {
	r   *Remediator
	ctx context.Context
	mu  sync.Mutex
	obj map[string]value.Value
}

func (r *Remediator) newEvaluator(ctx context.Context) *evaluator {
	return &evaluator{r: r, ctx: ctx, obj: map[string]value.Value{}}
}

// scopeObject is the stored body of a subscription or resource group.
func (e *evaluator) scopeObject(key string) value.Value {
	if key == "" {
		return value.Value{}
	}
	e.mu.Lock()
	v, ok := e.obj[key]
	e.mu.Unlock()
	if ok {
		return v
	}
	rs, err := store.GetResources(e.ctx, e.r.st, key)
	if err == nil && rs[0] != nil {
		v, _ = value.Parse(rs[0].Body)
	}
	e.mu.Lock()
	e.obj[key] = v
	e.mu.Unlock()
	return v
}

// evaluate evaluates the member m against obj with the api-version
// apiVersion ("": the latest alias paths); exempt reports an exemption
// covering it.
func (e *evaluator) evaluate(as *assigned, m *member, obj value.Value, apiVersion string) (res policy.Result, exempt bool) {
	id, err := arm.ParseID(obj.Field("id").Str())
	if err != nil {
		return policy.Result{Err: err}, false
	}
	key := policyres.Key(id.String())
	typ, loc := obj.Field("type").Str(), obj.Field("location").Str()
	s, err := e.r.g.current(e.ctx)
	if err != nil {
		return policy.Result{Err: err}, false
	}
	above := s.above(key)
	if !as.a.AppliesToKey(key, above, loc, typ) {
		return policy.Result{}, false
	}
	now := e.r.now()
	forScopes(key, above, func(scope string) {
		for _, x := range s.exemptions[scope] {
			if x.x.Covers(as.a.ID, m.refID, now) && x.x.AppliesToKey(key, above, loc, typ) {
				exempt = true
			}
		}
	})
	var rg value.Value
	if id.ResourceGroup != "" {
		rg = e.scopeObject(arm.KeyOf("/subscriptions/" + id.SubscriptionID + "/resourceGroups/" + id.ResourceGroup))
	}
	sub := e.scopeObject(arm.KeyOf("/subscriptions/" + id.SubscriptionID))
	reqCtx := value.ObjectValue()
	if apiVersion != "" {
		reqCtx = value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(apiVersion)})
	}
	return m.prog.Evaluate(&policy.Input{Resource: obj, ResourceGroup: rg, Subscription: sub, RequestContext: reqCtx,
		APIVersion: apiVersion, Policy: m.policyIn, Now: now, Lookup: storeLookup{ctx: e.ctx, st: e.r.st}}), exempt
}

// nonCompliant reports whether the member would change obj: a Modify or
// a DeployIfNotExists that applies, not exempt.
func (e *evaluator) nonCompliant(as *assigned, m *member, obj value.Value, apiVersion string) bool {
	res, exempt := e.evaluate(as, m, obj, apiVersion)
	return !exempt && res.Err == nil && (res.Effect == policy.Modify || res.Effect == policy.DeployIfNotExists)
}

// deploy remediates the targets not done yet, a batch at a time.
func (r *Remediator) deploy(ctx context.Context, mgr *resources.Manager, owner, key string) error {
	rm, err := r.load(ctx, key)
	if err != nil {
		return err
	}
	p := &rm.Properties
	corr := strings.ToLower(p.CorrelationID)
	kind := recordsKind(corr)
	var targets []remTarget
	var recs []*store.Object
	if err := r.st.Read(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, kindRemediationTargets, corr)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(o.Body, &targets); err != nil {
			return err
		}
		recs, err = tx.ListObjects(ctx, kind)
		return err
	}); err != nil {
		return err
	}
	done := make(map[string]*remDeployment, len(recs))
	var sum remSummary
	skipped := 0
	for _, o := range recs {
		var d remDeployment
		if json.Unmarshal(o.Body, &d) != nil {
			continue
		}
		done[o.Key] = &d
		switch d.Status {
		case deploymentSucceeded:
			sum.SuccessfulDeployments++
		case deploymentFailed:
			sum.FailedDeployments++
		case deploymentSkipped:
			skipped++
		}
	}
	scope, err := remediationScope(rm)
	if err != nil {
		return err
	}
	as, m, terr := r.target(ctx, scope, p)
	if terr != nil {
		var ae *arm.Error
		if errors.As(terr, &ae) {
			return r.finish(ctx, key, owner, RemediationFailed, ae.Message)
		}
		return terr
	}
	w := &remWork{r: r, mgr: mgr, as: as, m: m, ev: r.newEvaluator(ctx), corr: corr,
		caller: activitylog.Caller{Name: as.a.Identity.PrincipalID, ObjectID: as.a.Identity.PrincipalID, AppID: as.a.Identity.PrincipalID,
			TenantID: r.tenantID, Type: "ServicePrincipal"}}
	// resumed are the records left Running by an earlier run: their
	// writes may have happened.
	var pending []remTarget
	resumed := map[string]*remDeployment{}
	for _, t := range targets {
		d := done[arm.KeyOf(t.ID)]
		if d == nil || d.Status == deploymentRunning {
			pending = append(pending, t)
		}
		if d != nil && d.Status == deploymentRunning {
			resumed[arm.KeyOf(t.ID)] = d
		}
	}
	total := func() int { return len(targets) - skipped }
	batchSize := p.ParallelDeployments
	if r.batch > 0 {
		batchSize = r.batch
	}
	for len(pending) > 0 {
		n := min(batchSize, len(pending))
		batch := pending[:n]
		pending = pending[n:]
		// Stop here when canceled (or deleted).
		cur, err := r.load(ctx, key)
		if err != nil {
			return err
		}
		if cur.Properties.ProvisioningState == RemediationCancelling {
			return r.finish(ctx, key, owner, RemediationCanceled, fmt.Sprintf("The remediation was canceled after %d of %d deployments.", sum.SuccessfulDeployments+sum.FailedDeployments, total()))
		}
		// The records of the batch, Running, before any write.
		now := r.now().UTC().Format(time.RFC3339Nano)
		var objs []*store.Object
		for _, t := range batch {
			k := arm.KeyOf(t.ID)
			if done[k] != nil {
				continue
			}
			d := &remDeployment{RemediatedResourceID: t.ID, Status: deploymentRunning, ResourceLocation: t.Location, CreatedOn: now, LastUpdatedOn: now}
			done[k] = d
			b, _ := json.Marshal(d)
			objs = append(objs, &store.Object{Kind: kind, Key: k, Body: b})
		}
		if len(objs) > 0 {
			if _, err := r.update(ctx, key, owner, objs, nil); err != nil {
				return err
			}
		}
		// The lease is renewed while the batch runs (a deployment may take
		// longer than the lease).
		bctx, stopRenew := context.WithCancel(ctx)
		go r.keepLease(bctx, key, owner)
		results, err := w.runBatch(ctx, batch, resumed, p.ParallelDeployments)
		stopRenew()
		if err != nil {
			return err
		}
		objs = objs[:0]
		for i, d := range results {
			b, _ := json.Marshal(d)
			objs = append(objs, &store.Object{Kind: kind, Key: arm.KeyOf(batch[i].ID), Body: b})
			switch d.Status {
			case deploymentSucceeded:
				sum.SuccessfulDeployments++
			case deploymentFailed:
				sum.FailedDeployments++
			case deploymentSkipped:
				skipped++
			}
		}
		sum.TotalDeployments = total()
		stop := sum.TotalDeployments > 0 && float64(sum.FailedDeployments) > p.FailureThreshold.Percentage*float64(sum.TotalDeployments)
		if _, err := r.update(ctx, key, owner, objs, func(q *remProps) {
			q.DeploymentStatus = sum
			if stop {
				q.ProvisioningState = RemediationFailed
				q.StatusMessage = fmt.Sprintf("The remediation was stopped: %d of %d deployments failed, more than its failure threshold of %g%%.", sum.FailedDeployments, sum.TotalDeployments, p.FailureThreshold.Percentage*100)
			}
		}); err != nil {
			return err
		}
		if stop {
			return nil
		}
	}
	sum.TotalDeployments = total()
	_, err = r.update(ctx, key, owner, nil, func(q *remProps) {
		q.DeploymentStatus = sum
		switch {
		case q.ProvisioningState == RemediationCancelling:
			q.ProvisioningState, q.StatusMessage = RemediationCanceled, "The remediation was canceled after its last deployment."
		case sum.FailedDeployments > 0:
			q.ProvisioningState = RemediationComplete
			q.StatusMessage = fmt.Sprintf("%d of %d deployments failed (see listDeployments).", sum.FailedDeployments, sum.TotalDeployments)
		default:
			q.ProvisioningState = RemediationSucceeded
			q.StatusMessage = fmt.Sprintf("%d resources remediated.", sum.SuccessfulDeployments)
		}
	})
	return err
}

// remWork is what a remediation's deployments share.
type remWork struct {
	r      *Remediator
	mgr    *resources.Manager
	as     *assigned
	m      *member
	ev     *evaluator
	corr   string
	caller activitylog.Caller
}

// runBatch remediates a batch, parallel at most at once, and returns the
// deployment record of each target. An error stops the remediation (the
// records stay Running: the next run resolves them).
func (w *remWork) runBatch(ctx context.Context, batch []remTarget, done map[string]*remDeployment, parallel int) ([]*remDeployment, error) {
	out := make([]*remDeployment, len(batch))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(parallel, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= len(batch) || stop {
					return
				}
				d, err := w.one(ctx, batch[i], done[arm.KeyOf(batch[i].ID)])
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				out[i] = d
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out, first
}

// apiVersionFor is the api-version a remediation writes a type with:
// the latest stable one the type is served at (the Modify operations'
// api-version conditions see it).
func (w *remWork) apiVersionFor(typ string) string {
	spec, _ := w.mgr.Registry().Lookup(typ)
	best := ""
	for _, v := range spec.APIVersions {
		if !strings.Contains(v, "-preview") && v > best {
			best = v
		}
	}
	if best == "" && len(spec.APIVersions) > 0 {
		best = slices.Max(spec.APIVersions)
	}
	return best
}

// one remediates one resource and returns its deployment record.
func (w *remWork) one(ctx context.Context, t remTarget, rec *remDeployment) (*remDeployment, error) {
	now := w.r.now().UTC().Format(time.RFC3339Nano)
	d := &remDeployment{RemediatedResourceID: t.ID, ResourceLocation: t.Location, CreatedOn: now}
	if rec != nil {
		*d = *rec
	}
	fail := func(code, format string, args ...any) (*remDeployment, error) {
		d.Status, d.Error, d.LastUpdatedOn = deploymentFailed, &remError{Code: code, Message: fmt.Sprintf(format, args...)}, w.r.now().UTC().Format(time.RFC3339Nano)
		return d, nil
	}
	key := arm.KeyOf(t.ID)
	for attempt := 0; ; attempt++ {
		rs, err := store.GetResources(ctx, w.r.st, key)
		if err != nil {
			return d, err
		}
		if rs[0] == nil {
			return fail("ResourceNotFound", "The resource '%s' no longer exists.", t.ID)
		}
		obj, err := value.Parse(rs[0].Body)
		if err != nil {
			return d, err
		}
		apiVersion := w.apiVersionFor(obj.Field("type").Str())
		res, exempt := w.ev.evaluate(w.as, w.m, obj, apiVersion)
		switch {
		case res.Err != nil:
			return fail("PolicyEvaluationFailed", "The policy could not be evaluated against '%s': %v", t.ID, res.Err)
		case exempt || (res.Effect != policy.Modify && res.Effect != policy.DeployIfNotExists):
			// Compliant now: by an earlier attempt's write (a record left
			// Running) or by someone else's.
			if rec != nil && rec.Status == deploymentRunning {
				d.Status, d.LastUpdatedOn = deploymentSucceeded, w.r.now().UTC().Format(time.RFC3339Nano)
				return d, nil
			}
			d.Status = deploymentSkipped
			return d, nil
		case res.Effect == policy.DeployIfNotExists:
			return w.deployIfNotExists(ctx, t, d, obj, &res)
		}
		mu, err := policy.Apply(obj, &res, policy.ApplyOptions{APIVersion: apiVersion, Aliases: w.r.g.catalog})
		if err != nil {
			return fail("PolicyEvaluationFailed", "The Modify operations could not be applied to '%s': %v", t.ID, err)
		}
		if mu.Denied() {
			return fail("RequestDisallowedByPolicy", "The Modify operations of '%s' conflict with the resource '%s' and its conflictEffect is deny: %s", w.m.def.ID, t.ID, conflictReasons(mu.Conflicts))
		}
		if len(mu.Changes) == 0 {
			var why []string
			for _, c := range mu.Conflicts {
				why = append(why, c.Field+": "+c.Reason)
			}
			for _, s := range mu.Skipped {
				why = append(why, s.Field+": "+s.Reason)
			}
			return fail("ModifyNotApplied", "No Modify operation of '%s' applies to '%s' at api-version %s: %s", w.m.def.ID, t.ID, apiVersion, strings.Join(why, "; "))
		}
		if h := w.r.beforeWrite; h != nil {
			if err := h(key); err != nil {
				return d, err
			}
		}
		id, err := arm.ParseID(t.ID)
		if err != nil {
			return fail("InvalidResourceId", "%v", err)
		}
		corr := w.r.newID()
		_, err = w.mgr.Handle(ctx, &resources.Request{Method: "PATCH", Path: id.String(), ID: id, APIVersion: apiVersion,
			Body: []byte(patchOf(mu).JSON()), IfMatch: `"` + rs[0].ETag + `"`, Caller: w.caller, CorrelationID: corr})
		var ae *arm.Error
		switch {
		case err == nil:
			d.Status, d.DeploymentID, d.Error, d.LastUpdatedOn = deploymentSucceeded, corr, nil, w.r.now().UTC().Format(time.RFC3339Nano)
			return d, nil
		case errors.As(err, &ae) && ae.Code == "PreconditionFailed" && attempt < 3:
			continue // written in between: evaluated again
		case errors.As(err, &ae):
			d.DeploymentID = corr
			return fail(ae.Code, "%s", ae.Message)
		case ctx.Err() != nil:
			return d, ctx.Err()
		default:
			return fail("InternalServerError", "The resource '%s' could not be written.", t.ID)
		}
	}
}

func conflictReasons(cs []policy.Conflict) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Field+": "+c.Reason)
	}
	return strings.Join(s, "; ")
}

// patchOf is the PATCH body (RFC 7396) of a Modify's changes: each
// changed property with its new value (null when removed); tags and
// identity whole, as PATCH replaces them; an array whole.
func patchOf(mu policy.Mutation) value.Value {
	out := value.ObjectValue()
	for _, c := range mu.Changes {
		path := c.Path
		if i := strings.IndexByte(path, '['); i >= 0 {
			path = path[:i]
		}
		segs := strings.Split(path, ".")
		if len(segs) > 0 && (strings.EqualFold(segs[0], "tags") || strings.EqualFold(segs[0], "identity")) {
			segs = segs[:1]
		}
		v := mu.Body
		for _, s := range segs {
			v = v.Field(s)
		}
		if v.IsUndefined() {
			v = value.NullValue()
		}
		out = setPath(out, segs, v)
	}
	return out
}

func setPath(obj value.Value, segs []string, v value.Value) value.Value {
	if len(segs) == 1 {
		return obj.With(segs[0], v)
	}
	child := obj.Field(segs[0])
	if child.Kind() != value.Object {
		child = value.ObjectValue()
	}
	return obj.With(segs[0], setPath(child, segs[1:], v))
}

// deployIfNotExists runs the member's deployment for the resource: the
// template and the parameters evaluated against it, at the resource
// group (details.resourceGroupName, else the resource's) or the
// subscription (deploymentScope Subscription), under a name made of the
// remediation and the resource, so that running it again after a
// restart is the same deployment.
func (w *remWork) deployIfNotExists(ctx context.Context, t remTarget, d *remDeployment, obj value.Value, res *policy.Result) (*remDeployment, error) {
	fail := func(code, msg string) (*remDeployment, error) {
		d.Status, d.Error, d.LastUpdatedOn = deploymentFailed, &remError{Code: code, Message: msg}, w.r.now().UTC().Format(time.RFC3339Nano)
		return d, nil
	}
	deployer := w.r.Deployer()
	if deployer == nil {
		return fail("DeployIfNotExistsRemediationNotAvailable", "Remediation of DeployIfNotExists policies is not available in this build of mlgov.")
	}
	id, err := arm.ParseID(t.ID)
	if err != nil {
		return fail("InvalidResourceId", err.Error())
	}
	det := res.Details
	props := det.Field("deployment").Field("properties")
	scope := "/subscriptions/" + id.SubscriptionID
	if !strings.EqualFold(det.Field("deploymentScope").Str(), "subscription") {
		rg := det.Field("resourceGroupName").Str()
		if rg == "" {
			rg = id.ResourceGroup
		}
		scope += "/resourceGroups/" + rg
	}
	sum := sha256.Sum256([]byte(w.corr + "\n" + arm.KeyOf(t.ID)))
	name := "PolicyDeployment_" + hex.EncodeToString(sum[:10])
	if h := w.r.beforeWrite; h != nil {
		if err := h(arm.KeyOf(t.ID)); err != nil {
			return d, err
		}
	}
	depID, err := deployer.Deploy(ctx, w.caller, scope, name, props.Field("template"), props.Field("parameters"))
	if err != nil {
		var ae *arm.Error
		if errors.As(err, &ae) {
			return fail(ae.Code, ae.Message)
		}
		return d, err
	}
	d.DeploymentID = depID
	for {
		state, eb, err := deployer.Status(ctx, depID)
		if err != nil {
			return d, err
		}
		switch state {
		case "Succeeded":
			d.Status, d.Error, d.LastUpdatedOn = deploymentSucceeded, nil, w.r.now().UTC().Format(time.RFC3339Nano)
			// The deployment wrote related resources, not the resource:
			// its records are worked out again now (the change feed
			// evaluates the resources written, not what depends on them).
			if err := w.r.g.Reevaluate(ctx, []string{arm.KeyOf(t.ID)}); err != nil && ctx.Err() != nil {
				return d, ctx.Err()
			}
			return d, nil
		case "Failed", "Canceled":
			code, msg := eb.Field("code").Str(), eb.Field("message").Str()
			if code == "" {
				code = "DeploymentFailed"
			}
			return fail(code, cmpOr(msg, "The deployment "+depID+" "+strings.ToLower(state)+"."))
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// listDeployments answers POST {remediation}/listDeployments: the
// deployment records, by resource key, $top a page ($skipToken: the
// last key).
func (r *Remediator) listDeployments(ctx context.Context, rid *arm.ID, req *resources.Request) (*resources.Response, error) {
	if req.Method != "POST" && req.Method != "GET" {
		return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", req.Method, req.Path)
	}
	raw, present := req.Query["$top"]
	top, err := resources.ParseTop(strings.Join(raw, ""), present, 100)
	if err != nil {
		return nil, err
	}
	rm, err := r.load(ctx, rid.Key())
	if errors.Is(err, errRemediationGone) {
		return nil, arm.Errorf("ResourceNotFound", "The remediation '%s' was not found.", rid.Name())
	}
	if err != nil {
		return nil, err
	}
	var objs []*store.Object
	if err := r.st.Read(ctx, func(tx store.Tx) error {
		var err error
		objs, err = tx.ListObjects(ctx, recordsKind(rm.Properties.CorrelationID))
		return err
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(objs, func(a, b *store.Object) int { return strings.Compare(a.Key, b.Key) })
	after := req.Query.Get("$skipToken")
	resp := &resources.Response{List: true}
	lastKey := ""
	for _, o := range objs {
		if after != "" && o.Key <= after {
			continue
		}
		var d remDeployment
		if json.Unmarshal(o.Body, &d) != nil || d.Status == deploymentSkipped {
			continue
		}
		if len(resp.Items) == top {
			resp.Next = lastKey
			break
		}
		resp.Items = append(resp.Items, o.Body)
		lastKey = o.Key
	}
	return resp, nil
}
