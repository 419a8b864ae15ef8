package armtest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgov/mlgov/resources"
)

// TestActivityRetention: PruneEvents removes the events older than the
// retention from the activity log (batch after batch) and keeps the
// newer ones; retention 0 keeps everything.
func TestActivityRetention(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration
		wantOld   int // events of the old resource group left after pruning
	}{
		{"90 days", resources.DefaultActivityRetention, 0},
		{"forever", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var offset atomic.Int64 // the manager's clock runs ahead of real time by this much
			with := func(c *resources.Config) {
				c.ActivityRetention = tc.retention
				c.Now = func() time.Time { return time.Now().UTC().Add(time.Duration(offset.Load())) }
			}
			eachBackend(t, with, func(t *testing.T, s *Server) {
				offset.Store(0)
				mustCreateRG(t, s, "old")
				offset.Store(int64(91 * 24 * time.Hour))
				mustCreateRG(t, s, "new")
				n, err := s.Manager.PruneEvents(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if want := 2 - tc.wantOld; n != want {
					t.Errorf("PruneEvents deleted %d events, want %d", n, want)
				}
				if got := len(s.Events(t, "resourceGroupName eq 'old'", 0)); got != tc.wantOld {
					t.Errorf("events of the old group after pruning: %d, want %d", got, tc.wantOld)
				}
				if got := len(s.Events(t, "resourceGroupName eq 'new'", 0)); got != 2 {
					t.Errorf("events of the new group after pruning: %d, want 2", got)
				}
			})
		})
	}
}
