package govern

import (
	"context"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/store"
)

// resourceColumns are the record properties that are the resource's own
// (every record of a resource has the same value), by the store's
// column: what countResources groups by.
var resourceColumns = map[string]string{
	"resourceType": "resource_type_key", "resourceGroup": "resource_group_key", "subscriptionId": "subscription_key",
}

// countResources answers, in the store, the $apply that counts distinct
// resources by one of resourceColumns (the dashboard's overview by
// resource type and by scope):
//
//	[filter(<condition>)/]groupby((resourceId, X))/groupby((X), aggregate($count as <alias>))
//
// with the same rows, in the same order, as the records run through
// odata.Apply (the generic path, which renders every record of the
// scope): a group per value of X, compared ignoring case (ASCII, as the
// generic grouping does; the store's keys, arm.KeyOf, fold other letters
// too), shown as the first record of the group has it, the groups in the
// order of their first records. Records of assignments no longer in
// force are not counted, as the generic path cannot render them. false
// when the query has another shape, a condition the store cannot run, or
// options the records are filtered by here ($from, $to, the history).
func (g *Governor) countResources(ctx context.Context, snap *snapshot, iq *insightsQuery) ([]map[string]any, bool, error) {
	if iq.apply == nil || iq.filter != nil || !iq.from.IsZero() || !iq.to.IsZero() || iq.q.History {
		return nil, false, nil
	}
	q := iq.q
	steps := iq.apply.Steps
	if len(steps) == 3 && steps[0].Kind == "filter" {
		where, args, ok := odata.ToSQL(steps[0].Filter, stateColumns)
		if !ok {
			return nil, false, nil
		}
		if where != "" {
			if q.Where != "" {
				where = q.Where + " AND (" + where + ")"
			}
			q.Where, q.Args = where, append(slices.Clip(q.Args), args...)
		}
		steps = steps[1:]
	}
	if len(steps) != 2 || steps[0].Kind != "groupby" || steps[0].CountAs != "" || len(steps[0].GroupBy) != 2 ||
		steps[1].Kind != "groupby" || steps[1].CountAs == "" || len(steps[1].GroupBy) != 1 {
		return nil, false, nil
	}
	by := steps[1].GroupBy[0]
	col := resourceColumns[by]
	if col == "" || !slices.Contains(steps[0].GroupBy, "resourceId") || !slices.Contains(steps[0].GroupBy, by) {
		return nil, false, nil
	}
	q.AssignmentKeys = make([]string, 0, len(snap.byKey))
	for k := range snap.byKey {
		q.AssignmentKeys = append(q.AssignmentKeys, k)
	}
	slices.Sort(q.AssignmentKeys)
	var counts []*store.PolicyStateCount
	rows := []map[string]any{}
	err := g.cs.Read(ctx, func(tx store.Tx) error {
		var err error
		if counts, err = tx.CountPolicyStates(ctx, q, []string{col}); err != nil {
			return err
		}
		// The groups in the order of their first records; each shown as
		// its first record has it.
		slices.SortFunc(counts, func(a, b *store.PolicyStateCount) int { return strings.Compare(a.FirstResourceKey, b.FirstResourceKey) })
		for _, c := range counts {
			if c.Resources == 0 {
				continue
			}
			first := q
			first.ResourceKey, first.Limit = c.FirstResourceKey, 0
			states, err := tx.ListPolicyStates(ctx, first)
			if err != nil {
				return err
			}
			var v any
			for _, s := range states {
				if rec, ok := snap.render(s); ok {
					v, _ = stateRecord{rec}.Get(by)
					break
				}
			}
			rows = append(rows, map[string]any{by: v, steps[1].CountAs: int64(c.Resources)})
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return rows, true, nil
}
