package govern

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// StartDue starts the pending scans of changed scopes whose second is
// over (RunScans does it every poll).
func (g *Governor) StartDue(ctx context.Context, log *slog.Logger) { g.startDue(ctx, log) }

// SummaryCounted is summarize's answer at scope worked out from the
// records (TotalPolicyStates) rather than from the totals the store keeps.
func (g *Governor) SummaryCounted(ctx context.Context, scope *arm.ID) ([]byte, error) {
	q, err := g.scopeQuery(scope)
	if err != nil {
		return nil, err
	}
	var totals []*store.PolicyStateTotal
	if err := g.cs.Read(ctx, func(tx store.Tx) error {
		var err error
		totals, err = tx.TotalPolicyStates(ctx, q)
		return err
	}); err != nil {
		return nil, err
	}
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(summary(totals, s.ids()))
}

// FirstProgram is the compiled program of the first member of the
// assignment of key in the current snapshot (nil if none).
func (g *Governor) FirstProgram(ctx context.Context, key string) any {
	s, err := g.current(ctx)
	if err != nil || s.byKey[key] == nil || len(s.byKey[key].members) == 0 {
		return nil
	}
	return s.byKey[key].members[0].prog
}
