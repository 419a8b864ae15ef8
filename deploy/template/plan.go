package template

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// Context is where a deployment runs.
type Context struct {
	TenantID       string
	SubscriptionID string
	// ResourceGroup and Location: the target resource group and its
	// location (resource-group deployments); for subscription deployments
	// Location is the deployment's location.
	ResourceGroup  string
	Location       string
	DeploymentName string
	// Environment is what environment() returns; AzureCloud's when
	// undefined.
	Environment value.Value
	// Now is the time utcNow() reports in parameter defaults.
	Now time.Time
	// NewGUID returns a fresh GUID for newGuid(); nil makes newGuid() an
	// error.
	NewGUID func() string
}

// Resolver reads the live store for reference() and list*(). The caller
// implements it.
type Resolver interface {
	// Reference returns the resource's properties (full=false) or the
	// whole resource (full=true) at apiVersion ("" = latest).
	Reference(ctx context.Context, id, apiVersion string, full bool) (value.Value, error)
	// List runs a list* action (listKeys, listSecrets, ...) on id.
	List(ctx context.Context, action, id, apiVersion string, args value.Value) (value.Value, error)
}

// Resource is one resource to write.
type Resource struct {
	ID         string
	Type       string
	APIVersion string
	Name       string
	// Body is the evaluated resource without the template-only members
	// (type, apiVersion, name, condition, copy, dependsOn, resources,
	// comments, scope).
	Body value.Value
	// DependsOn holds the ids of the resources that must be written
	// first: the resolved dependsOn plus, in serial copy loops, the
	// previous batch.
	DependsOn []string
	// Wave: resources of the same wave may be written in parallel once
	// every earlier wave is done.
	Wave int
	// Pointer locates the resource definition in the template.
	Pointer string
	// CopyName and CopyIndex: the resource's copy loop (CopyIndex -1
	// outside loops).
	CopyName  string
	CopyIndex int
	// Deployment is set for Microsoft.Resources/deployments with an
	// inline template.
	Deployment *Nested
	// Deferred resources read the live state (reference(), list*()):
	// Body (and Deployment) are set by Plan.Resolve when the resource is
	// about to be written.
	Deferred bool
}

// Nested is a nested deployment with an inline template.
type Nested struct {
	Scope    string // "inner" or "outer" (expressionEvaluationOptions.scope)
	Mode     string
	Template value.Value // unevaluated
	// Parameters are the evaluated parameter values (inner scope), in the
	// deployment form {"name": {"value": ...}}.
	Parameters     value.Value
	SubscriptionID string
	ResourceGroup  string
}

// Plan is an evaluated template: the resources in write order and the
// state needed to evaluate outputs afterwards.
type Plan struct {
	Resources []*Resource
	// Skipped holds the ids of resources whose condition was false.
	Skipped []string
	p       *planner
}

// Plan evaluates the template for params (the deployment form
// {"name": {"value": ...}}, or Undefined) in dc. r may be nil when the
// template calls neither reference() nor list*() while planning.
func (t *Template) Plan(ctx context.Context, params value.Value, dc Context, r Resolver) (*Plan, error) {
	p := newPlanner(ctx, t, dc, r)
	var errs ErrorList
	if t.Scope == ResourceGroupScope && dc.ResourceGroup == "" {
		errs = append(errs, &Error{Code: CodeInvalidTemplate, Message: "a resource-group template needs a resource group"})
		return nil, errs
	}
	errs = append(errs, p.bindParams(params)...)
	if len(errs) > 0 {
		return nil, errs
	}
	errs = append(errs, p.checkVariables()...)
	rs, _ := t.Raw.Get("resources")
	for i, r := range rs.Elems() {
		errs = append(errs, p.expand(r, "/resources/"+strconv.Itoa(i), nil)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	plan, errs := p.order()
	if len(errs) > 0 {
		return nil, errs
	}
	return plan, nil
}

// Outputs evaluates the template's outputs, once the resources exist; r
// answers reference() and list*(). The result is the deployment's
// outputs object {"name": {"type": T, "value": V}}.
func (pl *Plan) Outputs(ctx context.Context, r Resolver) (value.Value, error) {
	p := pl.p
	p.ctx, p.resolver = ctx, r
	outs, _ := p.t.Raw.Get("outputs")
	b := value.NewObjectBuilder(outs.Len())
	var errs ErrorList
	for i := range outs.Len() {
		name, o := outs.MemberAt(i)
		ptr := ptrJoin("/outputs", name)
		if o.Kind() != value.Object {
			errs = append(errs, &Error{Code: CodeInvalidTemplate, Pointer: ptr, Message: "an output must be an object"})
			continue
		}
		if c, ok := o.Get("condition"); ok {
			cv, err := p.eval(c, ptr+"/condition")
			if err != nil {
				errs = append(errs, exprError(ptr+"/condition", err))
				continue
			}
			if ok, err := expr.Truth("condition", cv); err != nil || !ok {
				if err != nil {
					errs = append(errs, exprError(ptr+"/condition", err))
				}
				continue
			}
		}
		typ, _ := o.Get("type")
		var v value.Value
		var err error
		if cp, ok := o.Get("copy"); ok {
			v, err = p.copyArray("", cp, ptr+"/copy", false)
		} else {
			raw, _ := o.Get("value")
			v, err = p.eval(raw, ptr+"/value")
		}
		if err != nil {
			errs = append(errs, exprError(ptr, err))
			continue
		}
		if msg := checkType(typ.Str(), v); msg != "" {
			errs = append(errs, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/value", Message: "output '" + name + "': " + msg})
			continue
		}
		b.Add(name, value.ObjectValue(value.Member{Key: "type", Value: typ}, value.Member{Key: "value", Value: v}))
	}
	if len(errs) > 0 {
		return value.Value{}, errs
	}
	return b.Object(), nil
}

// Resolve evaluates the body of a deferred resource against the live
// state, once the resources it depends on are written; r answers
// reference() and list*(). Resolve is not safe for concurrent use.
func (pl *Plan) Resolve(ctx context.Context, res *Resource, r Resolver) error {
	if !res.Deferred || !res.Body.IsUndefined() {
		return nil
	}
	p := pl.p
	var in *inst
	for _, x := range p.insts {
		if x.res == res {
			in = x
			break
		}
	}
	if in == nil {
		return &Error{Code: CodeInvalidTemplate, Pointer: res.Pointer, Message: "the resource is not of this plan"}
	}
	saved := p.frames
	p.ctx, p.resolver, p.frames = ctx, r, in.frames
	defer func() { p.frames = saved }()
	body, errs := p.body(in)
	if len(errs) > 0 {
		return errs
	}
	res.Body = body
	return nil
}

// Parameters returns the deployment's parameter values in the
// deployment form {"name": {"value": ...}}: what a nested deployment
// with outer scope sees.
func (pl *Plan) Parameters() value.Value {
	p := pl.p
	b := value.NewObjectBuilder(p.decl.Len())
	for i := range p.decl.Len() {
		k, _ := p.decl.MemberAt(i)
		if v, err := p.param(k); err == nil {
			b.Add(k, value.ObjectValue(value.Member{Key: "value", Value: v}))
		}
	}
	return b.Object()
}

// NestedTemplate returns the template and parameters a nested
// deployment runs: for inner scope its own; for outer scope (the
// nested template's expressions see the parent's parameters and
// variables) its template with the parent's parameters and variables
// sections, and the parent's parameter values.
func (pl *Plan) NestedTemplate(n *Nested) (tmpl, params value.Value) {
	if n.Scope == "inner" {
		return n.Template, n.Parameters
	}
	p := pl.p
	b := value.NewObjectBuilder(n.Template.Len() + 2)
	for i := range n.Template.Len() {
		k, v := n.Template.MemberAt(i)
		switch strings.ToLower(k) {
		case "parameters", "variables":
			continue
		}
		b.Add(k, v)
	}
	if p.decl.Len() > 0 {
		b.Add("parameters", p.decl)
	}
	if p.varDecl.Len() > 0 {
		b.Add("variables", p.varDecl)
	}
	return b.Object(), pl.Parameters()
}

// inst is one expanded resource (one copy iteration).
type inst struct {
	res      *Resource
	raw      value.Value // the resource's definition
	sub, rg  string      // a nested deployment's target
	frames   []frame     // the copy loops around a deferred resource
	implicit []string    // what a deferred body reads: names or ids
	skipped  bool
	deps     []string // dependsOn as evaluated, unresolved
	depPtrs  []string
	loop     string // lower-cased copy name
	serial   int    // batch size of a serial loop, 0 for parallel
	order    int
	resolved []*inst
}

type frame struct {
	name     string // lower-cased loop name
	index    int
	resource bool
}

type slot struct {
	v     value.Value
	state uint8 // 0 unevaluated, 1 evaluating, 2 done
	err   error
}

type planner struct {
	ctx       context.Context
	t         *Template
	dc        Context
	resolver  Resolver
	params    map[string]*slot
	given     map[string]value.Value
	vars      map[string]*slot
	decl      value.Value // parameters section
	varDecl   value.Value
	frames    []frame
	inDefault bool
	// deferring: a resource body is evaluated at plan time, and a read
	// of the live state defers it (deferredTo collects what it reads).
	deferring  bool
	deferredTo []string
	cache      map[string]expr.Evaluable
	act        expr.Activation
	insts      []*inst
}

func newPlanner(ctx context.Context, t *Template, dc Context, r Resolver) *planner {
	p := &planner{ctx: ctx, t: t, dc: dc, resolver: r, cache: map[string]expr.Evaluable{},
		params: map[string]*slot{}, vars: map[string]*slot{}, given: map[string]value.Value{}}
	p.decl, _ = t.Raw.Get("parameters")
	p.varDecl, _ = t.Raw.Get("variables")
	return p
}

// eval evaluates a template value: expression strings are evaluated,
// objects and arrays recursively.
func (p *planner) eval(v value.Value, ptr string) (value.Value, error) {
	return p.evalV(v, ptr, false)
}

func (p *planner) evalV(v value.Value, ptr string, propCopy bool) (value.Value, error) {
	switch v.Kind() {
	case value.String:
		s := v.Str()
		if !expr.IsExpression(s) {
			if strings.HasPrefix(s, "[[") {
				return value.StringValue(expr.Literal(s)), nil
			}
			return v, nil
		}
		e, err := p.compile(s)
		if err != nil {
			return value.Value{}, exprError(ptr, err)
		}
		r, err := e.Eval(&p.act)
		if err != nil {
			return value.Value{}, exprError(ptr, err)
		}
		return r, nil
	case value.Array:
		out := make([]value.Value, v.Len())
		for i, x := range v.Elems() {
			r, err := p.evalV(x, ptr+"/"+strconv.Itoa(i), propCopy)
			if err != nil {
				return value.Value{}, err
			}
			out[i] = r
		}
		return value.ArrayValue(out), nil
	case value.Object:
		b := value.NewObjectBuilder(v.Len())
		for i := range v.Len() {
			k, x := v.MemberAt(i)
			mp := ptrJoin(ptr, k)
			if propCopy && strings.EqualFold(k, "copy") && x.Kind() == value.Array {
				for j, c := range x.Elems() {
					cp := mp + "/" + strconv.Itoa(j)
					n, _ := c.Get("name")
					if n.Kind() != value.String {
						return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: cp + "/name", Message: "the property copy has no name"}
					}
					arr, err := p.copyArray(n.Str(), c, cp, true)
					if err != nil {
						return value.Value{}, err
					}
					b.Add(n.Str(), arr)
				}
				continue
			}
			r, err := p.evalV(x, mp, propCopy)
			if err != nil {
				return value.Value{}, err
			}
			b.Add(k, r)
		}
		return b.Object(), nil
	}
	return v, nil
}

// copyArray evaluates a {count, input} copy into an array, with
// copyIndex(name) (or copyIndex() for outputs) counting.
func (p *planner) copyArray(name string, c value.Value, ptr string, propCopy bool) (value.Value, error) {
	if c.Kind() != value.Object {
		return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptr, Message: "copy must be an object"}
	}
	n, err := p.count(c, ptr)
	if err != nil {
		return value.Value{}, err
	}
	in, ok := c.Get("input")
	if !ok {
		return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/input", Message: "the copy has no input"}
	}
	out := make([]value.Value, n)
	p.frames = append(p.frames, frame{name: strings.ToLower(name), resource: name == ""})
	defer func() { p.frames = p.frames[:len(p.frames)-1] }()
	for i := range n {
		p.frames[len(p.frames)-1].index = i
		v, err := p.evalV(in, ptr+"/input", propCopy)
		if err != nil {
			return value.Value{}, err
		}
		out[i] = v
	}
	return value.ArrayValue(out), nil
}

const maxCopy = 800

func (p *planner) count(c value.Value, ptr string) (int, error) {
	raw, ok := c.Get("count")
	if !ok {
		return 0, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/count", Message: "the copy has no count"}
	}
	v, err := p.eval(raw, ptr+"/count")
	if err != nil {
		return 0, err
	}
	if v.Kind() != value.Int && !(v.Kind() == value.Float && v.Float() == float64(int64(v.Float()))) {
		return 0, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/count", Message: "the copy count must be an integer, got " + v.Kind().String()}
	}
	n := v.Int()
	if n < 0 || n > maxCopy {
		return 0, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/count", Message: fmt.Sprintf("the copy count must be between 0 and %d, got %d", maxCopy, n)}
	}
	return int(n), nil
}

func (p *planner) compile(s string) (expr.Evaluable, error) {
	if e, ok := p.cache[s]; ok {
		return e, nil
	}
	n, err := expr.ParseString(s)
	if err != nil {
		return nil, err
	}
	e, err := expr.Compile(n, binder{p})
	if err != nil {
		return nil, err
	}
	p.cache[s] = e
	return e, nil
}
