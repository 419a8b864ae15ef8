package govern_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// TestRunSnapshots: the background loop records the snapshots of every
// subscription and resource group at each multiple of the interval,
// stamped with it, on the injected clock (synctest's).
func TestRunSnapshots(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	if err := st.Write(ctx, func(tx store.Tx) error {
		for _, r := range []*store.Resource{
			{Key: "/subscriptions/s1", ID: "/subscriptions/S1", TypeKey: "microsoft.resources/subscriptions", SubscriptionKey: "/subscriptions/s1", Body: []byte(`{"id":"/subscriptions/S1"}`), CreatedAt: now, UpdatedAt: now},
			{Key: "/subscriptions/s1/resourcegroups/rg", ID: "/subscriptions/S1/resourceGroups/RG", ParentKey: "/subscriptions/s1", TypeKey: "microsoft.resources/resourcegroups",
				SubscriptionKey: "/subscriptions/s1", ResourceGroupKey: "rg", Body: []byte(`{"id":"/subscriptions/S1/resourceGroups/RG"}`), CreatedAt: now, UpdatedAt: now},
		} {
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		g := govern.New(st, govern.Config{Now: time.Now})
		start := time.Now()
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			g.RunSnapshots(ctx, time.Hour, slog.New(slog.DiscardHandler))
		}()
		time.Sleep(3*time.Hour + time.Minute)
		synctest.Wait()
		stop()
		<-done
		for _, scope := range []string{"/subscriptions/s1", "/subscriptions/s1/resourcegroups/rg"} {
			var got []*store.ComplianceSnapshot
			if err := st.Read(context.Background(), func(tx store.Tx) error {
				var err error
				got, err = tx.ListComplianceSnapshots(context.Background(), scope, start.Add(-time.Hour), start.Add(24*time.Hour), 100)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("%s: %d snapshots in 3 hours, want 3", scope, len(got))
			}
			for i, s := range got {
				if want := start.Truncate(time.Hour).Add(time.Duration(i+1) * time.Hour); !s.Time.Equal(want) {
					t.Errorf("%s: snapshot %d at %v, want %v", scope, i, s.Time, want)
				}
			}
			if string(got[0].Body) == "" {
				t.Errorf("%s: an empty snapshot", scope)
			}
		}
	})
}
