package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/deploy"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// rig is a manager over SQLite with a deployment engine, no HTTP.
type rig struct {
	t   *testing.T
	st  store.Store
	mgr *resources.Manager
	eng *deploy.Engine
	sub string
}

func newRig(t *testing.T) *rig {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{t: t, st: st, sub: uuid.New()}
	r.mgr = resources.New(st, resources.NewRegistry(), resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuid.New, TenantID: "t",
		LROLatency: 20 * time.Millisecond,
		Committers: []resources.Committer{resources.CommitFunc(func(a *resources.Attributes) {
			if r.eng != nil {
				r.eng.Committed(a)
			}
		})}})
	if err := r.mgr.EnsureSubscription(context.Background(), r.sub, "test"); err != nil {
		t.Fatal(err)
	}
	return r
}

// engine starts an engine (a replica's) until the returned stop.
func (r *rig) engine() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	e := deploy.New(r.mgr, r.st, deploy.Config{TenantID: "t", NewID: uuid.New, Poll: 5 * time.Millisecond, Sweep: 50 * time.Millisecond})
	r.eng = e
	go e.Run(ctx)
	return func() { cancel(); e.Wait() }
}

func (r *rig) do(method, path, av, body string) (*resources.Response, error) {
	id, err := arm.ParseID(path)
	if err != nil {
		return nil, err
	}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return r.mgr.Handle(context.Background(), &resources.Request{Method: method, Path: path, ID: id, APIVersion: av, Body: b,
		Caller: activitylog.Caller{Name: "test", AppID: "test", ObjectID: "00000000-0000-0000-0000-00000000000a", Type: "ServicePrincipal"}})
}

func (r *rig) must(method, path, av, body string) *resources.Response {
	r.t.Helper()
	resp, err := r.do(method, path, av, body)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func (r *rig) count(rg, typ string) int {
	n := 0
	for range store.ListAll(context.Background(), r.st, store.ListQuery{ParentKey: arm.KeyOf("/subscriptions/" + r.sub + "/resourceGroups/" + rg), TypeKey: arm.KeyOf(typ)}) {
		n++
	}
	return n
}

func (r *rig) state(dep string) string {
	resp := r.must("GET", dep, "2026-06-01", "")
	var rec struct {
		Properties struct{ ProvisioningState string }
	}
	json.Unmarshal(resp.Body, &rec)
	return rec.Properties.ProvisioningState
}

// TestResumeAfterStop: a replica stops in the middle of a deployment (its
// lease released or expired); another resumes it from the deployment's
// operations: what was recorded as written is not written again, and
// the deployment ends Succeeded with every resource and one operation
// each.
func TestResumeAfterStop(t *testing.T) {
	r := newRig(t)
	stopA := r.engine()
	rg := "/subscriptions/" + r.sub + "/resourceGroups/res"
	r.must("PUT", rg, "2021-04-01", `{"location":"westeurope"}`)
	const n = 30
	tmpl := `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
	  "resources": [{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "[concat('wsp', copyIndex())]", "location": "eastus",
	    "copy": {"name": "ws", "count": ` + fmt.Sprint(n) + `, "mode": "serial", "batchSize": 1}, "properties": {}}]}`
	dep := rg + "/providers/Microsoft.Resources/deployments/slow"
	r.must("PUT", dep, "2026-06-01", `{"properties":{"mode":"Incremental","template":`+tmpl+`}}`)
	deadline := time.Now().Add(20 * time.Second)
	for r.count("res", "Microsoft.MachineLearningServices/workspaces") < 8 {
		if time.Now().After(deadline) {
			t.Fatal("the deployment did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopA()
	if st := r.state(dep); st != "Running" {
		t.Fatalf("after the runner stopped the deployment is %s, want Running", st)
	}
	written := r.count("res", "Microsoft.MachineLearningServices/workspaces")
	if written >= n {
		t.Fatalf("the deployment ended before the stop (%d written)", written)
	}
	// Another replica's engine resumes it (its first sweep).
	stopB := r.engine()
	defer stopB()
	for st := r.state(dep); st != "Succeeded"; st = r.state(dep) {
		if st != "Running" || time.Now().After(deadline) {
			t.Fatalf("resumed deployment: %s", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.count("res", "Microsoft.MachineLearningServices/workspaces"); got != n {
		t.Errorf("%d workspaces, want %d", got, n)
	}
	depID, _ := arm.ParseID(dep)
	ops := 0
	for range store.ListAll(context.Background(), r.st, store.ListQuery{ParentKey: depID.Key(), TypeKey: arm.KeyOf(deploy.TypeOperations)}) {
		ops++
	}
	if ops != n {
		t.Errorf("%d operations, want %d (one per resource)", ops, n)
	}
	// Writes per workspace, from the activity log: the ones recorded
	// before the stop are not repeated; only one in flight at the stop
	// may be written again (a PUT, idempotent).
	var evs []*store.Event
	r.st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		evs, err = tx.ListEvents(context.Background(), store.EventQuery{SubscriptionKey: arm.KeyOf(r.sub), ResourceGroup: "res"})
		return err
	})
	writes := map[string]int{}
	for _, e := range evs {
		var ev struct {
			OperationName struct{ Value string }
			Status        struct{ Value string }
		}
		json.Unmarshal(e.Body, &ev)
		if strings.EqualFold(ev.OperationName.Value, "Microsoft.MachineLearningServices/workspaces/write") && ev.Status.Value == "Started" {
			writes[e.ResourceKey]++
		}
	}
	twice := 0
	for _, c := range writes {
		if c > 1 {
			twice++
		}
	}
	if len(writes) != n || twice > 1 {
		t.Errorf("%d workspaces written, %d of them twice; want %d, at most 1 (the one in flight at the stop)", len(writes), twice, n)
	}
}

// TestDeployer: what remediations call: Deploy starts a deployment as
// the caller and returns its id; the same name again is the same
// deployment, not a second run; Status follows it to its end, with the
// error of a failed one.
func TestDeployer(t *testing.T) {
	r := newRig(t)
	defer r.engine()()
	rg := "/subscriptions/" + r.sub + "/resourceGroups/dine"
	r.must("PUT", rg, "2021-04-01", `{"location":"westeurope"}`)
	tmpl, _ := value.Parse([]byte(`{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
	  "parameters": {"name": {"type": "string"}},
	  "resources": [{"type": "Microsoft.Network/privateDnsZones", "apiVersion": "2020-06-01", "name": "[parameters('name')]", "location": "global"}]}`))
	params, _ := value.Parse([]byte(`{"name": {"value": "privatelink.api.azureml.ms"}}`))
	caller := activitylog.Caller{Name: "mi", ObjectID: "00000000-0000-0000-0000-00000000000b", Type: "ServicePrincipal"}
	id, err := r.eng.Deploy(context.Background(), caller, rg, "remediate-1", tmpl, params)
	if err != nil || !strings.HasSuffix(id, "/resourceGroups/dine/providers/Microsoft.Resources/deployments/remediate-1") {
		t.Fatalf("Deploy: %q %v", id, err)
	}
	again, err := r.eng.Deploy(context.Background(), caller, rg, "remediate-1", tmpl, params)
	if err != nil || again != id {
		t.Fatalf("Deploy again: %q %v, want %q", again, err, id)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, err := r.eng.Status(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st == "Succeeded" {
			break
		}
		if st != "Accepted" && st != "Running" || time.Now().After(deadline) {
			t.Fatalf("state %s", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r.count("dine", "Microsoft.Network/privateDnsZones") != 1 {
		t.Error("the zone was not made")
	}
	bad, _ := value.Parse([]byte(`{"name": {"value": 7}}`))
	if _, err := r.eng.Deploy(context.Background(), caller, rg, "remediate-2", tmpl, bad); err == nil {
		t.Error("a parameter of the wrong type was accepted")
	}
	if _, _, err := r.eng.Status(context.Background(), rg+"/providers/Microsoft.Resources/deployments/none"); err == nil {
		t.Error("Status of a deployment that does not exist")
	}
	if _, err := r.eng.Deploy(context.Background(), caller, rg+"/providers/Microsoft.Storage/storageAccounts/x", "d", tmpl, params); err == nil {
		t.Error("a deployment at a resource's scope was accepted")
	}
}
