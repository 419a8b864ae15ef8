package govern

import (
	"context"
	"log/slog"
)

// StartDue starts the pending scans of changed scopes whose second is
// over (RunScans does it every poll).
func (g *Governor) StartDue(ctx context.Context, log *slog.Logger) { g.startDue(ctx, log) }
