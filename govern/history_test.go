package govern_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
)

// TestPruneHistory: the earlier records older than the retention go, in
// batches, the newer ones stay; no retention prunes nothing.
func TestPruneHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	record := func(i int, state string, ts time.Time) *store.PolicyState {
		key := fmt.Sprintf("/subscriptions/%s/resourcegroups/rg0/providers/microsoft.machinelearningservices/workspaces/w%04d", f.sub, i)
		return &store.PolicyState{ResourceKey: key, AssignmentKey: "/subscriptions/" + f.sub + "/providers/microsoft.authorization/policyassignments/a",
			SubscriptionKey: f.sub, ResourceGroupKey: "rg0", State: state, Action: "audit", Timestamp: ts, Body: []byte(`{}`)}
	}
	// 2,500 records of 100 days ago replaced, 10 of two hours ago replaced.
	put := func(from, to int, state string, ts time.Time) {
		var rs []*store.PolicyState
		var keys []string
		for i := from; i < to; i++ {
			rs = append(rs, record(i, state, ts))
			keys = append(keys, rs[len(rs)-1].ResourceKey)
		}
		if err := f.cs.Write(ctx, func(tx store.Tx) error { return tx.PutPolicyStatesBatch(ctx, rs, keys) }); err != nil {
			t.Fatal(err)
		}
	}
	put(0, 2500, "NonCompliant", now.Add(-100*24*time.Hour))
	put(0, 2500, "Compliant", now.Add(-99*24*time.Hour))
	put(2500, 2510, "NonCompliant", now.Add(-2*time.Hour))
	put(2500, 2510, "Compliant", now.Add(-time.Hour))
	history := func() int {
		var n int
		if err := f.cs.Read(ctx, func(tx store.Tx) error {
			ss, err := tx.ListPolicyStates(ctx, store.PolicyStateQuery{History: true})
			n = len(ss)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := history(); got != 2510+2510 {
		t.Fatalf("records with history: %d, want %d", got, 2510+2510)
	}
	if n, err := f.gov.PruneHistory(ctx, 0); n != 0 || err != nil {
		t.Errorf("PruneHistory with no retention: %d, %v", n, err)
	}
	n, err := f.gov.PruneHistory(ctx, 90*24*time.Hour)
	if n != 2500 || err != nil {
		t.Errorf("PruneHistory(90 days) = %d, %v; want 2500", n, err)
	}
	if got := history(); got != 2510+10 {
		t.Errorf("records with history after pruning: %d, want %d", got, 2510+10)
	}
}
