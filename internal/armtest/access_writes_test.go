package armtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// listNames lists a collection as a principal and returns the items'
// names.
func (s *Server) listNames(t *testing.T, token, path string) []string {
	t.Helper()
	r := s.DoAs(t, token, "GET", path, nil)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var out struct {
		Value []struct {
			Name string `json:"name"`
		} `json:"value"`
	}
	json.Unmarshal(r.Body, &out)
	names := []string{}
	for _, v := range out.Value {
		names = append(names, v.Name)
	}
	return names
}

func wantAuthorizationFailed(t *testing.T, what string, r *Response, p *Principal, action, scope string) {
	t.Helper()
	want := fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		p.AppID, p.ObjectID, action, scope)
	if r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" || r.ErrorMessage() != want {
		t.Errorf("%s: %d %s\nwant 403 AuthorizationFailed: %s", what, r.Status, r.Body, want)
	}
}

// TestAccessWrites: what a principal with one role may do, done for
// real: the writes it may do succeed, the others are refused with
// Azure's message and logged as Failed, lists keep what it may read, a
// refused caller learns nothing of what exists, and a role assignment
// removed stops granting at once.
func TestAccessWrites(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		mustCreateRG(t, s, "rg2")
		ws1 := s.mustWorkspace(t, "rg1", "ws1")
		s.mustWorkspace(t, "rg1", "ws1b")
		ws2 := s.mustWorkspace(t, "rg2", "ws2")
		ds := s.NewPrincipal(t, "datasci")
		asg := s.assignRole(t, ws1, roleIDByName(t, s, "AzureML Data Scientist"), ds.ObjectID, "ServicePrincipal")

		// A job: allowed, and done.
		r := s.DoAs(t, ds.Token, "PUT", ws1+"/jobs/j1"+av, `{"properties":{"jobType":"Command","command":"python train.py","environmentId":"e"}}`)
		if r.Status != 201 {
			t.Fatalf("the data scientist's job: %d %s", r.Status, r.Body)
		}
		// A compute: refused, nothing stored, the refusal logged.
		compute := ws1 + "/computes/c1"
		r = s.DoAs(t, ds.Token, "PUT", compute+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`)
		wantAuthorizationFailed(t, "the data scientist's compute", r, ds, "Microsoft.MachineLearningServices/workspaces/computes/write", compute)
		if r := s.Do(t, "GET", compute+av, nil); r.Status != 404 {
			t.Errorf("the refused compute: GET %d, want 404", r.Status)
		}
		failed := false
		for _, e := range s.Events(t, "resourceGroupName eq 'rg1'", 0) {
			if strings.EqualFold(e["resourceId"].(string), compute) && e["status"].(map[string]any)["value"] == "Failed" &&
				e["subStatus"].(map[string]any)["value"] == "Forbidden" && e["caller"] == ds.AppID {
				failed = true
			}
		}
		if !failed {
			t.Errorf("no Failed (Forbidden) event of the refused compute by %s", ds.AppID)
		}
		// Reads: its workspace and what is in it, nothing else; a
		// resource that does not exist is refused like one that does.
		if r := s.DoAs(t, ds.Token, "GET", ws1+av, nil); r.Status != 200 {
			t.Errorf("GET its workspace: %d %s", r.Status, r.Body)
		}
		r = s.DoAs(t, ds.Token, "GET", ws2+av, nil)
		wantAuthorizationFailed(t, "GET another resource group's workspace", r, ds, "Microsoft.MachineLearningServices/workspaces/read", ws2)
		missing := s.RG("rg2") + "/providers/Microsoft.MachineLearningServices/workspaces/nothere"
		r = s.DoAs(t, ds.Token, "GET", missing+av, nil)
		wantAuthorizationFailed(t, "GET a workspace that does not exist", r, ds, "Microsoft.MachineLearningServices/workspaces/read", missing)
		if r := s.Do(t, "GET", missing+av, nil); r.Status != 404 {
			t.Errorf("the administrator's GET of a missing workspace: %d", r.Status)
		}
		if got := s.listNames(t, ds.Token, s.sub()+"/providers/Microsoft.MachineLearningServices/workspaces"+av); len(got) != 1 || got[0] != "ws1" {
			t.Errorf("the data scientist's workspaces in the subscription: %v, want [ws1]", got)
		}
		if got := s.listNames(t, ds.Token, s.RG("rg1")+"/providers/Microsoft.MachineLearningServices/workspaces"+av); len(got) != 1 || got[0] != "ws1" {
			t.Errorf("the data scientist's workspaces in rg1: %v, want [ws1]", got)
		}
		if got := s.listNames(t, s.NewPrincipal(t, "nobody").Token, s.sub()+"/providers/Microsoft.MachineLearningServices/registries"+av); len(got) != 0 {
			t.Errorf("an empty list, for a caller without a role: %v", got)
		}
		if got := s.listNames(t, ds.Token, s.sub()+"/resourcegroups?api-version=2021-04-01"); len(got) != 0 {
			t.Errorf("the data scientist's resource groups: %v, want none (no role at a resource group)", got)
		}
		if got := s.listNames(t, ds.Token, s.sub()+"/resources?api-version=2021-04-01"); strings.Join(got, ",") != "ws1" {
			t.Errorf("the data scientist's resources: %v, want [ws1]", got)
		}
		if got := s.listNames(t, ds.Token, ws1+"/jobs"+av); len(got) != 1 || got[0] != "j1" {
			t.Errorf("the jobs of its workspace: %v", got)
		}
		if got := s.listNames(t, s.token, s.sub()+"/resourcegroups?api-version=2021-04-01"); len(got) != 2 {
			t.Errorf("the administrator's resource groups: %v", got)
		}
		// Paging stays exact when items are left out: one workspace a
		// page, and the one it may read is found.
		if got := s.listNames(t, ds.Token, s.sub()+"/providers/Microsoft.MachineLearningServices/workspaces"+av+"&$top=1"); len(got) != 1 || got[0] != "ws1" {
			t.Errorf("the first page of one: %v", got)
		}

		// The role assignment removed: refused at once.
		if r := s.Do(t, "DELETE", asg+"?api-version=2022-04-01", nil); r.Status != 200 {
			t.Fatalf("deleting the role assignment: %d %s", r.Status, r.Body)
		}
		r = s.DoAs(t, ds.Token, "PUT", ws1+"/jobs/j2"+av, `{"properties":{"jobType":"Command","command":"python train.py","environmentId":"e"}}`)
		wantAuthorizationFailed(t, "a job after the role assignment's removal", r, ds, "Microsoft.MachineLearningServices/workspaces/jobs/write", ws1+"/jobs/j2")

		// An operation is read by who started it, and by who may read
		// its resource; to others it does not exist.
		op := s.NewPrincipal(t, "computeop")
		s.assignRole(t, ws1, roleIDByName(t, s, "AzureML Compute Operator"), op.ObjectID, "ServicePrincipal")
		r = s.DoAs(t, op.Token, "PUT", compute+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`)
		if r.Status != 201 && r.Status != 202 {
			t.Fatalf("the compute operator's compute: %d %s", r.Status, r.Body)
		}
		status := strings.TrimPrefix(r.Header.Get("Azure-AsyncOperation"), s.URL)
		if r := s.DoAs(t, op.Token, "GET", status, nil); r.Status != 200 {
			t.Errorf("its operation, read by who started it: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, ds.Token, "GET", status, nil); r.Status != 404 || r.ErrorCode() != "OperationNotFound" {
			t.Errorf("its operation, read by a principal without a role: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", status, nil); r.Status != 200 {
			t.Errorf("its operation, read by the administrator: %d %s", r.Status, r.Body)
		}

		// Policy compliance and the subscription's providers: read by
		// who may read them at their scope.
		reader := s.NewPrincipal(t, "reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		qr := "/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2019-10-01"
		if r := s.DoAs(t, reader.Token, "POST", s.RG("rg1")+qr, nil); r.Status != 200 {
			t.Errorf("the reader's compliance of rg1: %d %s", r.Status, r.Body)
		}
		r = s.DoAs(t, reader.Token, "POST", s.sub()+qr, nil)
		wantAuthorizationFailed(t, "the reader's compliance of the subscription", r, reader, "Microsoft.PolicyInsights/policyStates/queryResults/read", s.sub())
		r = s.DoAs(t, reader.Token, "GET", s.sub()+"/providers?api-version=2021-04-01", nil)
		wantAuthorizationFailed(t, "the reader's providers of the subscription", r, reader, "Microsoft.Resources/subscriptions/providers/read", s.sub())

		// Deny assignments: read where the caller may read them; none.
		da := "/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"
		if r := s.DoAs(t, reader.Token, "GET", s.RG("rg1")+da, nil); r.Status != 200 || string(r.Body) != `{"value":[]}` {
			t.Errorf("the reader's deny assignments of rg1: %d %s", r.Status, r.Body)
		}
		r = s.DoAs(t, reader.Token, "GET", s.sub()+da, nil)
		wantAuthorizationFailed(t, "the reader's deny assignments of the subscription", r, reader, "Microsoft.Authorization/denyAssignments/read", s.sub())
		wantError(t, "a deny assignments $filter mlgov does not know", s.Do(t, "GET", s.sub()+da+"&$filter=roleName%20eq%20'x'", nil), 400, "InvalidFilter", "$filter")
		wantError(t, "a deny assignment written", s.Do(t, "PUT", s.sub()+"/providers/Microsoft.Authorization/denyAssignments/3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d?api-version=2022-04-01", `{}`), 405, "MethodNotAllowed", "")

		// The quotas of a location are updated by who may at the
		// subscription.
		uq := s.sub() + "/providers/Microsoft.MachineLearningServices/locations/eastus/updateQuotas" + av
		r = s.DoAs(t, reader.Token, "POST", uq, `{"value":[]}`)
		wantAuthorizationFailed(t, "the reader's updateQuotas", r, reader, "Microsoft.MachineLearningServices/locations/updateQuotas/action", s.sub())
		if r := s.Do(t, "POST", uq, `{"value":[]}`); r.Status != 400 || r.ErrorCode() != "InvalidRequestContent" {
			t.Errorf("the administrator's updateQuotas (authorized, then its body checked): %d %s", r.Status, r.Body)
		}

		// A principal the directory does not hold cannot be given a role.
		r = s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Authorization/roleAssignments/0e4c2d9a-1b3f-4c5d-8e6f-7a8b9c0d1e2f?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Reader")+`","principalId":"9b9b9b9b-1111-4222-8333-444455556666"}}`)
		if r.Status != 400 || r.ErrorCode() != "PrincipalNotFound" {
			t.Errorf("a role for an unknown principal: %d %s", r.Status, r.Body)
		}
		// With principalType, as in Azure (a principal just created
		// elsewhere): stored; a type that is not the principal's: refused.
		r = s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Authorization/roleAssignments/0e4c2d9a-1b3f-4c5d-8e6f-7a8b9c0d1e2f?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Reader")+`","principalId":"9b9b9b9b-1111-4222-8333-444455556666","principalType":"User"}}`)
		if r.Status != 201 {
			t.Errorf("a role for an unknown principal with its principalType: %d %s", r.Status, r.Body)
		}
		r = s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Authorization/roleAssignments/1e4c2d9a-1b3f-4c5d-8e6f-7a8b9c0d1e2f?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Reader")+`","principalId":"`+ds.ObjectID+`","principalType":"Group"}}`)
		wantError(t, "a service principal given as a group", r, 400, "InvalidRequestContent", "/properties/principalType", "which is a ServicePrincipal")
	})
}

// TestActivityLogOfScope: a principal who may read a resource group (and
// not its subscription) reads the subscription's activity log limited to
// that group or to a resource in it, as Azure lets it; not the whole
// log, not another group's, not a resource of another group.
func TestActivityLogOfScope(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1 := s.mustWorkspace(t, "rg1", "ws1")
		ws2 := s.mustWorkspace(t, "rg2", "ws2")
		reader := s.NewPrincipal(t, "reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		log := s.sub() + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter="
		q := func(f string) string { return log + url.QueryEscape(f) }
		from := "eventTimestamp ge '2000-01-01T00:00:00Z'"
		r := s.DoAs(t, reader.Token, "GET", q(from), nil)
		wantAuthorizationFailed(t, "the whole log", r, reader, "Microsoft.Insights/eventtypes/values/read", s.sub()+"/providers/Microsoft.Insights/eventtypes/management")
		for _, f := range []string{from + " and resourceGroupName eq 'rg1'", from + " and resourceUri eq '" + ws1 + "'", "resourceGroupName eq 'RG1'"} {
			r := s.DoAs(t, reader.Token, "GET", q(f), nil)
			if r.Status != 200 {
				t.Errorf("%s: %d %s", f, r.Status, r.Body)
				continue
			}
			var page struct{ Value []struct{ ResourceID string } }
			json.Unmarshal(r.Body, &page)
			if len(page.Value) == 0 {
				t.Errorf("%s: no events", f)
			}
			for _, e := range page.Value {
				if !strings.Contains(strings.ToLower(e.ResourceID), "/resourcegroups/rg1") {
					t.Errorf("%s: an event of %s", f, e.ResourceID)
				}
			}
		}
		for _, f := range []string{from + " and resourceGroupName eq 'rg2'", from + " and resourceUri eq '" + ws2 + "'",
			from + " and resourceGroupName eq 'rg1' and resourceUri eq '" + ws2 + "'"} {
			if r := s.DoAs(t, reader.Token, "GET", q(f), nil); r.Status != 403 {
				t.Errorf("%s: %d, want 403", f, r.Status)
			}
		}
	})
}
