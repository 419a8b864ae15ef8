package govern

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// The compliance trend of the dashboard, with its whole history (Azure's
// portal keeps seven days):
//
//	GET {subscription or resource group}/providers/Mlgov.Governance/complianceHistory
//	    ?api-version=2026-12-01[&$from=…][&$to=…][&$filter=policyAssignmentId eq '…']
//
// Snapshots of summarize's results (store.ComplianceSnapshot) are
// recorded for every subscription and resource group every
// SnapshotInterval and after each periodic full scan; the answer is the
// snapshots of the range, by time, with the live totals as the last
// point. Authorized as summarize is (api: policyStates/summarize/read at
// the scope).

// TrendAPIVersion is the one api-version of complianceHistory.
const TrendAPIVersion = "2026-12-01"

// SnapshotInterval is how often RunSnapshots records the compliance
// totals of every scope.
const SnapshotInterval = time.Hour

// MaxTrendPoints bounds the points of one answer: a range with more
// snapshots is downsampled to the last snapshot of each of
// MaxTrendPoints-1 equal parts of it, then the live point.
const MaxTrendPoints = 400

// defaultTrendRange is the range without $from: seven days, as the portal.
const defaultTrendRange = 7 * 24 * time.Hour

// snapshotBody is what a snapshot keeps: summarize's results of the
// scope, overall and per assignment (by key).
type snapshotBody struct {
	Results     json.RawMessage            `json:"results"`
	Assignments map[string]json.RawMessage `json:"policyAssignments,omitempty"`
}

// IsTrend reports whether id addresses the compliance history.
func IsTrend(id *arm.ID) bool {
	return arm.EqualName(id.TrailingNamespace, "Mlgov.Governance") && strings.EqualFold(id.Trailing, "complianceHistory")
}

// snapshotOf renders the totals of a scope as a snapshot's body, through
// summary (the code of summarize).
func snapshotOf(totals []*store.PolicyStateTotal, ids idNames) ([]byte, error) {
	sum := summary(totals, ids)["value"].([]any)[0].(map[string]any)
	b := snapshotBody{Assignments: map[string]json.RawMessage{}}
	var err error
	if b.Results, err = json.Marshal(sum["results"]); err != nil {
		return nil, err
	}
	as, _ := sum["policyAssignments"].([]map[string]any)
	for _, a := range as {
		id, _ := a["policyAssignmentId"].(string)
		if b.Assignments[arm.KeyOf(id)], err = json.Marshal(a["results"]); err != nil {
			return nil, err
		}
	}
	return json.Marshal(b)
}

// RecordSnapshots records, stamped at, the compliance totals of every
// management group, subscription and resource group (a scope and time recorded again is
// replaced: replicas recording the same moment record one), and returns
// how many it recorded.
func (g *Governor) RecordSnapshots(ctx context.Context, at time.Time) (int, error) {
	snap, err := g.current(ctx)
	if err != nil {
		return 0, err
	}
	ids := snap.ids()
	var scopes []*arm.ID
	for _, typ := range []string{"Microsoft.Resources/subscriptions", "Microsoft.Resources/resourceGroups"} {
		for r, err := range store.ListAll(ctx, g.st, store.ListQuery{TypeKey: arm.KeyOf(typ)}) {
			if err != nil {
				return 0, err
			}
			if id, err := arm.ParseID(r.ID); err == nil {
				scopes = append(scopes, id)
			}
		}
	}
	// The management groups: their totals are those of the subscriptions
	// below them.
	if g.tree != nil {
		if t := g.tree(); t != nil && t.Root() != "" {
			groups, _ := t.Below(t.Root())
			for _, name := range groups {
				if id, err := arm.ParseID(arm.ManagementGroupID(name)); err == nil {
					scopes = append(scopes, id)
				}
			}
		}
	}
	const batch = 100
	var out []*store.ComplianceSnapshot
	n := 0
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		err := g.cs.Write(ctx, func(tx store.Tx) error { return tx.PutComplianceSnapshots(ctx, out) })
		n += len(out)
		out = out[:0]
		return err
	}
	for _, scope := range scopes {
		var q store.PolicyStateQuery
		if scope.IsManagementGroup() {
			if q, err = g.scopeQuery(scope); err != nil {
				continue // removed since the tree was read
			}
		}
		totals, err := g.totals(ctx, scope, q)
		if err != nil {
			return n, err
		}
		body, err := snapshotOf(totals, ids)
		if err != nil {
			return n, err
		}
		out = append(out, &store.ComplianceSnapshot{ScopeKey: scope.Key(), Time: at.UTC(), Body: body})
		if len(out) == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// RunSnapshots records the snapshots (RecordSnapshots) at every multiple
// of interval (stamped with it, so that every replica records the same
// moment) until ctx ends.
func (g *Governor) RunSnapshots(ctx context.Context, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	for {
		next := g.now().Truncate(interval).Add(interval)
		t := time.NewTimer(next.Sub(g.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := g.RecordSnapshots(ctx, next); err != nil && ctx.Err() == nil {
			log.Error("recording the compliance snapshots", "err", err)
		}
	}
}

// PruneSnapshots deletes the compliance snapshots older than retention
// (nothing when it is 0), historyPruneBatch per transaction, and returns
// how many it deleted.
func (g *Governor) PruneSnapshots(ctx context.Context, retention time.Duration) (int, error) {
	return g.pruneOlder(ctx, retention, func(tx store.Tx, before time.Time) (int, error) {
		return tx.PruneComplianceSnapshots(ctx, before, historyPruneBatch)
	})
}

// trendFilter is the one $filter complianceHistory takes.
var trendFilter = regexp.MustCompile(`(?i)^\s*policyAssignmentId\s+eq\s+'([^']+)'\s*$`)

func badTrendParam(param, format string, args ...any) error {
	e := arm.Errorf("InvalidQueryParameterValue", format, args...)
	e.Target = param
	return e
}

// trend answers complianceHistory (IsTrend).
func (g *Governor) trend(ctx context.Context, r *resources.Request) (*resources.Response, error) {
	id := r.ID
	if r.Method != "GET" {
		return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", r.Method, r.Path)
	}
	if r.APIVersion == "" {
		return nil, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if r.APIVersion != TrendAPIVersion {
		e := arm.Errorf("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", arm.Clip(r.APIVersion, 64), TrendAPIVersion)
		e.Target = "api-version"
		return nil, e
	}
	scope := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}
	if !scope.IsSubscription() && !scope.IsResourceGroup() && !scope.IsManagementGroup() {
		e := arm.Errorf("InvalidRequestUri", "complianceHistory is served at management group, subscription and resource group scope, not at '%s'.", arm.Clip(scope.String(), 300))
		e.Target = "scope"
		return nil, e
	}
	get := func(k string) string {
		for key, vals := range r.Query {
			if strings.EqualFold(key, k) && len(vals) > 0 {
				return vals[0]
			}
		}
		return ""
	}
	now := g.now().UTC()
	to, from := now, time.Time{}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"$from", &from}, {"$to", &to}} {
		if s := get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, badTrendParam(p.name, "%s: '%s' is not an RFC 3339 date-time (such as 2026-12-01T00:00:00Z).", p.name, arm.Clip(s, 64))
			}
			*p.t = t.UTC()
		}
	}
	if from.IsZero() {
		from = to.Add(-defaultTrendRange)
	}
	if from.After(to) {
		return nil, badTrendParam("$from", "$from (%s) is after $to (%s).", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	assignment := ""
	if s := get("$filter"); s != "" {
		m := trendFilter.FindStringSubmatch(s)
		if m == nil {
			return nil, badTrendParam("$filter", "complianceHistory takes $filter=policyAssignmentId eq '{id}' only, not '%s'.", arm.Clip(s, 200))
		}
		assignment = arm.KeyOf(m[1])
	}
	// The records the scope's totals are of: a management group's, those
	// of the subscriptions below it (and it must exist); the others' are
	// kept as totals (see totals).
	var q store.PolicyStateQuery
	if scope.IsManagementGroup() {
		var err error
		if q, err = g.scopeQuery(scope); err != nil {
			return nil, err
		}
	} else if rs, err := store.GetResources(ctx, g.st, scope.Key()); err != nil {
		return nil, err
	} else if rs[0] == nil {
		if scope.IsSubscription() {
			return nil, arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", scope.SubscriptionID)
		}
		return nil, arm.Errorf("ResourceGroupNotFound", "Resource group '%s' could not be found.", scope.ResourceGroup)
	}
	points, err := g.trendPoints(ctx, scope.Key(), from, to, assignment)
	if err != nil {
		return nil, err
	}
	if !to.Before(now) {
		// The live totals, as summarize gives them now.
		snap, err := g.current(ctx)
		if err != nil {
			return nil, err
		}
		totals, err := g.totals(ctx, scope, q)
		if err != nil {
			return nil, err
		}
		body, err := snapshotOf(totals, snap.ids())
		if err != nil {
			return nil, err
		}
		if p, ok := trendPoint(&store.ComplianceSnapshot{Time: now, Body: body}, assignment); ok {
			points = append(points, p)
		}
	}
	b, err := json.Marshal(map[string]any{"value": points})
	if err != nil {
		return nil, err
	}
	return &resources.Response{Body: b}, nil
}

// point is one point of the trend.
type point struct {
	Timestamp            string          `json:"timestamp"`
	CompliancePercentage float64         `json:"compliancePercentage"`
	Results              json.RawMessage `json:"results"`
}

// trendPoint is a snapshot as a point: its results, or its assignment's
// (false: the assignment has none in it).
func trendPoint(s *store.ComplianceSnapshot, assignment string) (point, bool) {
	var b snapshotBody
	if err := json.Unmarshal(s.Body, &b); err != nil {
		return point{}, false
	}
	res := b.Results
	if assignment != "" {
		if res = b.Assignments[assignment]; res == nil {
			return point{}, false
		}
	}
	var pc struct {
		CompliancePercentage float64 `json:"compliancePercentage"`
	}
	if err := json.Unmarshal(res, &pc); err != nil {
		return point{}, false
	}
	return point{Timestamp: s.Time.UTC().Format(time.RFC3339Nano), CompliancePercentage: pc.CompliancePercentage, Results: res}, true
}

// trendPoints reads the snapshots of a scope in [from, to], a page at a
// time, keeping at most MaxTrendPoints-1: the last of each equal part of
// the range.
func (g *Governor) trendPoints(ctx context.Context, scopeKey string, from, to time.Time, assignment string) ([]point, error) {
	const page = 1000
	parts := int64(MaxTrendPoints - 1)
	width := max(int64(to.Sub(from))/parts+1, 1)
	var out []point
	lastPart := int64(-1)
	after := from.Add(-time.Nanosecond)
	for {
		var snaps []*store.ComplianceSnapshot
		if err := g.cs.Read(ctx, func(tx store.Tx) error {
			var err error
			snaps, err = tx.ListComplianceSnapshots(ctx, scopeKey, after, to, page)
			return err
		}); err != nil {
			return nil, err
		}
		for _, s := range snaps {
			p, ok := trendPoint(s, assignment)
			if !ok {
				continue
			}
			part := int64(s.Time.Sub(from)) / width
			if part == lastPart && len(out) > 0 {
				out[len(out)-1] = p
			} else {
				out = append(out, p)
				lastPart = part
			}
		}
		if len(snaps) < page {
			return out, nil
		}
		after = snaps[len(snaps)-1].Time
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}
