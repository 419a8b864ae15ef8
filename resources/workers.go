package resources

import (
	"context"
	"time"
)

// Logger receives what the background workers have to report.
type Logger interface {
	Error(msg string, args ...any)
}

// RunCompletions completes due long-running operations every interval
// (mlgov serve: 20 ms, so that each round completes a few operations
// rather than a burst that holds the store's write lock; see CompleteDue)
// until ctx ends.
func (m *Manager) RunCompletions(ctx context.Context, every time.Duration, log Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.CompleteDue(ctx); err != nil && ctx.Err() == nil {
				log.Error("completing operations", "err", err)
			}
		}
	}
}

// RunRetention deletes expired activity-log events (PruneEvents) at once
// and then every PruneInterval of Config.ActivityRetention until ctx
// ends; with no retention it returns at once.
func (m *Manager) RunRetention(ctx context.Context, log Logger) {
	if m.cfg.ActivityRetention <= 0 {
		return
	}
	t := time.NewTicker(PruneInterval(m.cfg.ActivityRetention))
	defer t.Stop()
	for {
		if _, err := m.PruneEvents(ctx); err != nil && ctx.Err() == nil {
			log.Error("pruning the activity log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
