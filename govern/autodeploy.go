package govern

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// Automatic DeployIfNotExists. Azure runs a DeployIfNotExists policy's
// deployment by itself when a resource the policy applies to is created
// or updated and the related resource its existence condition looks for
// is missing, once the policy's evaluationDelay has passed
// (AfterProvisioning by default: when the resource's provisioning has
// ended; AfterProvisioningSuccess, AfterProvisioningFailure, or an ISO
// 8601 duration after the write), as the assignment's managed identity.
//
// A request's PUT or PATCH of a resource under an enforced
// DeployIfNotExists assignment with an identity (Committed: the request's
// own resource, not what its write keeps in step, and not writes of
// resource providers) records a task, a store object, when a Deployer is
// configured. The Remediator's loop runs the due ones: a task is claimed
// by deleting it (one replica wins); the resource is evaluated; for each
// DeployIfNotExists member NonCompliant, of an assignment older than the
// write, its evaluationDelay decides (a resource still provisioning is
// looked at again a second later, for an hour at the most); the
// deployment runs as a remediation's does (remWork.one: the definition's
// deployment with its parameters evaluated against the resource, through
// the Deployer and the write path) and a Policy event "deployIfNotExists"
// names it in the activity log. Its name is derived from the resource's
// entity tag: a task run again after a restart finds the same
// deployment, and a later write of the resource gets one of its own.

const kindAutoDeploy = "autoDeploy"

// autoTask is a resource written by a request, to look at.
type autoTask struct {
	ResourceKey string    `json:"resourceKey"`
	Written     time.Time `json:"written"`
	Due         time.Time `json:"due"`
}

// How long a task waits for a resource's provisioning to end, checking
// every provisioningPoll.
const (
	provisioningPoll = time.Second
	provisioningWait = time.Hour
)

// noteWrite records the task of a request's write (Committed). It is on
// every write's path: the check reads the snapshot in force (never
// rebuilds it; a policy change's own Committed has rebuilt it) and only a
// write that some DeployIfNotExists covers writes its task, in the
// background (Committed must not block).
func (g *Governor) noteWrite(a *resources.Attributes) {
	r := g.rem.Load()
	if r == nil || r.Deployer() == nil || a.ID == nil || !a.ID.IsResource() || policyTypes[arm.KeyOf(a.Spec.Type)] {
		return
	}
	s := g.snap.Load()
	key, now := policyres.Key(a.ID.String()), a.Now
	if s == nil || !s.deploysFor(key) {
		return
	}
	go func() {
		ctx := context.Background()
		b, _ := json.Marshal(autoTask{ResourceKey: key, Written: now, Due: now})
		if err := g.st.Write(ctx, func(tx store.Tx) error {
			return tx.PutObject(ctx, &store.Object{Kind: kindAutoDeploy, Key: key, Body: b, UpdatedAt: now})
		}); err == nil {
			r.Wake()
		}
	}()
}

// deploysFor reports whether an enforced assignment with an identity
// and a DeployIfNotExists member (or one whose effect is a parameter)
// covers the resource key.
func (s *snapshot) deploysFor(key string) bool {
	found := false
	forScopes(key, s.above(key), func(scope string) {
		for _, as := range s.byScope[scope] {
			if found || as.err != nil || !as.a.Enforce || as.a.Identity.PrincipalID == "" {
				continue
			}
			for _, m := range as.members {
				if !m.static || m.effect == policy.DeployIfNotExists {
					found = true
				}
			}
		}
	})
	return found
}

// runAutoDeploys runs the due tasks, one after the other.
func (r *Remediator) runAutoDeploys(ctx context.Context, mgr *resources.Manager) error {
	if r.Deployer() == nil {
		return nil
	}
	var objs []*store.Object
	if err := r.st.Read(ctx, func(tx store.Tx) error {
		var err error
		objs, err = tx.ListObjects(ctx, kindAutoDeploy)
		return err
	}); err != nil {
		return err
	}
	now := r.now()
	var first error
	for _, o := range objs {
		var t autoTask
		if json.Unmarshal(o.Body, &t) != nil || t.Due.After(now) {
			continue
		}
		claimed, err := r.takeTask(ctx, o)
		if err == nil && claimed {
			err = r.autoDeploy(ctx, mgr, &t)
		}
		if err != nil && first == nil && ctx.Err() == nil {
			first = err
		}
	}
	return first
}

// takeTask deletes a task that is still as it was read; false when
// another replica took it (or it was rescheduled meanwhile).
func (r *Remediator) takeTask(ctx context.Context, o *store.Object) (bool, error) {
	ok := false
	err := r.st.Write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetObject(ctx, o.Kind, o.Key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if string(cur.Body) != string(o.Body) {
			return nil
		}
		ok = true
		return tx.DeleteObject(ctx, o.Kind, o.Key)
	})
	return ok, err
}

// later puts a task back for due.
func (r *Remediator) later(ctx context.Context, t *autoTask, due time.Time) error {
	t.Due = due
	b, _ := json.Marshal(t)
	return r.st.Write(ctx, func(tx store.Tx) error {
		return tx.PutObject(ctx, &store.Object{Kind: kindAutoDeploy, Key: t.ResourceKey, Body: b, UpdatedAt: r.now()})
	})
}

// provisioning reports whether a provisioning state is not final.
func provisioning(state string) bool {
	switch strings.ToLower(state) {
	case "creating", "updating", "accepted", "running", "provisioning", "deleting", "canceling", "cancelling", "inprogress":
		return true
	}
	return false
}

// autoDeploy runs one task: the resource's DeployIfNotExists members
// that find it NonCompliant, each by its evaluationDelay.
func (r *Remediator) autoDeploy(ctx context.Context, mgr *resources.Manager, t *autoTask) error {
	s, err := r.g.current(ctx)
	if err != nil {
		return err
	}
	rs, err := store.GetResources(ctx, r.st, t.ResourceKey)
	if err != nil || rs[0] == nil {
		return err
	}
	obj, err := value.Parse(rs[0].Body)
	if err != nil {
		return nil
	}
	id, err := arm.ParseID(obj.Field("id").Str())
	if err != nil {
		return nil
	}
	p := &parents{ctx: ctx, st: r.st, cache: map[string]value.Value{}}
	rg, sub := p.of(id)
	ev := r.newEvaluator(ctx)
	var retry time.Time
	for _, st := range r.g.evaluate(s, obj, rg, sub, r.now(), storeLookup{ctx: ctx, st: r.st}, false) {
		if st.Action != "deployifnotexists" || st.ComplianceState != NonCompliant {
			continue
		}
		as := s.byKey[st.assignmentKey]
		if as == nil || as.err != nil || !as.a.Enforce || as.a.Identity.PrincipalID == "" || !t.Written.After(as.created) {
			continue // assigned after the write: what it finds is for remediations
		}
		m := as.byRef[strings.ToLower(st.RefID)]
		if m == nil {
			continue
		}
		w := &remWork{r: r, mgr: mgr, as: as, m: m, ev: ev,
			caller: activitylog.Caller{Name: as.a.Identity.PrincipalID, ObjectID: as.a.Identity.PrincipalID, AppID: as.a.Identity.PrincipalID,
				TenantID: r.tenantID, Type: "ServicePrincipal"}}
		res, exempt := ev.evaluate(as, m, obj, w.apiVersionFor(obj.Field("type").Str()))
		if exempt || res.Err != nil || res.Effect != policy.DeployIfNotExists {
			continue
		}
		state := obj.Field("properties").Field("provisioningState").Str()
		switch delay := res.Details.Field("evaluationDelay").Str(); {
		case provisioning(state):
			// Every delay waits for the provisioning to end.
			if r.now().Sub(t.Written) < provisioningWait {
				retry = r.now().Add(provisioningPoll)
			}
			continue
		case strings.EqualFold(delay, "AfterProvisioningSuccess") && state != "" && !strings.EqualFold(state, "Succeeded"),
			strings.EqualFold(delay, "AfterProvisioningFailure") && !strings.EqualFold(state, "Failed"):
			continue
		case delay != "" && !strings.HasPrefix(strings.ToLower(delay), "afterprovisioning"):
			d, err := isoDuration(delay)
			if err != nil {
				continue // not a delay mlgov knows: no automatic deployment
			}
			if due := t.Written.Add(d); due.After(r.now()) {
				if retry.IsZero() || due.Before(retry) {
					retry = due
				}
				continue
			}
		}
		// One deployment per write of the resource (its entity tag).
		w.corr = "auto:" + as.key + "|" + m.refID + "|" + rs[0].ETag
		d, err := w.one(ctx, remTarget{ID: id.String(), Location: obj.Field("location").Str()}, nil)
		if err != nil {
			return err
		}
		if d.Status != deploymentSkipped {
			r.recordAutoDeploy(ctx, as, m, obj, d)
		}
	}
	if !retry.IsZero() {
		return r.later(ctx, t, retry)
	}
	return nil
}

// recordAutoDeploy writes the Policy event of an automatic deployment:
// the resource, the policy, and the deployment with how it ended.
func (r *Remediator) recordAutoDeploy(ctx context.Context, as *assigned, m *member, obj value.Value, d *remDeployment) {
	rid, err := arm.ParseID(obj.Field("id").Str())
	if err != nil {
		return
	}
	pol := map[string]any{
		"policyDefinitionId": m.def.ID, "policyAssignmentId": as.a.ID, "policyAssignmentName": as.a.Name,
		"policyAssignmentScope": as.a.Scope, "policyDefinitionName": m.def.Name, "policyDefinitionEffect": "deployIfNotExists",
		"deploymentId": d.DeploymentID, "deploymentStatus": d.Status,
	}
	if m.setID != "" {
		pol["policySetDefinitionId"], pol["policyDefinitionReferenceId"] = m.setID, m.refID
	}
	if d.Error != nil {
		pol["error"] = map[string]any{"code": d.Error.Code, "message": d.Error.Message}
	}
	policies, _ := json.Marshal([]any{pol})
	sum := sha256.Sum256([]byte(d.DeploymentID))
	op := activitylog.Op{OperationName: "Microsoft.Authorization/policies/deployIfNotExists/action", ResourceID: rid.String(), ResourceType: rid.Type(),
		SubscriptionID: rid.SubscriptionID, ResourceGroup: rid.ResourceGroup, OperationID: r.newID(), CorrelationID: hex.EncodeToString(sum[:16]),
		Caller: activitylog.Caller{Name: as.a.Identity.PrincipalID, ObjectID: as.a.Identity.PrincipalID, AppID: as.a.Identity.PrincipalID, TenantID: r.tenantID, Type: "ServicePrincipal"}}
	ev := activitylog.PolicyEvent(op, "deployIfNotExists", policies, obj.Field("location").Str(), r.newID(), r.now())
	_ = r.st.Write(context.WithoutCancel(ctx), func(tx store.Tx) error { return tx.AppendEvents(ctx, ev) })
}

// isoDuration parses an ISO 8601 duration of days and time
// (P1D, PT10M, P1DT2H30M15.5S), as evaluationDelay gives one.
func isoDuration(s string) (time.Duration, error) {
	bad := errors.New("not an ISO 8601 duration: " + s)
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "P") || len(u) < 3 {
		return 0, bad
	}
	var d time.Duration
	inTime, num, any := false, "", false
	if strings.HasSuffix(u, "T") {
		return 0, bad
	}
	for _, c := range u[1:] {
		switch {
		case c >= '0' && c <= '9' || c == '.':
			num += string(c)
		case c == 'T' && !inTime && num == "":
			inTime = true
		default:
			if num == "" {
				return 0, bad
			}
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, bad
			}
			var unit time.Duration
			switch {
			case !inTime && c == 'D':
				unit = 24 * time.Hour
			case !inTime && c == 'W':
				unit = 7 * 24 * time.Hour
			case inTime && c == 'H':
				unit = time.Hour
			case inTime && c == 'M':
				unit = time.Minute
			case inTime && c == 'S':
				unit = time.Second
			default:
				return 0, bad
			}
			d += time.Duration(f * float64(unit))
			num, any = "", true
		}
	}
	if num != "" || !any {
		return 0, bad
	}
	return d, nil
}
