package armtest

import (
	"testing"
	"time"
)

// TestActivityLog: writes, deletes and actions record start and end
// events (reads do not); the query API filters by time range, resource
// group, resource and correlation id, and pages.
func TestActivityLog(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testActivityLog(t, b.start(t)) })
	}
}

func testActivityLog(t *testing.T, s *Server) {
	start := time.Now().UTC().Add(-time.Second)
	s.Do(t, "PUT", s.RG("rgA")+"?api-version=2021-04-01", `{"location":"eastus"}`, "x-ms-correlation-request-id", "corr-a")
	s.Do(t, "PUT", s.RG("rgB")+"?api-version=2021-04-01", `{"location":"eastus"}`)
	sa := s.RG("rgA") + "/providers/Microsoft.Storage/storageAccounts/st1"
	s.Do(t, "PUT", sa+"?api-version=2023-01-01", `{"location":"eastus"}`, "x-ms-correlation-request-id", "corr-b")
	s.Do(t, "GET", sa+"?api-version=2023-01-01", nil)
	s.Do(t, "DELETE", sa+"?api-version=2023-01-01", nil)
	failed := s.Do(t, "PUT", s.RG("rgA")+"/providers/Microsoft.Storage/storageAccounts/st2?api-version=2023-01-01", `{"properties":{}}`)
	if failed.Status != 400 {
		t.Fatalf("want a refused write, got %d", failed.Status)
	}
	list := func(filter string) []map[string]any { t.Helper(); return s.Events(t, filter, 3) }
	all := list("")
	// 2 RG creates + 1 create + 1 delete + 1 failed write = 5 operations × 2 events.
	if len(all) != 10 {
		t.Fatalf("got %d events, want 10", len(all))
	}
	for _, ev := range all {
		if ev["operationName"].(map[string]any)["value"] == "Microsoft.Storage/storageAccounts/read" {
			t.Errorf("a read was logged")
		}
		if ev["caller"] != s.ClientID {
			t.Errorf("caller = %v, want the client id", ev["caller"])
		}
		// The claims of the caller's token, as Azure records them.
		if claims, _ := ev["claims"].(map[string]any); claims["appid"] != s.ClientID || claims["idtyp"] != "app" || claims["aud"] == nil {
			t.Errorf("claims = %v, want the token's claims (appid %s)", ev["claims"], s.ClientID)
		}
	}
	last := all[len(all)-1]
	if last["status"].(map[string]any)["value"] != "Failed" || last["subStatus"].(map[string]any)["value"] != "BadRequest" {
		t.Errorf("last event = %v", last)
	}
	if n := len(list("resourceGroupName eq 'RGA'")); n != 8 {
		t.Errorf("resourceGroupName filter: %d events, want 8", n)
	}
	if n := len(list("resourceUri eq '" + sa + "'")); n != 4 {
		t.Errorf("resourceUri filter: %d events, want 4", n)
	}
	if n := len(list("correlationId eq 'corr-b'")); n != 2 {
		t.Errorf("correlationId filter: %d events, want 2", n)
	}
	future := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	if n := len(list("eventTimestamp ge '" + future + "'")); n != 0 {
		t.Errorf("future range: %d events", n)
	}
	if n := len(list("eventTimestamp ge '" + start.Format(time.RFC3339Nano) + "' and eventTimestamp le '" + future + "'")); n != 10 {
		t.Errorf("full range: %d events, want 10", n)
	}
}
