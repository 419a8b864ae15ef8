package armtest

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store/sqlite"
)

// BenchmarkPutComputeLocks: the write path of a compute PUT (the
// manager over SQLite, without HTTP), with no locks and with 100 locks
// elsewhere in the subscription (one CanNotDelete lock on each of 100
// other resource groups): what the locks stage costs a write where no
// lock applies. The stage alone: resources.BenchmarkCheckLocks.
func BenchmarkPutComputeLocks(b *testing.B) {
	for _, locks := range []int{0, 100} {
		b.Run(fmt.Sprintf("locks-elsewhere=%d", locks), func(b *testing.B) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "mlgov.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			m := resources.New(st, resources.NewRegistry(), resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuidV4,
				TenantID: "t", LROLatency: time.Hour})
			sub := uuidV4()
			if err := m.EnsureSubscription(ctx, sub, "bench"); err != nil {
				b.Fatal(err)
			}
			do := func(method, path, av, body string) error {
				id, err := arm.ParseID(path)
				if err != nil {
					return err
				}
				_, err = m.Handle(ctx, &resources.Request{Method: method, Path: path, ID: id, APIVersion: av, Query: url.Values{}, Body: []byte(body),
					Caller: activitylog.Caller{Name: "bench", AppID: "bench"}})
				return err
			}
			must := func(err error) {
				if err != nil {
					b.Fatal(err)
				}
			}
			rg := "/subscriptions/" + sub + "/resourceGroups/"
			must(do("PUT", rg+"mlgov-bench", "2021-04-01", `{"location":"eastus"}`))
			ws := rg + "mlgov-bench/providers/Microsoft.MachineLearningServices/workspaces/ws1"
			must(do("PUT", ws, "2024-04-01", `{"location":"eastus"}`))
			for i := 0; i < locks; i++ {
				must(do("PUT", fmt.Sprintf("%sother%d", rg, i), "2021-04-01", `{"location":"eastus"}`))
				must(do("PUT", fmt.Sprintf("%sother%d/providers/Microsoft.Authorization/locks/keep", rg, i), "2020-05-01", `{"properties":{"level":"CanNotDelete"}}`))
			}
			i := 0
			for b.Loop() {
				i++
				must(do("PUT", fmt.Sprintf("%s/computes/c%d", ws, i), "2024-04-01", computeBody))
			}
		})
	}
}
