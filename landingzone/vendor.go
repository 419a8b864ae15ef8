package landingzone

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/rbac"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// Type is the landing zones' resource type, at the tenant:
// /providers/Mlgov.Governance/landingZones/{name}.
const (
	Type       = "Mlgov.Governance/landingZones"
	APIVersion = "2026-12-01"
)

// Deployer runs an ARM template deployment at a scope as a caller
// (deploy.Engine).
type Deployer interface {
	Deploy(ctx context.Context, caller activitylog.Caller, scopeID, name string, tmpl, params value.Value) (string, error)
	Status(ctx context.Context, deploymentID string) (string, value.Value, error)
}

// Config configures a Vendor.
type Config struct {
	// RoleID returns the GUID of a role by its name or GUID (the
	// built-in roles).
	RoleID  func(name string) (string, bool)
	NewID   func() string
	Log     *slog.Logger
	Poll    time.Duration // how often a deployment is looked at (default 200 ms)
	Timeout time.Duration // how long a zone's deployment may run (default 30 min)
	// Sweep is how often zones left Accepted or Running by a stopped
	// server are looked for (default 1 min).
	Sweep time.Duration
	Now   func() time.Time
}

// Vendor vends landing zones (see the package comment).
type Vendor struct {
	mgr *resources.Manager
	st  store.Store
	dep Deployer
	cfg Config
	mu  sync.Mutex
	ctx context.Context // set by Run; vending stops with it
	wg  sync.WaitGroup
}

// New returns a Vendor over mgr and registers the landing zone type.
func New(mgr *resources.Manager, st store.Store, dep Deployer, cfg Config) *Vendor {
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Vendor{mgr: mgr, st: st, dep: dep, cfg: cfg, ctx: context.Background()}
	mgr.Registry().Add(&resources.TypeSpec{Type: Type, APIVersions: []string{APIVersion}, TenantLevel: true,
		NoProvisioningState: true, NoPatch: true, Build: v.build})
	return v
}

// Run gives vending its context until ctx ends, then waits for what
// runs; meanwhile it marks the zones a stopped server left being vended
// Failed (sweep).
func (v *Vendor) Run(ctx context.Context) {
	v.mu.Lock()
	v.ctx = ctx
	v.mu.Unlock()
	t := time.NewTicker(v.cfg.Sweep)
	defer t.Stop()
	for {
		v.sweep(ctx)
		select {
		case <-ctx.Done():
			v.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// staleAfter is how long a zone is vended at most: its deployment's
// Timeout and the steps before it. One still Accepted or Running after
// that was interrupted (its server stopped).
func (v *Vendor) staleAfter() time.Duration { return v.cfg.Timeout + 5*time.Minute }

// sweep marks the interrupted zones Failed, saying to PUT them again
// (every step of vending is idempotent).
func (v *Vendor) sweep(ctx context.Context) {
	var stale []*arm.ID
	for r, err := range store.ListAll(ctx, v.st, store.ListQuery{TypeKey: arm.KeyOf(Type)}) {
		if err != nil {
			v.cfg.Log.Warn("landing zones: looking for interrupted ones", "error", err)
			return
		}
		rec, err := value.Parse(r.Body)
		if err != nil {
			continue
		}
		p := rec.Field("properties")
		st := p.Field("provisioningState").Str()
		started, err := time.Parse(time.RFC3339Nano, p.Field("startedAt").Str())
		if (st == stateAccepted || st == stateRunning) && err == nil && v.cfg.Now().Sub(started) > v.staleAfter() {
			if id, err := arm.ParseID(r.ID); err == nil {
				stale = append(stale, id)
			}
		}
	}
	for _, id := range stale {
		err := v.mgr.ProviderWrite(ctx, func(p *resources.ProviderTx) error {
			cur, ok, err := p.Get(id)
			if err != nil || !ok {
				return err
			}
			props := cur.Field("properties")
			if st := props.Field("provisioningState").Str(); st != stateAccepted && st != stateRunning {
				return nil
			}
			e, _ := value.Parse([]byte(`{"code":"LandingZoneInterrupted","message":"Vending the landing zone was interrupted (its server stopped): PUT it again to vend it; every step is idempotent."}`))
			return p.Put(id, cur.With("properties", props.With("provisioningState", value.StringValue(stateFailed)).With("error", e)))
		})
		if err != nil {
			v.cfg.Log.Warn("landing zones: marking an interrupted one Failed", "landingZone", id.String(), "error", err)
		}
	}
}

const (
	stateAccepted  = "Accepted"
	stateRunning   = "Running"
	stateSucceeded = "Succeeded"
	stateFailed    = "Failed"
)

// build checks a landing zone request: properties.template (a template,
// Parse's rules, its errors' pointers under /properties/template),
// properties.team (the object id of the team's group), and refuses one
// that is being vended.
func (v *Vendor) build(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	if st := existing.Field("properties").Field("provisioningState").Str(); st == stateAccepted || st == stateRunning {
		if t, err := time.Parse(time.RFC3339Nano, existing.Field("properties").Field("startedAt").Str()); err == nil && c.Now.Sub(t) < v.staleAfter() {
			return value.Value{}, arm.Errorf("Conflict", "The landing zone '%s' is being vended (%s): wait for it to end.", c.ID.Name(), st)
		}
	}
	p := body.Field("properties")
	if p.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties is required: {\"template\": {...}, \"team\": \"<group object id>\"}.")
	}
	if _, err := FromValue(p.Field("template")); err != nil {
		var te *Error
		if errors.As(err, &te) {
			e := arm.Errorf("InvalidLandingZoneTemplate", "The landing zone template is not valid: %s (at /properties/template%s).", te.Message, te.Pointer)
			e.Target = "/properties/template" + te.Pointer
			return value.Value{}, e
		}
		return value.Value{}, err
	}
	team := p.Field("team").Str()
	if !uuid.Valid(team) {
		e := arm.Errorf("InvalidRequestContent", "properties.team must be the object id (a GUID) of the team's group, not '%s'.", arm.Clip(team, 64))
		e.Target = "/properties/team"
		return value.Value{}, e
	}
	display := p.Field("displayName").Str()
	if display == "" {
		display = c.ID.Name()
	}
	out := map[string]any{"id": c.ID.String(), "type": Type, "name": c.ID.Name(),
		"properties": map[string]any{"template": json.RawMessage(p.Field("template").JSON()), "team": strings.ToLower(team), "displayName": display,
			"provisioningState": stateAccepted, "vendId": c.NewID(), "startedAt": c.Now.UTC().Format(time.RFC3339Nano)}}
	b, _ := json.Marshal(out)
	return value.Parse(b)
}

// Committed implements resources.Committer: an accepted landing zone is
// vended, as the caller who asked.
func (v *Vendor) Committed(a *resources.Attributes) {
	if v == nil || a == nil || a.Spec == nil || !arm.EqualName(a.Spec.Type, Type) || (a.Operation != resources.OpCreate && a.Operation != resources.OpUpdate) {
		return
	}
	obj, caller := a.Object, a.Principal
	id := a.ID
	v.mu.Lock()
	ctx := v.ctx
	v.mu.Unlock()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		v.vend(ctx, id, obj, caller)
	}()
}

// vending is one landing zone being vended.
type vending struct {
	v      *Vendor
	id     *arm.ID
	caller activitylog.Caller
	corr   string
	props  value.Value
	out    map[string]any // what the record gets besides its state
}

func (v *Vendor) vend(ctx context.Context, id *arm.ID, obj value.Value, caller activitylog.Caller) {
	p := obj.Field("properties")
	z := &vending{v: v, id: id, caller: caller, corr: v.cfg.NewID(), props: p, out: map[string]any{}}
	vendID := p.Field("vendId").Str()
	z.set(ctx, vendID, stateRunning, nil)
	err := z.run(ctx)
	if err != nil {
		v.cfg.Log.Warn("a landing zone could not be vended", "landingZone", id.String(), "error", err)
		z.set(ctx, vendID, stateFailed, err)
		return
	}
	z.set(ctx, vendID, stateSucceeded, nil)
}

// stepError names the step that failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }

func (z *vending) run(ctx context.Context) error {
	t, err := FromValue(z.props.Field("template"))
	if err != nil {
		return &stepError{"template", err}
	}
	team := z.props.Field("team").Str()
	group := arm.ManagementGroupID(t.Group)
	// 1. The management group, made when it does not exist (one that
	// exists is left where it is).
	if _, err := z.do(ctx, "GET", group, "2021-04-01", nil); err != nil {
		if !isNotFound(err) {
			return &stepError{"managementGroup", err}
		}
		gp := map[string]any{"displayName": cmp.Or(t.GroupDisplayName, t.Group)}
		if t.Parent != "" {
			gp["details"] = map[string]any{"parent": map[string]any{"id": arm.ManagementGroupID(t.Parent)}}
		}
		if _, err := z.do(ctx, "PUT", group, "2021-04-01", map[string]any{"properties": gp}); err != nil {
			return &stepError{"managementGroup", err}
		}
	}
	z.out["managementGroupId"] = group
	// 2. The subscription, by an alias named after the zone, in the group
	// (placed again if it was moved out).
	alias, err := z.do(ctx, "PUT", "/providers/Microsoft.Subscription/aliases/"+z.id.Name(), "2021-10-01", map[string]any{"properties": map[string]any{
		"displayName": z.props.Field("displayName").Str(), "workload": t.Workload,
		"additionalProperties": map[string]any{"managementGroupId": group}}})
	if err != nil {
		return &stepError{"subscription", err}
	}
	sub := alias.Field("properties").Field("subscriptionId").Str()
	z.out["subscriptionId"] = sub
	if _, err := z.do(ctx, "PUT", group+"/subscriptions/"+sub, "2021-04-01", nil); err != nil {
		return &stepError{"subscription", err}
	}
	// 3. The policy assignments, at the group: above the team's
	// subscription, out of its Owner's reach.
	var assignments []string
	for _, a := range t.Assignments {
		aid := group + "/providers/Microsoft.Authorization/policyAssignments/" + a.Name
		if _, err := z.do(ctx, "PUT", aid, "2023-04-01", map[string]any{"properties": json.RawMessage(a.Body.JSON())}); err != nil {
			return &stepError{"policyAssignments/" + a.Name, err}
		}
		assignments = append(assignments, aid)
	}
	z.out["policyAssignments"] = assignments
	// 4. The team's roles at its subscription.
	var roles []string
	for _, r := range t.TeamRoles {
		guid, ok := z.v.cfg.RoleID(r)
		if !ok {
			return &stepError{"teamRoles", fmt.Errorf("the role '%s' is not a built-in role", r)}
		}
		name := nameUUID(z.id.Key() + "\n" + strings.ToLower(sub) + "\n" + team + "\n" + guid)
		rid := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + name
		if _, err := z.do(ctx, "PUT", rid, "2022-04-01", map[string]any{"properties": map[string]any{
			"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + guid,
			"principalId":      team, "principalType": "Group",
			"description": "landing zone " + z.id.Name()}}); err != nil {
			return &stepError{"teamRoles/" + r, err}
		}
		roles = append(roles, rid)
	}
	z.out["roleAssignments"] = roles
	// 5. The zone's resources, through the deployment engine.
	if t.Deployment.IsUndefined() {
		return nil
	}
	params := t.Parameters
	if params.IsUndefined() {
		params = value.ObjectValue()
	}
	declared := t.Deployment.Field("parameters")
	for name, val := range map[string]string{"team": team, "subscriptionId": sub, "landingZoneName": z.id.Name()} {
		if _, ok := declared.Get(name); ok {
			if _, given := params.Get(name); !given {
				params = params.With(name, value.ObjectValue(value.Member{Key: "value", Value: value.StringValue(val)}))
			}
		}
	}
	depName := "landingzone-" + z.props.Field("vendId").Str()[:8]
	depID, err := z.v.dep.Deploy(ctx, z.caller, "/subscriptions/"+sub, depName, t.Deployment, params)
	if err != nil {
		return &stepError{"deployment", err}
	}
	z.out["deploymentId"] = depID
	deadline := time.Now().Add(z.v.cfg.Timeout)
	for {
		state, derr, err := z.v.dep.Status(ctx, depID)
		if err != nil {
			return &stepError{"deployment", err}
		}
		switch state {
		case "Succeeded":
			if d, err := z.do(ctx, "GET", depID, "2021-04-01", nil); err == nil && d.Field("properties").Field("outputs").Kind() == value.Object {
				z.out["outputs"] = json.RawMessage(d.Field("properties").Field("outputs").JSON())
			}
			return nil
		case "Failed", "Canceled":
			return &stepError{"deployment", fmt.Errorf("the deployment %s ended %s: %s", depID, state, derr.JSON())}
		}
		if time.Now().After(deadline) {
			return &stepError{"deployment", fmt.Errorf("the deployment %s did not end within %s", depID, z.v.cfg.Timeout)}
		}
		select {
		case <-ctx.Done():
			return &stepError{"deployment", ctx.Err()}
		case <-time.After(z.v.cfg.Poll):
		}
	}
}

// do sends one request through the write path as the caller and waits
// for its long-running operation.
func (z *vending) do(ctx context.Context, method, path, apiVersion string, body any) (value.Value, error) {
	id, err := arm.ParseID(path)
	if err != nil {
		return value.Value{}, err
	}
	var b []byte
	if body != nil {
		if b, err = json.Marshal(body); err != nil {
			return value.Value{}, err
		}
	}
	resp, err := z.v.mgr.Handle(ctx, &resources.Request{Method: method, Path: path, ID: id, APIVersion: apiVersion, Body: b,
		Caller: z.caller, CorrelationID: z.corr})
	if err != nil {
		return value.Value{}, err
	}
	if resp.Operation != nil {
		aerr, err := z.v.mgr.WaitOperation(ctx, resp.Operation, z.v.cfg.Poll)
		if err != nil {
			return value.Value{}, err
		}
		if aerr != nil {
			return value.Value{}, aerr
		}
	}
	if len(resp.Body) == 0 {
		return value.ObjectValue(), nil
	}
	return value.Parse(resp.Body)
}

func isNotFound(err error) bool {
	var ae *arm.Error
	return errors.As(err, &ae) && (ae.Code == "ResourceNotFound" || ae.Code == "NotFound")
}

// set records the zone's state (unless a later PUT vends it anew).
func (z *vending) set(ctx context.Context, vendID, state string, failure error) {
	err := z.v.mgr.ProviderWrite(context.WithoutCancel(ctx), func(p *resources.ProviderTx) error {
		cur, ok, err := p.Get(z.id)
		if err != nil || !ok || cur.Field("properties").Field("vendId").Str() != vendID {
			return err
		}
		props := cur.Field("properties").With("provisioningState", value.StringValue(state))
		for k, x := range z.out {
			b, _ := json.Marshal(x)
			xv, _ := value.Parse(b)
			props = props.With(k, xv)
		}
		if failure != nil {
			e := map[string]any{"code": "LandingZoneVendingFailed", "message": failure.Error()}
			var se *stepError
			if errors.As(failure, &se) {
				e["target"] = se.step
				var ae *arm.Error
				if errors.As(se.err, &ae) {
					e["details"] = []any{map[string]any{"code": ae.Code, "message": ae.Message}}
				}
			}
			b, _ := json.Marshal(e)
			ev, _ := value.Parse(b)
			props = props.With("error", ev)
		} else {
			props = props.Without("error")
		}
		return p.Put(z.id, cur.With("properties", props))
	})
	if err != nil {
		z.v.cfg.Log.Warn("a landing zone's state could not be recorded", "landingZone", z.id.String(), "state", state, "error", err)
	}
}

// nameUUID is a name-based UUID (version 5 layout) of s: a role
// assignment vended again keeps its name.
func nameUUID(s string) string {
	sum := sha1.Sum([]byte("mlgov landing zone\n" + s))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return uuid.Format(&b)
}

// RoleIDs is Config.RoleID over role definitions: by role name
// (case-insensitively) or GUID.
func RoleIDs(defs []*rbac.RoleDefinition) func(string) (string, bool) {
	by := map[string]string{}
	for _, d := range defs {
		by[strings.ToLower(d.RoleName)] = d.Name
		by[strings.ToLower(d.Name)] = d.Name
	}
	return func(n string) (string, bool) {
		id, ok := by[strings.ToLower(strings.TrimSpace(n))]
		return id, ok
	}
}
