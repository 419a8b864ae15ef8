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
// The compliance follower (Follow) records a task, a store object, for
// each NonCompliant DeployIfNotExists record of a written resource under
// an enforced assignment with an identity, when a Deployer is configured.
// The Remediator's loop runs the due ones: a task is claimed by deleting
// it (one replica wins), the resource is evaluated again (a resource
// still provisioning waits for the write that ends it; one that became
// compliant is left), the deployment runs as a remediation's does
// (remWork.one: the definition's deployment with its parameters
// evaluated against the resource, through the Deployer and the write
// path), and a Policy event "deployIfNotExists" goes to the activity log
// with the deployment's id. Its name is derived from the resource's entity
// tag: a task run again after a restart finds the same deployment, and a
// later write of the resource gets a deployment of its own.

const kindAutoDeploy = "autoDeploy"

type autoTask struct {
	ResourceKey   string    `json:"resourceKey"`
	AssignmentKey string    `json:"assignmentKey"`
	Ref           string    `json:"ref,omitempty"`
	Due           time.Time `json:"due"`
}

func autoTaskKey(resourceKey, assignmentKey, ref string) string {
	return resourceKey + "|" + assignmentKey + "|" + ref
}

// scheduleAutoDeploys records the tasks of the written resources' records
// rows (from the snapshot s).
func (g *Governor) scheduleAutoDeploys(ctx context.Context, s *snapshot, rows []*store.PolicyState) error {
	r := g.rem.Load()
	if r == nil || r.Deployer() == nil {
		return nil
	}
	var tasks []*store.Object
	now := g.now()
	for _, row := range rows {
		if row.Action != "deployifnotexists" || row.State != "NonCompliant" {
			continue
		}
		as := s.byKey[row.AssignmentKey]
		if as == nil || as.err != nil || !as.a.Enforce || as.a.Identity.PrincipalID == "" {
			continue
		}
		b, _ := json.Marshal(autoTask{ResourceKey: row.ResourceKey, AssignmentKey: row.AssignmentKey, Ref: row.ReferenceKey, Due: now})
		tasks = append(tasks, &store.Object{Kind: kindAutoDeploy, Key: autoTaskKey(row.ResourceKey, row.AssignmentKey, row.ReferenceKey), Body: b, UpdatedAt: now})
	}
	if len(tasks) == 0 {
		return nil
	}
	err := g.st.Write(ctx, func(tx store.Tx) error {
		for _, o := range tasks {
			if _, err := tx.GetObject(ctx, o.Kind, o.Key); err == nil {
				continue // pending already (another replica's follower, or an earlier write)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.PutObject(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		r.Wake()
	}
	return err
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
		return tx.PutObject(ctx, &store.Object{Kind: kindAutoDeploy, Key: autoTaskKey(t.ResourceKey, t.AssignmentKey, t.Ref), Body: b, UpdatedAt: r.now()})
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

// autoDeploy runs one task.
func (r *Remediator) autoDeploy(ctx context.Context, mgr *resources.Manager, t *autoTask) error {
	s, err := r.g.current(ctx)
	if err != nil {
		return err
	}
	as := s.byKey[t.AssignmentKey]
	if as == nil || as.err != nil || !as.a.Enforce || as.a.Identity.PrincipalID == "" {
		return nil // unassigned, or no longer enforced, meanwhile
	}
	m := as.byRef[t.Ref]
	if m == nil && t.Ref == "" && len(as.members) > 0 {
		m = as.members[0]
	}
	if m == nil {
		return nil
	}
	rs, err := store.GetResources(ctx, r.st, t.ResourceKey)
	if err != nil || rs[0] == nil {
		return err
	}
	obj, err := value.Parse(rs[0].Body)
	if err != nil {
		return nil
	}
	w := &remWork{r: r, mgr: mgr, as: as, m: m, ev: r.newEvaluator(ctx),
		caller: activitylog.Caller{Name: as.a.Identity.PrincipalID, ObjectID: as.a.Identity.PrincipalID, AppID: as.a.Identity.PrincipalID,
			TenantID: r.tenantID, Type: "ServicePrincipal"}}
	res, exempt := w.ev.evaluate(as, m, obj, w.apiVersionFor(obj.Field("type").Str()))
	if exempt || res.Err != nil || res.Effect != policy.DeployIfNotExists {
		return nil // compliant (or exempt) now
	}
	state := obj.Field("properties").Field("provisioningState").Str()
	switch delay := res.Details.Field("evaluationDelay").Str(); {
	case delay == "" || strings.EqualFold(delay, "AfterProvisioning"):
		if provisioning(state) {
			return nil // the write that ends the provisioning schedules it again
		}
	case strings.EqualFold(delay, "AfterProvisioningSuccess"):
		if !strings.EqualFold(state, "Succeeded") && state != "" {
			return nil
		}
	case strings.EqualFold(delay, "AfterProvisioningFailure"):
		if !strings.EqualFold(state, "Failed") {
			return nil
		}
	default:
		d, err := isoDuration(delay)
		if err != nil {
			return nil // not a delay mlgov knows: no automatic deployment
		}
		if due := rs[0].UpdatedAt.Add(d); due.After(r.now()) {
			return r.later(ctx, t, due)
		}
	}
	// One deployment per write of the resource (its entity tag).
	w.corr = "auto:" + t.AssignmentKey + "|" + t.Ref + "|" + rs[0].ETag
	id := obj.Field("id").Str()
	d, err := w.one(ctx, remTarget{ID: id, Location: obj.Field("location").Str()}, nil)
	if err != nil {
		return err
	}
	if d.Status == deploymentSkipped {
		return nil
	}
	r.recordAutoDeploy(ctx, as, m, obj, d)
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
