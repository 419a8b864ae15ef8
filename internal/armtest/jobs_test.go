package armtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// jobAPI calls the job runtime API.
func (s *Server) jobAPI(t *testing.T, token, method, path, body string) *Response {
	t.Helper()
	var b any
	if body != "" {
		b = body
	}
	return s.DoAs(t, token, method, "/jobs/"+s.SubscriptionID+path, b)
}

// TestJobRuntime: a runner claims a compute's queued job and gets its
// token; the token reports status, metrics and logs for that job only
// (another job's or another workspace's paths refuse it); users read
// them with their ARM token and their role; a cancel reaches the job.
func TestJobRuntime(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1, ws2 := s.mustWorkspace(t, "rg1", "ws1"), s.mustWorkspace(t, "rg2", "ws2")
		for _, ws := range []string{ws1, ws2} {
			s.settle(t, "compute", s.mustPut(t, ws+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`))
		}
		job := func(ws, name string) {
			t.Helper()
			r := s.mustPut(t, ws+"/jobs/"+name+av, `{"properties":{"jobType":"Command","command":"python train.py","environmentId":"e","computeId":"`+ws+`/computes/c1"}}`)
			if !strings.Contains(string(r.Body), `"status":"Queued"`) {
				t.Fatalf("a new job is not Queued: %s", r.Body)
			}
		}
		job(ws1, "j1")
		job(ws1, "j3")
		job(ws2, "j2")

		// A principal without a role claims nothing.
		none := s.NewPrincipal(t, "no-role")
		if r := s.jobAPI(t, none.Token, "POST", "/rg1/ws1/claim", `{"compute":"c1"}`); r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" {
			t.Errorf("a claim without a role: %d %s", r.Status, r.Body)
		}
		r := s.jobAPI(t, s.token, "POST", "/rg1/ws1/claim", `{"compute":"c1"}`)
		var claimed struct {
			Job struct {
				Name       string `json:"name"`
				Properties struct {
					Status string `json:"status"`
				} `json:"properties"`
			} `json:"job"`
			Token     string `json:"token"`
			ExpiresOn int64  `json:"expiresOn"`
		}
		if json.Unmarshal(r.Body, &claimed); r.Status != 200 || claimed.Job.Name != "j1" || claimed.Job.Properties.Status != "Running" || claimed.Token == "" {
			t.Fatalf("the claim: %d %s", r.Status, r.Body)
		}
		tok := claimed.Token
		if r := s.jobAPI(t, s.token, "POST", "/rg1/ws1/claim", `{"compute":"nosuch"}`); r.Status != 404 {
			t.Errorf("a claim for a compute that does not exist: %d", r.Status)
		}

		// The job reports with its token.
		for _, c := range []struct{ what, body string }{
			{"status", `{"status":"Running"}`}, {"metrics", `{"metrics":{"loss":0.5,"acc":0.8}}`}, {"metrics", `{"metrics":{"loss":0.25}}`}, {"logs", "epoch 1\n"},
		} {
			if r := s.jobAPI(t, tok, "POST", "/rg1/ws1/j1/"+c.what, c.body); r.Status != 200 {
				t.Errorf("POST %s with the job's token: %d %s", c.what, r.Status, r.Body)
			}
		}
		// Nowhere else.
		for _, p := range []string{"/rg2/ws2/j2/status", "/rg1/ws1/j3/status", "/rg2/ws2/j1/metrics"} {
			if r := s.jobAPI(t, tok, "POST", p, `{"status":"Running"}`); r.Status != 401 {
				t.Errorf("the job's token at %s: %d %s", p, r.Status, r.Body)
			}
		}
		if r := s.jobAPI(t, tok[:len(tok)-2]+"xx", "POST", "/rg1/ws1/j1/status", `{"status":"Running"}`); r.Status != 401 {
			t.Errorf("a tampered token: %d", r.Status)
		}

		// Users read them with their role.
		reader := s.NewPrincipal(t, "reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		r = s.jobAPI(t, reader.Token, "GET", "/rg1/ws1/j1/metrics", "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"loss":[0.5,0.25]`) {
			t.Errorf("the reader's GET of the metrics: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, reader.Token, "GET", "/rg1/ws1/j1/logs", ""); r.Status != 200 || !strings.Contains(string(r.Body), "epoch 1") {
			t.Errorf("the reader's GET of the logs: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, reader.Token, "POST", "/rg1/ws1/j1/logs", "forged\n"); r.Status != 403 {
			t.Errorf("a user's POST of logs: %d", r.Status)
		}
		if r := s.jobAPI(t, none.Token, "GET", "/rg1/ws1/j1/metrics", ""); r.Status != 403 {
			t.Errorf("a GET of the metrics without a role: %d", r.Status)
		}

		// The end: Completed with its exit code, then nothing changes it.
		if r := s.jobAPI(t, tok, "POST", "/rg1/ws1/j1/status", `{"status":"Completed","exitCode":0}`); r.Status != 200 {
			t.Errorf("Completed: %d %s", r.Status, r.Body)
		}
		got := s.Do(t, "GET", ws1+"/jobs/j1"+av, nil)
		if !strings.Contains(string(got.Body), `"status":"Completed"`) || !strings.Contains(string(got.Body), `"mlgov.exitCode":"0"`) {
			t.Errorf("the job after Completed: %s", got.Body)
		}
		if r := s.jobAPI(t, tok, "POST", "/rg1/ws1/j1/status", `{"status":"Running"}`); r.Status != 409 {
			t.Errorf("a status after the end: %d", r.Status)
		}

		// A cancel reaches the next job's runner.
		r = s.jobAPI(t, s.token, "POST", "/rg1/ws1/claim", `{"compute":"c1"}`)
		json.Unmarshal(r.Body, &claimed)
		if claimed.Job.Name != "j3" {
			t.Fatalf("the second claim: %s", r.Body)
		}
		s.settle(t, "cancel", s.Do(t, "POST", ws1+"/jobs/j3/cancel"+av, nil))
		r = s.jobAPI(t, claimed.Token, "GET", "/rg1/ws1/j3/status", "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"Canceled"`) {
			t.Errorf("the canceled job's status, as its runner reads it: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, s.token, "POST", "/rg1/ws1/claim", `{"compute":"c1"}`); r.Status != 204 {
			t.Errorf("a claim with no job queued: %d %s", r.Status, r.Body)
		}
	})
}

// TestJobManagedIdentity: a job on a compute with a system-assigned
// identity gets, with its token, a token of that identity, which ARM
// accepts with the identity's roles; a job on a compute without one
// gets none; a token naming another identity of the compute is
// refused.
func TestJobManagedIdentity(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		body := func(identity string) string {
			return `{"location":"eastus",` + identity + `"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`
		}
		s.settle(t, "compute", s.mustPut(t, ws+"/computes/cmi"+av, body(`"identity":{"type":"SystemAssigned"},`)))
		s.settle(t, "compute", s.mustPut(t, ws+"/computes/plain"+av, body("")))
		var c struct {
			Identity struct {
				PrincipalID string `json:"principalId"`
			} `json:"identity"`
		}
		json.Unmarshal(s.Do(t, "GET", ws+"/computes/cmi"+av, nil).Body, &c)
		for _, j := range []struct{ name, compute string }{{"jm", "cmi"}, {"jp", "plain"}} {
			s.mustPut(t, ws+"/jobs/"+j.name+av, `{"properties":{"jobType":"Command","command":"true","environmentId":"e","computeId":"`+ws+`/computes/`+j.compute+`"}}`)
		}
		claim := func(compute string) string {
			t.Helper()
			r := s.jobAPI(t, s.token, "POST", "/rg1/ws1/claim", `{"compute":"`+compute+`"}`)
			var cl struct{ Token string }
			if json.Unmarshal(r.Body, &cl); r.Status != 200 || cl.Token == "" {
				t.Fatalf("claim on %s: %d %s", compute, r.Status, r.Body)
			}
			return cl.Token
		}
		jm, jp := claim("cmi"), claim("plain")
		// A role for the compute's identity (found without principalType).
		r := s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Authorization/roleAssignments/4b5c6d7e-8f90-4a1b-8c2d-3e4f5a6b7c8d?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Reader")+`","principalId":"`+c.Identity.PrincipalID+`"}}`)
		if r.Status != 201 {
			t.Fatalf("a role for the compute's identity: %d %s", r.Status, r.Body)
		}
		r = s.jobAPI(t, jm, "GET", "/rg1/ws1/jm/identity?resource=https://management.azure.com/", "")
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresOn   string `json:"expires_on"`
		}
		if json.Unmarshal(r.Body, &tok); r.Status != 200 || tok.AccessToken == "" || tok.ExpiresOn == "" {
			t.Fatalf("the job's identity token: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, tok.AccessToken, "GET", ws+av, nil); r.Status != 200 {
			t.Errorf("the identity reads the workspace (Reader on rg1): %d %s", r.Status, r.Body)
		}
		r = s.DoAs(t, tok.AccessToken, "PUT", ws+"/computes/c9"+av, body(""))
		if r.Status != 403 || !strings.Contains(r.ErrorMessage(), "with object id '"+c.Identity.PrincipalID+"'") {
			t.Errorf("the identity writes a compute: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, jp, "GET", "/rg1/ws1/jp/identity?resource=https://management.azure.com/", ""); r.Status != 400 || r.ErrorCode() != "NoManagedIdentity" {
			t.Errorf("a job on a compute without an identity: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, jp, "GET", "/rg1/ws1/jm/identity?resource=https://management.azure.com/", ""); r.Status != 401 {
			t.Errorf("another job's token for jm's identity: %d", r.Status)
		}
		// A token naming an identity the compute does not have.
		forged, err := s.Directory.IssueManagedIdentityToken(context.Background(), s.TenantID, ws+"/computes/cmi", "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "", "https://management.azure.com/")
		if err != nil {
			t.Fatal(err)
		}
		if r := s.DoAs(t, forged.AccessToken, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("a token of an identity the compute does not have: %d %s", r.Status, r.Body)
		}
	})
}
