package armtest

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store/sqlite"
)

// FuzzRequestBody sends arbitrary bodies (and paths) through the resource
// manager: every failure must be an ARM error with a stable code (a 4xx),
// never a panic or an internal error.
func FuzzRequestBody(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	mgr := resources.New(st, resources.NewRegistry(), resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuid.New, TenantID: "t", LROLatency: time.Millisecond})
	sub := "00000000-0000-0000-0000-000000000001"
	if err := mgr.EnsureSubscription(ctx, sub, "fuzz"); err != nil {
		f.Fatal(err)
	}
	caller := activitylog.Caller{Name: "fuzzer", Type: "ServicePrincipal"}
	do := func(method, path, body string) (*resources.Response, error) {
		u, err := url.Parse(path)
		if err != nil {
			return nil, nil
		}
		id, err := arm.ParseID(u.Path)
		if err != nil {
			return nil, err
		}
		return mgr.Handle(ctx, &resources.Request{Method: method, Path: u.Path, ID: id, Query: u.Query(), APIVersion: u.Query().Get("api-version"),
			Body: []byte(body), Caller: caller, CorrelationID: "c"})
	}
	if _, err := do("PUT", "/subscriptions/"+sub+"/resourceGroups/rg?api-version=2021-04-01", `{"location":"eastus"}`); err != nil {
		f.Fatal(err)
	}
	ws := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	f.Add("PUT", ws+"?api-version=2024-04-01", `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"encryption":{"status":"Enabled"}}}`)
	f.Add("PUT", ws+"/computes/c1?api-version=2024-04-01", `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"scaleSettings":{"maxNodeCount":"x"}}}}`)
	f.Add("PATCH", ws+"?api-version=2024-04-01", `{"tags":null,"properties":{"a":{"b":null}}}`)
	f.Add("POST", ws+"/computes/c1/stop?api-version=2024-04-01", `[]`)
	f.Add("PUT", "/subscriptions/"+sub+"/resourceGroups/rg/providers/Foo.Bar/things/t1/providers/Microsoft.Insights/diagnosticSettings/d?api-version=2021-01-01", `{"properties":{}}`)
	f.Add("DELETE", "/subscriptions/"+sub+"/resourceGroups/rg?api-version=2021-04-01", ``)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "PUT", "PATCH", "DELETE", "POST", "HEAD":
		default:
			return
		}
		resp, err := do(method, path, body)
		if err != nil {
			var ae *arm.Error
			if !errors.As(err, &ae) || ae.Code == "" {
				t.Fatalf("%s %s %q: non-ARM error %v", method, path, body, err)
			}
			return
		}
		if resp != nil && resp.Outcome > resources.NoContent {
			t.Fatalf("%s %s: outcome %d is none of the four", method, path, resp.Outcome)
		}
	})
}
