package armtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
)

// TestCompleteDueBacklog: a backlog of overdue operations, larger than
// one transaction's batch at any lag, is completed by one CompleteDue
// call (whose batches grow with the lag), each operation and its
// resource exactly once, and nothing is left for the next call.
func TestCompleteDueBacklog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testCompleteDueBacklog(t, b.start(t)) })
	}
}

func testCompleteDueBacklog(t *testing.T, s *Server) {
	ctx := context.Background()
	s.Do(t, "PUT", s.RG("rg")+"?api-version=2021-04-01", `{"location":"eastus"}`)
	ws := wsPath(s, "rg", "ws1")
	r := s.Do(t, "PUT", ws+av, `{"location":"eastus","properties":{}}`)
	if r.Status != 201 {
		t.Fatalf("create ws: %d %s", r.Status, r.Body)
	}
	if st := s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation")); st != "Succeeded" {
		t.Fatalf("workspace: %s", st)
	}
	const n = 150 // more than completeBatchMax (64)
	body := `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1,"minNodeCount":0}}}}`
	ops := make([]string, n)
	for i := range n {
		r := s.Do(t, "PUT", fmt.Sprintf("%s/computes/c%d%s", ws, i, av), body)
		if r.Status != 201 || r.Header.Get("Azure-AsyncOperation") == "" {
			t.Fatalf("create compute %d: %d %s", i, r.Status, r.Body)
		}
		ops[i] = strings.TrimPrefix(r.Header.Get("Azure-AsyncOperation"), s.URL)
	}
	// The harness's operations take 50ms; wait until they are well
	// overdue (the batch grows past 100ms of lag).
	time.Sleep(500 * time.Millisecond)
	done, err := s.Manager.CompleteDue(ctx)
	if err != nil || done != n {
		t.Fatalf("CompleteDue: %d completed, err %v; want %d", done, err, n)
	}
	if again, err := s.Manager.CompleteDue(ctx); err != nil || again != 0 {
		t.Errorf("second CompleteDue: %d completed, err %v; want 0", again, err)
	}
	for i := range n {
		r := s.Do(t, "GET", fmt.Sprintf("%s/computes/c%d%s", ws, i, av), nil)
		props, _ := r.JSON()["properties"].(map[string]any)
		if r.Status != 200 || props["provisioningState"] != "Succeeded" {
			t.Fatalf("compute %d after CompleteDue: %d %s", i, r.Status, r.Body)
		}
		if st, _ := s.Do(t, "GET", ops[i], nil).JSON()["status"].(string); st != "Succeeded" {
			t.Fatalf("operation of compute %d: %q", i, st)
		}
	}
	// Each operation ended once: one Succeeded end event per compute.
	filter := "eventTimestamp ge '2000-01-01T00:00:00Z' and eventTimestamp le '2100-01-01T00:00:00Z' and resourceGroupName eq 'rg'"
	ended := map[string]int{}
	for _, e := range s.Events(t, filter, 0) {
		st, _ := e["status"].(map[string]any)
		rid, _ := e["resourceId"].(string)
		if st["value"] == "Succeeded" && strings.Contains(strings.ToLower(rid), "/computes/") {
			ended[strings.ToLower(rid)]++
		}
	}
	if len(ended) != n {
		t.Errorf("%d computes have a Succeeded event, want %d", len(ended), n)
	}
	for rid, c := range ended {
		if c != 1 {
			t.Errorf("%s: %d Succeeded events, want 1", rid, c)
		}
	}
}

// TestRunCompletions: nobody polls an operation; the background worker
// completes it once it is due (on both stores), and stops with its
// context.
func TestRunCompletions(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t)
			s.Do(t, "PUT", s.RG("rg")+"?api-version=2021-04-01", `{"location":"eastus"}`)
			ws := wsPath(s, "rg", "ws1")
			if r := s.Do(t, "PUT", ws+av, `{"location":"eastus","properties":{}}`); r.Status != 201 {
				t.Fatalf("create ws: %d %s", r.Status, r.Body)
			}
			state := func() string {
				props, _ := s.Do(t, "GET", ws+av, nil).JSON()["properties"].(map[string]any)
				st, _ := props["provisioningState"].(string)
				return st
			}
			time.Sleep(200 * time.Millisecond) // due (50 ms), but no worker runs yet
			if st := state(); st == "Succeeded" {
				t.Fatalf("the workspace is %s before any worker ran: this test cannot tell", st)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.Manager.RunCompletions(ctx, 10*time.Millisecond, testLog{t}); close(done) }()
			deadline := time.Now().Add(5 * time.Second)
			for state() != "Succeeded" {
				if time.Now().After(deadline) {
					t.Fatalf("the worker did not complete the operation: %s", state())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
		})
	}
}

// testLog reports a worker's errors as test errors.
type testLog struct{ t *testing.T }

func (l testLog) Error(msg string, args ...any) { l.t.Errorf("%s %v", msg, args) }

// TestCompleteDuePoisonOperation: an operation whose completion fails
// every time (its record names no resource) is marked Failed, with a
// Failed activity event, instead of stopping every operation due after it.
func TestCompleteDuePoisonOperation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t)
			ctx := context.Background()
			s.Do(t, "PUT", s.RG("rg")+"?api-version=2021-04-01", `{"location":"eastus"}`)
			ws := wsPath(s, "rg", "ws1")
			r := s.Do(t, "PUT", ws+av, `{"location":"eastus","properties":{}}`)
			if st := s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation")); st != "Succeeded" {
				t.Fatalf("workspace: %s", st)
			}
			body := `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`
			bad := strings.TrimPrefix(s.Do(t, "PUT", ws+"/computes/c1"+av, body).Header.Get("Azure-AsyncOperation"), s.URL)
			good := strings.TrimPrefix(s.Do(t, "PUT", ws+"/computes/c2"+av, body).Header.Get("Azure-AsyncOperation"), s.URL)
			opID := bad[strings.LastIndex(bad, "/")+1:]
			if i := strings.IndexByte(opID, '?'); i >= 0 {
				opID = opID[:i]
			}
			err := s.Store.Write(ctx, func(tx store.Tx) error {
				op, err := tx.GetOperation(ctx, opID)
				if err != nil {
					return err
				}
				var rec map[string]any
				json.Unmarshal(op.Body, &rec)
				rec["resourceId"] = "not a resource id"
				op.Body, _ = json.Marshal(rec)
				return tx.PutOperation(ctx, op)
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if _, err := s.Manager.CompleteDue(ctx); err == nil || !strings.Contains(err.Error(), "marked Failed") {
				t.Fatalf("CompleteDue with a poison operation: %v", err)
			}
			if n, err := s.Manager.CompleteDue(ctx); err != nil || n != 1 {
				t.Errorf("the next CompleteDue: %d, %v; want the other operation", n, err)
			}
			m := s.Do(t, "GET", bad, nil).JSON()
			if m["status"] != "Failed" || m["error"].(map[string]any)["code"] != "InternalServerError" {
				t.Errorf("the poison operation: %v", m)
			}
			if st, _ := s.Do(t, "GET", good, nil).JSON()["status"].(string); st != "Succeeded" {
				t.Errorf("the operation after it: %q", st)
			}
		})
	}
}
