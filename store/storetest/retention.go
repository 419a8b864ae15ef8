package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

// testPruneEvents: PruneEvents deletes at most limit events older than
// the cutoff, oldest first, across subscriptions, and nothing newer.
func testPruneEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	var evs []*store.Event
	// 12 events, one a day going back from base, in two subscriptions,
	// appended newest first so that Seq order is not time order.
	for i := range 12 {
		evs = append(evs, &store.Event{ID: fmt.Sprintf("d%02d", i), SubscriptionKey: fmt.Sprintf("s%d", i%2),
			Timestamp: base.Add(-time.Duration(i) * 24 * time.Hour), ResourceKey: "/k", Body: []byte("{}")})
	}
	write(t, s, func(tx store.Tx) error { return tx.AppendEvents(ctx, evs...) })
	cutoff := base.Add(-7 * 24 * time.Hour) // d07 is exactly at the cutoff: kept
	prune := func(limit int) int {
		t.Helper()
		var n int
		write(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneEvents(ctx, cutoff, limit)
			return err
		})
		return n
	}
	remaining := func() []string {
		var ids []string
		for _, sub := range []string{"s0", "s1"} {
			ids = append(ids, eventIDs(listEvents(t, s, store.EventQuery{SubscriptionKey: sub}))...)
		}
		return ids
	}
	if n := prune(0); n != 0 {
		t.Errorf("PruneEvents(limit 0) = %d, want 0", n)
	}
	if n := prune(3); n != 3 {
		t.Errorf("first batch: PruneEvents = %d, want 3", n)
	}
	// The three oldest (d11, d10, d09) are gone, whatever their subscription.
	if diff := cmp.Diff([]string{"d08", "d06", "d04", "d02", "d00", "d07", "d05", "d03", "d01"}, remaining()); diff != "" {
		t.Errorf("after one batch of 3 (-want +got):\n%s", diff)
	}
	if n := prune(3); n != 1 {
		t.Errorf("second batch: PruneEvents = %d, want 1 (only d08 is older than the cutoff)", n)
	}
	if n := prune(3); n != 0 {
		t.Errorf("third batch: PruneEvents = %d, want 0", n)
	}
	if diff := cmp.Diff([]string{"d06", "d04", "d02", "d00", "d07", "d05", "d03", "d01"}, remaining()); diff != "" {
		t.Errorf("after pruning (-want +got):\n%s", diff)
	}
}

// testKeysCompareByBytes: keys are compared byte for byte: keys that
// strings.ToLower or a case-insensitive collation would merge (the
// Kelvin sign and k, the dotted capital I and i) are different resources.
func testKeysCompareByBytes(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	const parent = "/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/"
	names := []string{"kv", "\u212Av", "id", "\u0130d"}
	var rs []*store.Resource
	for _, n := range names {
		rs = append(rs, resource(parent+n, "Microsoft.Storage/storageAccounts", "/subscriptions/s/resourcegroups/rg", "s", "rg"))
	}
	for _, r := range rs {
		put(t, s, r)
	}
	for _, r := range rs {
		got, err := get(t, s, r.Key)
		if err != nil || got.ID != r.ID {
			t.Errorf("GetResource(%q) = %v, %v; want the resource %q", r.Key, got, err, r.ID)
		}
	}
	var keys []string
	read(t, s, func(tx store.Tx) error {
		l, err := tx.ListResources(t.Context(), store.ListQuery{KeyPrefix: parent + "k"})
		for _, r := range l {
			keys = append(keys, r.Key)
		}
		return err
	})
	if diff := cmp.Diff([]string{parent + "kv"}, keys); diff != "" {
		t.Errorf("KeyPrefix %q (-want +got):\n%s", parent+"k", diff)
	}
}
