package govern

import (
	"context"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/store"
)

// Compliance states (PolicyInsights' complianceState values).
const (
	Compliant    = "Compliant"
	NonCompliant = "NonCompliant"
	Exempt       = "Exempt"
	Conflict     = "Conflict"
	Unknown      = "Unknown"
	Error        = "Error"
	Protected    = "Protected"
)

// State is one compliance record: a resource against one definition of
// one assignment (policy-language.md §16, §18).
type State struct {
	ResourceID, ResourceType, ResourceLocation, ResourceGroup, SubscriptionID string
	ResourceTags                                                              value.Value

	AssignmentID, AssignmentName, AssignmentScope string
	AssignmentParameters                          value.Value
	DefinitionID, DefinitionName                  string
	// Action is the effect, lower-cased as PolicyInsights reports it
	// (deny, audit, auditifnotexists, ...).
	Action                string
	SetID, SetName, RefID string
	GroupNames            []string
	ComplianceState       string
	// Details is policyEvaluationDetails: {evaluatedExpressions,
	// ifNotExistsDetails, reason} (Undefined for compliant records).
	Details      value.Value
	ExemptionIDs []string
	Timestamp    time.Time

	// the store's keys of the assignment, definition, set and reference,
	// lower-cased once per assignment member
	assignmentKey, definitionKey, setKey, refKey string
}

// Lookup answers AuditIfNotExists/DeployIfNotExists existence checks
// from the stored inventory.
type storeLookup struct {
	ctx context.Context
	st  store.Store
}

// Related implements policy.Lookup.
func (l storeLookup) Related(q *policy.RelatedQuery) ([]value.Value, error) {
	lq := store.ListQuery{TypeKey: arm.KeyOf(q.Type), Limit: 1000}
	switch q.Relation {
	case policy.Child, policy.Extension:
		lq.KeyPrefix = arm.KeyOf(q.ResourceID) + "/"
	case policy.Self:
		lq.KeyPrefix = resourceGroupPrefix(q.ResourceID, q.ResourceGroup)
	default:
		if q.SubscriptionScope {
			lq.SubscriptionKey = arm.KeyOf(subscriptionOf(q.ResourceID))
		} else {
			lq.KeyPrefix = resourceGroupPrefix(q.ResourceID, q.ResourceGroup)
		}
	}
	var out []value.Value
	err := l.st.Read(l.ctx, func(tx store.Tx) error {
		for {
			page, err := tx.ListResources(l.ctx, lq)
			if err != nil {
				return err
			}
			for _, r := range page {
				v, err := value.Parse(r.Body)
				if err == nil && q.Matches(v) {
					out = append(out, v)
				}
			}
			if len(page) < lq.Limit {
				return nil
			}
			lq.After = page[len(page)-1].Key
		}
	})
	return out, err
}

// resourceGroupPrefix is the key prefix of the resources of a resource
// group: rg when given, else the resource's own.
func resourceGroupPrefix(resourceID, rg string) string {
	sub := subscriptionOf(resourceID)
	if rg == "" {
		if id, err := arm.ParseID(resourceID); err == nil {
			rg = id.ResourceGroup
		}
	}
	return arm.KeyOf("/subscriptions/"+sub+"/resourceGroups/"+rg) + "/"
}

func subscriptionOf(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		return segs[1]
	}
	return ""
}

// Evaluate works out the compliance records of one stored resource (its
// body, resource group and subscription objects; Undefined where they do
// not apply) against every assignment whose scope contains it, enforced
// or not: the records of the assignments' definitions that apply to it
// (policy-language.md §10.11, §15).
func (g *Governor) Evaluate(ctx context.Context, obj, rg, sub value.Value, now time.Time) ([]State, error) {
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	return g.evaluate(s, obj, rg, sub, now, storeLookup{ctx: ctx, st: g.st}, true), nil
}

// evaluate works out the records of obj; with explain, the non-compliant
// ones carry policyEvaluationDetails (stored records do not: the details
// are worked out again when a query expands them).
func (g *Governor) evaluate(s *snapshot, obj, rg, sub value.Value, now time.Time, lookup policy.Lookup, explain bool) []State {
	rid := obj.Field("id").Str()
	id, err := arm.ParseID(rid)
	if err != nil || !governed(obj.Field("type").Str()) {
		return nil
	}
	key := policyres.Key(rid)
	typ, loc := obj.Field("type").Str(), obj.Field("location").Str()
	above := s.above(key)
	var exempts []*exemption
	forScopes(key, above, func(scope string) { exempts = append(exempts, s.exemptions[scope]...) })
	reqCtx := value.ObjectValue() // compliance scans have no request: latest alias paths
	subject := policy.NewSubject(&policy.Input{Resource: obj, ResourceGroup: rg, Subscription: sub, RequestContext: reqCtx, Now: now, Lookup: lookup})
	defer subject.Close()
	var out []State
	var mutators []mutator
	forScopes(key, above, func(scope string) {
		for _, as := range s.byScope[scope] {
			if !as.a.AppliesToKey(key, above, loc, typ) {
				continue
			}
			if as.err != nil {
				st := g.state(id, obj, as, nil, now)
				st.ComplianceState = Error
				st.Details = value.ObjectValue(value.Member{Key: "reason", Value: value.StringValue(as.err.Error())})
				out = append(out, st)
				continue
			}
			for _, m := range as.members {
				if m.static && m.effect == policy.Disabled {
					continue
				}
				var exemptBy []string
				for _, x := range exempts {
					if x.x.Covers(as.a.ID, m.refID, now) && x.x.AppliesToKey(key, above, loc, typ) {
						exemptBy = append(exemptBy, x.x.ID)
					}
				}
				res := subject.Evaluate(m.prog, m.policyIn)
				state, ok := complianceOf(m, &res)
				if !ok {
					continue
				}
				st := g.state(id, obj, as, m, now)
				if !m.static {
					if eff := effectOf(m, &res); eff != "" {
						st.Action = strings.ToLower(eff)
					}
				}
				if eff, _ := policy.ParseEffect(effectOf(m, &res)); eff == policy.Manual && state == Unknown {
					state = s.manualState(key, as, m, &res, now)
				}
				st.ComplianceState = state
				if len(exemptBy) > 0 {
					st.ComplianceState, st.ExemptionIDs = Exempt, exemptBy
				}
				if explain && (state != Compliant || len(exemptBy) > 0) {
					// The reason: the evaluation again, explained (most
					// records are compliant and need none).
					ex := m.prog.Evaluate(&policy.Input{Resource: obj, ResourceGroup: rg, Subscription: sub, RequestContext: reqCtx,
						Policy: m.policyIn, Now: now, Lookup: lookup, Explain: true})
					st.Details = details(&ex)
				}
				out = append(out, st)
				if st.ComplianceState == NonCompliant && (res.Effect == policy.Modify || res.Effect == policy.Append) {
					mutators = append(mutators, mutator{len(out) - 1, res})
				}
			}
		}
	})
	if len(mutators) > 1 {
		g.markConflicts(obj, out, mutators)
	}
	return out
}

// mutator is a record of a Modify or Append that would change the
// resource, with its evaluation.
type mutator struct {
	i   int // in the records
	res policy.Result
}

// markConflicts makes Conflict the records of the Modify and Append
// policies that contradict each other on the resource (two of them
// setting the same property to different values: policy-language.md
// §10.4, §16), as policy.ApplyAll finds them.
func (g *Governor) markConflicts(obj value.Value, out []State, ms []mutator) {
	results := make([]*policy.Result, len(ms))
	for i := range ms {
		results[i] = &ms[i].res
	}
	muts, err := policy.ApplyAll(obj, results, policy.ApplyOptions{Aliases: g.catalog})
	if err != nil {
		return
	}
	var conflicting []int
	for i, mu := range muts.Mutations {
		if len(mu.Conflicts) > 0 {
			conflicting = append(conflicting, ms[i].i)
		}
	}
	if len(conflicting) < 2 { // a conflict with the resource alone is not with another policy
		return
	}
	for _, i := range conflicting {
		out[i].ComplianceState = Conflict
	}
}

// complianceOf maps an evaluation to a compliance state (§10.11) and
// whether the definition applies to the resource at all (§15: no record
// otherwise).
func complianceOf(m *member, res *policy.Result) (string, bool) {
	if res.Err != nil {
		return Error, true
	}
	if !res.Applicable {
		return "", false
	}
	eff, _ := policy.ParseEffect(effectOf(m, res))
	switch {
	case eff == policy.Disabled:
		return "", false
	case eff.IfNotExists():
		// Applicable only when the whole if-condition holds.
		if !res.Matched {
			return "", false
		}
		if res.Effect == policy.None {
			return Compliant, true
		}
		return NonCompliant, true
	case eff == policy.DenyAction:
		return Protected, true
	case eff == policy.Manual:
		return Unknown, true
	}
	if res.Matched {
		return NonCompliant, true
	}
	return Compliant, true
}

// effectOf is the effect a member has, evaluated or static.
func effectOf(m *member, res *policy.Result) string {
	if res.EffectName != "" {
		if e, ok := policy.ParseEffect(res.EffectName); ok {
			return e.String()
		}
	}
	if m.static {
		return m.effect.String()
	}
	return ""
}

// details is policyEvaluationDetails.
func details(res *policy.Result) value.Value {
	var ms []value.Member
	if len(res.Expressions) > 0 {
		exprs := make([]value.Value, 0, len(res.Expressions))
		for _, e := range expressions(res.Expressions) {
			var fs []value.Member
			for _, k := range []string{"result", "expressionKind", "expression", "path", "expressionValue", "targetValue", "operator"} {
				switch v := e[k].(type) {
				case string:
					fs = append(fs, value.Member{Key: k, Value: value.StringValue(v)})
				case value.Value:
					fs = append(fs, value.Member{Key: k, Value: v})
				}
			}
			exprs = append(exprs, value.ObjectValue(fs...))
		}
		ms = append(ms, value.Member{Key: "evaluatedExpressions", Value: value.ArrayValue(exprs)})
	}
	if ex := res.Existence; ex != nil {
		// Azure's two fields, and what the existence check looked for
		// (the related type and name, where: the resource group or the
		// subscription) and which related resource satisfied it: the
		// related resources examined, as data.
		ine := []value.Member{
			{Key: "resourceId", Value: value.StringValue(ex.ResourceID)},
			{Key: "totalResources", Value: value.IntValue(int64(ex.TotalResources))},
		}
		if ex.Query.Type != "" {
			ine = append(ine, value.Member{Key: "relatedResourceType", Value: value.StringValue(ex.Query.Type)})
			if ex.Query.Name != "" {
				ine = append(ine, value.Member{Key: "relatedResourceName", Value: value.StringValue(ex.Query.Name)})
			}
			scope := "ResourceGroup"
			if ex.Query.SubscriptionScope {
				scope = "Subscription"
			}
			ine = append(ine, value.Member{Key: "existenceScope", Value: value.StringValue(scope)})
		}
		if ex.Matched != "" {
			ine = append(ine, value.Member{Key: "matchedResourceId", Value: value.StringValue(ex.Matched)})
		}
		ms = append(ms, value.Member{Key: "ifNotExistsDetails", Value: value.ObjectValue(ine...)})
	}
	if res.Err != nil {
		ms = append(ms, value.Member{Key: "reason", Value: value.StringValue("The policy could not be evaluated: " + res.Err.Error())})
	}
	if len(ms) == 0 {
		return value.Value{}
	}
	return value.ObjectValue(ms...)
}

// state is the record of a resource against an assignment's member
// (nil: the assignment itself, when it could not be compiled).
func (g *Governor) state(id *arm.ID, obj value.Value, as *assigned, m *member, now time.Time) State {
	st := State{
		ResourceID: obj.Field("id").Str(), ResourceType: obj.Field("type").Str(), ResourceLocation: obj.Field("location").Str(),
		ResourceGroup: id.ResourceGroup, SubscriptionID: id.SubscriptionID, ResourceTags: obj.Field("tags"),
		AssignmentID: as.a.ID, AssignmentName: as.a.Name, AssignmentScope: as.a.Scope, AssignmentParameters: as.params,
		DefinitionID: as.a.PolicyDefinitionID, Timestamp: now,
	}
	st.assignmentKey, st.definitionKey = as.key, as.defKey
	if m != nil {
		st.DefinitionID, st.DefinitionName = m.def.ID, m.def.Name
		st.SetID, st.SetName, st.RefID = m.setID, m.setName, m.refID
		st.GroupNames = m.groups
		st.definitionKey, st.setKey, st.refKey = m.defKey, m.setKey, m.refKey
		if m.static {
			st.Action = m.action
		}
	}
	return st
}
