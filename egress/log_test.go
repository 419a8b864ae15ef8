package egress_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlgov/mlgov/egress"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/postgres"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
	"github.com/mlgov/mlgov/store/sqlite"
)

// TestLogRoundTrip: records written through the Log (batched, off the
// caller's path) come back from List on both backends, per workspace,
// filtered by job, decision and host, in time order, paged with the
// position List gives; what is queued when Run ends is written.
func TestLogRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var st store.Store
			var err error
			if backend == "sqlite" {
				st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
			} else {
				st, err = postgres.Open(ctx, pgtest.SchemaURL(t))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ws1 := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/WS1"
			ws2 := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws2"
			lg := egress.NewLog(st, nil)
			rctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { lg.Run(rctx); close(done) }()
			t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
			for i := range 30 {
				d := egress.Allowed
				if i%3 == 0 {
					d = egress.Denied
				}
				lg.Record(&egress.Record{Time: t0.Add(time.Duration(i) * time.Millisecond), WorkspaceID: ws1, JobID: ws1 + fmt.Sprintf("/jobs/j%d", i%2),
					Method: "CONNECT", Host: fmt.Sprintf("h%d.example.com", i%5), Port: 443, Decision: d, Rule: "r", BytesUp: int64(i), BytesDown: 2 * int64(i)})
			}
			lg.Record(&egress.Record{Time: t0, WorkspaceID: ws2, JobID: ws2 + "/jobs/j0", Method: "GET", Host: "x", Port: 80, Decision: egress.Allowed})
			stop()
			<-done

			all, next, err := egress.List(ctx, st, egress.Query{WorkspaceID: ws1, Top: 1000})
			if err != nil || next != 0 || len(all) != 30 {
				t.Fatalf("all of ws1: %d records, next %d, %v", len(all), next, err)
			}
			for i, r := range all {
				if r.BytesUp != int64(i) || r.BytesDown != 2*int64(i) || r.ID == "" || !r.Time.Equal(t0.Add(time.Duration(i)*time.Millisecond)) {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
			den, _, _ := egress.List(ctx, st, egress.Query{WorkspaceID: ws1, Decision: egress.Denied, JobID: ws1 + "/jobs/j1"})
			if len(den) != 5 { // i = 3, 9, 15, 21, 27
				t.Errorf("Denied of j1: %d", len(den))
			}
			if h, _, _ := egress.List(ctx, st, egress.Query{WorkspaceID: ws1, Host: "H2.example.com"}); len(h) != 6 {
				t.Errorf("host h2: %d", len(h))
			}
			var paged []*egress.Record
			after := int64(0)
			for pages := 0; ; pages++ {
				page, n, err := egress.List(ctx, st, egress.Query{WorkspaceID: ws1, Top: 7, After: after})
				if err != nil || pages > 10 {
					t.Fatal(err, pages)
				}
				paged = append(paged, page...)
				if n == 0 {
					break
				}
				after = n
			}
			if len(paged) != 30 || paged[29].BytesUp != 29 {
				t.Errorf("paged: %d records", len(paged))
			}
			if w2, _, _ := egress.List(ctx, st, egress.Query{WorkspaceID: ws2}); len(w2) != 1 || w2[0].Host != "x" {
				t.Errorf("ws2: %v", w2)
			}
		})
	}
}
