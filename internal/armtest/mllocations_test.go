package armtest

import (
	"context"
	"errors"
	"testing"

	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// TestMLLocationAPIs: VM sizes, usages from the computes that hold vCPUs,
// quotas per family and workspace, and updateQuotas with its statuses.
func TestMLLocationAPIs(t *testing.T) {
	eachBackend(t, nil, testMLLocationAPIs)
}

func testMLLocationAPIs(t *testing.T, s *Server) {
	loc := s.sub() + "/providers/Microsoft.MachineLearningServices/locations/eastus"
	sizes := s.Do(t, "GET", loc+"/vmSizes"+av, nil)
	found := false
	for _, v := range sizes.JSON()["value"].([]any) {
		if m := v.(map[string]any); m["name"] == "Standard_DS3_v2" && m["vCPUs"] == 4.0 {
			found = true
		}
	}
	if sizes.Status != 200 || !found {
		t.Fatalf("vmSizes: %d %s", sizes.Status, sizes.Body)
	}

	ws := s.mustWorkspace(t, "rg", "ws1")
	ci := ws + "/computes/ci1"
	r := s.put(t, ci+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","properties":{"vmSize":"Standard_DS3_v2"}}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	r = s.put(t, ws+"/computes/cl1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_NC6s_v3","vmPriority":"LowPriority","scaleSettings":{"maxNodeCount":2}}}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))

	dsv2 := "Standard_DSv2_Family_Cluster_Dedicated_vCPUs"
	u := usagesByID(t, s, loc)
	if got := u[s.sub()+"/usages/"+dsv2]; got["currentValue"] != 4.0 || got["limit"] != 24.0 {
		t.Errorf("DSv2 usage of the subscription: %v, want 4 of 24 (the running instance)", got)
	}
	if got := u[ci+"/usages/"+dsv2]; got["currentValue"] != 4.0 {
		t.Errorf("DSv2 usage of the instance: %v", got)
	}
	if got := u[s.sub()+"/usages/Standard_NCSv3_Family_Cluster_LowPriority_vCPUs"]; got["currentValue"] != 0.0 {
		t.Errorf("NCSv3 low-priority usage of an idle cluster: %v", got)
	}
	for _, step := range []struct {
		action string
		want   float64
	}{{"stop", 0}, {"start", 4}} {
		r := s.Do(t, "POST", ci+"/"+step.action+av, nil)
		if st := s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation")); st != "Succeeded" {
			t.Fatalf("%s: %s", step.action, st)
		}
		if got := usagesByID(t, s, loc)[s.sub()+"/usages/"+dsv2]["currentValue"]; got != step.want {
			t.Errorf("DSv2 usage after %s: %v, want %v", step.action, got, step.want)
		}
	}

	// Quotas: the workspace's limit is the subscription's until set.
	wsQuota := ws + "/quotas/" + dsv2
	if got := quotaLimit(t, s, loc, wsQuota); got != 24.0 {
		t.Errorf("workspace DSv2 quota %v, want 24", got)
	}
	body := `{"location":"eastus","value":[
		{"id":"` + wsQuota + `","type":"Microsoft.MachineLearningServices/workspaces/quotas","limit":8,"unit":"Count"},
		{"id":"` + ws + `/quotas/Standard_XYZ_Family_Cluster_Dedicated_vCPUs","limit":8},
		{"id":"` + ws + `/quotas/Standard_DSv3_Family_Cluster_Dedicated_vCPUs","limit":30},
		{"id":"` + ws + `/quotas/Standard_DSv2_Family_Cluster_Dedicated_vCPUs","limit":2}]}`
	res := s.Do(t, "POST", loc+"/updateQuotas"+av, body)
	var statuses []any
	vals, _ := res.JSON()["value"].([]any)
	for _, v := range vals {
		statuses = append(statuses, v.(map[string]any)["status"])
	}
	want := []any{"Success", "InvalidVMFamilyName", "InvalidQuotaExceedsSubscriptionLimit", "InvalidQuotaBelowClusterMinimum"}
	if res.Status != 200 || !equalJSON(statuses, want) {
		t.Fatalf("updateQuotas: %d %s; statuses %v, want %v", res.Status, res.Body, statuses, want)
	}
	if got := quotaLimit(t, s, loc, wsQuota); got != 8.0 {
		t.Errorf("workspace DSv2 quota after the update %v, want 8", got)
	}
	if evs := s.Events(t, "", 0); !hasOperation(evs, "Microsoft.MachineLearningServices/locations/updateQuotas/action") {
		t.Error("no updateQuotas event in the activity log")
	}

	wantError(t, "an unknown location", s.Do(t, "GET", s.sub()+"/providers/Microsoft.MachineLearningServices/locations/moon/usages"+av, nil), 400, "InvalidResourceLocation", "", "moon")
	wantError(t, "GET updateQuotas", s.Do(t, "GET", loc+"/updateQuotas"+av, nil), 405, "MethodNotAllowed", "")
	wantError(t, "a quota id of no workspace", s.Do(t, "POST", loc+"/updateQuotas"+av, `{"value":[{"id":"/subscriptions/x","limit":1}]}`), 400, "InvalidRequestContent", "", "value[0].id")
	wantError(t, "a fractional limit", s.Do(t, "POST", loc+"/updateQuotas"+av, `{"value":[{"id":"`+wsQuota+`","limit":1.5}]}`), 400, "InvalidRequestContent", "", "value[0]")

	// The workspace's limits go with it.
	r = s.Do(t, "DELETE", ws+av, nil)
	if r.Status == 202 {
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	}
	err := s.Store.Read(context.Background(), func(tx store.Tx) error {
		_, err := tx.GetObject(context.Background(), resources.KindMLQuota, "/subscriptions/"+s.SubscriptionID+"/resourcegroups/rg/providers/microsoft.machinelearningservices/workspaces/ws1")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted workspace's quotas: %v, want not found", err)
	}
}

func usagesByID(t *testing.T, s *Server, loc string) map[string]map[string]any {
	t.Helper()
	r := s.Do(t, "GET", loc+"/usages"+av, nil)
	if r.Status != 200 {
		t.Fatalf("usages: %d %s", r.Status, r.Body)
	}
	out := map[string]map[string]any{}
	for _, v := range r.JSON()["value"].([]any) {
		m := v.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

func quotaLimit(t *testing.T, s *Server, loc, id string) any {
	t.Helper()
	r := s.Do(t, "GET", loc+"/quotas"+av, nil)
	for _, v := range r.JSON()["value"].([]any) {
		if m := v.(map[string]any); m["id"] == id {
			return m["limit"]
		}
	}
	t.Fatalf("no quota %s in %s", id, r.Body)
	return nil
}
