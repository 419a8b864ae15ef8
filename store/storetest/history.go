package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

// testPolicyStateHistory: a record replaced by one of another state, or
// by none, is kept in the history, one replaced by one of the same state
// is not; History lists the current and the earlier records by key and
// timestamp, pages through them with a cursor that has the timestamp, and
// the other queries see the current records only; the history is pruned
// by age, oldest first.
func testPolicyStateHistory(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	at := func(p *store.PolicyState, d time.Duration) *store.PolicyState {
		p.Timestamp = base.Add(d)
		return p
	}
	a1 := func(state string, d time.Duration) *store.PolicyState {
		return at(policyState("rg1", "a", "as1", "", state), d)
	}
	a2 := func(state string, d time.Duration) *store.PolicyState {
		return at(policyState("rg1", "a", "as2", "", state), d)
	}
	b1 := func(state string, d time.Duration) *store.PolicyState {
		return at(policyState("rg1", "b", "as1", "", state), d)
	}
	put := func(ss ...*store.PolicyState) { putStates(t, s, nil, ss) }
	put(a1("Compliant", 1*time.Second), a2("Compliant", 1*time.Second), b1("NonCompliant", 1*time.Second))
	put(a1("NonCompliant", 2*time.Second), a2("Compliant", 2*time.Second))                                    // a1 changes, a2 does not
	put(a1("Compliant", 3*time.Second), a2("Compliant", 3*time.Second))                                       // a1 changes back
	put(a2("Compliant", 4*time.Second))                                                                       // a1 no longer applies
	write(t, s, func(tx store.Tx) error { return tx.DeletePolicyStates(t.Context(), b1("", 0).ResourceKey) }) // b goes

	want := []*store.PolicyState{
		a1("Compliant", 1*time.Second), a1("NonCompliant", 2*time.Second), a1("Compliant", 3*time.Second),
		a2("Compliant", 4*time.Second), b1("NonCompliant", 1*time.Second),
	}
	slices.SortFunc(want, func(x, y *store.PolicyState) int {
		return store.ComparePolicyStateKeys(historyKey(x), historyKey(y))
	})
	got := listStates(t, s, store.PolicyStateQuery{History: true})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("History (-want +got):\n%s", diff)
	}
	if got := stateKeys(listStates(t, s, store.PolicyStateQuery{})); !slices.Equal(got, []string{psKeyOf(a2("", 0))}) {
		t.Errorf("current records: %v, want a's record of as2 only", got)
	}
	// Paging: two records a page, each page after the last one's key
	// and timestamp.
	var paged []*store.PolicyState
	q := store.PolicyStateQuery{History: true, Limit: 2}
	for range 5 {
		page := listStates(t, s, q)
		paged = append(paged, page...)
		if len(page) < 2 {
			break
		}
		k := historyKey(page[len(page)-1])
		q.After = &k
	}
	if diff := cmp.Diff(want, paged); diff != "" {
		t.Errorf("History in pages of 2 (-want +got):\n%s", diff)
	}
	// Filters apply to the earlier records too.
	q = store.PolicyStateQuery{History: true, Where: "state = ?", Args: []any{"NonCompliant"}, AssignmentKey: a1("", 0).AssignmentKey}
	if got := listStates(t, s, q); len(got) != 2 || got[0].State != "NonCompliant" || got[1].State != "NonCompliant" {
		t.Errorf("History of as1's NonCompliant records: %v", got)
	}
	// Pruning: the history older than 2.5 s, one record at a time.
	var n1, n2 int
	write(t, s, func(tx store.Tx) error {
		var err error
		if n1, err = tx.PrunePolicyStateHistory(t.Context(), base.Add(2500*time.Millisecond), 1); err != nil {
			return err
		}
		n2, err = tx.PrunePolicyStateHistory(t.Context(), base.Add(2500*time.Millisecond), 10)
		return err
	})
	if n1 != 1 || n2 != 2 {
		t.Errorf("pruned %d then %d records, want 1 then 2", n1, n2)
	}
	got = listStates(t, s, store.PolicyStateQuery{History: true})
	if len(got) != 2 || !got[0].Timestamp.After(base.Add(2500*time.Millisecond)) || !got[1].Timestamp.After(base.Add(2500*time.Millisecond)) {
		t.Errorf("after pruning: %v", got)
	}
}

func historyKey(p *store.PolicyState) store.PolicyStateKey {
	return store.PolicyStateKey{ResourceKey: p.ResourceKey, AssignmentKey: p.AssignmentKey, ReferenceKey: p.ReferenceKey, Timestamp: p.Timestamp}
}
