package template

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// tfunc is a template-only function bound by this package.
type tfunc struct {
	name     string
	min, max int
	call     func(p *planner, args []value.Value) (value.Value, error)
}

var tfuncs = map[string]*tfunc{
	"parameters":             {"parameters", 1, 1, fnParameters},
	"variables":              {"variables", 1, 1, fnVariables},
	"copyindex":              {"copyIndex", 0, 2, fnCopyIndex},
	"resourceid":             {"resourceId", 2, -1, fnResourceID},
	"subscriptionresourceid": {"subscriptionResourceId", 2, -1, fnSubscriptionResourceID},
	"tenantresourceid":       {"tenantResourceId", 2, -1, fnTenantResourceID},
	"extensionresourceid":    {"extensionResourceId", 3, -1, fnExtensionResourceID},
	"resourcegroup":          {"resourceGroup", 0, 0, fnResourceGroup},
	"subscription":           {"subscription", 0, 0, fnSubscription},
	"tenant":                 {"tenant", 0, 0, fnTenant},
	"deployment":             {"deployment", 0, 0, fnDeployment},
	"environment":            {"environment", 0, 0, fnEnvironment},
	"reference":              {"reference", 1, 3, fnReference},
	"newguid":                {"newGuid", 0, 0, fnNewGUID},
	"utcnow":                 {"utcNow", 0, 1, fnUtcNow},
}

// notYet are ARM template functions this package does not support yet.
var notYet = map[string]bool{
	"managementgroup": true, "managementgroupresourceid": true, "references": true, "pickzones": true,
	"providers": true, "lambda": true, "filter": true, "map": true, "reduce": true, "sort": true,
	"toobject": true, "groupby": true, "mapvalues": true,
}

// binder binds the template functions for expr.Compile.
type binder struct{ p *planner }

func (b binder) Bind(call *expr.Call, args []expr.Evaluable) (expr.Evaluable, bool, error) {
	lname := strings.ToLower(call.Name)
	f, ok := tfuncs[lname]
	if !ok && strings.HasPrefix(lname, "list") {
		f = &tfunc{name: call.Name, min: 2, max: 3, call: listFn(call.Name)}
		ok = true
	}
	if !ok {
		if notYet[lname] {
			return nil, false, &expr.EvalError{Func: call.Name, Msg: "not supported by mlgov templates yet"}
		}
		return nil, false, nil
	}
	if len(args) < f.min || (f.max >= 0 && len(args) > f.max) {
		return nil, false, &expr.EvalError{Func: f.name, Msg: fmt.Sprintf("expects %d to %d arguments, got %d", f.min, f.max, len(args))}
	}
	return &fnNode{p: b.p, f: f, args: args}, true, nil
}

type fnNode struct {
	p    *planner
	f    *tfunc
	args []expr.Evaluable
}

func (n *fnNode) Eval(a *expr.Activation) (value.Value, error) {
	var buf [4]value.Value
	vals := buf[:0]
	for _, e := range n.args {
		v, err := e.Eval(a)
		if err != nil {
			return value.Value{}, err
		}
		vals = append(vals, v)
	}
	r, err := n.f.call(n.p, vals)
	if err != nil {
		switch err.(type) {
		case *Error, *expr.EvalError:
			if ee, ok := err.(*expr.EvalError); ok && ee.Func == "" {
				return value.Value{}, &expr.EvalError{Func: n.f.name, Msg: ee.Msg}
			}
			return value.Value{}, err
		}
		return value.Value{}, &expr.EvalError{Func: n.f.name, Msg: err.Error()}
	}
	return r, nil
}

func strArgs(args []value.Value) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		if a.Kind() != value.String {
			return nil, fmt.Errorf("argument %d must be a string, got %s", i+1, a.Kind())
		}
		out[i] = a.Str()
	}
	return out, nil
}

func fnParameters(p *planner, args []value.Value) (value.Value, error) {
	if args[0].Kind() != value.String {
		return value.Value{}, fmt.Errorf("the parameter name must be a string")
	}
	return p.param(args[0].Str())
}

func fnVariables(p *planner, args []value.Value) (value.Value, error) {
	if p.inDefault {
		return value.Value{}, fmt.Errorf("variables cannot be used in parameter defaults")
	}
	if args[0].Kind() != value.String {
		return value.Value{}, fmt.Errorf("the variable name must be a string")
	}
	return p.variable(args[0].Str())
}

func fnCopyIndex(p *planner, args []value.Value) (value.Value, error) {
	var name string
	var offset int64
	switch len(args) {
	case 1:
		if args[0].Kind() == value.String {
			name = args[0].Str()
		} else if args[0].Kind() == value.Int {
			offset = args[0].Int()
		} else {
			return value.Value{}, fmt.Errorf("the argument must be a loop name or an offset")
		}
	case 2:
		if args[0].Kind() != value.String || args[1].Kind() != value.Int {
			return value.Value{}, fmt.Errorf("expects a loop name and an integer offset")
		}
		name, offset = args[0].Str(), args[1].Int()
	}
	for i := len(p.frames) - 1; i >= 0; i-- {
		f := p.frames[i]
		if name == "" && f.resource || name != "" && f.name == strings.ToLower(name) {
			return value.IntValue(int64(f.index) + offset), nil
		}
	}
	if name != "" {
		return value.Value{}, fmt.Errorf("there is no copy loop named '%s' here", name)
	}
	return value.Value{}, fmt.Errorf("used outside a copy loop")
}

// splitTypeArgs finds the resource type among args (the first that
// contains '/'): the arguments before it and the names after it.
func splitTypeArgs(args []string, maxBefore int) (before []string, typ string, names []string, err error) {
	for i, a := range args {
		if strings.Contains(a, "/") {
			if i > maxBefore {
				break
			}
			if i+1 >= len(args) {
				return nil, "", nil, fmt.Errorf("no resource name after the type '%s'", a)
			}
			return args[:i], a, args[i+1:], nil
		}
	}
	return nil, "", nil, fmt.Errorf("no resource type (namespace/type) among the arguments")
}

func fnResourceID(p *planner, args []value.Value) (value.Value, error) {
	s, err := strArgs(args)
	if err != nil {
		return value.Value{}, err
	}
	before, typ, names, err := splitTypeArgs(s, 2)
	if err != nil {
		return value.Value{}, err
	}
	sub, rg := p.dc.SubscriptionID, p.dc.ResourceGroup
	switch len(before) {
	case 1:
		rg = before[0]
	case 2:
		sub, rg = before[0], before[1]
	}
	base := "/subscriptions/" + sub
	if rg != "" {
		base += "/resourceGroups/" + rg
	}
	id, err := extensionID(base, typ, names)
	return value.StringValue(id), err
}

func fnSubscriptionResourceID(p *planner, args []value.Value) (value.Value, error) {
	s, err := strArgs(args)
	if err != nil {
		return value.Value{}, err
	}
	before, typ, names, err := splitTypeArgs(s, 1)
	if err != nil {
		return value.Value{}, err
	}
	sub := p.dc.SubscriptionID
	if len(before) == 1 {
		sub = before[0]
	}
	id, err := extensionID("/subscriptions/"+sub, typ, names)
	return value.StringValue(id), err
}

func fnTenantResourceID(p *planner, args []value.Value) (value.Value, error) {
	s, err := strArgs(args)
	if err != nil {
		return value.Value{}, err
	}
	id, err := extensionID("/", s[0], s[1:])
	return value.StringValue(id), err
}

func fnExtensionResourceID(p *planner, args []value.Value) (value.Value, error) {
	s, err := strArgs(args)
	if err != nil {
		return value.Value{}, err
	}
	if !strings.HasPrefix(s[0], "/") {
		return value.Value{}, fmt.Errorf("the base resource id '%s' must start with '/'", s[0])
	}
	id, err := extensionID(s[0], s[1], s[2:])
	return value.StringValue(id), err
}

func obj(kv ...any) value.Value {
	b := value.NewObjectBuilder(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		var v value.Value
		switch x := kv[i+1].(type) {
		case string:
			v = value.StringValue(x)
		case value.Value:
			v = x
		}
		b.Add(kv[i].(string), v)
	}
	return b.Object()
}

func fnResourceGroup(p *planner, _ []value.Value) (value.Value, error) {
	if p.t.Scope != ResourceGroupScope {
		return value.Value{}, fmt.Errorf("resourceGroup() is only available in resource-group deployments")
	}
	return obj("id", "/subscriptions/"+p.dc.SubscriptionID+"/resourceGroups/"+p.dc.ResourceGroup,
		"name", p.dc.ResourceGroup, "type", "Microsoft.Resources/resourceGroups", "location", p.dc.Location,
		"properties", obj("provisioningState", "Succeeded")), nil
}

func fnSubscription(p *planner, _ []value.Value) (value.Value, error) {
	return obj("id", "/subscriptions/"+p.dc.SubscriptionID, "subscriptionId", p.dc.SubscriptionID,
		"tenantId", p.dc.TenantID, "displayName", p.dc.SubscriptionID), nil
}

func fnTenant(p *planner, _ []value.Value) (value.Value, error) {
	return obj("tenantId", p.dc.TenantID, "countryCode", "", "displayName", ""), nil
}

func fnDeployment(p *planner, _ []value.Value) (value.Value, error) {
	cv, _ := p.t.Raw.Get("contentVersion")
	schema, _ := p.t.Raw.Get("$schema")
	props := obj("template", obj("$schema", schema, "contentVersion", cv), "mode", "Incremental", "provisioningState", "Accepted")
	if p.t.Scope == SubscriptionScope {
		return obj("name", p.dc.DeploymentName, "location", p.dc.Location, "properties", props), nil
	}
	return obj("name", p.dc.DeploymentName, "properties", props), nil
}

func fnEnvironment(p *planner, _ []value.Value) (value.Value, error) {
	if !p.dc.Environment.IsUndefined() {
		return p.dc.Environment, nil
	}
	return obj("name", "AzureCloud", "gallery", "https://gallery.azure.com/",
		"graph", "https://graph.windows.net/", "portal", "https://portal.azure.com",
		"resourceManager", "https://management.azure.com/",
		"authentication", obj("loginEndpoint", "https://login.microsoftonline.com/",
			"audiences", value.ArrayValue([]value.Value{value.StringValue("https://management.core.windows.net/"), value.StringValue("https://management.azure.com/")})),
		"suffixes", obj("storage", "core.windows.net", "keyvaultDns", ".vault.azure.net", "sqlServerHostname", ".database.windows.net", "acrLoginServer", ".azurecr.io")), nil
}

// targetID resolves the first argument of reference()/list*(): a
// resource id, or the name of a resource of this template.
func (p *planner) targetID(s string) (string, error) {
	if strings.HasPrefix(s, "/") {
		return s, nil
	}
	var found *inst
	for _, in := range p.insts {
		if strings.EqualFold(in.res.Name, s) {
			if found != nil {
				return "", fmt.Errorf("the name '%s' names several resources of the template; use resourceId()", s)
			}
			found = in
		}
	}
	if found == nil {
		return "", fmt.Errorf("'%s' is neither a resource id nor the name of a resource defined before in the template", s)
	}
	return found.res.ID, nil
}

// errDeferred stops the evaluation of a body that reads the live state
// while planning.
var errDeferred = errors.New("evaluated when the resource is written")

// deferTo records that the body being planned reads target (a name or
// an id) and stops its evaluation.
func (p *planner) deferTo(target string) error {
	p.deferredTo = append(p.deferredTo, target)
	return errDeferred
}

func fnReference(p *planner, args []value.Value) (value.Value, error) {
	s, err := strArgs(args)
	if err != nil {
		return value.Value{}, err
	}
	if p.inDefault {
		return value.Value{}, fmt.Errorf("reference() cannot be used in parameter defaults")
	}
	if p.deferring {
		return value.Value{}, p.deferTo(s[0])
	}
	id, err := p.targetID(s[0])
	if err != nil {
		return value.Value{}, err
	}
	var api string
	full := false
	if len(s) > 1 {
		api = s[1]
	}
	if len(s) > 2 {
		if !strings.EqualFold(s[2], "Full") {
			return value.Value{}, fmt.Errorf("the third argument must be 'Full', got '%s'", s[2])
		}
		full = true
	}
	if p.resolver == nil {
		return value.Value{}, fmt.Errorf("the live store is not available here")
	}
	return p.resolver.Reference(p.ctx, id, api, full)
}

func listFn(name string) func(p *planner, args []value.Value) (value.Value, error) {
	return func(p *planner, args []value.Value) (value.Value, error) {
		if args[0].Kind() != value.String || args[1].Kind() != value.String {
			return value.Value{}, fmt.Errorf("expects a resource id and an api version")
		}
		if p.inDefault {
			return value.Value{}, fmt.Errorf("list functions cannot be used in parameter defaults")
		}
		if p.deferring {
			return value.Value{}, p.deferTo(args[0].Str())
		}
		id, err := p.targetID(args[0].Str())
		if err != nil {
			return value.Value{}, err
		}
		var body value.Value
		if len(args) > 2 {
			body = args[2]
		}
		if p.resolver == nil {
			return value.Value{}, fmt.Errorf("the live store is not available here")
		}
		return p.resolver.List(p.ctx, name, id, args[1].Str(), body)
	}
}

func fnNewGUID(p *planner, _ []value.Value) (value.Value, error) {
	if !p.inDefault {
		return value.Value{}, fmt.Errorf("newGuid() may only be used in the defaultValue of a parameter")
	}
	if p.dc.NewGUID == nil {
		return value.Value{}, fmt.Errorf("no GUID source is configured")
	}
	return value.StringValue(p.dc.NewGUID()), nil
}

func fnUtcNow(p *planner, args []value.Value) (value.Value, error) {
	if !p.inDefault {
		return value.Value{}, fmt.Errorf("utcNow() may only be used in the defaultValue of a parameter")
	}
	return expr.CallFunction("utcNow", args, p.dc.Now)
}
