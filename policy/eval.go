package policy

import (
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// Input is what one evaluation sees besides the program.
type Input struct {
	// Resource is the resource (request payload or stored representation).
	Resource value.Value
	// Context objects for resourceGroup(), subscription(),
	// requestContext() and policy(); Undefined if not known.
	ResourceGroup  value.Value
	Subscription   value.Value
	RequestContext value.Value
	Policy         value.Value
	// APIVersion selects api-version-specific alias paths; when empty the
	// requestContext's apiVersion is used, else the default paths.
	APIVersion string
	// Now is the time utcNow() returns (zero: time.Now()).
	Now time.Time
	// Lookup answers the existence checks of AuditIfNotExists and
	// DeployIfNotExists; nil means no related resources exist.
	Lookup Lookup
	// Explain records every evaluated condition in Result.Expressions.
	Explain bool
	// SkipDetails leaves Result.Details and Result.Existence unset, for
	// callers that only count effects: the details are still checked, so
	// an error in them (or a value that does not exist) is reported in
	// Result.Err as usual, and the existence check still runs, but nothing
	// is built for the result.
	SkipDetails bool
}

// Lookup finds the related resources of an existence check. Implementations
// over a pool of resources select them with RelatedQuery.Matches.
type Lookup interface {
	Related(q *RelatedQuery) ([]value.Value, error)
}

// RelatedQuery describes the related resources of an AINE/DINE check.
type RelatedQuery struct {
	Type string // details.type
	Name string // details.name evaluated ("" = any)
	// ResourceGroup is details.resourceGroupName evaluated, else the
	// evaluated resource's group ("" if unknown).
	ResourceGroup string
	// SubscriptionScope is true for existenceScope Subscription.
	SubscriptionScope bool
	// Resource is the evaluated resource; ResourceID its id.
	Resource   value.Value
	ResourceID string
	// Relation is how the related type relates to the evaluated one.
	Relation Relation
}

// Relation of a related resource type to the evaluated resource.
type Relation uint8

// Relations.
const (
	// Sibling: any resource of the type in the resource group (or
	// subscription).
	Sibling Relation = iota
	// Child: a child resource of the evaluated resource (the related type
	// extends the evaluated type).
	Child
	// Self: the related type is the evaluated type (named by field('name')).
	Self
	// Extension: an extension resource of the evaluated resource
	// ({id}/providers/{type}/{name}), e.g. Microsoft.Insights/diagnosticSettings.
	Extension
)

// ConditionNode is a node of Result.Conditions: a group (allOf, anyOf,
// not) with the nodes it evaluated, or a condition, whose
// ExpressionResult is Result.Expressions[Expression] (-1 for a group).
type ConditionNode struct {
	Kind       string `json:"kind"`
	Result     bool   `json:"result"`
	Expression int    `json:"expression"`
	// ResourceID names the related resource an existence condition was
	// evaluated against (Kind "existenceCondition").
	ResourceID string           `json:"resourceId,omitempty"`
	Children   []*ConditionNode `json:"children,omitempty"`
}

// ExpressionResult records one evaluated condition (Azure's
// ExpressionEvaluationDetails).
type ExpressionResult struct {
	Kind       string      `json:"expressionKind"`
	Expression string      `json:"expression"`
	Path       string      `json:"path,omitempty"`
	Value      value.Value `json:"expressionValue"`
	Target     value.Value `json:"targetValue"`
	Operator   string      `json:"operator"`
	Result     bool        `json:"result"`
}

// Existence reports an AINE/DINE existence check.
type Existence struct {
	// TotalResources is how many related resources were examined.
	TotalResources int `json:"totalResources"`
	// ResourceID is the last related resource evaluated.
	ResourceID string `json:"resourceId,omitempty"`
	// Matched is the id (or name) of the related resource that satisfied
	// the existence condition, if any.
	Matched string `json:"matchedResourceId,omitempty"`
	Query   RelatedQuery
}

// Result is the outcome of evaluating a program against a resource.
type Result struct {
	// Effect is None when the policy produced no effect.
	Effect Effect
	// EffectName is the effect as written in the definition or the
	// parameter value (e.g. "DeployIfNotExists").
	EffectName string
	// Details are the evaluated details (Modify operations, Append
	// entries, AINE/DINE details with evaluated deployment parameters).
	Details value.Value
	// Applicable is false when the policy does not apply to the resource
	// (mode, type, unknown alias); then Reason says why.
	Applicable bool
	Reason     string
	// Matched reports the value of the if-condition.
	Matched bool
	// Expressions are the evaluated conditions (only with Input.Explain).
	Expressions []ExpressionResult
	// Conditions is the if-condition as evaluated, a tree of its logical
	// groups and conditions (only with Input.Explain): what was not
	// evaluated (after the first false of an allOf, the first true of an
	// anyOf) is absent.
	Conditions *ConditionNode
	// ExistenceConditions are the existence condition as evaluated
	// against each related resource examined, in order (only with
	// Input.Explain): a node of kind existenceCondition naming the
	// resource, over the condition's tree. The check stops at the first
	// resource that satisfies it.
	ExistenceConditions []*ConditionNode
	// Existence is set for AuditIfNotExists/DeployIfNotExists.
	Existence *Existence
	// Err is an evaluation error (a failing template function, a type
	// mismatch). Azure treats it as an implicit deny at request time and
	// as compliance state Error in scans.
	Err error
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// Evaluate evaluates the program against one resource. It never panics;
// errors are reported in Result.Err.
func (p *Program) Evaluate(in *Input) Result {
	// Fast rejection by type and mode, without allocating.
	rt := resourceTypeOf(in.Resource)
	if res, done := p.reject(&rt, true); done {
		return res
	}
	s := statePool.Get().(*state)
	s.begin(in, &rt)
	res, ok := p.evaluate(s)
	if ok {
		s.end()
		statePool.Put(s)
	}
	return res
}

// resType is the "type" of a resource with what the fast paths ask of it.
type resType struct {
	v value.Value
	s string // v.Str()
	// indexed: resources of the type are in the scope of mode Indexed, as
	// far as the type name tells (not a subscription or resource group).
	indexed bool
	// capCatalog and capIndexed remember indexedIn's answer for the last
	// catalog asked (programs of one run normally share their catalog).
	capCatalog *alias.Catalog
	capIndexed bool
}

// indexedIn reports whether c, where it describes the type's
// capabilities, lets mode Indexed apply: the type supports tags and
// location. It does not allocate.
func (rt *resType) indexedIn(c *alias.Catalog) bool {
	if c == nil {
		return true
	}
	if rt.capCatalog != c {
		t, ok := c.Type(rt.s)
		rt.capCatalog, rt.capIndexed = c, !ok || !t.CapabilitiesKnown || (t.SupportsTags && t.SupportsLocation)
	}
	return rt.capIndexed
}

func resourceTypeOf(r value.Value) resType {
	v := r.Field("type")
	s := v.Str()
	return resType{v: v, s: s, indexed: indexedModeApplies(s)}
}

// reject is the fast path of evaluation: the program does not apply to a
// resource of type rt (mode, type, unknown alias) or is disabled.
// checkType is false when the caller knows the type is among p.types.
func (p *Program) reject(rt *resType, checkType bool) (Result, bool) {
	if !p.mode.appliesTo(rt) {
		return Result{Reason: "mode"}, true
	}
	if checkType && p.types != nil && !typeIn(rt.s, p.types) {
		return Result{Applicable: false, Reason: "type"}, true
	}
	if len(p.unknown) > 0 {
		return Result{Reason: p.unknownReason}, true
	}
	if p.effect.isCon && p.effect.eff == Disabled {
		return Result{Applicable: true, EffectName: p.effect.name, Reason: "disabled"}, true
	}
	return Result{}, false
}

// begin prepares s for evaluating programs against in.Resource, whose type
// is rt; end clears it for the pool.
func (s *state) begin(in *Input, rt *resType) {
	a := &s.a
	a.Resource, a.Target = in.Resource, in.Resource
	a.ResourceGroup, a.Subscription = in.ResourceGroup, in.Subscription
	a.RequestContext, a.Policy = in.RequestContext, in.Policy
	a.APIVersion, a.Now = in.APIVersion, in.Now
	if a.APIVersion == "" {
		if av := in.RequestContext.Field("apiVersion"); av.Kind() == value.String {
			a.APIVersion = av.Str()
		}
	}
	if a.Now.IsZero() {
		a.Now = time.Now().UTC()
	}
	s.typ, s.typOK = rt.s, true
	s.typIsString = rt.v.Kind() == value.String
	s.explain = in.Explain
	s.skipDetails = in.SkipDetails
	s.trace = nil
	s.tree, s.open = nil, s.open[:0]
	s.lookup = in.Lookup
}

func (s *state) end() {
	s.a.Clear()
	s.trace = nil
	s.tree, s.open, s.existTrees = nil, s.open[:0], nil
	s.typ, s.lookup = "", nil
	s.exist = Existence{}
}

// evaluate runs the program with the state prepared by begin. ok is false
// when the evaluation panicked (the result then reports an internal
// error); s must not be reused then.
func (p *Program) evaluate(s *state) (res Result, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			res, ok = Result{Applicable: true, Err: expr.Errorf("internal error during evaluation: %v", r)}, false
		}
	}()
	s.a.Params = p.params
	s.typeChecked = p.types != nil && s.typIsString
	res = p.run(s)
	s.trace = nil
	s.tree, s.open, s.existTrees = nil, s.open[:0], nil
	return res, true
}

func typeIn(t string, types []string) bool {
	for _, x := range types {
		if value.EqualFold(t, x) {
			return true
		}
	}
	return false
}

func (p *Program) run(s *state) Result {
	res := Result{Applicable: true}
	matched, err := p.cond.eval(s)
	if s.explain {
		res.Expressions, res.Conditions = s.trace, s.tree
	}
	if err != nil {
		res.Err = err
		return res
	}
	res.Matched = matched
	if !matched {
		return res
	}
	eff, name := p.effect.eff, p.effect.name
	if !p.effect.isCon {
		v, err := p.effect.e.Eval(&s.a)
		if err != nil {
			res.Err = err
			return res
		}
		name = v.Str()
		var ok bool
		if eff, ok = ParseEffect(name); !ok {
			res.Err = expr.Errorf("the effect evaluated to %s, which is not an effect", v.JSON())
			return res
		}
	}
	res.EffectName = name
	if eff == Disabled {
		return res
	}
	if p.details != nil {
		if s.skipDetails {
			if err := p.checkDetails(s); err != nil {
				res.Err = err
				return res
			}
		} else {
			d, err := p.evalDetails(s, eff)
			if err == nil && hasUndefined(d) {
				err = errUndefinedDetails()
			}
			if err != nil {
				res.Err = err
				return res
			}
			res.Details = d
		}
	}
	if eff.IfNotExists() && p.exist != nil {
		ex, exists, err := p.checkExistence(s)
		if !s.skipDetails {
			res.Existence = ex
		}
		if s.explain {
			res.Expressions, res.ExistenceConditions = s.trace, s.existTrees
		}
		if err != nil {
			res.Err = err
			return res
		}
		if exists {
			return res
		}
	}
	res.Effect = eff
	return res
}

func (p *Program) evalDetails(s *state, eff Effect) (value.Value, error) {
	d := p.details
	switch {
	case len(d.ops) > 0:
		ops := make([]value.Value, 0, len(d.ops))
		for _, o := range d.ops {
			b := value.NewObjectBuilder(6)
			b.Add("operation", value.StringValue(o.operation))
			f, err := o.field.Eval(&s.a)
			if err != nil {
				return value.Value{}, err
			}
			b.Add("field", value.StringValue(o.fieldText))
			if f.Kind() != value.String || f.Str() != o.fieldText {
				b.Add("resolvedField", f)
			}
			if o.hasValue {
				v, err := o.value.Eval(&s.a)
				if err != nil {
					return value.Value{}, err
				}
				b.Add("value", v)
			}
			if o.condition != nil {
				cv, err := o.condition.Eval(&s.a)
				if err != nil {
					return value.Value{}, err
				}
				c, err := expr.Truth("condition", cv)
				if err != nil {
					return value.Value{}, err
				}
				b.Add("condition", value.StringValue(o.condText))
				b.Add("conditionResult", value.BoolValue(c))
			}
			ops = append(ops, b.Object())
		}
		top := value.NewObjectBuilder(3)
		if d.roles.Kind() != value.Undefined {
			top.Add("roleDefinitionIds", d.roles)
		}
		top.Add("conflictEffect", value.StringValue(d.conflict))
		top.Add("operations", value.ArrayValue(ops))
		return top.Object(), nil
	case len(d.appends) > 0:
		out := make([]value.Value, 0, len(d.appends))
		for _, a := range d.appends {
			f, err := a.field.Eval(&s.a)
			if err != nil {
				return value.Value{}, err
			}
			v, err := a.value.Eval(&s.a)
			if err != nil {
				return value.Value{}, err
			}
			b := value.NewObjectBuilder(3)
			b.Add("field", value.StringValue(a.fieldText))
			if f.Kind() != value.String || f.Str() != a.fieldText {
				b.Add("resolvedField", f)
			}
			b.Add("value", v)
			out = append(out, b.Object())
		}
		return value.ArrayValue(out), nil
	case d.tmpl != nil:
		return d.tmpl.Eval(&s.a)
	}
	return value.Value{}, nil
}

// errUndefinedDetails is the error of details that hold a value that does
// not exist.
func errUndefinedDetails() error {
	return expr.Errorf("the effect details contain a value that does not exist (a missing parameter or property)")
}

// checkDetails returns the error evalDetails followed by the undefined-value
// check would, without building the details (Input.SkipDetails).
func (p *Program) checkDetails(s *state) error {
	d := p.details
	undef := false
	switch {
	case len(d.ops) > 0:
		for _, o := range d.ops {
			f, err := o.field.Eval(&s.a)
			if err != nil {
				return err
			}
			if f.Kind() != value.String || f.Str() != o.fieldText {
				undef = undef || f.IsUndefined() || hasUndefined(f)
			}
			if o.hasValue {
				u, err := checkTemplate(o.value, &s.a)
				if err != nil {
					return err
				}
				undef = undef || u
			}
			if o.condition != nil {
				cv, err := o.condition.Eval(&s.a)
				if err != nil {
					return err
				}
				if _, err := expr.Truth("condition", cv); err != nil {
					return err
				}
			}
		}
		// roleDefinitionIds is the JSON of the definition: nothing undefined.
	case len(d.appends) > 0:
		for _, a := range d.appends {
			f, err := a.field.Eval(&s.a)
			if err != nil {
				return err
			}
			u, err := checkTemplate(a.value, &s.a)
			if err != nil {
				return err
			}
			if f.Kind() != value.String || f.Str() != a.fieldText {
				u = u || f.IsUndefined() || hasUndefined(f)
			}
			undef = undef || u
		}
	case d.tmpl != nil:
		// The details value itself may be undefined (only its members
		// count), so containers are checked member by member.
		switch t := d.tmpl.(type) {
		case *objectTmpl, *arrayTmpl:
			u, err := checkTemplate(t, &s.a)
			if err != nil {
				return err
			}
			undef = u
		case expr.Const:
			undef = d.constUndef
		default:
			v, err := t.Eval(&s.a)
			if err != nil {
				return err
			}
			undef = hasUndefined(v)
		}
	}
	if undef {
		return errUndefinedDetails()
	}
	return nil
}

// checkExistence runs the AINE/DINE existence check: it reports whether a
// related resource satisfies the existence condition.
func (p *Program) checkExistence(s *state) (*Existence, bool, error) {
	ex := p.exist
	tv, err := ex.typ.Eval(&s.a)
	if err != nil {
		return nil, false, err
	}
	q := RelatedQuery{Type: tv.Str(), Resource: s.a.Resource, SubscriptionScope: ex.existenceScope == "subscription"}
	q.ResourceID = s.a.Resource.Field("id").Str()
	if ex.name != nil {
		nv, err := ex.name.Eval(&s.a)
		if err != nil {
			return nil, false, err
		}
		q.Name = nv.Str()
	}
	if ex.resourceGroup != nil {
		rv, err := ex.resourceGroup.Eval(&s.a)
		if err != nil {
			return nil, false, err
		}
		q.ResourceGroup = rv.Str()
	} else {
		q.ResourceGroup = resourceGroupOf(q.ResourceID)
		if q.ResourceGroup == "" {
			q.ResourceGroup = s.a.ResourceGroup.Field("name").Str()
		}
	}
	q.Relation = relationOf(s.a.Resource.Field("type").Str(), q.Type)
	var out *Existence
	if s.skipDetails {
		// Not reported (Input.SkipDetails): use the state's scratch one.
		out = &s.exist
		*out = Existence{Query: q}
	} else {
		out = &Existence{Query: q}
	}
	if s.lookup == nil {
		return out, false, nil
	}
	cands, err := s.lookup.Related(&out.Query)
	if err != nil {
		return out, false, expr.Errorf("existence check for %s failed: %v", q.Type, err)
	}
	for _, r := range cands {
		out.TotalResources++
		rid := r.Field("id").Str()
		if rid == "" {
			rid = r.Field("name").Str()
		}
		out.ResourceID = rid
		if ex.cond == nil {
			out.Matched = rid
			return out, true, nil
		}
		saved, savedTyp, savedOK := s.a.Target, s.typ, s.typOK
		s.setTarget(r)
		var ok bool
		if s.explain {
			// A tree of its own per related resource: the if-condition's
			// is done, so the group roots one.
			root := &ConditionNode{Kind: "existenceCondition", Expression: -1, ResourceID: rid}
			s.open = append(s.open, root)
			ok, err = ex.cond.eval(s)
			s.open = s.open[:len(s.open)-1]
			root.Result = ok
			s.existTrees = append(s.existTrees, root)
		} else {
			ok, err = ex.cond.eval(s)
		}
		s.a.Target, s.typ, s.typOK = saved, savedTyp, savedOK
		if err != nil {
			return out, false, err
		}
		if ok {
			out.Matched = rid
			return out, true, nil
		}
	}
	return out, false, nil
}

// extensionTypes are resource types that exist as extension resources of
// other resources ({id}/providers/{type}/{name}).
var extensionTypes = []string{
	"microsoft.insights/diagnosticsettings",
	"microsoft.authorization/",
	"microsoft.security/",
	"microsoft.guestconfiguration/guestconfigurationassignments",
	"microsoft.maintenance/configurationassignments",
	"microsoft.insights/datacollectionruleassociations",
	"microsoft.resources/links",
	"microsoft.policyinsights/",
	"microsoft.advisor/",
	"microsoft.changeanalysis/",
	"microsoft.recoveryservices/backupprotecteditems",
}

func relationOf(resourceType, relatedType string) Relation {
	if isASCII(resourceType) && isASCII(relatedType) {
		return relationOfASCII(resourceType, relatedType)
	}
	rt, lt := strings.ToLower(resourceType), strings.ToLower(relatedType)
	switch {
	case rt != "" && rt == lt:
		return Self
	case rt != "" && strings.HasPrefix(lt, rt+"/"):
		return Child
	}
	for _, e := range extensionTypes {
		if lt == e || (strings.HasSuffix(e, "/") && strings.HasPrefix(lt, e)) {
			return Extension
		}
	}
	return Sibling
}

// relationOfASCII is relationOf for ASCII types, without allocating.
func relationOfASCII(rt, lt string) Relation {
	switch {
	case rt != "" && asciiEqualFold(rt, lt):
		return Self
	case rt != "" && len(lt) > len(rt) && lt[len(rt)] == '/' && asciiEqualFold(lt[:len(rt)], rt):
		return Child
	}
	for _, e := range extensionTypes {
		if asciiEqualFold(lt, e) || (strings.HasSuffix(e, "/") && len(lt) >= len(e) && asciiEqualFold(lt[:len(e)], e)) {
			return Extension
		}
	}
	return Sibling
}

// asciiEqualFold compares ASCII strings ignoring case.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// resourceGroupOf extracts the resource group name from an ARM id: the
// segment after the first "resourceGroups" one.
func resourceGroupOf(id string) string {
	rest := strings.Trim(id, "/")
	afterRG := false
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if afterRG {
			return seg
		}
		afterRG = strings.EqualFold(seg, "resourceGroups")
		if !more {
			return ""
		}
		rest = tail
	}
}

// Matches reports whether candidate r is a related resource for the query,
// the way ARM's lookup would select it: the type matches, the name matches
// (when given; a trailing "/?" matches any nested name), and the resource
// sits where the relation says (child of / extension of the evaluated
// resource, or in the resource group / subscription). Candidates without
// an id are matched on type and name only.
func (q *RelatedQuery) Matches(r value.Value) bool {
	if !value.EqualFold(r.Field("type").Str(), q.Type) {
		return false
	}
	rid := r.Field("id").Str()
	name := r.Field("name").Str()
	if q.Name != "" && !nameMatches(q.Name, name, rid) {
		return false
	}
	if rid == "" || q.ResourceID == "" {
		return true
	}
	lrid, lid := strings.ToLower(rid), strings.ToLower(q.ResourceID)
	switch q.Relation {
	case Child:
		return strings.HasPrefix(lrid, lid+"/")
	case Extension:
		return strings.HasPrefix(lrid, lid+"/providers/")
	}
	if q.SubscriptionScope {
		return subscriptionOf(lrid) == subscriptionOf(lid)
	}
	if q.ResourceGroup != "" {
		return strings.EqualFold(resourceGroupOf(rid), q.ResourceGroup) && subscriptionOf(lrid) == subscriptionOf(lid)
	}
	return true
}

func nameMatches(want, name, id string) bool {
	if strings.HasSuffix(want, "/?") {
		prefix := strings.ToLower(strings.TrimSuffix(want, "?"))
		return strings.HasPrefix(strings.ToLower(name)+"/", prefix) || strings.Contains(strings.ToLower(id), "/"+prefix)
	}
	if value.EqualFold(want, name) {
		return true
	}
	// A full name (parent/child) against a leaf name or an id.
	if i := strings.LastIndexByte(want, '/'); i >= 0 {
		if value.EqualFold(want[i+1:], name) {
			if fn, ok := fullNameFromID(id); !ok || value.EqualFold(fn, want) {
				return true
			}
		}
	}
	if fn, ok := fullNameFromID(id); ok && value.EqualFold(fn, want) {
		return true
	}
	return false
}

func subscriptionOf(lid string) string {
	segs := strings.Split(strings.Trim(lid, "/"), "/")
	if len(segs) >= 2 && segs[0] == "subscriptions" {
		return segs[1]
	}
	return ""
}

// hasUndefined reports whether an evaluated details value holds an
// undefined value anywhere.
func hasUndefined(v value.Value) bool {
	switch v.Kind() {
	case value.Array:
		for _, e := range v.Elems() {
			if e.IsUndefined() || hasUndefined(e) {
				return true
			}
		}
	case value.Object:
		for i := 0; i < v.Len(); i++ {
			_, e := v.MemberAt(i)
			if e.IsUndefined() || hasUndefined(e) {
				return true
			}
		}
	}
	return false
}
