package resources

import (
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
)

func TestCompleteBatchFor(t *testing.T) {
	for _, c := range []struct {
		lag  time.Duration
		want int
	}{
		{-time.Second, completeBatch},
		{0, completeBatch},
		{completeLagFree, completeBatch}, // the lag of keeping up
		{completeLagFree + completeLagStep, completeBatch + 1},
		{completeLagFree + 10*completeLagStep + 5*time.Millisecond, completeBatch + 10},
		{time.Hour, completeBatchMax},
	} {
		if got := completeBatchFor(c.lag); got != c.want {
			t.Errorf("completeBatchFor(%v) = %d, want %d", c.lag, got, c.want)
		}
	}
}

// TestCompleteSafelyPanic: a panic while completing an operation (here a
// transaction that is not there) is an error naming the operation, not a
// crash of the completion worker.
func TestCompleteSafelyPanic(t *testing.T) {
	m := New(&pruneStore{}, NewRegistry(), Config{Now: time.Now})
	op := &store.Operation{ID: "op-1", Status: "InProgress",
		Body: []byte(`{"kind":"put","resourceId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"}`)}
	err := m.completeSafely(t.Context(), nil, op, time.Now())
	if err == nil || !strings.Contains(err.Error(), "completing operation op-1 panicked") {
		t.Fatalf("completeSafely: %v", err)
	}
}
