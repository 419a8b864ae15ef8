package govern

import (
	"context"
	"log/slog"
	"time"

	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// DefaultHistoryRetention is how long the earlier compliance records
// (policyStates/default) are kept: 90 days, as Azure keeps compliance
// history.
const DefaultHistoryRetention = 90 * 24 * time.Hour

// historyPruneBatch bounds the records one pruning transaction deletes.
const historyPruneBatch = 1000

// PruneHistory deletes the earlier compliance records older than
// retention (nothing when it is 0), historyPruneBatch per transaction,
// until none is left or ctx ends; it returns how many it deleted.
func (g *Governor) PruneHistory(ctx context.Context, retention time.Duration) (int, error) {
	return g.pruneOlder(ctx, retention, func(tx store.Tx, before time.Time) (int, error) {
		return tx.PrunePolicyStateHistory(ctx, before, historyPruneBatch)
	})
}

// pruneOlder runs prune (which deletes at most historyPruneBatch rows
// older than before) in transactions until it deletes fewer, or ctx
// ends; nothing when retention is 0. It returns how many were deleted.
func (g *Governor) pruneOlder(ctx context.Context, retention time.Duration, prune func(tx store.Tx, before time.Time) (int, error)) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	before := g.now().Add(-retention)
	total := 0
	for {
		var n int
		err := g.cs.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = prune(tx, before)
			return err
		})
		total += n
		if err != nil || n < historyPruneBatch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// RunHistoryRetention prunes the compliance history (PruneHistory) and
// the compliance snapshots of the trend (PruneSnapshots) at once and
// then every resources.PruneInterval of retention until ctx ends; with
// no retention it returns at once.
func (g *Governor) RunHistoryRetention(ctx context.Context, retention time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(resources.PruneInterval(retention))
	defer t.Stop()
	for {
		if _, err := g.PruneHistory(ctx, retention); err != nil && ctx.Err() == nil {
			log.Error("pruning the compliance history", "err", err)
		}
		if _, err := g.PruneSnapshots(ctx, retention); err != nil && ctx.Err() == nil {
			log.Error("pruning the compliance snapshots", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
