package deploy

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/deploy/template"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

// The types served.
const (
	TypeDeployments = "Microsoft.Resources/deployments"
	TypeOperations  = "Microsoft.Resources/deployments/operations"
)

// Provisioning states of a deployment.
const (
	stateAccepted  = "Accepted"
	stateRunning   = "Running"
	stateSucceeded = "Succeeded"
	stateFailed    = "Failed"
	stateCanceled  = "Canceled"
)

func active(state string) bool { return state == stateAccepted || state == stateRunning }

// register adds the deployment types to reg.
func (e *Engine) register(reg *resources.Registry) {
	reg.Add(&resources.TypeSpec{
		Type:                TypeDeployments,
		NoProvisioningState: true, // the state is the deployment's own (Accepted, Running, ...)
		ReadsStore:          true,
		Secrets:             true, // template, parameter values, caller
		ListAtScopeOnly:     true,
		Build:               e.build,
		Actions: map[string]*resources.ActionSpec{
			"cancel":         {Name: "cancel", Run: cancelAction, NoContent: true},
			"exporttemplate": {Name: "exportTemplate", Run: exportAction},
		},
	})
	reg.Add(&resources.TypeSpec{
		Type:                TypeOperations,
		NoProvisioningState: true,
		ReadOnly:            "Deployment operations are read-only: their deployment records them, and they are deleted with it.",
	})
}

// spec is a deployment request as checked.
type spec struct {
	mode     string
	tmpl     *template.Template
	rawTmpl  value.Value
	params   value.Value // as sent, deployment form
	location string
}

// parseSpec checks a deployment body ({location, properties: {mode,
// template, parameters}}) as Azure does; links to templates or
// parameters elsewhere are refused (mlgov fetches nothing).
func parseSpec(id *arm.ID, body value.Value) (*spec, error) {
	if body.Kind() != value.Object {
		return nil, arm.Errorf("InvalidRequestContent", "The request content must be a JSON object.")
	}
	props := body.Field("properties")
	if props.Kind() != value.Object {
		return nil, target(arm.Errorf("InvalidRequestContent", "The deployment needs a 'properties' object."), "properties")
	}
	s := &spec{}
	for _, link := range []string{"templateLink", "parametersLink"} {
		if v, ok := props.Get(link); ok && !v.IsNullish() {
			return nil, target(arm.Errorf("InvalidRequestContent", "properties.%s is not supported: mlgov fetches nothing; send the template and its parameters inline (properties.template, properties.parameters).", link), "properties."+link)
		}
	}
	mode := props.Field("mode")
	switch {
	case mode.Kind() != value.String:
		return nil, target(arm.Errorf("InvalidRequestContent", "properties.mode is required: 'Incremental' or 'Complete'."), "properties.mode")
	case strings.EqualFold(mode.Str(), "Incremental"):
		s.mode = "Incremental"
	case strings.EqualFold(mode.Str(), "Complete"):
		s.mode = "Complete"
	default:
		return nil, target(arm.Errorf("InvalidRequestContent", "properties.mode must be 'Incremental' or 'Complete', not '%s'.", arm.Clip(mode.Str(), 64)), "properties.mode")
	}
	atSub := id.ResourceGroup == ""
	if atSub && s.mode == "Complete" {
		return nil, target(arm.Errorf("InvalidDeployment", "Complete mode is supported for resource group deployments only."), "properties.mode")
	}
	s.rawTmpl = props.Field("template")
	if s.rawTmpl.Kind() != value.Object {
		return nil, target(arm.Errorf("InvalidRequestContent", "properties.template must be the template, a JSON object."), "properties.template")
	}
	t, err := template.FromValue(s.rawTmpl)
	if err != nil {
		return nil, templateError(err)
	}
	if atSub != (t.Scope == template.SubscriptionScope) {
		want := "deploymentTemplate.json (resource group)"
		if atSub {
			want = "subscriptionDeploymentTemplate.json"
		}
		return nil, target(arm.Errorf("InvalidTemplate", "The template's $schema does not fit the deployment's scope: a deployment at this scope takes %s.", want), "properties.template.$schema")
	}
	s.tmpl = t
	s.params = props.Field("parameters")
	if !s.params.IsNullish() && s.params.Kind() != value.Object {
		return nil, target(arm.Errorf("InvalidRequestContent", "properties.parameters must be an object of {\"name\": {\"value\": ...}}."), "properties.parameters")
	}
	if loc := body.Field("location"); loc.Kind() == value.String {
		s.location = arm.NormalizeLocation(loc.Str())
	}
	if atSub && s.location == "" {
		return nil, target(arm.Errorf("LocationRequired", "A subscription deployment needs a location (where its record is kept)."), "location")
	}
	return s, nil
}

func target(e *arm.Error, t string) *arm.Error {
	e.Target = t
	return e
}

// templateError is a template's errors as one ARM error: InvalidTemplate
// with each problem in details, its JSON pointer as target.
func templateError(err error) *arm.Error {
	var list template.ErrorList
	switch x := err.(type) {
	case template.ErrorList:
		list = x
	case *template.Error:
		list = template.ErrorList{x}
	default:
		return arm.Errorf("InvalidTemplate", "Deployment template validation failed: %s", err)
	}
	code := "InvalidTemplate"
	out := &arm.Error{Code: code}
	for _, e := range list {
		d := &arm.Error{Code: e.Code, Message: e.Error(), Target: "/properties/template" + e.Pointer}
		if e.Code == template.CodeInvalidParameter {
			d.Target = "/properties" + e.Pointer
		}
		out.Details = append(out.Details, d)
	}
	out.Message = "Deployment template validation failed: " + list[0].Error()
	if len(list) > 1 {
		out.Message += fmt.Sprintf(" (and %d more problems: see details)", len(list)-1)
	}
	return out
}

// context is the deployment context of id; rgLocation is its resource
// group's location (resource-group deployments).
func (e *Engine) context(id *arm.ID, s *spec, rgLocation string, now time.Time) template.Context {
	dc := template.Context{TenantID: e.cfg.TenantID, SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
		Location: s.location, DeploymentName: id.Name(), Now: now, NewGUID: e.cfg.NewID}
	if id.ResourceGroup != "" {
		dc.Location = rgLocation
	}
	return dc
}

// stored is what a deployment keeps as its secrets.
type stored struct {
	Template   value.Value
	Parameters value.Value // the values bound at creation (newGuid, utcNow fixed)
	Caller     activitylog.Caller
	Groups     []string
	Mode       string
	Location   string
}

func (s *stored) value() value.Value {
	c := s.Caller
	groups := make([]value.Value, len(s.Groups))
	for i, g := range s.Groups {
		groups[i] = value.StringValue(g)
	}
	caller := value.ObjectValue(
		value.Member{Key: "name", Value: value.StringValue(c.Name)},
		value.Member{Key: "objectId", Value: value.StringValue(c.ObjectID)},
		value.Member{Key: "tenantId", Value: value.StringValue(c.TenantID)},
		value.Member{Key: "appId", Value: value.StringValue(c.AppID)},
		value.Member{Key: "type", Value: value.StringValue(c.Type)},
		value.Member{Key: "groups", Value: value.ArrayValue(groups)})
	if len(c.Claims) > 0 {
		if v, err := value.Parse(c.Claims); err == nil {
			caller = caller.With("claims", v)
		}
	}
	return value.ObjectValue(
		value.Member{Key: "template", Value: s.Template},
		value.Member{Key: "parameters", Value: s.Parameters},
		value.Member{Key: "mode", Value: value.StringValue(s.Mode)},
		value.Member{Key: "location", Value: value.StringValue(s.Location)},
		value.Member{Key: "caller", Value: caller})
}

func storedFrom(v value.Value) *stored {
	c := v.Field("caller")
	s := &stored{Template: v.Field("template"), Parameters: v.Field("parameters"), Mode: v.Field("mode").Str(), Location: v.Field("location").Str(),
		Caller: activitylog.Caller{Name: c.Field("name").Str(), ObjectID: c.Field("objectId").Str(), TenantID: c.Field("tenantId").Str(),
			AppID: c.Field("appId").Str(), Type: c.Field("type").Str()}}
	if cl := c.Field("claims"); cl.Kind() == value.Object {
		s.Caller.Claims = []byte(cl.JSON())
	}
	for _, g := range c.Field("groups").Elems() {
		s.Groups = append(s.Groups, g.Str())
	}
	s.Caller.Groups = s.Groups
	return s
}

// build is the Build hook of a deployment's PUT: the request checked and
// planned (a template that cannot be planned is refused here, as Azure's
// validation does), the record stored Accepted, the template, the bound
// parameters and the caller kept as its secrets. The Engine runs it once
// committed.
func (e *Engine) build(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	if st := existing.Field("properties").Field("provisioningState").Str(); active(st) {
		return value.Value{}, arm.Errorf("DeploymentActive", "Unable to edit or replace deployment '%s': previous deployment from '%s' is still active (state: %s).",
			c.ID.Name(), existing.Field("properties").Field("timestamp").Str(), st)
	}
	s, err := parseSpec(c.ID, body)
	if err != nil {
		return value.Value{}, err
	}
	rgLoc := ""
	if c.ID.ResourceGroup != "" {
		rg, err := c.Get((&arm.ID{SubscriptionID: c.ID.SubscriptionID, ResourceGroup: c.ID.ResourceGroup}).Key())
		if err != nil {
			return value.Value{}, err
		}
		if rg != nil {
			if v, err := value.Parse(rg.Body); err == nil {
				rgLoc = v.Field("location").Str()
			}
		}
	}
	plan, err := s.tmpl.Plan(c.Context, s.params, e.context(c.ID, s, rgLoc, c.Now), nil)
	if err != nil {
		return value.Value{}, templateError(err)
	}
	bound := plan.Parameters()
	groups := c.Principal.Groups
	c.SetSecrets((&stored{Template: s.rawTmpl, Parameters: bound, Caller: c.Principal, Groups: groups, Mode: s.mode, Location: s.location}).value())
	props := e.recordProps(s, plan, bound, c.Now)
	out := obj.With("properties", props)
	out = out.Without("systemData")
	return out, nil
}

// recordProps are the properties of a new deployment record.
func (e *Engine) recordProps(s *spec, plan *template.Plan, bound value.Value, now time.Time) value.Value {
	return value.ObjectValue(
		value.Member{Key: "templateHash", Value: value.StringValue(templateHash(s.rawTmpl))},
		value.Member{Key: "parameters", Value: shownParameters(s.rawTmpl, bound)},
		value.Member{Key: "mode", Value: value.StringValue(s.mode)},
		value.Member{Key: "provisioningState", Value: value.StringValue(stateAccepted)},
		value.Member{Key: "timestamp", Value: value.StringValue(now.UTC().Format(time.RFC3339Nano))},
		value.Member{Key: "duration", Value: value.StringValue("PT0S")},
		value.Member{Key: "correlationId", Value: value.StringValue(e.cfg.NewID())},
		value.Member{Key: "providers", Value: providers(plan)},
		value.Member{Key: "dependencies", Value: dependencies(plan)},
		value.Member{Key: "outputResources", Value: value.ArrayValue(nil)},
	)
}

// templateHash is a stable hash of the template (Azure's is its own
// number; clients compare it, never compute it).
func templateHash(t value.Value) string {
	h := fnv.New64a()
	h.Write([]byte(t.JSON()))
	return strconv.FormatUint(h.Sum64(), 10)
}

// shownParameters are the parameter values as a GET shows them:
// {"name": {"type": "String", "value": ...}}, secure values without
// their value.
func shownParameters(tmpl, bound value.Value) value.Value {
	decl := tmpl.Field("parameters")
	b := value.NewObjectBuilder(bound.Len())
	for i := range bound.Len() {
		k, v := bound.MemberAt(i)
		typ := typeName(decl.Field(k).Field("type").Str())
		m := []value.Member{{Key: "type", Value: value.StringValue(typ)}}
		if !strings.HasPrefix(typ, "Secure") {
			m = append(m, value.Member{Key: "value", Value: v.Field("value")})
		}
		b.Add(k, value.ObjectValue(m...))
	}
	return b.Object()
}

func typeName(t string) string {
	switch strings.ToLower(t) {
	case "string":
		return "String"
	case "securestring":
		return "SecureString"
	case "int":
		return "Int"
	case "bool":
		return "Bool"
	case "object":
		return "Object"
	case "secureobject":
		return "SecureObject"
	case "array":
		return "Array"
	}
	return t
}

// providers lists the resource types the plan writes, by namespace.
func providers(plan *template.Plan) value.Value {
	type ns struct {
		name  string
		types []string
	}
	var order []*ns
	byName := map[string]*ns{}
	seen := map[string]bool{}
	for _, r := range plan.Resources {
		i := strings.IndexByte(r.Type, '/')
		if i < 0 {
			continue
		}
		n := byName[strings.ToLower(r.Type[:i])]
		if n == nil {
			n = &ns{name: r.Type[:i]}
			byName[strings.ToLower(r.Type[:i])] = n
			order = append(order, n)
		}
		if !seen[strings.ToLower(r.Type)] {
			seen[strings.ToLower(r.Type)] = true
			n.types = append(n.types, r.Type[i+1:])
		}
	}
	out := make([]value.Value, 0, len(order))
	for _, n := range order {
		ts := make([]value.Value, len(n.types))
		for i, t := range n.types {
			ts[i] = value.ObjectValue(value.Member{Key: "resourceType", Value: value.StringValue(t)})
		}
		out = append(out, value.ObjectValue(value.Member{Key: "namespace", Value: value.StringValue(n.name)},
			value.Member{Key: "resourceTypes", Value: value.ArrayValue(ts)}))
	}
	return value.ArrayValue(out)
}

// dependencies lists each resource's dependsOn as Azure's record does.
func dependencies(plan *template.Plan) value.Value {
	byID := map[string]*template.Resource{}
	for _, r := range plan.Resources {
		byID[strings.ToLower(r.ID)] = r
	}
	var out []value.Value
	for _, r := range plan.Resources {

		deps := make([]value.Value, 0, len(r.DependsOn))
		for _, d := range r.DependsOn {
			dr := byID[strings.ToLower(d)]
			if dr == nil || dr.CopyName != "" && strings.EqualFold(dr.CopyName, r.CopyName) {
				continue // a serial loop's previous batch is its order, not a dependency
			}
			deps = append(deps, value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(dr.ID)},
				value.Member{Key: "resourceType", Value: value.StringValue(dr.Type)}, value.Member{Key: "resourceName", Value: value.StringValue(dr.Name)}))
		}
		if len(deps) == 0 {
			continue
		}
		out = append(out, value.ObjectValue(value.Member{Key: "dependsOn", Value: value.ArrayValue(deps)},
			value.Member{Key: "id", Value: value.StringValue(r.ID)}, value.Member{Key: "resourceType", Value: value.StringValue(r.Type)},
			value.Member{Key: "resourceName", Value: value.StringValue(r.Name)}))
	}
	return value.ArrayValue(out)
}

// cancelAction cancels an active deployment: its state becomes Canceled
// and its runner stops before the next resources.
func cancelAction(c *resources.Ctx, res, _ value.Value) (value.Value, value.Value, error) {
	st := res.Field("properties").Field("provisioningState").Str()
	if !active(st) {
		return value.Value{}, value.Value{}, arm.Errorf("Conflict", "The deployment '%s' cannot be canceled: it is not running (state: %s).", c.ID.Name(), st)
	}
	props := res.Field("properties").With("provisioningState", value.StringValue(stateCanceled))
	props = props.With("duration", value.StringValue(duration(props.Field("timestamp").Str(), c.Now)))
	return res.With("properties", props), value.Value{}, nil
}

// exportAction returns the deployment's template.
func exportAction(c *resources.Ctx, _ value.Value, _ value.Value) (value.Value, value.Value, error) {
	if c.Secrets.Kind() != value.Object {
		return value.Value{}, value.Value{}, arm.Errorf("DeploymentNotFound", "The template of deployment '%s' is not kept.", c.ID.Name())
	}
	return value.Value{}, value.ObjectValue(value.Member{Key: "template", Value: c.Secrets.Field("template")}), nil
}

// duration is ISO 8601's PTnS from start (RFC 3339) to now.
func duration(start string, now time.Time) string {
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return "PT0S"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S"
}
