package armtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/store"
)

const trendAV = "?api-version=" + govern.TrendAPIVersion

// trendPoint is a point of complianceHistory.
type trendPoint struct {
	Timestamp            time.Time `json:"timestamp"`
	CompliancePercentage float64   `json:"compliancePercentage"`
	Results              struct {
		NonCompliantResources int     `json:"nonCompliantResources"`
		NonCompliantPolicies  int     `json:"nonCompliantPolicies"`
		CompliancePercentage  float64 `json:"compliancePercentage"`
		ResourceDetails       []struct {
			ComplianceState string `json:"complianceState"`
			Count           int    `json:"count"`
		} `json:"resourceDetails"`
	} `json:"results"`
}

func (p trendPoint) count(state string) int {
	for _, d := range p.Results.ResourceDetails {
		if d.ComplianceState == state {
			return d.Count
		}
	}
	return 0
}

// trend GETs the compliance history of scope with the query and decodes
// its points.
func (s *Server) trend(t *testing.T, token, scope, query string) []trendPoint {
	t.Helper()
	r := s.DoAs(t, token, "GET", scope+"/providers/Mlgov.Governance/complianceHistory"+trendAV+query, nil)
	if r.Status != 200 {
		t.Fatalf("complianceHistory %s%s: %d %s", scope, query, r.Status, r.Body)
	}
	var out struct{ Value []trendPoint }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("complianceHistory: %v: %s", err, r.Body)
	}
	return out.Value
}

// summarizePercentage is summarize's compliancePercentage at scope and
// its nonCompliant count.
func (s *Server) summarizePercentage(t *testing.T, scope string) (float64, int) {
	t.Helper()
	r := s.Do(t, "POST", scope+"/providers/Microsoft.PolicyInsights/policyStates/latest/summarize"+iav, nil)
	if r.Status != 200 {
		t.Fatalf("summarize: %d %s", r.Status, r.Body)
	}
	var sum struct {
		Value []struct {
			Results struct {
				CompliancePercentage  *float64 `json:"compliancePercentage"`
				NonCompliantResources int      `json:"nonCompliantResources"`
			} `json:"results"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &sum); err != nil || len(sum.Value) != 1 || sum.Value[0].Results.CompliancePercentage == nil {
		t.Fatalf("summarize has no compliancePercentage: %s", r.Body)
	}
	return *sum.Value[0].Results.CompliancePercentage, sum.Value[0].Results.NonCompliantResources
}

// TestComplianceTrend: complianceHistory's last point is the live
// totals, with summarize's percentage at the same moment; snapshots
// recorded at earlier (injected) times are its earlier points, in
// order, per scope and per assignment; a long range is downsampled; bad
// parameters are refused naming them; a Reader of one resource group
// reads its trend and is refused the subscription's.
func TestComplianceTrend(t *testing.T) {
	idle := mlBuiltin(t, "IdleShutdown_Audit.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ctx := context.Background()
		ws1 := s.mustWorkspace(t, "rg1", "ws1")
		ws2 := s.mustWorkspace(t, "rg2", "ws2")
		asg := s.assign(t, s.sub(), "idle", idle, "")
		ci := func(ws, name, idleTime string, want int) string {
			props := `"vmSize":"STANDARD_DS3_V2"`
			if idleTime != "" {
				props += `,"idleTimeBeforeShutdown":"` + idleTime + `"`
			}
			p := ws + "/computes/" + name
			s.put(t, p+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{`+props+`}}}`, want)
			return p
		}
		bad := ci(ws1, "ci-bad", "", 201)
		good := ci(ws1, "ci-good", "PT30M", 201)
		other := ci(ws2, "ci-other", "", 201)
		s.waitStates(t, s.sub(), "", "the computes' records", func(r []map[string]any) bool {
			return stateOf(r, bad, "idle") == "NonCompliant" && stateOf(r, good, "idle") == "Compliant" && stateOf(r, other, "idle") == "NonCompliant"
		})

		// No snapshot yet: one point, the live totals, as summarize.
		pct, nc := s.summarizePercentage(t, s.sub())
		pts := s.trend(t, s.token, s.sub(), "")
		if len(pts) != 1 || pts[0].CompliancePercentage != pct || pts[0].Results.CompliancePercentage != pct || pts[0].Results.NonCompliantResources != nc {
			t.Fatalf("the live point %+v, summarize %v%% %d non-compliant", pts, pct, nc)
		}
		if pct != 33.33 || pts[0].count("compliant") != 1 || pts[0].count("nonCompliant") != 2 {
			t.Errorf("1 compliant of 3: %+v, %v%%", pts[0], pct)
		}

		// The subscription in a management group of its own.
		s.group(t, "trend-mg", "")
		s.put(t, mgPath("trend-mg")+"/subscriptions/"+s.SubscriptionID+mgav, "", 200)

		// Snapshots at injected times, the compliance changing between.
		now := time.Now().UTC()
		t1, t2 := now.Add(-2*time.Hour).Truncate(time.Second), now.Add(-time.Hour).Truncate(time.Second)
		if n, err := s.Governor.RecordSnapshots(ctx, t1); err != nil || n != 5 {
			t.Fatalf("RecordSnapshots: %d %v (want the root and trend-mg groups, the subscription and two resource groups)", n, err)
		}
		ci(ws1, "ci-bad", "PT30M", 200)
		s.waitStates(t, s.sub(), "", "ci-bad compliant", func(r []map[string]any) bool { return stateOf(r, bad, "idle") == "Compliant" })
		if _, err := s.Governor.RecordSnapshots(ctx, t2); err != nil {
			t.Fatal(err)
		}
		from := "&$from=" + url.QueryEscape(now.Add(-3*time.Hour).Format(time.RFC3339))
		pts = s.trend(t, s.token, s.sub(), from)
		pct, _ = s.summarizePercentage(t, s.sub())
		if len(pts) != 3 || !pts[0].Timestamp.Equal(t1) || !pts[1].Timestamp.Equal(t2) || pts[2].Timestamp.Before(t2) {
			t.Fatalf("points of the last 3 hours: %+v", pts)
		}
		if pts[0].CompliancePercentage != 33.33 || pts[1].CompliancePercentage != 66.67 || pts[2].CompliancePercentage != pct || pct != 66.67 {
			t.Errorf("percentages %v, %v, %v (summarize now %v), want 33.33, 66.67, 66.67", pts[0].CompliancePercentage, pts[1].CompliancePercentage, pts[2].CompliancePercentage, pct)
		}
		// The management group's: its subscription's, the live point as
		// summarize at the group gives it.
		mg := s.trend(t, s.token, mgPath("trend-mg"), from)
		mgPct, _ := s.summarizePercentage(t, mgPath("trend-mg"))
		if len(mg) != 3 || mg[0].CompliancePercentage != 33.33 || mg[1].CompliancePercentage != 66.67 || mg[2].CompliancePercentage != mgPct || mgPct != 66.67 {
			t.Errorf("trend-mg's points %+v (summarize there %v)", mg, mgPct)
		}
		// A resource group's own: rg1 went from 1 of 2 to 2 of 2.
		rg1 := s.trend(t, s.token, s.RG("rg1"), from)
		if len(rg1) != 3 || rg1[0].CompliancePercentage != 50 || rg1[1].CompliancePercentage != 100 || rg1[2].CompliancePercentage != 100 {
			t.Errorf("rg1's points: %+v", rg1)
		}
		// A range that ends before the live totals has no live point.
		to := "&$to=" + url.QueryEscape(now.Add(-90*time.Minute).Format(time.RFC3339))
		if p := s.trend(t, s.token, s.sub(), from+to); len(p) != 1 || !p[0].Timestamp.Equal(t1) {
			t.Errorf("points up to 90 minutes ago: %+v", p)
		}
		// One assignment's, and one the scope has no records of.
		byAsg := s.trend(t, s.token, s.sub(), from+"&$filter="+url.QueryEscape("policyAssignmentId eq '"+asg+"'"))
		if len(byAsg) != 3 || byAsg[0].Results.NonCompliantResources != 2 || byAsg[0].Results.NonCompliantPolicies != 1 || byAsg[2].Results.NonCompliantResources != 1 {
			t.Errorf("the assignment's points: %+v", byAsg)
		}
		if p := s.trend(t, s.token, s.sub(), from+"&$filter="+url.QueryEscape("policyAssignmentId eq '"+s.sub()+"/providers/Microsoft.Authorization/policyAssignments/none'")); len(p) != 0 {
			t.Errorf("an assignment without records: %+v", p)
		}

		// Downsampled: 1000 snapshots of a minute each.
		key := arm.KeyOf(s.RG("rg2"))
		var snaps []*store.ComplianceSnapshot
		base := now.Add(-48 * time.Hour).Truncate(time.Second)
		for i := range 1000 {
			snaps = append(snaps, &store.ComplianceSnapshot{ScopeKey: key, Time: base.Add(time.Duration(i) * time.Minute),
				Body: fmt.Appendf(nil, `{"results":{"nonCompliantResources":%d,"compliancePercentage":%d}}`, i, i%100)})
		}
		if err := s.Store.Write(ctx, func(tx store.Tx) error { return tx.PutComplianceSnapshots(ctx, snaps) }); err != nil {
			t.Fatal(err)
		}
		long := s.trend(t, s.token, s.RG("rg2"), "&$from="+url.QueryEscape(base.Format(time.RFC3339))+"&$to="+url.QueryEscape(base.Add(999*time.Minute).Format(time.RFC3339)))
		if len(long) > govern.MaxTrendPoints || len(long) < govern.MaxTrendPoints/2 || long[len(long)-1].Results.NonCompliantResources != 999 {
			t.Errorf("1000 snapshots gave %d points (at most %d, the last snapshot last)", len(long), govern.MaxTrendPoints)
		}
		for i := 1; i < len(long); i++ {
			if !long[i].Timestamp.After(long[i-1].Timestamp) {
				t.Fatalf("points out of order at %d: %v, %v", i, long[i-1].Timestamp, long[i].Timestamp)
			}
		}

		// Bad parameters, each named.
		path := s.sub() + "/providers/Mlgov.Governance/complianceHistory"
		for _, c := range []struct {
			query, code, target string
		}{
			{trendAV + "&$from=yesterday", "InvalidQueryParameterValue", "$from"},
			{trendAV + "&$to=2026-13-01T00:00:00Z", "InvalidQueryParameterValue", "$to"},
			{trendAV + "&$from=2026-12-02T00:00:00Z&$to=2026-12-01T00:00:00Z", "InvalidQueryParameterValue", "$from"},
			{trendAV + "&$filter=" + url.QueryEscape("complianceState eq 'NonCompliant'"), "InvalidQueryParameterValue", "$filter"},
			{"?api-version=2019-10-01", "InvalidApiVersionParameter", "api-version"},
		} {
			r := s.Do(t, "GET", path+c.query, nil)
			wantError(t, c.query, r, 400, c.code, c.target)
		}
		if r := s.Do(t, "GET", path, nil); r.Status != 400 || r.ErrorCode() != "MissingApiVersionParameter" {
			t.Errorf("no api-version: %d %s", r.Status, r.Body)
		}
		// A group with no subscription below: no records, nothing
		// non-compliant; one that does not exist: 404.
		s.group(t, "corp", "")
		if pts := s.trend(t, s.token, mgPath("corp"), ""); len(pts) != 1 || pts[0].Results.NonCompliantResources != 0 {
			t.Errorf("at an empty management group: %+v", pts)
		}
		if r := s.Do(t, "GET", mgPath("nope")+"/providers/Mlgov.Governance/complianceHistory"+trendAV, nil); r.Status != 404 {
			t.Errorf("a management group that does not exist: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", s.RG("rg1")+"/providers/Microsoft.MachineLearningServices/workspaces/ws1/providers/Mlgov.Governance/complianceHistory"+trendAV, nil); r.Status != 400 || r.ErrorCode() != "InvalidRequestUri" {
			t.Errorf("at a resource: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", s.RG("nope")+"/providers/Mlgov.Governance/complianceHistory"+trendAV, nil); r.Status != 404 {
			t.Errorf("a resource group that does not exist: %d %s", r.Status, r.Body)
		}

		// A Reader of rg1: its trend, not the subscription's.
		reader := s.NewPrincipal(t, "rg1-reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		if p := s.trend(t, reader.Token, s.RG("rg1"), from); len(p) != 3 || p[0].CompliancePercentage != 50 {
			t.Errorf("the reader's rg1 trend: %+v", p)
		}
		r := s.DoAs(t, reader.Token, "GET", path+trendAV, nil)
		if r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" || !strings.Contains(r.ErrorMessage(), "Microsoft.PolicyInsights/policyStates/summarize/read") {
			t.Errorf("the reader at the subscription: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, reader.Token, "GET", s.RG("rg2")+"/providers/Mlgov.Governance/complianceHistory"+trendAV, nil); r.Status != 403 {
			t.Errorf("the reader at rg2: %d %s", r.Status, r.Body)
		}
	})
}
