package govern

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// policyEvents answers policyEvents/default/queryResults: the policy
// effects applied to requests (audit, deny, modify, append, denyAction),
// one record per policy of each Policy-category activity-log event of the
// scope, in the time window ($from/$to; default: the last day, as
// PolicyInsights does).
func (g *Governor) policyEvents(ctx context.Context, scope *arm.ID, r *resources.Request) (*resources.Response, error) {
	iq, err := g.parseQuery(scope, r)
	if err != nil {
		return nil, err
	}
	// The store's filter was made for compliance records: here every
	// condition is evaluated on the event records.
	if iq.q.Where != "" || iq.filter != nil {
		f := r.Query.Get("$filter")
		for k, v := range r.Query {
			if strings.EqualFold(k, "$filter") && len(v) > 0 {
				f = v[0]
			}
		}
		if iq.filter, err = odata.ParseFilter(f, stateFields); err != nil {
			return nil, badQuery(err)
		}
	}
	now := g.now()
	eq := store.EventQuery{SubscriptionKey: arm.KeyOf(scope.SubscriptionID), From: now.Add(-24 * time.Hour), To: now, Limit: 1000}
	if !iq.from.IsZero() {
		eq.From = iq.from
	}
	if !iq.to.IsZero() {
		eq.To = iq.to
	}
	var keep func(v value.Value) bool
	switch {
	case scope.IsSubscription():
	case scope.IsResourceGroup():
		eq.ResourceGroup = arm.KeyOf(scope.ResourceGroup)
	case arm.EqualName(scope.Type(), TypeAssignment):
		key := scope.Key()
		keep = func(v value.Value) bool { return arm.KeyOf(v.Field("policyAssignmentId").Str()) == key }
	case arm.EqualName(scope.Type(), TypeDefinition) && scope.ResourceGroup == "":
		name := strings.ToLower(scope.Name())
		keep = func(v value.Value) bool { return strings.ToLower(v.Field("policyDefinitionName").Str()) == name }
	case arm.EqualName(scope.Type(), TypeSetDefinition) && scope.ResourceGroup == "":
		name := strings.ToLower(scope.Name())
		keep = func(v value.Value) bool { return strings.ToLower(v.Field("policySetDefinitionName").Str()) == name }
	default:
		eq.ResourceKey = scope.Key()
	}
	var recs []stateRecord
	for {
		var evs []*store.Event
		if err := g.st.Read(ctx, func(tx store.Tx) error {
			var err error
			evs, err = tx.ListEvents(ctx, eq)
			return err
		}); err != nil {
			return nil, err
		}
		for _, e := range evs {
			for _, v := range eventRecords(e.Body) {
				if keep != nil && !keep(v) {
					continue
				}
				if iq.filter != nil {
					ok, err := odata.Eval(iq.filter, stateRecord{v})
					if err != nil {
						return nil, badQuery(err)
					}
					if !ok {
						continue
					}
				}
				recs = append(recs, stateRecord{v})
			}
		}
		if len(evs) < eq.Limit {
			break
		}
		eq.AfterSeq = evs[len(evs)-1].Seq
	}
	if iq.apply != nil {
		rows, err := iq.apply.Run(func(yield func(odata.Record, error) bool) {
			for _, rec := range recs {
				if !yield(rec, nil) {
					return
				}
			}
		})
		if err != nil {
			return nil, badQuery(err)
		}
		if iq.orderBy != nil {
			iq.orderBy.Sort(rows)
		}
		if iq.top > 0 && len(rows) > iq.top {
			rows = rows[:iq.top]
		}
		items := make([][]byte, len(rows))
		for i, row := range rows {
			items[i], _ = json.Marshal(row)
		}
		return &resources.Response{List: true, OData: true, Items: items}, nil
	}
	if iq.orderBy != nil {
		sort.SliceStable(recs, func(i, j int) bool { return iq.orderBy.Compare(recs[i], recs[j]) < 0 })
	}
	off := 0
	if iq.skip != "" {
		t, err := decodeSkip(iq.skip)
		if err == nil {
			off, err = strconv.Atoi(strings.TrimPrefix(t, "o:"))
		}
		if err != nil || off < 0 {
			return nil, arm.Errorf("InvalidSkipToken", "The $skiptoken is not valid for this query.")
		}
	}
	limit := pageSize
	if iq.top > 0 {
		limit = iq.top
	}
	var items [][]byte
	for i := off; i < len(recs) && len(items) < limit; i++ {
		b := []byte(recs[i].v.JSON())
		if iq.sel != nil {
			b = project(b, iq.sel)
		}
		items = append(items, b)
	}
	next := ""
	if off+len(items) < len(recs) && iq.top == 0 {
		next = encodeSkip("o:" + strconv.Itoa(off+len(items)))
	}
	return &resources.Response{List: true, OData: true, Items: items, Next: next, NextParam: "$skiptoken"}, nil
}

// eventRecords are the PolicyEvent records of an activity-log event: one
// per policy of a Policy-category event, none for other events.
func eventRecords(body []byte) []value.Value {
	e, err := value.Parse(body)
	if err != nil || e.Field("category").Field("value").Str() != "Policy" {
		return nil
	}
	op := e.Field("operationName").Field("value").Str()
	effect := strings.TrimSuffix(strings.TrimPrefix(op, "Microsoft.Authorization/policies/"), "/action")
	props := e.Field("properties")
	policies, err := value.Parse([]byte(props.Field("policies").Str()))
	if err != nil || policies.Kind() != value.Array {
		return nil
	}
	rid := e.Field("resourceId").Str()
	id, _ := arm.ParseID(rid)
	rg := ""
	if id != nil {
		rg = id.ResourceGroup
	}
	s := value.StringValue
	var out []value.Value
	for _, p := range policies.Elems() {
		params := "{}"
		if pv := p.Field("policyAssignmentParameters"); pv.Kind() == value.Object {
			params = pv.JSON()
		}
		out = append(out, value.ObjectValue(
			value.Member{Key: "@odata.id", Value: value.NullValue()},
			value.Member{Key: "@odata.context", Value: s("https://management.azure.com/providers/Microsoft.PolicyInsights/policyEvents/$metadata#default/$entity")},
			value.Member{Key: "timestamp", Value: e.Field("eventTimestamp")},
			value.Member{Key: "resourceId", Value: s(rid)},
			value.Member{Key: "policyAssignmentId", Value: s(p.Field("policyAssignmentId").Str())},
			value.Member{Key: "policyDefinitionId", Value: s(p.Field("policyDefinitionId").Str())},
			value.Member{Key: "effectiveParameters", Value: s("")},
			value.Member{Key: "isCompliant", Value: value.BoolValue(false)},
			value.Member{Key: "subscriptionId", Value: e.Field("subscriptionId")},
			value.Member{Key: "resourceType", Value: e.Field("resourceType").Field("value")},
			value.Member{Key: "resourceLocation", Value: s(props.Field("resourceLocation").Str())},
			value.Member{Key: "resourceGroup", Value: s(rg)},
			value.Member{Key: "resourceTags", Value: s("")},
			value.Member{Key: "policyAssignmentName", Value: s(p.Field("policyAssignmentName").Str())},
			value.Member{Key: "policyAssignmentOwner", Value: s("tbd")},
			value.Member{Key: "policyAssignmentParameters", Value: s(params)},
			value.Member{Key: "policyAssignmentScope", Value: s(p.Field("policyAssignmentScope").Str())},
			value.Member{Key: "policyDefinitionName", Value: s(p.Field("policyDefinitionName").Str())},
			value.Member{Key: "policyDefinitionAction", Value: s(strings.ToLower(effect))},
			value.Member{Key: "policyDefinitionCategory", Value: s("tbd")},
			value.Member{Key: "policySetDefinitionId", Value: s(p.Field("policySetDefinitionId").Str())},
			value.Member{Key: "policySetDefinitionName", Value: s(p.Field("policySetDefinitionName").Str())},
			value.Member{Key: "policyDefinitionReferenceId", Value: s(p.Field("policyDefinitionReferenceId").Str())},
			value.Member{Key: "complianceState", Value: s(NonCompliant)},
			value.Member{Key: "tenantId", Value: e.Field("tenantId")},
			value.Member{Key: "principalOid", Value: s("")},
		))
	}
	return out
}
