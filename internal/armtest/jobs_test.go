package armtest

import (
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
