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
// records (countTotals) rather than from the totals the store keeps.
func (g *Governor) SummaryCounted(ctx context.Context, scope *arm.ID) ([]byte, error) {
	q, err := g.scopeQuery(scope)
	if err != nil {
		return nil, err
	}
	var totals []*store.PolicyStateTotal
	if err := g.cs.Read(ctx, func(tx store.Tx) error {
		var err error
		totals, err = countTotals(ctx, tx, q)
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
