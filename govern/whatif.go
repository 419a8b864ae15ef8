package govern

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// checkPolicyRestrictions, as @azure/arm-policyinsights calls it
// (policyRestrictions.checkAtSubscriptionScope, checkAtResourceGroupScope):
//
//	POST /subscriptions/{s}[/resourceGroups/{g}]/providers/Microsoft.PolicyInsights/checkPolicyRestrictions
//
// The resource content is evaluated, without writing anything, against
// the assignments that a write of it at the scope would meet (enforced,
// selecting it, not exempt: the request path's own choice, snapshot.each),
// in the request path's order: Append and Modify first (policy.ApplyAll),
// then Deny, Audit and the existence checks of AuditIfNotExists and
// DeployIfNotExists against the stored inventory. The answer is Azure's
// CheckRestrictionsResult; with the request property "mlgov.whatIf" it
// also carries every effect and what it would do, in mlgov's own fields
// (docs/policy-what-if.md).

// CheckRestrictions is the trailing segment of the API.
const CheckRestrictions = "checkPolicyRestrictions"

// IsCheckRestrictions reports whether id is the checkPolicyRestrictions
// action of a subscription or resource group.
func IsCheckRestrictions(id *arm.ID) bool {
	return len(id.Parts) == 0 && id.SubscriptionID != "" && strings.EqualFold(id.Trailing, CheckRestrictions) &&
		arm.EqualName(id.TrailingNamespace, "Microsoft.PolicyInsights")
}

// restrictionsRequest is a parsed CheckRestrictionsRequest.
type restrictionsRequest struct {
	content      value.Value // resourceDetails.resourceContent
	apiVersion   string      // resourceDetails.apiVersion
	scope        *arm.ID     // resourceDetails.scope, else the request's
	pending      []pendingField
	includeAudit bool
	whatIf       bool // mlgov.whatIf
}

type pendingField struct {
	field  string
	values []string
}

// WhatIfProperty is mlgov's request property asking for every effect.
const WhatIfProperty = "mlgov.whatIf"

func badRestrictions(target, format string, args ...any) *arm.Error {
	e := arm.Errorf("InvalidCheckRestrictionsRequest", format, args...)
	e.Target = target
	return e
}

// parseRestrictions reads and checks the request body; every problem is
// reported, each naming its property.
func parseRestrictions(body []byte, reqScope *arm.ID) (*restrictionsRequest, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, badRestrictions("resourceDetails", "The request content is empty: a CheckRestrictionsRequest with resourceDetails is required.")
	}
	v, err := value.ParseStrict(body)
	if err != nil {
		return nil, badRestrictions("", "The request content is not valid JSON: %v.", err)
	}
	if v.Kind() != value.Object {
		return nil, badRestrictions("", "The request content must be a JSON object, not %s.", v.Kind())
	}
	req := &restrictionsRequest{scope: reqScope}
	var errs []*arm.Error
	bad := func(target, format string, args ...any) {
		errs = append(errs, badRestrictions(target, format, args...))
	}
	var details value.Value
	for _, m := range v.Members() {
		switch {
		case value.EqualFold(m.Key, "resourceDetails"):
			details = m.Value
		case value.EqualFold(m.Key, "pendingFields"):
			req.pending = parsePending(m.Value, bad)
		case value.EqualFold(m.Key, "includeAuditEffect"):
			if m.Value.Kind() != value.Bool {
				bad("includeAuditEffect", "The property 'includeAuditEffect' must be a boolean, not %s.", m.Value.Kind())
			}
			req.includeAudit = m.Value.Bool()
		case value.EqualFold(m.Key, WhatIfProperty):
			if m.Value.Kind() != value.Bool {
				bad(WhatIfProperty, "The property '%s' must be a boolean, not %s.", WhatIfProperty, m.Value.Kind())
			}
			req.whatIf = m.Value.Bool()
		default:
			bad(arm.Clip(m.Key, 64), "The property '%s' is not part of a CheckRestrictionsRequest (resourceDetails, pendingFields, includeAuditEffect; mlgov: %s).", arm.Clip(m.Key, 64), WhatIfProperty)
		}
	}
	switch details.Kind() {
	case value.Undefined, value.Null:
		bad("resourceDetails", "The property 'resourceDetails' is required.")
	case value.Object:
		parseDetails(details, req, reqScope, bad)
	default:
		bad("resourceDetails", "The property 'resourceDetails' must be an object, not %s.", details.Kind())
	}
	if len(errs) == 0 {
		return req, nil
	}
	e := errs[0]
	if len(errs) > 1 {
		e = &arm.Error{Code: "InvalidCheckRestrictionsRequest", Target: errs[0].Target,
			Message: fmt.Sprintf("The request has %d errors; the first: %s", len(errs), errs[0].Message), Details: errs}
	}
	return nil, e
}

func parseDetails(details value.Value, req *restrictionsRequest, reqScope *arm.ID, bad func(string, string, ...any)) {
	for _, m := range details.Members() {
		switch {
		case value.EqualFold(m.Key, "resourceContent"):
			req.content = m.Value
		case value.EqualFold(m.Key, "apiVersion"):
			if m.Value.Kind() != value.String {
				bad("resourceDetails.apiVersion", "The property 'resourceDetails.apiVersion' must be a string, not %s.", m.Value.Kind())
			}
			req.apiVersion = m.Value.Str()
		case value.EqualFold(m.Key, "scope"):
			if m.Value.Kind() != value.String {
				bad("resourceDetails.scope", "The property 'resourceDetails.scope' must be a string, not %s.", m.Value.Kind())
				continue
			}
			id, err := arm.ParseID(m.Value.Str())
			switch {
			case err != nil || id.Trailing != "":
				bad("resourceDetails.scope", "The scope '%s' is not a resource group, subscription or resource ID.", arm.Clip(m.Value.Str(), 300))
			case id.Key() != reqScope.Key() && !strings.HasPrefix(id.Key(), reqScope.Key()+"/"):
				bad("resourceDetails.scope", "The scope '%s' is not under the request's scope '%s'.", arm.Clip(m.Value.Str(), 300), reqScope.String())
			default:
				req.scope = id
			}
		default:
			bad("resourceDetails."+arm.Clip(m.Key, 64), "The property 'resourceDetails.%s' is not part of CheckRestrictionsResourceDetails (resourceContent, apiVersion, scope).", arm.Clip(m.Key, 64))
		}
	}
	c := req.content
	switch c.Kind() {
	case value.Undefined, value.Null:
		bad("resourceDetails.resourceContent", "The property 'resourceDetails.resourceContent' is required.")
		return
	case value.Object:
	default:
		bad("resourceDetails.resourceContent", "The property 'resourceDetails.resourceContent' must be an object, not %s.", c.Kind())
		return
	}
	typ := c.Field("type")
	if typ.Kind() != value.String || !strings.Contains(strings.Trim(typ.Str(), "/"), "/") {
		bad("resourceDetails.resourceContent.type", "The property 'resourceDetails.resourceContent.type' must be a resource type such as 'Microsoft.MachineLearningServices/workspaces'.")
	}
	for _, k := range []string{"name", "location", "kind"} {
		if f := c.Field(k); !f.IsUndefined() && f.Kind() != value.String {
			bad("resourceDetails.resourceContent."+k, "The property 'resourceDetails.resourceContent.%s' must be a string, not %s.", k, f.Kind())
		}
	}
}

func parsePending(v value.Value, bad func(string, string, ...any)) []pendingField {
	if v.Kind() == value.Null {
		return nil
	}
	if v.Kind() != value.Array {
		bad("pendingFields", "The property 'pendingFields' must be an array, not %s.", v.Kind())
		return nil
	}
	var out []pendingField
	for i, e := range v.Elems() {
		at := fmt.Sprintf("pendingFields[%d]", i)
		if e.Kind() != value.Object {
			bad(at, "The pending field %s must be an object {field, values}, not %s.", at, e.Kind())
			continue
		}
		var pf pendingField
		for _, m := range e.Members() {
			switch {
			case value.EqualFold(m.Key, "field"):
				if m.Value.Kind() != value.String || m.Value.Str() == "" {
					bad(at+".field", "The property '%s.field' must be a non-empty string.", at)
				}
				pf.field = m.Value.Str()
			case value.EqualFold(m.Key, "values"):
				if m.Value.Kind() == value.Null {
					continue
				}
				if m.Value.Kind() != value.Array {
					bad(at+".values", "The property '%s.values' must be an array of strings, not %s.", at, m.Value.Kind())
					continue
				}
				for j, s := range m.Value.Elems() {
					if s.Kind() != value.String {
						bad(fmt.Sprintf("%s.values[%d]", at, j), "The value %s.values[%d] must be a string, not %s.", at, j, s.Kind())
					}
					pf.values = append(pf.values, s.Str())
				}
			default:
				bad(at+"."+arm.Clip(m.Key, 64), "The property '%s.%s' is not part of a PendingField (field, values).", at, arm.Clip(m.Key, 64))
			}
		}
		if _, ok := e.Get("field"); !ok {
			bad(at+".field", "The property '%s.field' is required.", at)
		}
		out = append(out, pf)
	}
	return out
}

// The answer's shapes: Azure's CheckRestrictionsResult, with mlgov's own
// fields (named "mlgov.…") when the request asked for mlgov.whatIf.

type policyReference struct {
	PolicyDefinitionID          string `json:"policyDefinitionId"`
	PolicySetDefinitionID       string `json:"policySetDefinitionId,omitempty"`
	PolicyDefinitionReferenceID string `json:"policyDefinitionReferenceId,omitempty"`
	PolicyAssignmentID          string `json:"policyAssignmentId"`
}

type fieldRestriction struct {
	Result       string          `json:"result"`
	DefaultValue string          `json:"defaultValue,omitempty"`
	Values       []string        `json:"values,omitempty"`
	Policy       policyReference `json:"policy"`
	PolicyEffect string          `json:"policyEffect"`
	Reason       string          `json:"reason,omitempty"`
}

type fieldRestrictions struct {
	Field        string             `json:"field"`
	Restrictions []fieldRestriction `json:"restrictions"`
}

type ifNotExistsDetails struct {
	ResourceID     string `json:"resourceId,omitempty"`
	TotalResources int    `json:"totalResources"`
}

// expressionDetails is Azure's ExpressionEvaluationDetails (a struct:
// a what-if answers hundreds of them, and maps cost their sorting).
type expressionDetails struct {
	Result          string       `json:"result"`
	ExpressionKind  string       `json:"expressionKind"`
	Expression      string       `json:"expression"`
	Path            string       `json:"path,omitempty"`
	ExpressionValue *value.Value `json:"expressionValue,omitempty"`
	TargetValue     *value.Value `json:"targetValue,omitempty"`
	Operator        string       `json:"operator"`
}

func expressionList(exprs []policy.ExpressionResult) []expressionDetails {
	out := make([]expressionDetails, len(exprs))
	for i := range exprs {
		x := &exprs[i]
		d := &out[i]
		d.Result, d.ExpressionKind, d.Expression, d.Path, d.Operator = "False", x.Kind, x.Expression, x.Path, x.Operator
		if x.Result {
			d.Result = "True"
		}
		if !x.Value.IsUndefined() {
			d.ExpressionValue = &x.Value
		}
		if !x.Target.IsUndefined() {
			d.TargetValue = &x.Target
		}
	}
	return out
}

type evaluationDetails struct {
	EvaluatedExpressions []expressionDetails `json:"evaluatedExpressions,omitempty"`
	IfNotExistsDetails   *ifNotExistsDetails `json:"ifNotExistsDetails,omitempty"`
	Reason               string              `json:"reason,omitempty"`
}

// whatIfChange is one change a Modify or Append would make.
type whatIfChange struct {
	Operation string      `json:"operation"`
	Field     string      `json:"field"`
	Path      string      `json:"path"`
	Before    value.Value `json:"before"`
	After     value.Value `json:"after"`
}

// whatIfExistence is the existence check of AuditIfNotExists and
// DeployIfNotExists against the stored inventory.
type whatIfExistence struct {
	Type           string   `json:"type"`
	Name           string   `json:"name,omitempty"`
	ResourceGroup  string   `json:"resourceGroupName,omitempty"`
	ExistenceScope string   `json:"existenceScope"`
	Exists         bool     `json:"exists"`
	TotalResources int      `json:"totalResources"`
	Evaluated      []string `json:"evaluatedResourceIds"`
	Matched        string   `json:"matchedResourceId,omitempty"`
}

type effectDetails struct {
	PolicyEffect string `json:"policyEffect"`
	// mlgov.whatIf only
	Changes    []whatIfChange    `json:"mlgov.changes,omitempty"`
	Conflicts  []policy.Conflict `json:"mlgov.conflicts,omitempty"`
	Skipped    []policy.Skip     `json:"mlgov.skipped,omitempty"`
	Existence  *whatIfExistence  `json:"mlgov.existence,omitempty"`
	Deployment *json.RawMessage  `json:"mlgov.deployment,omitempty"`
}

type policyEvaluation struct {
	PolicyInfo        policyReference   `json:"policyInfo"`
	EvaluationResult  string            `json:"evaluationResult"`
	EvaluationDetails evaluationDetails `json:"evaluationDetails"`
	EffectDetails     effectDetails     `json:"effectDetails"`
	// mlgov.whatIf only: names for people
	AssignmentName        string `json:"mlgov.policyAssignmentName,omitempty"`
	AssignmentDisplayName string `json:"mlgov.policyAssignmentDisplayName,omitempty"`
	DefinitionDisplayName string `json:"mlgov.policyDefinitionDisplayName,omitempty"`
}

type restrictionsResult struct {
	FieldRestrictions       []*fieldRestrictions `json:"fieldRestrictions"`
	ContentEvaluationResult struct {
		PolicyEvaluations []*policyEvaluation `json:"policyEvaluations"`
	} `json:"contentEvaluationResult"`
	// mlgov.whatIf only: the resource content as the write would store
	// it (after Append and Modify), and its resource ID as evaluated.
	ResourceContent *json.RawMessage `json:"mlgov.resourceContent,omitempty"`
	ResourceID      string           `json:"mlgov.resourceId,omitempty"`
}

// checkRestrictions answers checkPolicyRestrictions at scope (a
// subscription or resource group).
func (g *Governor) checkRestrictions(ctx context.Context, scope *arm.ID, r *resources.Request) (*resources.Response, error) {
	if r.Method != "POST" {
		return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s': checkPolicyRestrictions is a POST.", r.Method, arm.Clip(r.Path, 300))
	}
	req, err := parseRestrictions(r.Body, scope)
	if err != nil {
		return nil, err
	}
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	out, err := g.restrictions(ctx, s, req)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &resources.Response{Body: b}, nil
}

// candidate is the resource the content describes: its ID under the
// scope (a placeholder name when the content has none) and body. A type
// under the scope's own (the scope a parent resource) is a child of it;
// any other is placed at the scope through /providers. A name holds one
// segment per level of the type placed (a child's full name may also
// hold its parents' names, as ARM's name property does).
func candidate(req *restrictionsRequest) (*arm.ID, value.Value, error) {
	c := req.content
	typ := strings.Trim(c.Field("type").Str(), "/")
	name := c.Field("name").Str()
	segs := strings.Split(typ, "/") // namespace, type, child types...
	base := req.scope
	levels, path := segs[1:], base.String()+"/providers/"+segs[0]
	if base.IsResource() && len(typ) > len(base.Type()) && strings.EqualFold(typ[:len(base.Type())+1], base.Type()+"/") {
		levels, path = strings.Split(typ[len(base.Type())+1:], "/"), base.String()
	}
	names := strings.Split(name, "/")
	if name == "" {
		names = make([]string, len(levels))
		for i := range names {
			names[i] = "checkPolicyRestrictions-resource"
		}
	}
	if len(names) < len(levels) || len(names) > len(segs)-1 {
		return nil, value.Value{}, badRestrictions("resourceDetails.resourceContent.name", "The name '%s' does not fit the type '%s' at '%s': it needs one segment per level (%d).",
			arm.Clip(name, 100), arm.Clip(typ, 100), base.String(), len(levels))
	}
	names = names[len(names)-len(levels):]
	for i, t := range levels {
		path += "/" + t + "/" + names[i]
	}
	id, err := arm.ParseID(path)
	if err != nil || !id.IsResource() {
		return nil, value.Value{}, badRestrictions("resourceDetails.resourceContent", "The resource of type '%s' named '%s' cannot be placed at '%s'.", arm.Clip(typ, 100), arm.Clip(name, 100), base.String())
	}
	obj := withMember(c, "id", value.StringValue(id.String()))
	return id, obj, nil
}

// withMember is obj with key set to v (replaced or added).
func withMember(obj value.Value, key string, v value.Value) value.Value {
	ms := obj.Members()
	b := value.NewObjectBuilder(len(ms) + 1)
	done := false
	for _, m := range ms {
		if value.EqualFold(m.Key, key) {
			if !done {
				b.Add(m.Key, v)
				done = true
			}
			continue
		}
		b.Add(m.Key, m.Value)
	}
	if !done {
		b.Add(key, v)
	}
	return b.Object()
}

// restrictions evaluates the request against the snapshot.
func (g *Governor) restrictions(ctx context.Context, s *snapshot, req *restrictionsRequest) (*restrictionsResult, error) {
	id, obj, err := candidate(req)
	if err != nil {
		return nil, err
	}
	now := g.now()
	rg, sub := g.parentsOf(ctx, id)
	lookup := &memoLookup{Lookup: storeLookup{ctx: ctx, st: g.st}, found: map[string][]value.Value{}}
	in := func(body value.Value) *policy.Input {
		return &policy.Input{Resource: body, ResourceGroup: rg, Subscription: sub,
			RequestContext: value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(req.apiVersion)}),
			APIVersion:     req.apiVersion, Now: now, Lookup: lookup}
	}
	explain := func(body value.Value, h *hit) policy.Result {
		x := in(body)
		x.Policy, x.Explain = h.m.policyIn, true
		return h.m.prog.Evaluate(x)
	}
	out := &restrictionsResult{FieldRestrictions: []*fieldRestrictions{}}
	evals := []*policyEvaluation{}
	add := func(h *hit, result, effect string, res *policy.Result) *policyEvaluation {
		pe := &policyEvaluation{PolicyInfo: reference(h), EvaluationResult: result, EffectDetails: effectDetails{PolicyEffect: effect}}
		if res != nil {
			pe.EvaluationDetails.EvaluatedExpressions = expressionList(res.Expressions)
			if ex := res.Existence; ex != nil {
				pe.EvaluationDetails.IfNotExistsDetails = &ifNotExistsDetails{ResourceID: ex.ResourceID, TotalResources: ex.TotalResources}
			}
		}
		if res != nil && res.Err != nil {
			pe.EvaluationDetails.Reason = fmt.Sprintf("The policy could not be evaluated: %v", res.Err)
		} else if h.m != nil && result == NonCompliant {
			pe.EvaluationDetails.Reason = h.as.a.Message(h.m.refID)
		}
		if h.m == nil {
			pe.EvaluationDetails.Reason = fmt.Sprintf("The policy assignment '%s' could not be evaluated: %v", h.as.a.Name, h.as.err)
		}
		if req.whatIf {
			pe.AssignmentName, pe.AssignmentDisplayName = h.as.a.Name, h.as.a.DisplayName
			if h.m != nil {
				pe.DefinitionDisplayName = h.m.def.DisplayName
			}
		}
		evals = append(evals, pe)
		return pe
	}

	// 1. Append and Modify, on the content as given.
	var muts []*hit
	sub1 := policy.NewSubject(in(obj))
	s.each(id, obj, now, func(as *assigned, m *member) {
		if m.static && m.effect != policy.Append && m.effect != policy.Modify {
			return
		}
		res := sub1.Evaluate(m.prog, m.policyIn)
		switch {
		case res.Err != nil:
			h := &hit{as: as, m: m, res: res}
			add(h, Error, effectName(h), &res)
		case res.Effect == policy.Append || res.Effect == policy.Modify:
			muts = append(muts, &hit{as: as, m: m, res: res})
		case req.whatIf && m.static && res.Applicable && !res.Matched:
			add(&hit{as: as, m: m, res: res}, Compliant, m.effect.String(), nil)
		}
	}, func(as *assigned) {
		add(&hit{as: as}, Error, "Deny", nil)
	})
	sub1.Close()
	body := obj
	var mutations []policy.Mutation
	if len(muts) > 0 {
		results := make([]*policy.Result, len(muts))
		for i, h := range muts {
			results[i] = &h.res
		}
		all, err := policy.ApplyAll(obj, results, policy.ApplyOptions{APIVersion: req.apiVersion, Aliases: g.catalog})
		if err != nil {
			for _, h := range muts {
				h.res.Err = err
				add(h, Error, effectName(h), &h.res)
			}
			muts = nil
		} else {
			mutations = all.Mutations
			if !all.Denied {
				body = all.Body
			}
		}
	}
	for i, h := range muts {
		mu := &mutations[i]
		effect := h.res.Effect.String()
		if mu.Denied() {
			// A conflict the policy's conflictEffect turns into a deny.
			res := explain(obj, h)
			pe := add(h, NonCompliant, "Deny", &res)
			pe.EvaluationDetails.Reason = fmt.Sprintf("The %s operations of this policy conflict with the request or another policy (conflictEffect deny).", effect)
			pe.EffectDetails.Conflicts = mu.Conflicts
			continue
		}
		if !req.whatIf {
			continue
		}
		res := explain(obj, h)
		pe := add(h, NonCompliant, effect, &res)
		for _, c := range mu.Changes {
			pe.EffectDetails.Changes = append(pe.EffectDetails.Changes, whatIfChange{Operation: c.Operation, Field: c.Field, Path: c.Path, Before: c.Old, After: c.New})
		}
		pe.EffectDetails.Conflicts, pe.EffectDetails.Skipped = mu.Conflicts, mu.Skipped
	}

	// 2. Deny, Audit, AuditIfNotExists, DeployIfNotExists on the content
	// as it would be stored.
	var checks []*hit // the Deny and Audit members, for the pending fields
	sub2 := policy.NewSubject(in(body))
	s.each(id, body, now, func(as *assigned, m *member) {
		if m.static {
			switch m.effect {
			case policy.Deny, policy.Audit, policy.AuditIfNotExists, policy.DeployIfNotExists:
			default:
				return
			}
		}
		res := sub2.Evaluate(m.prog, m.policyIn)
		h := &hit{as: as, m: m, res: res}
		eff, _ := policy.ParseEffect(effectOf(m, &res))
		if res.Err != nil {
			if m.static { // the others failed in pass 1 already, and were reported there
				add(h, Error, effectName(h), &res)
			}
			return
		}
		switch eff {
		case policy.Deny, policy.Audit:
			checks = append(checks, h)
		}
		switch {
		case res.Effect == policy.Deny || res.Effect == policy.Audit && (req.includeAudit || req.whatIf):
			x := explain(body, h)
			add(h, NonCompliant, res.Effect.String(), &x)
		case eff.IfNotExists() && res.Matched && req.whatIf:
			x := explain(body, h)
			result := Compliant
			if res.Effect != policy.None {
				result = NonCompliant
			}
			pe := add(h, result, eff.String(), &x)
			pe.EffectDetails.Existence = existenceOf(&x)
			if eff == policy.DeployIfNotExists && res.Effect != policy.None {
				d := deploymentOf(x.Details)
				pe.EffectDetails.Deployment = &d
			}
		case req.whatIf && res.Applicable && !res.Matched && eff != policy.Disabled && eff != policy.None:
			// Applies to the resource, its condition false: no effect.
			add(h, Compliant, eff.String(), nil)
		}
	}, func(*assigned) {}) // reported in pass 1
	sub2.Close()
	out.ContentEvaluationResult.PolicyEvaluations = evals

	// 3. The pending fields.
	for i, pf := range req.pending {
		if err := g.pendingRestrictions(out, i, pf, body, checks, mutations, muts, in, req); err != nil {
			return nil, err
		}
	}
	if req.whatIf {
		b := json.RawMessage(body.JSON())
		out.ResourceContent = &b
		out.ResourceID = id.String()
	}
	return out, nil
}

// parentsOf reads the stored resource group and subscription of id
// (Undefined when they do not exist yet).
func (g *Governor) parentsOf(ctx context.Context, id *arm.ID) (rg, sub value.Value) {
	keys := []string{arm.KeyOf("/subscriptions/" + id.SubscriptionID)}
	if id.ResourceGroup != "" {
		keys = append(keys, arm.KeyOf("/subscriptions/"+id.SubscriptionID+"/resourceGroups/"+id.ResourceGroup))
	}
	rs, err := store.GetResources(ctx, g.st, keys...)
	if err != nil {
		return rg, sub
	}
	if rs[0] != nil {
		sub, _ = value.Parse(rs[0].Body)
	}
	if len(rs) > 1 && rs[1] != nil {
		rg, _ = value.Parse(rs[1].Body)
	}
	return rg, sub
}

func reference(h *hit) policyReference {
	ref := policyReference{PolicyAssignmentID: h.as.a.ID, PolicyDefinitionID: h.as.a.PolicyDefinitionID}
	if h.m != nil {
		ref.PolicyDefinitionID = h.m.def.ID
		if h.m.setID != "" {
			ref.PolicySetDefinitionID, ref.PolicyDefinitionReferenceID = h.m.setID, h.m.refID
		}
	}
	return ref
}

func existenceOf(res *policy.Result) *whatIfExistence {
	ex := res.Existence
	if ex == nil {
		return nil
	}
	w := &whatIfExistence{Type: ex.Query.Type, Name: ex.Query.Name, ResourceGroup: ex.Query.ResourceGroup, ExistenceScope: "ResourceGroup",
		TotalResources: ex.TotalResources, Matched: ex.Matched, Exists: res.Effect == policy.None, Evaluated: []string{}}
	if ex.Query.SubscriptionScope {
		w.ExistenceScope = "Subscription"
	}
	for _, n := range res.ExistenceConditions {
		if n != nil && n.ResourceID != "" {
			w.Evaluated = append(w.Evaluated, n.ResourceID)
		}
	}
	if len(w.Evaluated) == 0 && ex.ResourceID != "" {
		w.Evaluated = append(w.Evaluated, ex.ResourceID)
	}
	return w
}

// deploymentOf is the deployment a DeployIfNotExists would run: its
// scope, resource group and the deployment body with the parameters
// evaluated against the resource.
func deploymentOf(details value.Value) json.RawMessage {
	scope := details.Field("deploymentScope").Str()
	if scope == "" {
		scope = "ResourceGroup"
	}
	ms := []value.Member{{Key: "deploymentScope", Value: value.StringValue(scope)}}
	for _, k := range []string{"resourceGroupName", "roleDefinitionIds", "deployment"} {
		if v, ok := details.Get(k); ok {
			ms = append(ms, value.Member{Key: k, Value: v})
		}
	}
	return json.RawMessage(value.ObjectValue(ms...).JSON())
}

// memoLookup answers each distinct existence query once per request:
// the assignments of one definition, and the explained evaluation of a
// member after its plain one, ask the same.
type memoLookup struct {
	policy.Lookup
	found map[string][]value.Value
}

// Related implements policy.Lookup.
func (l *memoLookup) Related(q *policy.RelatedQuery) ([]value.Value, error) {
	key := strings.ToLower(fmt.Sprintf("%s\x00%s\x00%s\x00%t\x00%d\x00%s", q.Type, q.Name, q.ResourceGroup, q.SubscriptionScope, q.Relation, q.ResourceID))
	if rs, ok := l.found[key]; ok {
		return rs, nil
	}
	rs, err := l.Lookup.Related(q)
	if err == nil {
		l.found[key] = rs
	}
	return rs, err
}
