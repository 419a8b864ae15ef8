package govern_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/benchdata"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// seed writes n resources in rgs resource groups straight into st (see
// benchdata.Seed), the workspaces' publicNetworkAccess f.publicAccess.
func (f *fixture) seed(tb testing.TB, st store.Store, n, rgs int) {
	tb.Helper()
	if _, err := benchdata.Seed(context.Background(), st, f.sub, n, rgs, benchdata.Options{PublicNetworkAccess: f.publicAccess}); err != nil {
		tb.Fatal(err)
	}
}

// assignAll assigns every ML built-in at the subscription, giving the
// parameters that have no default a value of their type (the first
// allowed value when there is a list).
func (f *fixture) assignAll(tb testing.TB, files []*definition.Definition) int {
	n := 0
	for i, d := range f.builtinDefs {
		var ps []string
		for _, p := range d.Parameters {
			if p.HasDefault {
				continue
			}
			v := `"x"`
			if len(p.AllowedValues) > 0 {
				v = p.AllowedValues[0].JSON()
			}
			ps = append(ps, fmt.Sprintf("%q:{\"value\":%s}", p.Name, v))
		}
		p := fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/policyAssignments/all%d?api-version=2025-03-01", f.sub, i)
		if _, err := f.do(tb, "PUT", p, `{"properties":{"policyDefinitionId":"`+f.builtins[i]+`","parameters":{`+strings.Join(ps, ",")+`}}}`); err != nil {
			tb.Fatalf("assigning %s: %v", d.Name, err)
		}
		n++
	}
	return n
}

// BenchmarkScan100k: a full scan of 100,000 resources (100 resource
// groups of workspaces and computes) against the 26 Machine Learning
// built-ins assigned at the subscription, records written; then what a
// client asks of the result: summarize at the subscription and a filtered
// queryResults page of 1,000 records. Run with -benchtime 1x: the setup
// writes the resources once.
func BenchmarkScan100k(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	f.seed(b, f.st, 100_000, 100)
	n := f.assignAll(b, nil)
	log := slog.New(slog.DiscardHandler)
	var records int
	b.Run("scan", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start, cpu0 := time.Now(), cpuTime()
			if err := f.gov.Scan(ctx, "/subscriptions/"+f.sub, log); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/scan")
			// Processor time of the process (every goroutine: the scan's
			// workers, the store's checkpointer, the collector) per
			// wall time: how much of the machine the scan keeps busy.
			b.ReportMetric(float64((cpuTime() - cpu0).Milliseconds()), "cpu-ms/scan")
		}
		if err := f.cs.Read(ctx, func(tx store.Tx) error {
			cs, err := tx.CountPolicyStates(ctx, store.PolicyStateQuery{SubscriptionKey: arm.KeyOf(f.sub)}, nil)
			if err == nil && len(cs) == 1 {
				records = cs[0].Count
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(records), "records")
		b.ReportMetric(float64(n), "assignments")
	})
	insights := func(name, method, path string) {
		b.Run(name, func(b *testing.B) {
			u, _ := url.Parse(path)
			id, err := arm.ParseID(u.Path)
			if err != nil {
				b.Fatal(err)
			}
			r := &resources.Request{Method: method, Path: u.Path, ID: id, Query: u.Query(), APIVersion: "2024-10-01", Caller: f.caller}
			for i := 0; i < b.N; i++ {
				resp, err := f.gov.Handle(ctx, r)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 && resp.List {
					b.ReportMetric(float64(len(resp.Items)), "rows")
				}
			}
		})
	}
	sub := "/subscriptions/" + f.sub + "/providers/Microsoft.PolicyInsights/policyStates/latest/"
	insights("summarize", "POST", sub+"summarize?api-version=2024-10-01")
	insights("summarize-assignment", "POST", "/subscriptions/"+f.sub+"/providers/Microsoft.Authorization/policyAssignments/all10/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version=2024-10-01")
	insights("queryResults-page", "POST", sub+"queryResults?api-version=2024-10-01&$top=1000&$filter="+
		url.QueryEscape("complianceState eq 'NonCompliant' and policyDefinitionAction eq 'audit'"))
	// The overview's counts of resources by type and by resource group
	// (the dashboard's four $apply queries, two shown): in the store
	// (countResources), and the generic path that renders every record
	// (forced by a $from every record passes).
	byType := "$apply=" + url.QueryEscape("groupby((resourceId, resourceType))/groupby((resourceType), aggregate($count as count))")
	byGroupNC := "$apply=" + url.QueryEscape("filter(complianceState eq 'NonCompliant')/groupby((resourceId, resourceGroup))/groupby((resourceGroup), aggregate($count as count))")
	insights("queryResults-by-type", "POST", sub+"queryResults?api-version=2024-10-01&"+byType)
	insights("queryResults-by-group-noncompliant", "POST", sub+"queryResults?api-version=2024-10-01&"+byGroupNC)
	insights("queryResults-by-type-generic", "POST", sub+"queryResults?api-version=2024-10-01&$from=2000-01-01T00:00:00Z&"+byType)
	insights("queryResults-by-group-noncompliant-generic", "POST", sub+"queryResults?api-version=2024-10-01&$from=2000-01-01T00:00:00Z&"+byGroupNC)
	insights("queryResults-assignment-page", "POST", "/subscriptions/"+f.sub+"/providers/Microsoft.Authorization/policyAssignments/all10/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2024-10-01&$top=1000")
	// The records of an assignment that has none: the store has no index
	// by assignment, so this reads every record (the worst case of a
	// query by assignment).
	b.Run("list-assignment-without-records", func(b *testing.B) {
		q := store.PolicyStateQuery{AssignmentKey: arm.KeyOf("/subscriptions/" + f.sub + "/providers/Microsoft.Authorization/policyAssignments/none"), Limit: 1000}
		for i := 0; i < b.N; i++ {
			if err := f.cs.Read(ctx, func(tx store.Tx) error {
				ss, err := tx.ListPolicyStates(ctx, q)
				if err == nil && len(ss) > 0 {
					err = fmt.Errorf("%d records of an assignment without any", len(ss))
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Deleting an assignment's records (the feed does it when the
	// assignment goes), one assignment per iteration, from all10 on (an
	// assignment with records of every compute).
	b.Run("delete-assignment-records", func(b *testing.B) {
		if b.N > n {
			b.Skipf("SKIP: %d iterations, %d assignments", b.N, n)
		}
		deleted := 0
		for i := 0; i < b.N; i++ {
			key := arm.KeyOf(fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/policyAssignments/all%d", f.sub, (10+i)%n))
			if err := f.cs.Write(ctx, func(tx store.Tx) error {
				m, err := tx.DeletePolicyStatesOfAssignment(ctx, key)
				deleted += m
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(deleted)/float64(b.N), "records/op")
	})
}

// BenchmarkWrittenToQueryable measures the time from a compute PUT's
// answer to its compliance record in the store, with the change feed
// woken by the commit as serve wires it (the ML built-in "Compute
// instances should have idle shutdown" assigned at the subscription).
// ns/op is a PUT and the wait for its record; ms-worst the longest wait.
func BenchmarkWrittenToQueryable(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	fd := feed.New(f.st, feed.Options{})
	f.notify = fd.Notify
	defer f.gov.Follow(fd, slog.New(slog.DiscardHandler))()
	runFeed(b, fd)
	sub := "/subscriptions/" + f.sub
	ws := sub + "/resourceGroups/rg0/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	f.must(b, "PUT", sub+"/resourceGroups/rg0?api-version=2021-04-01", `{"location":"eastus"}`)
	f.must(b, "PUT", ws+"?api-version=2024-04-01", `{"location":"eastus"}`)
	f.must(b, "PUT", sub+"/providers/Microsoft.Authorization/policyAssignments/idle?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+f.builtin(b, "679ddf89-ab8f-48a5-9029-e76054077449")+`"}}`)
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("%s/computes/ci%d", ws, i)
		f.must(b, "PUT", id+"?api-version=2024-04-01", `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`)
		start := time.Now()
		for {
			var n int
			if err := f.cs.Read(ctx, func(tx store.Tx) error {
				rs, err := tx.ListPolicyStates(ctx, store.PolicyStateQuery{ResourceKey: arm.KeyOf(id)})
				n = len(rs)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("%s: no record after 10 s", id)
			}
			time.Sleep(200 * time.Microsecond)
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "ms-worst")
}

// cpuTime is the processor time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
