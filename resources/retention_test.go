package resources

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

// pruneStore is a store whose only data is a number of expired events;
// it records each PruneEvents call and the transaction it ran in.
type pruneStore struct {
	store.Store
	expired int
	writes  int
	calls   []pruneCall
}

type pruneCall struct {
	Write  int
	Before time.Time
	Limit  int
}

type pruneTx struct {
	store.Tx
	s *pruneStore
}

func (s *pruneStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	s.writes++
	return fn(pruneTx{s: s})
}

func (t pruneTx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	t.s.calls = append(t.s.calls, pruneCall{t.s.writes, before, limit})
	n := min(limit, t.s.expired)
	t.s.expired -= n
	return n, nil
}

// TestPruneEventsBatches: Manager.PruneEvents deletes in batches of
// pruneBatch, one transaction each, until a batch comes back short; the
// cutoff is the injected now minus the retention; retention 0 does
// nothing.
func TestPruneEventsBatches(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	cutoff := now.Add(-DefaultActivityRetention)
	tests := []struct {
		retention time.Duration
		expired   int
		deleted   int
		calls     []pruneCall
	}{
		{DefaultActivityRetention, 2*pruneBatch + 500, 2*pruneBatch + 500,
			[]pruneCall{{1, cutoff, pruneBatch}, {2, cutoff, pruneBatch}, {3, cutoff, pruneBatch}}},
		{DefaultActivityRetention, pruneBatch, pruneBatch, []pruneCall{{1, cutoff, pruneBatch}, {2, cutoff, pruneBatch}}},
		{DefaultActivityRetention, 0, 0, []pruneCall{{1, cutoff, pruneBatch}}},
		{0, 5000, 0, nil},
	}
	for _, tc := range tests {
		st := &pruneStore{expired: tc.expired}
		m := New(st, NewRegistry(), Config{Now: func() time.Time { return now }, ActivityRetention: tc.retention})
		n, err := m.PruneEvents(t.Context())
		if err != nil || n != tc.deleted {
			t.Errorf("retention %v, %d expired: PruneEvents = %d, %v; want %d", tc.retention, tc.expired, n, err, tc.deleted)
		}
		if diff := cmp.Diff(tc.calls, st.calls); diff != "" {
			t.Errorf("retention %v, %d expired: calls (-want +got):\n%s", tc.retention, tc.expired, diff)
		}
	}
}
