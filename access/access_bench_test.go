package access

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/rbac"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

const (
	benchSub       = "11111111-1111-1111-1111-111111111111"
	dataScientist  = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
	benchCaller    = "22222222-2222-4222-8222-222222222222"
	benchAdmin     = "33333333-3333-4333-8333-333333333333"
	benchWorkspace = "/subscriptions/" + benchSub + "/resourceGroups/rg-7/providers/Microsoft.MachineLearningServices/workspaces/ws-3"
)

// benchRoles loads the built-in roles from ../shared (skips without).
func benchRoles(b testing.TB) []*rbac.RoleDefinition {
	f, err := os.Open(filepath.Join("..", "..", "shared", "corpus", "rbac", "builtin-roles.json"))
	if err != nil {
		b.Skipf("the built-in roles are read from ../shared/corpus/rbac (not found: %v)", err)
	}
	defer f.Close()
	defs, err := rbac.LoadRoleDefinitions(f)
	if err != nil {
		b.Fatal(err)
	}
	return defs
}

// benchAccess stores n role assignments — 100 resource groups of 10
// workspaces, each with its share of principals — plus the caller's
// AzureML Data Scientist on one workspace, and loads them.
func benchAccess(b *testing.B, n int) *Access {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	put := func(tx store.Tx, scope, principal, role string, i int) error {
		id := fmt.Sprintf("%s/providers/Microsoft.Authorization/roleAssignments/%08x-0000-4000-8000-%012x", scope, i, i)
		sid, _ := arm.ParseID(scope)
		body := fmt.Sprintf(`{"id":%q,"properties":{"roleDefinitionId":"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":%q,"principalType":"ServicePrincipal","scope":%q}}`,
			id, benchSub, role, principal, scope)
		return tx.PutResource(ctx, &store.Resource{Key: arm.KeyOf(id), ID: id, ParentKey: sid.Key(), TypeKey: arm.KeyOf(TypeRoleAssignment),
			SubscriptionKey: arm.KeyOf(benchSub), ResourceGroupKey: arm.KeyOf(sid.ResourceGroup), Body: []byte(body), ETag: "e", CreatedAt: now, UpdatedAt: now})
	}
	if err := st.Write(ctx, func(tx store.Tx) error {
		for i := range n - 1 {
			rg, ws := i%100, (i/100)%10
			scope := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg-%d/providers/Microsoft.MachineLearningServices/workspaces/ws-%d", benchSub, rg, ws)
			if i%5 == 0 {
				scope = fmt.Sprintf("/subscriptions/%s/resourceGroups/rg-%d", benchSub, rg)
			}
			if err := put(tx, scope, fmt.Sprintf("%08x-1111-4111-8111-%012x", i, i), "acdd72a7-3385-48ef-bd42-f606fba81ae7", i); err != nil {
				return err
			}
		}
		return put(tx, benchWorkspace, benchCaller, dataScientist, n)
	}); err != nil {
		b.Fatal(err)
	}
	a := New(st, Config{Roles: benchRoles(b), Admins: []string{benchAdmin}})
	if err := a.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if got, _ := a.Assignments(ctx); got != n+1 {
		b.Fatalf("%d assignments held, want %d", got, n+1)
	}
	return a
}

// BenchmarkAuthorize is the authorization of one request with 10,000
// role assignments in the tenant: the caller's Decider and one decision
// at a scope not decided before (every request names a new compute, so
// the decision cache does not answer). It reports the median and the
// 99th percentile of the requests' times. Command:
// go test ./access -run XXX -bench BenchmarkAuthorize -benchtime 20000x -count 3
func BenchmarkAuthorize(b *testing.B) {
	for _, c := range []struct {
		name, oid string
	}{{"role-at-workspace", benchCaller}, {"owner-at-root", benchAdmin}, {"no-role", "44444444-4444-4444-8444-444444444444"}} {
		b.Run(c.name, func(b *testing.B) {
			a := benchAccess(b, 10000)
			ctx := context.Background()
			caller := &activitylog.Caller{ObjectID: c.oid}
			want := c.oid != "44444444-4444-4444-8444-444444444444"
			times := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				d, err := a.Decider(ctx, caller)
				if err != nil {
					b.Fatal(err)
				}
				ok := d.Allowed("Microsoft.MachineLearningServices/workspaces/jobs/write", benchWorkspace+"/jobs/j-"+fmt.Sprint(i))
				times[i] = time.Since(t0)
				if ok != want {
					b.Fatalf("decision %v, want %v", ok, want)
				}
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
