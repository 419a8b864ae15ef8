package resources

import (
	"context"
	"time"

	"github.com/mlgov/mlgov/store"
)

// DefaultActivityRetention is how long Azure keeps activity-log events:
// 90 days.
const DefaultActivityRetention = 90 * 24 * time.Hour

// pruneBatch bounds the events one pruning transaction deletes, so that
// it holds the store's write lock briefly.
const pruneBatch = 1000

// PruneEvents deletes the activity-log events older than
// Config.ActivityRetention (nothing when it is 0), pruneBatch events per
// transaction, until none is left or ctx ends; it returns how many it
// deleted.
func (m *Manager) PruneEvents(ctx context.Context) (int, error) {
	if m.cfg.ActivityRetention <= 0 {
		return 0, nil
	}
	before := m.cfg.Now().Add(-m.cfg.ActivityRetention)
	total := 0
	for {
		var n int
		err := m.st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneEvents(ctx, before, pruneBatch)
			return err
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// PruneInterval is how often a server should call PruneEvents for a
// retention: a tenth of it, from 100 ms to an hour.
func PruneInterval(retention time.Duration) time.Duration {
	return min(max(retention/10, 100*time.Millisecond), time.Hour)
}
