package deploy

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/deploy/template"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

// Handler serves the deployment requests that are more than a write or
// read of the record: a PUT is checked first (preflight: every resource
// tried through the write path without writing, as Azure validates a
// deployment before it starts), validate answers that check alone, and
// whatIf says what would change. Everything else goes to the manager.
// It authorizes what it serves itself.
type Handler struct{ e *Engine }

// Handler returns the engine's request handler.
func (e *Engine) Handler() *Handler { return &Handler{e: e} }

// isDeployment reports whether id is a deployment (resource group or
// subscription scope) or below one.
func isDeployment(id *arm.ID) bool {
	return len(id.Parts) == 1 && strings.EqualFold(id.Parts[0].Namespace, "Microsoft.Resources") && strings.EqualFold(id.Parts[0].Type, "deployments") && id.Parts[0].Name != ""
}

// Serves reports whether the handler takes the request's path: a
// deployment and its validate and whatIf actions.
func (h *Handler) Serves(id *arm.ID) bool {
	if !isDeployment(id) {
		return false
	}
	switch strings.ToLower(id.Trailing) {
	case "", "validate", "whatif":
		return true
	}
	return false
}

// Handle serves a request Serves took.
func (h *Handler) Handle(ctx context.Context, r *resources.Request) (*resources.Response, error) {
	id := r.ID
	dep := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}
	action := strings.ToLower(id.Trailing)
	switch {
	case action == "" && r.Method == "PUT":
		if err := h.e.mgr.Authorize(ctx, &r.Caller, TypeDeployments+"/write", dep.String()); err != nil {
			return nil, err
		}
		if r.APIVersion == "" {
			return h.e.mgr.Handle(ctx, r) // the manager's refusal
		}
		if _, err := h.preflight(ctx, r, dep); err != nil {
			return nil, err
		}
		return h.e.mgr.Handle(ctx, r)
	case action == "" && r.Method == "PATCH":
		return nil, arm.Errorf("MethodNotAllowed", "A deployment is not updated: PUT it again to run it again.")
	case action == "":
		return h.e.mgr.Handle(ctx, r)
	case r.Method != "POST":
		return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", r.Method, r.Path)
	case r.APIVersion == "":
		return nil, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	case action == "validate":
		if err := h.e.mgr.Authorize(ctx, &r.Caller, TypeDeployments+"/validate/action", dep.String()); err != nil {
			return nil, err
		}
		pf, err := h.preflight(ctx, r, dep)
		if err != nil {
			return nil, err
		}
		return &resources.Response{Body: []byte(pf.result(h.e, dep).JSON())}, nil
	default: // whatif
		if err := h.e.mgr.Authorize(ctx, &r.Caller, TypeDeployments+"/whatIf/action", dep.String()); err != nil {
			return nil, err
		}
		return h.whatIf(ctx, r, dep)
	}
}

// checked is a deployment request checked and planned.
type checked struct {
	spec  *spec
	plan  *template.Plan
	now   time.Time
	tried map[*template.Resource]value.Value // the resources as they would be stored
}

// plan checks a deployment body and plans its template, with no reads of
// the live state (what reads it is planned when written).
func (h *Handler) plan(ctx context.Context, r *resources.Request, dep *arm.ID) (*checked, error) {
	body, err := value.ParseStrict(r.Body)
	if err != nil {
		return nil, arm.Errorf("InvalidRequestContent", "The request content is not valid JSON: %v", err)
	}
	s, err := parseSpec(dep, body)
	if err != nil {
		return nil, err
	}
	if err := h.requireScope(ctx, dep); err != nil {
		return nil, err
	}
	rgLoc := ""
	if dep.ResourceGroup != "" {
		rg, err := h.e.record(ctx, &arm.ID{SubscriptionID: dep.SubscriptionID, ResourceGroup: dep.ResourceGroup})
		if err != nil {
			return nil, err
		}
		rgLoc = rg.Field("location").Str()
	}
	now := h.e.cfg.Now()
	plan, err := s.tmpl.Plan(ctx, s.params, h.e.context(dep, s, rgLoc, now), nil)
	if err != nil {
		return nil, templateError(err)
	}
	return &checked{spec: s, plan: plan, now: now, tried: map[*template.Resource]value.Value{}}, nil
}

// requireScope refuses a deployment whose subscription or resource
// group does not exist.
func (h *Handler) requireScope(ctx context.Context, dep *arm.ID) error {
	sub, err := h.e.record(ctx, &arm.ID{SubscriptionID: dep.SubscriptionID})
	if err != nil {
		return err
	}
	if sub.IsUndefined() {
		return arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", dep.SubscriptionID)
	}
	if dep.ResourceGroup == "" {
		return nil
	}
	rg, err := h.e.record(ctx, &arm.ID{SubscriptionID: dep.SubscriptionID, ResourceGroup: dep.ResourceGroup})
	if err != nil {
		return err
	}
	if rg.IsUndefined() {
		return arm.Errorf("ResourceGroupNotFound", "Resource group '%s' could not be found.", dep.ResourceGroup)
	}
	return nil
}

// preflight plans the deployment and tries each resource that can be
// tried now through the write path without writing, as the caller:
// authorization, validation and policy refuse it as they would refuse
// the write. Resources whose body reads the live state, nested
// deployments, and refusals because a parent does not exist yet (the
// template may make it) wait for the deployment itself.
func (h *Handler) preflight(ctx context.Context, r *resources.Request, dep *arm.ID) (*checked, error) {
	c, err := h.plan(ctx, r, dep)
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		errs  = make([]*arm.Error, len(c.plan.Resources))
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 8)
		fails []*arm.Error
	)
	for i, res := range c.plan.Resources {
		if res.Deferred || res.Deployment != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			after, aerr := h.try(ctx, r, res)
			mu.Lock()
			defer mu.Unlock()
			errs[i] = aerr
			if aerr == nil && !after.IsUndefined() {
				c.tried[res] = after
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			fails = append(fails, e)
		}
	}
	if len(fails) > 0 {
		return nil, preflightError(dep, r.CorrelationID, fails)
	}
	return c, nil
}

// try runs one resource's PUT without writing: the resource as it would
// be stored (Undefined when it cannot be tried yet), or the refusal.
func (h *Handler) try(ctx context.Context, r *resources.Request, res *template.Resource) (value.Value, *arm.Error) {
	id, err := arm.ParseID(res.ID)
	if err != nil {
		return value.Value{}, &arm.Error{Code: "InvalidResourceId", Message: err.Error(), Target: res.ID}
	}
	resp, err := h.e.mgr.Handle(ctx, &resources.Request{Method: "PUT", Path: res.ID, ID: id, APIVersion: res.APIVersion, Body: []byte(res.Body.JSON()),
		Caller: r.Caller, CorrelationID: r.CorrelationID, DryRun: true})
	if err != nil {
		ae := asARM(err)
		switch ae.Code {
		case "ParentResourceNotFound", "ResourceGroupNotFound", "ResourceNotFound":
			return value.Value{}, nil
		}
		if ae.Target == "" {
			ae.Target = res.ID
		}
		return value.Value{}, ae
	}
	v, err := value.Parse(resp.Body)
	if err != nil {
		return value.Value{}, nil
	}
	return v, nil
}

// preflightError is Azure's answer to a deployment that does not pass
// validation: InvalidTemplateDeployment with each refusal in details.
func preflightError(dep *arm.ID, corr string, fails []*arm.Error) *arm.Error {
	msg := "The template deployment '" + dep.Name() + "' is not valid according to the validation procedure. The tracking id is '" + corr + "'. See inner errors for details."
	for _, f := range fails {
		if f.Code == "RequestDisallowedByPolicy" {
			msg = "The template deployment failed because of policy violation. Please see details for more information."
			break
		}
	}
	return &arm.Error{Code: "InvalidTemplateDeployment", Message: msg, Details: fails}
}

// result is validate's answer: the deployment as it would be recorded,
// with the resources validated.
func (c *checked) result(e *Engine, dep *arm.ID) value.Value {
	props := e.recordProps(c.spec, c.plan, c.plan.Parameters(), c.now)
	props = props.With("provisioningState", value.StringValue(stateSucceeded))
	var vr []value.Value
	for _, res := range c.plan.Resources {
		vr = append(vr, value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(res.ID)}))
	}
	props = props.With("validatedResources", value.ArrayValue(vr))
	out := value.ObjectValue(
		value.Member{Key: "id", Value: value.StringValue(dep.String())},
		value.Member{Key: "name", Value: value.StringValue(dep.Name())},
		value.Member{Key: "type", Value: value.StringValue(TypeDeployments)})
	if c.spec.location != "" {
		out = out.With("location", value.StringValue(c.spec.location))
	}
	return out.With("properties", props)
}

// whatIf answers what the deployment would change: each resource of the
// template Create, Modify (with the property changes), NoChange or
// Deploy (its body reads the live state, so it cannot be predicted), and
// in Complete mode the resources it would Delete. The resources are
// predicted by the same preflight a deployment runs, so a Modify policy
// shows in them and a refusal fails the what-if.
func (h *Handler) whatIf(ctx context.Context, r *resources.Request, dep *arm.ID) (*resources.Response, error) {
	c, err := h.preflight(ctx, r, dep)
	if err != nil {
		var ae *arm.Error
		if ae = asARM(err); ae.Code == "InternalServerError" {
			return nil, err
		}
		out := value.ObjectValue(value.Member{Key: "status", Value: value.StringValue(stateFailed)}, value.Member{Key: "error", Value: errorValue(ae)})
		return &resources.Response{Body: []byte(out.JSON())}, nil
	}
	idOnly := false
	if body, err := value.Parse(r.Body); err == nil {
		idOnly = strings.EqualFold(body.Field("properties").Field("whatIfSettings").Field("resultFormat").Str(), "ResourceIdOnly")
	}
	var changes []value.Value
	for _, res := range c.plan.Resources {
		before, err := h.current(ctx, r, res.ID)
		if err != nil {
			return nil, err
		}
		after, tried := c.tried[res]
		if !tried && !res.Deferred && res.Deployment == nil {
			after = res.Body
		}
		ch := []value.Member{{Key: "resourceId", Value: value.StringValue(res.ID)}}
		var kind string
		var delta []value.Value
		switch {
		case before.IsUndefined():
			kind = "Create"
		case res.Deferred || res.Deployment != nil:
			kind = "Deploy"
		default:
			delta = diff("", strip(before), strip(after))
			kind = "NoChange"
			if len(delta) > 0 {
				kind = "Modify"
			}
		}
		ch = append(ch, value.Member{Key: "changeType", Value: value.StringValue(kind)})
		if !idOnly {
			if !before.IsUndefined() {
				ch = append(ch, value.Member{Key: "before", Value: before})
			}
			if !after.IsUndefined() {
				ch = append(ch, value.Member{Key: "after", Value: after})
			}
			if len(delta) > 0 {
				ch = append(ch, value.Member{Key: "delta", Value: value.ArrayValue(delta)})
			}
		}
		changes = append(changes, value.ObjectValue(ch...))
	}
	if c.spec.mode == "Complete" {
		gone, err := h.e.unnamed(ctx, c.plan, dep)
		if err != nil {
			return nil, err
		}
		for _, res := range gone {
			ch := []value.Member{{Key: "resourceId", Value: value.StringValue(res.ID)}, {Key: "changeType", Value: value.StringValue("Delete")}}
			if v, err := value.Parse(res.Body); err == nil && !idOnly {
				ch = append(ch, value.Member{Key: "before", Value: v})
			}
			changes = append(changes, value.ObjectValue(ch...))
		}
	}
	out := value.ObjectValue(value.Member{Key: "status", Value: value.StringValue(stateSucceeded)},
		value.Member{Key: "properties", Value: value.ObjectValue(value.Member{Key: "changes", Value: value.ArrayValue(changes)})})
	return &resources.Response{Body: []byte(out.JSON())}, nil
}

// current reads a resource as the caller may (Undefined when it does not
// exist or the caller may not read it).
func (h *Handler) current(ctx context.Context, r *resources.Request, rid string) (value.Value, error) {
	id, err := arm.ParseID(rid)
	if err != nil {
		return value.Value{}, nil
	}
	resp, err := h.e.mgr.Handle(ctx, &resources.Request{Method: "GET", Path: rid, ID: id, APIVersion: h.e.apiVersion(id.Type()), Caller: r.Caller, CorrelationID: r.CorrelationID})
	if err != nil {
		if ae := asARM(err); ae.Code == "InternalServerError" {
			return value.Value{}, err
		}
		return value.Value{}, nil
	}
	v, err := value.Parse(resp.Body)
	if err != nil {
		return value.Value{}, nil
	}
	return v, nil
}

// strip drops what a deployment does not set and what-if does not
// compare: identity of the record, system data, entity tags and the
// provisioning state.
func strip(v value.Value) value.Value {
	if v.Kind() != value.Object {
		return v
	}
	v = v.Without("id").Without("name").Without("type").Without("systemData").Without("etag")
	if p := v.Field("properties"); p.Kind() == value.Object {
		v = v.With("properties", p.Without("provisioningState"))
	}
	return v
}

// diff lists the property changes from before to after (what-if's
// delta: Create, Delete, Modify, Array), paths joined with '.'.
func diff(path string, before, after value.Value) []value.Value {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	change := func(kind string, p string, b, a value.Value, children []value.Value) value.Value {
		m := []value.Member{{Key: "path", Value: value.StringValue(p)}, {Key: "propertyChangeType", Value: value.StringValue(kind)}}
		if !b.IsUndefined() {
			m = append(m, value.Member{Key: "before", Value: b})
		}
		if !a.IsUndefined() {
			m = append(m, value.Member{Key: "after", Value: a})
		}
		if len(children) > 0 {
			m = append(m, value.Member{Key: "children", Value: value.ArrayValue(children)})
		}
		return value.ObjectValue(m...)
	}
	switch {
	case before.Kind() == value.Object && after.Kind() == value.Object:
		var out []value.Value
		for i := range after.Len() {
			k, a := after.MemberAt(i)
			b, ok := before.Get(k)
			if !ok {
				out = append(out, change("Create", join(k), value.Value{}, a, nil))
				continue
			}
			out = append(out, diff(join(k), b, a)...)
		}
		for i := range before.Len() {
			k, b := before.MemberAt(i)
			if _, ok := after.Get(k); !ok {
				out = append(out, change("Delete", join(k), b, value.Value{}, nil))
			}
		}
		return out
	case value.Equal(before, after):
		return nil
	case before.Kind() == value.Array && after.Kind() == value.Array:
		var children []value.Value
		n := max(before.Len(), after.Len())
		for i := range n {
			p := strconv.Itoa(i)
			switch {
			case i >= before.Len():
				children = append(children, change("Create", p, value.Value{}, after.Elems()[i], nil))
			case i >= after.Len():
				children = append(children, change("Delete", p, before.Elems()[i], value.Value{}, nil))
			default:
				if !value.Equal(before.Elems()[i], after.Elems()[i]) {
					children = append(children, change("Modify", p, before.Elems()[i], after.Elems()[i], nil))
				}
			}
		}
		return []value.Value{change("Array", path, value.Value{}, value.Value{}, children)}
	}
	return []value.Value{change("Modify", path, before, after, nil)}
}
