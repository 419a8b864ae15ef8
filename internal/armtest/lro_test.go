package armtest

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// interleaved runs before (once) just ahead of the next Write, as if
// another request got the write lock first.
type interleaved struct {
	store.Store
	mu     sync.Mutex
	before func()
}

func (s *interleaved) Write(ctx context.Context, fn func(store.Tx) error) error {
	s.mu.Lock()
	b := s.before
	s.before = nil
	s.mu.Unlock()
	if b != nil {
		b()
	}
	return s.Store.Write(ctx, fn)
}

// TestCompletionAfterConcurrentChange: CompleteDue works completions out
// before it takes the write lock; a resource changed in between must be
// completed from its new state (the change kept), not from the old one.
func TestCompletionAfterConcurrentChange(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lro.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := &interleaved{Store: st}
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	mgr := resources.New(w, resources.NewRegistry(), resources.Config{Now: clock, NewID: uuid.New, TenantID: "t", LROLatency: time.Second})
	sub := "00000000-0000-0000-0000-000000000001"
	if err := mgr.EnsureSubscription(ctx, sub, "lro"); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) *resources.Response {
		t.Helper()
		u, _ := url.Parse(path)
		id, err := arm.ParseID(u.Path)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := mgr.Handle(ctx, &resources.Request{Method: method, Path: u.Path, ID: id, Query: u.Query(), APIVersion: u.Query().Get("api-version"),
			Body: []byte(body), Caller: activitylog.Caller{Name: "test", Type: "ServicePrincipal"}, CorrelationID: "c", BaseURL: "https://localhost"})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp
	}
	do("PUT", "/subscriptions/"+sub+"/resourceGroups/rg?api-version=2021-04-01", `{"location":"eastus"}`)
	ws := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/"
	for _, name := range []string{"changed", "unchanged"} {
		if r := do("PUT", ws+name+"?api-version=2024-04-01", `{"location":"eastus","properties":{}}`); r.Status != 201 {
			t.Fatalf("PUT %s: status %d", name, r.Status)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	// Between the planning and the write: a direct change of one workspace.
	key := (&arm.ID{SubscriptionID: sub, ResourceGroup: "rg"}).Key() + "/providers/microsoft.machinelearningservices/workspaces/changed"
	w.before = func() {
		err := st.Write(ctx, func(tx store.Tx) error {
			r, err := tx.GetResource(ctx, key, true)
			if err != nil {
				return err
			}
			var doc map[string]any
			if err := json.Unmarshal(r.Body, &doc); err != nil {
				return err
			}
			doc["tags"] = map[string]any{"changed": "in between"}
			r.Body, _ = json.Marshal(doc)
			r.ETag = "changed-in-between"
			return tx.PutResource(ctx, r)
		})
		if err != nil {
			t.Errorf("the change in between: %v", err)
		}
	}
	if n, err := mgr.CompleteDue(ctx); err != nil || n != 2 {
		t.Fatalf("CompleteDue: %d, %v; want 2 completed", n, err)
	}
	for _, name := range []string{"changed", "unchanged"} {
		var doc struct {
			Tags       map[string]string
			Properties struct{ ProvisioningState string }
		}
		if err := json.Unmarshal(do("GET", ws+name+"?api-version=2024-04-01", "").Body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Properties.ProvisioningState != "Succeeded" {
			t.Errorf("%s: provisioningState %q, want Succeeded", name, doc.Properties.ProvisioningState)
		}
		if name == "changed" && doc.Tags["changed"] != "in between" {
			t.Errorf("the change made while the completion was worked out was lost: tags %v", doc.Tags)
		}
	}
}
