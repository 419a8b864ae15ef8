package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

// testComplianceSnapshots: snapshots are listed per scope, by time,
// within (after, to], up to a limit; a scope and time written again
// replaces the body; pruning deletes the oldest first, of every scope.
func testComplianceSnapshots(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	var snaps []*store.ComplianceSnapshot
	// Hourly snapshots of two scopes, written newest first.
	for i := 9; i >= 0; i-- {
		for _, sc := range []string{"/subscriptions/s", "/subscriptions/s/resourcegroups/rg"} {
			snaps = append(snaps, &store.ComplianceSnapshot{ScopeKey: sc, Time: base.Add(time.Duration(i) * time.Hour), Body: fmt.Appendf(nil, `{"n":%d}`, i)})
		}
	}
	write(t, s, func(tx store.Tx) error { return tx.PutComplianceSnapshots(ctx, snaps) })
	write(t, s, func(tx store.Tx) error {
		return tx.PutComplianceSnapshots(ctx, []*store.ComplianceSnapshot{{ScopeKey: "/subscriptions/s", Time: base.Add(3 * time.Hour), Body: []byte(`{"n":"again"}`)}})
	})
	list := func(scope string, after, to time.Time, limit int) []string {
		t.Helper()
		var got []*store.ComplianceSnapshot
		read(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.ListComplianceSnapshots(ctx, scope, after, to, limit)
			return err
		})
		var out []string
		for _, g := range got {
			if g.ScopeKey != scope {
				t.Errorf("a snapshot of %q listed for %q", g.ScopeKey, scope)
			}
			out = append(out, g.Time.Sub(base).String()+" "+string(g.Body))
		}
		return out
	}
	want := []string{"2h0m0s {\"n\":2}", "3h0m0s {\"n\":\"again\"}", "4h0m0s {\"n\":4}"}
	if diff := cmp.Diff(want, list("/subscriptions/s", base.Add(time.Hour), base.Add(4*time.Hour), 100)); diff != "" {
		t.Errorf("(1h, 4h] of the subscription (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[:2], list("/subscriptions/s", base.Add(time.Hour), base.Add(4*time.Hour), 2)); diff != "" {
		t.Errorf("limit 2 (-want +got):\n%s", diff)
	}
	if got := list("/subscriptions/s/resourcegroups/rg", base.Add(-time.Hour), base.Add(24*time.Hour), 100); len(got) != 10 || got[3] != "3h0m0s {\"n\":3}" {
		t.Errorf("the resource group's snapshots: %q", got)
	}
	if got := list("/subscriptions/other", base.Add(-time.Hour), base.Add(24*time.Hour), 100); len(got) != 0 {
		t.Errorf("another scope: %q", got)
	}
	var n int
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneComplianceSnapshots(ctx, base.Add(2*time.Hour), 3)
		return err
	})
	if n != 3 {
		t.Errorf("PruneComplianceSnapshots(before 2h, limit 3) = %d, want 3", n)
	}
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneComplianceSnapshots(ctx, base.Add(2*time.Hour), 3)
		return err
	})
	if n != 1 {
		t.Errorf("second batch: PruneComplianceSnapshots = %d, want 1 (four are older than 2h)", n)
	}
	if got := list("/subscriptions/s", base.Add(-time.Hour), base.Add(24*time.Hour), 100); len(got) != 8 || got[0] != "2h0m0s {\"n\":2}" {
		t.Errorf("after pruning: %q", got)
	}
}

// testEventsAfter: EventsAfter follows the events of every subscription
// and log by Seq; LastEventSeq is the highest.
func testEventsAfter(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	var last int64
	read(t, s, func(tx store.Tx) error {
		var err error
		last, err = tx.LastEventSeq(ctx)
		return err
	})
	if last != 0 {
		t.Errorf("LastEventSeq of no events = %d", last)
	}
	var evs []*store.Event
	for i := range 5 {
		evs = append(evs, &store.Event{ID: fmt.Sprintf("e%d", i), SubscriptionKey: fmt.Sprintf("s%d", i%2),
			Timestamp: base.Add(-time.Duration(i) * time.Hour), ResourceKey: "/k", CorrelationID: "c", Body: []byte("{}")})
	}
	write(t, s, func(tx store.Tx) error { return tx.AppendEvents(ctx, evs...) })
	read(t, s, func(tx store.Tx) error {
		var err error
		last, err = tx.LastEventSeq(ctx)
		return err
	})
	if last != evs[4].Seq {
		t.Errorf("LastEventSeq = %d, want %d", last, evs[4].Seq)
	}
	var got []*store.Event
	read(t, s, func(tx store.Tx) error {
		var err error
		got, err = tx.EventsAfter(ctx, evs[0].Seq, 3)
		return err
	})
	if diff := cmp.Diff([]string{"e1", "e2", "e3"}, eventIDs(got)); diff != "" {
		t.Errorf("EventsAfter(e0, 3) (-want +got):\n%s", diff)
	}
	if len(got) > 0 && (got[0].SubscriptionKey != "s1" || got[0].CorrelationID != "c" || !got[0].Timestamp.Equal(evs[1].Timestamp)) {
		t.Errorf("EventsAfter: %+v", got[0])
	}
}
