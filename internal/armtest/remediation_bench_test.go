package armtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// BenchmarkRemediationModify10k: a Modify remediation (disableLocalAuth)
// of 10,000 non-compliant computes on SQLite, from the PUT of the
// remediation to its Succeeded, every compute written through the write
// path as the assignment's identity (parallelDeployments 30). The setup
// (computes, assignment, the compliance scan that finds them
// non-compliant) is not timed. The bound is 30 s on the 2-core
// machine; run it with
//
//	go test ./internal/armtest -run '^$' -bench RemediationModify10k -benchtime 1x -count 5
//
// and take the median of the s/op figures (also reported as
// resources/s); MLGOV_BENCH_REMEDIATION_N changes the number of computes.
// Measured on the 2-core machine (Go 1.26, quiet): 4.98-5.61 s, median
// 5.32 s over 5 runs, each in its own process.
func BenchmarkRemediationModify10k(b *testing.B) {
	def, ok := BuiltinID("DisableLocalAuth_Modify.json")
	if !ok {
		b.Skip("the built-in DisableLocalAuth_Modify.json is not available")
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("MLGOV_BENCH_REMEDIATION_N")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "mlgov.db"))
		if err != nil {
			b.Fatal(err)
		}
		s := Start(b, st)
		asg, rem := remediationSetup(b, s, def, n)
		b.StartTimer()
		start := time.Now()
		if r := s.Do(b, "PUT", rem+iav, `{"properties":{"policyAssignmentId":"`+asg+`","resourceCount":50000,"parallelDeployments":30}}`); r.Status != 201 {
			b.Fatalf("PUT remediation: %d %s", r.Status, r.Body)
		}
		for {
			r := s.Do(b, "GET", rem+iav, nil)
			props, _ := r.JSON()["properties"].(map[string]any)
			st := props["provisioningState"]
			if st == "Succeeded" || st == "Complete" || st == "Failed" {
				if st != "Succeeded" || summary(props) != fmt.Sprintf("%d/%d/0", n, n) {
					b.Fatalf("remediation: %v", props)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "resources/s")
		s.StopRemediator()
		st.Close()
		b.StartTimer()
	}
}

// remediationSetup makes n non-compliant computes (in workspaces of 1,000)
// written straight to the manager, assigns def with an identity that is
// Contributor, waits for the records, and returns the assignment and the
// remediation's path.
func remediationSetup(b *testing.B, s *Server, def string, n int) (string, string) {
	ctx := context.Background()
	admin := activitylog.Caller{Name: s.ClientID, ObjectID: s.AdminObjectID, AppID: s.ClientID, TenantID: s.TenantID, Type: "ServicePrincipal"}
	put := func(path, body string) {
		id, err := arm.ParseID(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Manager.Handle(ctx, &resources.Request{Method: "PUT", Path: path, ID: id, APIVersion: "2024-04-01", Body: []byte(body), Caller: admin}); err != nil {
			b.Fatalf("PUT %s: %v", path, err)
		}
	}
	if r := s.Do(b, "PUT", s.RG("rg1")+"?api-version=2021-04-01", `{"location":"eastus"}`); r.Status != 201 {
		b.Fatalf("resource group: %d %s", r.Status, r.Body)
	}
	workspaces := (n + 999) / 1000
	for w := range workspaces {
		put(wsPath(s, "rg1", fmt.Sprintf("ws%d", w)), `{"location":"eastus"}`)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				put(fmt.Sprintf("%s/computes/c%05d", wsPath(s, "rg1", fmt.Sprintf("ws%d", i/1000)), i), computeBody)
			}
		}()
	}
	wg.Wait()
	asgID := "/subscriptions/" + s.SubscriptionID + "/providers/Microsoft.Authorization/policyAssignments/dla"
	r := s.Do(b, "PUT", asgID+pav, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+def+`"}}`)
	if r.Status != 201 {
		b.Fatalf("assignment: %d %s", r.Status, r.Body)
	}
	pid := r.JSON()["identity"].(map[string]any)["principalId"].(string)
	roles := s.Do(b, "GET", "/subscriptions/"+s.SubscriptionID+"/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=roleName%20eq%20'Contributor'", nil)
	roleID := roles.JSON()["value"].([]any)[0].(map[string]any)["id"].(string)
	if r := s.Do(b, "PUT", "/subscriptions/"+s.SubscriptionID+"/providers/Microsoft.Authorization/roleAssignments/"+uuidV4()+"?api-version=2022-04-01",
		`{"properties":{"roleDefinitionId":"`+roleID+`","principalId":"`+pid+`","principalType":"ServicePrincipal"}}`); r.Status != 201 {
		b.Fatalf("role assignment: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var counts []*store.PolicyStateCount
		if err := s.Store.Read(ctx, func(tx store.Tx) error {
			var err error
			counts, err = tx.CountPolicyStates(ctx, store.PolicyStateQuery{AssignmentKey: arm.KeyOf(asgID), Where: "state = ?", Args: []any{"NonCompliant"}}, nil)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if len(counts) == 1 && counts[0].Count == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the compliance scan did not find %d non-compliant computes: %v", n, counts[0].Count)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return asgID, remediationPath("/subscriptions/"+s.SubscriptionID, "bench")
}
