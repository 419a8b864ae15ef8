package armtest

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

const lzav = "?api-version=2026-12-01"

func lzPath(name string) string { return "/providers/Mlgov.Governance/landingZones/" + name }

// exampleZone reads the example ML data landing zone template (the
// repository's own) and skips when the built-ins it assigns are absent.
func exampleZone(t *testing.T) json.RawMessage {
	t.Helper()
	for _, f := range []string{"Workspace_PublicNetworkAccessDisabled_Audit.json", "ManagedNetworkIsolationMode_Audit.json", "Workspace_CMKEnabled_Audit.json", "DisableLocalAuth_Audit.json"} {
		mlBuiltin(t, f)
	}
	b, err := os.ReadFile("../../examples/landingzones/ml-data-landing-zone.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vend PUTs a landing zone and waits for it to end; it returns the
// record.
func (s *Server) vend(t *testing.T, name string, tmpl json.RawMessage, team string) map[string]any {
	t.Helper()
	body := map[string]any{"properties": map[string]any{"template": tmpl, "team": team, "displayName": name + " ML"}}
	r := s.Do(t, "PUT", lzPath(name)+lzav, body)
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("PUT landing zone: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := s.Do(t, "GET", lzPath(name)+lzav, nil).JSON()
		p, _ := rec["properties"].(map[string]any)
		switch p["provisioningState"] {
		case "Succeeded", "Failed":
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("the landing zone did not end: %v", rec)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLandingZone: the example ML data landing zone vended for a team: a
// subscription in the zone's management group, the ML built-ins assigned
// there, the team Owner of its subscription, the zone's network, key and
// storage deployed; the team deploys a private workspace and is refused a
// public one, and cannot change what is above its subscription. A bad
// template is refused naming the pointer; a failed step is recorded.
func TestLandingZone(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		tmpl := exampleZone(t)
		ctx := context.Background()
		g, err := s.Directory.CreateGroup(ctx, s.TenantID, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		member := s.NewPrincipal(t, "team-a-member")
		if err := s.Directory.AddMember(ctx, s.TenantID, g.ObjectID, member.ObjectID); err != nil {
			t.Fatal(err)
		}
		rec := s.vend(t, "team-a", tmpl, g.ObjectID)
		p := rec["properties"].(map[string]any)
		if p["provisioningState"] != "Succeeded" {
			t.Fatalf("vended: %v", rec)
		}
		sub := p["subscriptionId"].(string)
		if !strings.EqualFold(p["managementGroupId"].(string), mgPath("ml-data-zones")) || len(p["policyAssignments"].([]any)) != 4 || len(p["roleAssignments"].([]any)) != 1 {
			t.Fatalf("record: %v", p)
		}
		if got := names(s.listAll(t, mgPath("ml-data-zones")+"/subscriptions"+mgav)); len(got) != 1 || got[0] != sub {
			t.Fatalf("the zone's group holds %v", got)
		}
		out := p["outputs"].(map[string]any)
		val := func(k string) string { return out[k].(map[string]any)["value"].(string) }
		rg := "/subscriptions/" + sub + "/resourceGroups/" + val("resourceGroup")
		for _, id := range []string{val("subnetId"), val("keyVaultId"), val("storageAccountId"), rg + "/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms"} {
			if r := s.Do(t, "GET", id+"?api-version=2023-05-01", nil); r.Status != 200 {
				t.Errorf("the zone's %s: %d %s", id, r.Status, r.Body)
			}
		}

		// The team sees its subscription alone (subscriptions.list).
		var seen []string
		for _, it := range s.listAllAs(t, member.Token, "/subscriptions?api-version=2022-12-01") {
			seen = append(seen, it["subscriptionId"].(string))
		}
		if len(seen) != 1 || seen[0] != sub {
			t.Fatalf("the team's subscriptions: %v, want [%s]", seen, sub)
		}
		// The team works in its subscription, inside the guardrails.
		teamRG := "/subscriptions/" + sub + "/resourceGroups/ml"
		if r := s.DoAs(t, member.Token, "PUT", teamRG+"?api-version=2021-04-01", `{"location":"westeurope"}`); r.Status != 201 {
			t.Fatalf("the team's resource group: %d %s", r.Status, r.Body)
		}
		ws := teamRG + "/providers/Microsoft.MachineLearningServices/workspaces/"
		private := map[string]any{"location": "westeurope", "identity": map[string]any{"type": "SystemAssigned"}, "properties": map[string]any{
			"publicNetworkAccess": "Disabled",
			"managedNetwork":      map[string]any{"isolationMode": "AllowOnlyApprovedOutbound"},
			"encryption": map[string]any{"status": "Enabled", "keyVaultProperties": map[string]any{
				"keyVaultArmId": val("keyVaultId"), "keyIdentifier": val("keyIdentifier")}}}}
		r := s.DoAs(t, member.Token, "PUT", ws+"private"+av, private)
		if r.Status != 200 && r.Status != 201 && r.Status != 202 {
			t.Fatalf("the team's private workspace: %d %s", r.Status, r.Body)
		}
		s.settle(t, "private workspace", r)
		public := private
		public["properties"].(map[string]any)["publicNetworkAccess"] = "Enabled"
		r = s.DoAs(t, member.Token, "PUT", ws+"public"+av, public)
		if info := violation(t, r); !strings.EqualFold(info["policyAssignmentId"].(string), mgPath("ml-data-zones")+"/providers/Microsoft.Authorization/policyAssignments/ml-no-public-access") {
			t.Fatalf("refused by %v", info["policyAssignmentId"])
		}
		for _, c := range []struct{ method, path string }{
			{"DELETE", mgPath("ml-data-zones") + "/providers/Microsoft.Authorization/policyAssignments/ml-no-public-access" + pav},
			{"DELETE", mgPath("ml-data-zones") + "/subscriptions/" + sub + mgav},
			{"PUT", lzPath("team-a") + lzav},
		} {
			if r := s.DoAs(t, member.Token, c.method, c.path, `{}`); r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" {
				t.Errorf("team %s %s: %d %s, want 403", c.method, c.path, r.Status, r.Body)
			}
		}

		// Bad templates: the pointer in the error.
		for body, target := range map[string]string{
			`{"properties":{"team":"` + g.ObjectID + `","template":{"managementGroup":{"name":"x"},"teamRoles":[1]}}}`:                         "/properties/template/teamRoles/0",
			`{"properties":{"team":"` + g.ObjectID + `","template":{"managementGroup":{}}}}`:                                                   "/properties/template/managementGroup/name",
			`{"properties":{"team":"` + g.ObjectID + `","template":{"managementGroup":{"name":"x"},"policyAssignments":[{"name":"a"}]}}}`:      "/properties/template/policyAssignments/0/policyDefinitionId",
			`{"properties":{"team":"` + g.ObjectID + `","template":{"managementGroup":{"name":"x"},"networks":[]}}}`:                           "/properties/template/networks",
			`{"properties":{"team":"not-a-guid","template":{"managementGroup":{"name":"x"}}}}`:                                                 "/properties/team",
			`{"properties":{"team":"` + g.ObjectID + `","template":{"managementGroup":{"name":"x"},"deployment":{"template":{},"mode":"x"}}}}`: "/properties/template/deployment/mode",
		} {
			r := s.Do(t, "PUT", lzPath("bad")+lzav, body)
			if r.Status != 400 || !strings.Contains(string(r.Body), `"target":"`+target+`"`) {
				t.Errorf("%s: %d %s, want 400 at %s", body, r.Status, r.Body, target)
			}
		}
		if r := s.Do(t, "GET", lzPath("bad")+lzav, nil); r.Status != 404 {
			t.Errorf("a refused zone was stored: %d", r.Status)
		}
		// A step that fails (an unknown role) is recorded with its step.
		rec = s.vend(t, "team-b", json.RawMessage(`{"managementGroup":{"name":"ml-data-zones"},"teamRoles":["Chief"]}`), g.ObjectID)
		p = rec["properties"].(map[string]any)
		if e, _ := p["error"].(map[string]any); p["provisioningState"] != "Failed" || e["target"] != "teamRoles" || !strings.Contains(e["message"].(string), "Chief") {
			t.Fatalf("failed zone: %v", rec)
		}
	})
}

// TestLandingZoneInterrupted: a zone a stopped server left Running (its
// vending started longer ago than a vending can last) is marked Failed,
// saying to PUT it again; a PUT then vends it.
func TestLandingZoneInterrupted(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		id, err := arm.ParseID(lzPath("stuck"))
		if err != nil {
			t.Fatal(err)
		}
		tmpl := `{"managementGroup":{"name":"stuck-mg"}}`
		rec := `{"id":"` + lzPath("stuck") + `","type":"Mlgov.Governance/landingZones","name":"stuck","properties":{"template":` + tmpl +
			`,"team":"` + s.AdminObjectID + `","displayName":"stuck","provisioningState":"Running","vendId":"0123456789","startedAt":"` +
			time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339Nano) + `"}}`
		v, err := value.Parse([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Manager.ProviderWrite(context.Background(), func(p *resources.ProviderTx) error { return p.Put(id, v) }); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			p := s.Do(t, "GET", lzPath("stuck")+lzav, nil).JSON()["properties"].(map[string]any)
			if p["provisioningState"] == "Failed" {
				if e, _ := p["error"].(map[string]any); e["code"] != "LandingZoneInterrupted" {
					t.Fatalf("error: %v", p["error"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the interrupted zone is still %v", p["provisioningState"])
			}
			time.Sleep(50 * time.Millisecond)
		}
		if rec := s.vend(t, "stuck", json.RawMessage(tmpl), s.AdminObjectID); rec["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
			t.Fatalf("vended again: %v", rec)
		}
	})
}
