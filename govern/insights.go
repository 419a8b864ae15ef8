package govern

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"iter"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// The Microsoft.PolicyInsights API, as @azure/arm-policyinsights calls it:
//
//	POST {scope}/providers/Microsoft.PolicyInsights/policyStates/{latest|default}/queryResults
//	     (and GET of its @odata.nextLink)
//	POST {scope}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize
//	POST {subscription or resource group}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation
//	GET  /subscriptions/{s}/providers/Microsoft.PolicyInsights/asyncOperationResults/{id}
//	POST {scope}/providers/Microsoft.PolicyInsights/policyEvents/default/queryResults
//	     (the Policy-category activity-log events: events.go)
//
// {scope} is a subscription, a resource group, a resource, or a policy
// assignment, definition or set definition. mlgov keeps the latest record
// per resource × assignment × definition reference, and the earlier ones
// that a record of another state replaced: `default` returns both.

// Serves reports whether id addresses what the governor answers itself
// (api.Insights): the PolicyInsights API, and the lists of policy
// definitions and set definitions of a subscription (built-ins and the
// subscription's own).
func (g *Governor) Serves(id *arm.ID) bool {
	if _, ok := isDefinitionsList(id); ok || IsCheckRestrictions(id) || IsTrend(id) {
		return true
	}
	if len(id.Parts) == 0 {
		return false
	}
	last := id.Parts[len(id.Parts)-1]
	if !arm.EqualName(last.Namespace, "Microsoft.PolicyInsights") {
		return false
	}
	// The other types are the manager's: remediations (but their
	// listDeployments) served, the rest (attestations, ...) refused as
	// types of a namespace mlgov implements.
	switch strings.ToLower(last.Type) {
	case "policystates", "policyevents", "asyncoperationresults":
		return true
	case "remediations": // a remediation's deployments (remediation_run.go)
		return strings.EqualFold(id.Trailing, "listDeployments") && g.rem.Load() != nil
	}
	return false
}

// stateFields are the record properties a query may name.
var stateFields = odata.NewFields(
	odata.Field{Name: "timestamp", Type: odata.Time},
	odata.Field{Name: "resourceId", Type: odata.String},
	odata.Field{Name: "policyAssignmentId", Type: odata.String},
	odata.Field{Name: "policyDefinitionId", Type: odata.String},
	odata.Field{Name: "effectiveParameters", Type: odata.String},
	odata.Field{Name: "isCompliant", Type: odata.Bool},
	odata.Field{Name: "subscriptionId", Type: odata.String},
	odata.Field{Name: "resourceType", Type: odata.String},
	odata.Field{Name: "resourceLocation", Type: odata.String},
	odata.Field{Name: "resourceGroup", Type: odata.String},
	odata.Field{Name: "resourceTags", Type: odata.String},
	odata.Field{Name: "policyAssignmentName", Type: odata.String},
	odata.Field{Name: "policyAssignmentOwner", Type: odata.String},
	odata.Field{Name: "policyAssignmentParameters", Type: odata.String},
	odata.Field{Name: "policyAssignmentScope", Type: odata.String},
	odata.Field{Name: "policyDefinitionName", Type: odata.String},
	odata.Field{Name: "policyDefinitionAction", Type: odata.String},
	odata.Field{Name: "policyDefinitionCategory", Type: odata.String},
	odata.Field{Name: "policySetDefinitionId", Type: odata.String},
	odata.Field{Name: "policySetDefinitionName", Type: odata.String},
	odata.Field{Name: "policySetDefinitionOwner", Type: odata.String},
	odata.Field{Name: "policySetDefinitionCategory", Type: odata.String},
	odata.Field{Name: "policySetDefinitionParameters", Type: odata.String},
	odata.Field{Name: "managementGroupIds", Type: odata.String},
	odata.Field{Name: "policyDefinitionReferenceId", Type: odata.String},
	odata.Field{Name: "complianceState", Type: odata.String},
)

// stateColumns are the fields the store filters in SQL (the rest is
// filtered here). The keys are lower-cased, as the store keeps them; the
// SQL compares ignoring case.
var stateColumns = map[string]string{
	"resourceId": "resource_key", "policyAssignmentId": "assignment_key", "policyDefinitionId": "definition_key",
	"policySetDefinitionId": "set_key", "policyDefinitionReferenceId": "reference_key", "subscriptionId": "subscription_key",
	"resourceGroup": "resource_group_key", "resourceType": "resource_type_key", "complianceState": "state",
	"policyDefinitionAction": "action",
}

// stateRecord is a stored record as an odata.Record.
type stateRecord struct{ v value.Value }

// Get implements odata.Record.
func (r stateRecord) Get(field string) (any, bool) {
	f, ok := r.v.Get(field)
	if !ok || f.Kind() == value.Null {
		return nil, ok
	}
	switch field {
	case "timestamp":
		t, err := time.Parse(time.RFC3339Nano, f.Str())
		if err != nil {
			return nil, true
		}
		return t, true
	case "isCompliant":
		return f.Bool(), true
	}
	if f.Kind() == value.String {
		return f.Str(), true
	}
	return f.JSON(), true
}

// insightsQuery is a parsed queryResults/summarize request.
type insightsQuery struct {
	q       store.PolicyStateQuery
	filter  odata.Expr // evaluated here when not in q.Where
	from    time.Time
	to      time.Time
	top     int
	skip    string
	apply   *odata.Apply
	orderBy odata.OrderBy
	sel     []string
	expand  bool // policyEvaluationDetails
}

func badQuery(err error) error {
	var oe *odata.Error
	if errors.As(err, &oe) {
		e := arm.Errorf("InvalidQueryParameterValue", "%s", oe.Error())
		e.Target = oe.Param
		return e
	}
	return arm.Errorf("InvalidQueryParameterValue", "%v", err)
}

// scopeQuery sets the store query of a scope (the id before
// /providers/Microsoft.PolicyInsights).
func (g *Governor) scopeQuery(scope *arm.ID) (store.PolicyStateQuery, error) {
	q := store.PolicyStateQuery{SubscriptionKey: arm.KeyOf(scope.SubscriptionID)}
	switch {
	case scope.IsManagementGroup():
		// The records of the subscriptions below the group.
		var t *arm.Tree
		if g.tree != nil {
			t = g.tree()
		}
		if !t.Has(scope.Name()) {
			return q, arm.Errorf("ResourceNotFound", "The management group '%s' was not found.", scope.Name())
		}
		_, subs := t.Below(scope.Name())
		if len(subs) == 0 {
			q.Where = "1 = 0"
			break
		}
		q.Where = "subscription_key IN (?" + strings.Repeat(", ?", len(subs)-1) + ")"
		for _, s := range subs {
			q.Args = append(q.Args, arm.KeyOf(s))
		}
	case scope.IsSubscription():
		// The subscription's records are those of the keys under it (the
		// subscription itself is never evaluated: governed): a range of
		// the key index, in the order pages are cut.
		q = store.PolicyStateQuery{KeyPrefix: scope.Key() + "/"}
	case scope.IsResourceGroup():
		q = store.PolicyStateQuery{Under: scope.Key()}
	case arm.EqualName(scope.Type(), TypeAssignment):
		q.AssignmentKey = scope.Key()
	case arm.EqualName(scope.Type(), TypeDefinition) && scope.ResourceGroup == "":
		// A custom definition of the subscription or a built-in of that name.
		q.Where = "(definition_key = ? OR definition_key = ?)"
		q.Args = []any{scope.Key(), arm.KeyOf(builtinPrefix + "policydefinitions/" + scope.Name())}
	case arm.EqualName(scope.Type(), TypeSetDefinition) && scope.ResourceGroup == "":
		q.Where = "(set_key = ? OR set_key = ?)"
		q.Args = []any{scope.Key(), arm.KeyOf(builtinPrefix + "policysetdefinitions/" + scope.Name())}
	default:
		q.ResourceKey = scope.Key()
	}
	return q, nil
}

func (g *Governor) parseQuery(scope *arm.ID, r *resources.Request) (*insightsQuery, error) {
	q, err := g.scopeQuery(scope)
	if err != nil {
		return nil, err
	}
	iq := &insightsQuery{q: q}
	v := r.Query
	get := func(k string) string {
		for key, vals := range v {
			if strings.EqualFold(key, k) && len(vals) > 0 {
				return vals[0]
			}
		}
		return ""
	}
	if s := get("$filter"); s != "" {
		e, err := odata.ParseFilter(s, stateFields)
		if err != nil {
			return nil, badQuery(err)
		}
		if where, args, ok := odata.ToSQL(e, stateColumns); ok && where != "" {
			if iq.q.Where != "" {
				iq.q.Where = iq.q.Where + " AND (" + where + ")"
			} else {
				iq.q.Where = where
			}
			iq.q.Args = append(iq.q.Args, args...)
		} else {
			iq.filter = e
		}
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"$from", &iq.from}, {"$to", &iq.to}} {
		if s := get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				e := arm.Errorf("InvalidQueryParameterValue", "%s: '%s' is not an ISO 8601 date-time.", p.name, arm.Clip(s, 64))
				e.Target = p.name
				return nil, e
			}
			*p.t = t
		}
	}
	if s := get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			e := arm.Errorf("InvalidQueryParameterValue", "$top: '%s' is not a positive integer.", arm.Clip(s, 64))
			e.Target = "$top"
			return nil, e
		}
		iq.top = n
	}
	iq.skip = get("$skiptoken")
	fields := stateFields
	if s := get("$apply"); s != "" {
		a, err := odata.ParseApply(s, stateFields)
		if err != nil {
			return nil, badQuery(err)
		}
		iq.apply, fields = a, a.Fields()
	}
	if s := get("$orderby"); s != "" {
		o, err := odata.ParseOrderBy(s, fields)
		if err != nil {
			return nil, badQuery(err)
		}
		iq.orderBy = o
	}
	if s := get("$select"); s != "" {
		sel, err := odata.ParseSelect(s, fields)
		if err != nil {
			return nil, badQuery(err)
		}
		iq.sel = sel
	}
	iq.expand = strings.Contains(strings.ToLower(get("$expand")), "policyevaluationdetails")
	return iq, nil
}

// pageSize is the records of a queryResults page without $top.
const pageSize = 1000

// records yields the records of a query in key order, from after.
func (g *Governor) records(ctx context.Context, iq *insightsQuery, after *store.PolicyStateKey) iter.Seq2[*store.PolicyState, error] {
	return func(yield func(*store.PolicyState, error) bool) {
		q := iq.q
		q.After, q.Limit = after, pageSize
		snap, err := g.current(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		for {
			var page []*store.PolicyState
			err := g.cs.Read(ctx, func(tx store.Tx) error {
				var err error
				page, err = tx.ListPolicyStates(ctx, q)
				return err
			})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, s := range page {
				if !iq.from.IsZero() && s.Timestamp.Before(iq.from) || !iq.to.IsZero() && s.Timestamp.After(iq.to) {
					continue
				}
				if iq.filter != nil {
					v, ok := snap.render(s)
					if !ok {
						continue
					}
					ok, err := odata.Eval(iq.filter, stateRecord{v})
					if err != nil {
						yield(nil, badQuery(err))
						return
					}
					if !ok {
						continue
					}
				}
				if !yield(s, nil) {
					return
				}
			}
			if len(page) < q.Limit {
				return
			}
			last := page[len(page)-1]
			q.After = &store.PolicyStateKey{ResourceKey: last.ResourceKey, AssignmentKey: last.AssignmentKey, ReferenceKey: last.ReferenceKey, Timestamp: last.Timestamp}
		}
	}
}

// skipToken encodes a cursor (or an offset, "o:N") for $skiptoken.
func encodeSkip(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeSkip(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		e := arm.Errorf("InvalidSkipToken", "The $skiptoken '%s' is not valid: use the @odata.nextLink of the previous page as it is.", arm.Clip(t, 64))
		e.Target = "$skiptoken"
		return "", e
	}
	return string(b), nil
}

// queryResults answers policyStates/{latest|default}/queryResults:
// `default` adds the earlier records the store keeps (every change of
// state; store.PolicyStateQuery.History), each key's records by time.
func (g *Governor) queryResults(ctx context.Context, scope *arm.ID, r *resources.Request, history bool) (*resources.Response, error) {
	iq, err := g.parseQuery(scope, r)
	if err != nil {
		return nil, err
	}
	iq.q.History = history
	snap, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	if iq.apply != nil {
		rows, counted, err := g.countResources(ctx, snap, iq)
		if err != nil {
			return nil, err
		}
		if !counted {
			if rows, err = g.applyRecords(ctx, snap, iq); err != nil {
				return nil, err
			}
		}
		if iq.orderBy != nil {
			iq.orderBy.Sort(rows)
		}
		if iq.top > 0 && len(rows) > iq.top {
			rows = rows[:iq.top]
		}
		items := make([][]byte, len(rows))
		for i, row := range rows {
			if iq.sel != nil {
				sub := map[string]any{}
				for _, f := range iq.sel {
					sub[f] = row[f]
				}
				row = sub
			}
			items[i], _ = json.Marshal(row)
		}
		return &resources.Response{List: true, OData: true, Items: items}, nil
	}
	limit := pageSize
	if iq.top > 0 {
		limit = iq.top
	}
	var items [][]byte
	next := ""
	if iq.orderBy != nil {
		// Sorted by other properties: every matching record, sorted,
		// paged by offset.
		var all []stateRecord
		for s, err := range g.records(ctx, iq, nil) {
			if err != nil {
				return nil, err
			}
			if v, ok := snap.render(s); ok {
				if iq.expand {
					v = g.withDetails(ctx, snap, s, v)
				}
				all = append(all, stateRecord{v})
			}
		}
		sort.SliceStable(all, func(i, j int) bool { return iq.orderBy.Compare(all[i], all[j]) < 0 })
		off := 0
		if iq.skip != "" {
			t, err := decodeSkip(iq.skip)
			if err != nil {
				return nil, err
			}
			if off, err = strconv.Atoi(strings.TrimPrefix(t, "o:")); err != nil || !strings.HasPrefix(t, "o:") || off < 0 {
				return nil, arm.Errorf("InvalidSkipToken", "The $skiptoken is not valid for this query.")
			}
		}
		for i := off; i < len(all) && len(items) < limit; i++ {
			items = append(items, g.render(all[i].v, iq))
		}
		if off+len(items) < len(all) && iq.top == 0 {
			next = encodeSkip("o:" + strconv.Itoa(off+len(items)))
		}
		return &resources.Response{List: true, OData: true, Items: items, Next: next, NextParam: "$skiptoken"}, nil
	}
	var after *store.PolicyStateKey
	if iq.skip != "" {
		t, err := decodeSkip(iq.skip)
		if err != nil {
			return nil, err
		}
		parts := strings.SplitN(t, "\x00", 4)
		var ts time.Time
		if len(parts) == 4 {
			us, err := strconv.ParseInt(parts[3], 10, 64)
			if err != nil || !iq.q.History {
				return nil, arm.Errorf("InvalidSkipToken", "The $skiptoken is not valid for this query.")
			}
			ts = time.UnixMicro(us).UTC()
		}
		if len(parts) < 3 || iq.q.History && len(parts) != 4 {
			return nil, arm.Errorf("InvalidSkipToken", "The $skiptoken is not valid for this query.")
		}
		after = &store.PolicyStateKey{ResourceKey: parts[0], AssignmentKey: parts[1], ReferenceKey: parts[2], Timestamp: ts}
	}
	var last *store.PolicyState
	more := false
	for s, err := range g.records(ctx, iq, after) {
		if err != nil {
			return nil, err
		}
		if len(items) == limit {
			more = true
			break
		}
		v, ok := snap.render(s)
		if !ok {
			continue
		}
		if iq.expand {
			v = g.withDetails(ctx, snap, s, v)
		}
		items = append(items, g.render(v, iq))
		last = s
	}
	if more && iq.top == 0 && last != nil {
		t := last.ResourceKey + "\x00" + last.AssignmentKey + "\x00" + last.ReferenceKey
		if iq.q.History {
			t += "\x00" + strconv.FormatInt(last.Timestamp.UnixMicro(), 10)
		}
		next = encodeSkip(t)
	}
	return &resources.Response{List: true, OData: true, Items: items, Next: next, NextParam: "$skiptoken"}, nil
}

// applyRecords runs the $apply of iq over the records it selects, each
// rendered (the generic path of any $apply).
func (g *Governor) applyRecords(ctx context.Context, snap *snapshot, iq *insightsQuery) ([]map[string]any, error) {
	rows, err := iq.apply.Run(func(yield func(odata.Record, error) bool) {
		for s, err := range g.records(ctx, iq, nil) {
			if err != nil {
				yield(nil, err)
				return
			}
			v, ok := snap.render(s)
			if !ok {
				continue
			}
			if !yield(stateRecord{v}, nil) {
				return
			}
		}
	})
	if err != nil {
		return nil, badQuery(err)
	}
	return rows, nil
}

// withDetails adds policyEvaluationDetails to a record that is not
// compliant: the stored resource evaluated again against the record's
// definition, explained.
func (g *Governor) withDetails(ctx context.Context, snap *snapshot, ps *store.PolicyState, v value.Value) value.Value {
	as := snap.byKey[ps.AssignmentKey]
	if as == nil || ps.State == Compliant {
		return v
	}
	m := as.byRef[ps.ReferenceKey]
	if m == nil {
		return v
	}
	rs, err := store.GetResources(ctx, g.st, ps.ResourceKey)
	if err != nil || rs[0] == nil {
		return v
	}
	obj, err := value.Parse(rs[0].Body)
	if err != nil {
		return v
	}
	id, err := arm.ParseID(obj.Field("id").Str())
	if err != nil {
		return v
	}
	p := &parents{ctx: ctx, st: g.st, cache: map[string]value.Value{}}
	rg, sub := p.of(id)
	res := m.prog.Evaluate(&policy.Input{Resource: obj, ResourceGroup: rg, Subscription: sub, RequestContext: value.ObjectValue(),
		Policy: m.policyIn, Now: g.now(), Lookup: storeLookup{ctx: ctx, st: g.st}, Explain: true})
	if d := details(&res); !d.IsUndefined() {
		return v.With("policyEvaluationDetails", d)
	}
	return v
}

// render is a record as returned: without policyEvaluationDetails unless
// expanded, projected on $select.
func (g *Governor) render(v value.Value, iq *insightsQuery) []byte {
	if !iq.expand {
		v = v.Without("policyEvaluationDetails")
	}
	if iq.sel != nil {
		return project([]byte(v.JSON()), iq.sel)
	}
	return []byte(v.JSON())
}

// summarize answers policyStates/latest/summarize. The counts of a
// subscription, resource group or assignment are the totals the store
// keeps with the records (store.SumPolicyStates: as many rows as groups,
// whatever the number of records); other scopes are counted from their
// records.
func (g *Governor) summarize(ctx context.Context, scope *arm.ID, r *resources.Request) (*resources.Response, error) {
	iq, err := g.parseQuery(scope, r)
	if err != nil {
		return nil, err
	}
	if iq.filter != nil || !iq.from.IsZero() || !iq.to.IsZero() {
		// Counts come from the store: a filter it cannot run is refused
		// rather than answered with counts of something else.
		return nil, arm.Errorf("InvalidQueryParameterValue", "summarize supports $filter on the properties the store indexes (%s); this one needs others.", strings.Join(sortedKeys(stateColumns), ", "))
	}
	totals, err := g.totals(ctx, scope, iq.q)
	if err != nil {
		return nil, err
	}
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(summary(totals, s.ids()))
	if err != nil {
		return nil, err
	}
	return &resources.Response{Body: b}, nil
}

// totals are the compliance totals of a scope: the totals the store
// keeps at a subscription, a resource group or an assignment (when q has
// no Where), else worked out from the records q selects.
func (g *Governor) totals(ctx context.Context, scope *arm.ID, q store.PolicyStateQuery) ([]*store.PolicyStateTotal, error) {
	var totals []*store.PolicyStateTotal
	err := g.cs.Read(ctx, func(tx store.Tx) error {
		var err error
		switch {
		case scope.IsSubscription() && q.Where == "":
			totals, err = tx.SumPolicyStates(ctx, arm.KeyOf(scope.SubscriptionID), "")
		case scope.IsResourceGroup() && q.Where == "":
			totals, err = tx.SumPolicyStates(ctx, arm.KeyOf(scope.SubscriptionID), arm.KeyOf(scope.ResourceGroup))
		case arm.EqualName(scope.Type(), TypeAssignment) && q.Where == "" && scope.SubscriptionID != "":
			// An assignment's records are in its subscription: its
			// totals, and its resources by their rolled-up state under
			// it as the overall ones.
			var all []*store.PolicyStateTotal
			all, err = tx.SumPolicyStates(ctx, arm.KeyOf(scope.SubscriptionID), "")
			key := scope.Key()
			for _, t := range all {
				if t.AssignmentKey != key {
					continue
				}
				totals = append(totals, t)
				if t.Level == store.TotalAssignmentResources {
					totals = append(totals, &store.PolicyStateTotal{Level: store.TotalResources, State: t.State, Count: t.Count})
				}
			}
		default:
			totals, err = tx.TotalPolicyStates(ctx, q)
		}
		return err
	})
	return totals, err
}

// CompliancePercentage is Azure's overall compliance percentage of
// resources counted by their rolled-up state (policy-language.md §16):
// (compliant + exempt + unknown) / (compliant + exempt + unknown +
// nonCompliant + conflict + error), in percent, rounded to two decimals;
// 100 when no resource is counted (nothing is non-compliant). Protected
// resources are in neither. It is the one formula: summarize's results
// carry it (compliancePercentage, an mlgov extension) and the
// compliance history's points are those results.
func CompliancePercentage(byState map[string]int) float64 {
	good := byState[Compliant] + byState[Exempt] + byState["Unknown"]
	all := good + byState[NonCompliant] + byState["Conflict"] + byState["Error"]
	if all == 0 {
		return 100
	}
	return math.Round(float64(good)*10000/float64(all)) / 100
}

// summary renders the summarize result of totals.
func summary(totals []*store.PolicyStateTotal, ids idNames) map[string]any {
	type defKey struct{ a, def, ref string }
	type defSum struct {
		setKey, action string
		states         map[string]int
	}
	defs := map[defKey]*defSum{}
	var defOrder []defKey
	assignStates := map[string]map[string]int{}
	var assignOrder []string
	resourceDetails := map[string]int{}
	for _, t := range totals {
		switch t.Level {
		case store.TotalRecords:
			k := defKey{t.AssignmentKey, t.DefinitionKey, t.ReferenceKey}
			d := defs[k]
			if d == nil {
				d = &defSum{states: map[string]int{}}
				defs[k] = d
				defOrder = append(defOrder, k)
			}
			d.setKey, d.action = t.SetKey, t.Action
			d.states[t.State] += t.Count
		case store.TotalAssignmentResources:
			if assignStates[t.AssignmentKey] == nil {
				assignStates[t.AssignmentKey] = map[string]int{}
				assignOrder = append(assignOrder, t.AssignmentKey)
			}
			assignStates[t.AssignmentKey][t.State] += t.Count
		case store.TotalResources:
			resourceDetails[t.State] += t.Count
		}
	}
	sort.Strings(assignOrder)
	sort.Slice(defOrder, func(i, j int) bool {
		a, b := defOrder[i], defOrder[j]
		if a.a != b.a {
			return a.a < b.a
		}
		if a.ref != b.ref {
			return a.ref < b.ref
		}
		return a.def < b.def
	})
	details := func(m map[string]int) []map[string]any {
		out := []map[string]any{}
		for _, st := range sortedStates(m) {
			out = append(out, map[string]any{"complianceState": strings.ToLower(st[:1]) + st[1:], "count": m[st]})
		}
		return out
	}
	nonCompliantPolicies := 0
	policyDetails := map[string]int{} // state -> policies with a record in it
	var assignments []map[string]any
	for _, a := range assignOrder {
		var pds []map[string]any
		ncPolicies := 0
		setID := ""
		for _, k := range defOrder {
			if k.a != a {
				continue
			}
			d := defs[k]
			if d.states[NonCompliant] > 0 {
				ncPolicies++
			}
			for st := range d.states {
				policyDetails[st]++
			}
			if d.setKey != "" {
				setID = ids.id(d.setKey)
			}
			pds = append(pds, map[string]any{
				"policyDefinitionId": ids.id(k.def), "policyDefinitionReferenceId": ids.ref(a, k.ref), "policyDefinitionGroupNames": []string{},
				"effect":  d.action,
				"results": map[string]any{"nonCompliantResources": d.states[NonCompliant], "resourceDetails": details(d.states)},
			})
		}
		nonCompliantPolicies += ncPolicies
		assignments = append(assignments, map[string]any{
			"policyAssignmentId": ids.id(a), "policySetDefinitionId": setID,
			"results": map[string]any{"nonCompliantResources": assignStates[a][NonCompliant], "nonCompliantPolicies": ncPolicies,
				"resourceDetails": details(assignStates[a]), "compliancePercentage": CompliancePercentage(assignStates[a])},
			"policyDefinitions": pds, "policyGroups": []any{},
		})
	}
	sum := map[string]any{
		"@odata.id":      nil,
		"@odata.context": "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary/$entity",
		"results": map[string]any{
			"nonCompliantResources": resourceDetails[NonCompliant], "nonCompliantPolicies": nonCompliantPolicies,
			"resourceDetails": details(resourceDetails), "policyDetails": details(policyDetails), "policyGroupDetails": []any{},
			"compliancePercentage": CompliancePercentage(resourceDetails),
		},
		"policyAssignments": assignments,
	}
	return map[string]any{
		"@odata.context": "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary",
		"@odata.count":   1,
		"value":          []any{sum},
	}
}

func sortedStates(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for st := range m {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return store.ComplianceRank(out[i]) < store.ComplianceRank(out[j]) })
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// idNames maps the lower-cased keys of the store back to ids as written.
type idNames struct {
	byKey map[string]string
	refs  map[string]string // assignment key | lower ref -> ref as written
}

func (n idNames) id(key string) string {
	if id, ok := n.byKey[key]; ok {
		return id
	}
	return key
}

func (n idNames) ref(assignmentKey, refKey string) string {
	if r, ok := n.refs[assignmentKey+"|"+refKey]; ok {
		return r
	}
	return refKey
}

// ids returns the spelling of the ids the snapshot knows.
func (s *snapshot) ids() idNames {
	n := idNames{byKey: map[string]string{}, refs: map[string]string{}}
	for _, list := range s.byScope {
		for _, as := range list {
			n.byKey[arm.KeyOf(as.a.ID)] = as.a.ID
			for _, m := range as.members {
				n.byKey[arm.KeyOf(m.def.ID)] = m.def.ID
				if m.setID != "" {
					n.byKey[arm.KeyOf(m.setID)] = m.setID
				}
				n.refs[arm.KeyOf(as.a.ID)+"|"+strings.ToLower(m.refID)] = m.refID
			}
		}
	}
	return n
}

// triggerEvaluation starts a scan of the scope, or answers the one that
// runs for it: 202 with the Location of its asyncOperationResults.
func (g *Governor) triggerEvaluation(ctx context.Context, scope *arm.ID) (*resources.Response, error) {
	if !scope.IsSubscription() && !scope.IsResourceGroup() {
		return nil, arm.Errorf("InvalidRequestUri", "triggerEvaluation is served at subscription and resource group scope.")
	}
	key := scope.Key()
	if rs, err := store.GetResources(ctx, g.st, key); err != nil {
		return nil, err
	} else if rs[0] == nil {
		if scope.IsSubscription() {
			return nil, arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", scope.SubscriptionID)
		}
		return nil, arm.Errorf("ResourceGroupNotFound", "Resource group '%s' could not be found.", scope.ResourceGroup)
	}
	var scanID string
	err := g.cs.Read(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, "policyscan", key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		scanID = string(o.Body)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if scanID != "" {
		done, total, err := g.ScanProgress(ctx, scanID)
		if err != nil || done >= total {
			scanID = "" // finished: a new scan
		}
	}
	if scanID == "" {
		scanID = g.newID()
		if err := g.StartScan(ctx, scanID, scope.String()); err != nil {
			return nil, err
		}
		if err := g.cs.Write(ctx, func(tx store.Tx) error {
			return tx.PutObject(ctx, &store.Object{Kind: "policyscan", Key: key, Body: []byte(scanID), UpdatedAt: g.now()})
		}); err != nil {
			return nil, err
		}
		g.Wake()
	}
	loc := "/subscriptions/" + scope.SubscriptionID + "/providers/Microsoft.PolicyInsights/asyncOperationResults/" + scanID
	return &resources.Response{Outcome: resources.Accepted, LocationPath: loc}, nil
}

// operationResult answers asyncOperationResults/{id}: 202 while the scan
// runs, then 200 {"status":"Succeeded"}.
func (g *Governor) operationResult(ctx context.Context, scanID string) (*resources.Response, error) {
	done, total, err := g.ScanProgress(ctx, scanID)
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, arm.Errorf("OperationNotFound", "The operation '%s' was not found.", arm.Clip(scanID, 64))
	}
	if done < total {
		return &resources.Response{Outcome: resources.Accepted}, nil
	}
	return &resources.Response{Body: []byte(`{"status":"Succeeded"}`)}, nil
}

// Handle serves a PolicyInsights request (Serves).
func (g *Governor) Handle(ctx context.Context, r *resources.Request) (*resources.Response, error) {
	id := r.ID
	if IsTrend(id) {
		return g.trend(ctx, r) // trend.go
	}
	if set, ok := isDefinitionsList(id); ok {
		if r.APIVersion == "" {
			return nil, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		}
		return g.listDefinitions(ctx, r, set)
	}
	if IsCheckRestrictions(id) {
		if r.APIVersion == "" {
			return nil, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		}
		return g.checkRestrictions(ctx, &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}, r) // whatif.go
	}
	last := id.Parts[len(id.Parts)-1]
	scope := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:len(id.Parts)-1]}
	if r.APIVersion == "" {
		return nil, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	typ, action := strings.ToLower(last.Type), strings.ToLower(id.Trailing)
	if id.SubscriptionID == "" {
		// At a management group: its policy states (of the subscriptions
		// below it) and those of an assignment at it; the rest is served
		// at subscription scope and below.
		if typ != "policystates" || (action != "queryresults" && action != "summarize") || scope.ManagementGroup() == "" {
			return nil, arm.Errorf("InvalidRequestUri", "PolicyInsights is served at subscription scope and below, and at a management group for policyStates queryResults and summarize.")
		}
	}
	switch {
	case typ == "asyncoperationresults" && action == "" && len(id.Parts) == 1 && id.ResourceGroup == "":
		if r.Method != "GET" {
			return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", r.Method, r.Path)
		}
		return g.operationResult(ctx, last.Name)
	case typ == "policystates":
		res := strings.ToLower(last.Name)
		if res != "latest" && res != "default" {
			return nil, arm.Errorf("InvalidRequestUri", "The policy states resource '%s' is not valid: use 'latest' or 'default'.", arm.Clip(last.Name, 64))
		}
		switch action {
		case "queryresults":
			if r.Method != "POST" && r.Method != "GET" {
				break
			}
			return g.queryResults(ctx, scope, r, res == "default")
		case "summarize":
			if r.Method != "POST" || res != "latest" {
				break
			}
			return g.summarize(ctx, scope, r)
		case "triggerevaluation":
			if r.Method != "POST" || res != "latest" {
				break
			}
			return g.triggerEvaluation(ctx, scope)
		default:
			return nil, arm.Errorf("InvalidRequestUri", "'%s' is not a policy states operation: use queryResults, summarize or triggerEvaluation.", arm.Clip(id.Trailing, 64))
		}
		return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", r.Method, r.Path)
	case typ == "remediations" && action == "listdeployments" && g.rem.Load() != nil:
		rid := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}
		return g.rem.Load().listDeployments(ctx, rid, r)
	case typ == "policyevents":
		if !strings.EqualFold(last.Name, "default") {
			return nil, arm.Errorf("InvalidRequestUri", "The policy events resource '%s' is not valid: use 'default'.", arm.Clip(last.Name, 64))
		}
		if action != "queryresults" {
			return nil, arm.Errorf("InvalidRequestUri", "'%s' is not a policy events operation: use queryResults.", arm.Clip(id.Trailing, 64))
		}
		if r.Method != "POST" && r.Method != "GET" {
			return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", r.Method, r.Path)
		}
		return g.policyEvents(ctx, scope, r)
	}
	return nil, arm.Errorf("InvalidResourceType", "The resource type 'Microsoft.PolicyInsights/%s' is not implemented by mlgov (policyStates, policyEvents and asyncOperationResults are).", arm.Clip(last.Type, 64))
}
