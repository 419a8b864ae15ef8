package armtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
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
		forged, err := s.Directory.IssueManagedIdentityToken(context.Background(), s.TenantID, authn.ManagedIdentity{ResourceID: ws + "/computes/cmi", ObjectID: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"}, "https://management.azure.com/")
		if err != nil {
			t.Fatal(err)
		}
		if r := s.DoAs(t, forged.AccessToken, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("a token of an identity the compute does not have: %d %s", r.Status, r.Body)
		}
	})
}

// TestJobUserAssignedIdentity: a compute's user-assigned identities get
// their principal and client ids from the identities' resources (a
// missing identity is refused); a job on the compute gets a token of
// one (the only one, or the one it names by client id, object id or
// resource id), whose oid is the identity's principal and xms_mirid the
// identity; ARM decides it by the identity's roles, and refuses it once
// the compute no longer names the identity or the identity is deleted.
func TestJobUserAssignedIdentity(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		type uai struct{ id, principal, client string }
		mkUAI := func(name string) uai {
			t.Helper()
			id := s.RG("rg1") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
			r := s.mustPut(t, id+"?api-version=2023-01-31", `{"location":"eastus"}`)
			var b struct {
				Properties struct {
					PrincipalID string `json:"principalId"`
					ClientID    string `json:"clientId"`
				} `json:"properties"`
			}
			if json.Unmarshal(r.Body, &b); b.Properties.PrincipalID == "" || b.Properties.ClientID == "" {
				t.Fatalf("the identity %s: %s", name, r.Body)
			}
			return uai{id, b.Properties.PrincipalID, b.Properties.ClientID}
		}
		u1, u2 := mkUAI("uai1"), mkUAI("uai2")
		compute := func(uais ...uai) *Response {
			t.Helper()
			m := map[string]any{}
			for _, u := range uais {
				m[u.id] = map[string]any{}
			}
			b, _ := json.Marshal(map[string]any{"location": "eastus", "identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": m},
				"properties": map[string]any{"computeType": "AmlCompute", "properties": map[string]any{"vmSize": "STANDARD_DS3_V2", "scaleSettings": map[string]any{"maxNodeCount": 1}}}})
			return s.Do(t, "PUT", ws+"/computes/cu"+av, string(b))
		}
		// A reference to an identity that does not exist is refused.
		r := compute(uai{id: s.RG("rg1") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nosuch"})
		if r.Status != 400 || r.ErrorCode() != "FailedIdentityOperation" || !strings.Contains(r.ErrorMessage(), "userAssignedIdentities/nosuch") {
			t.Errorf("a compute naming an identity that does not exist: %d %s", r.Status, r.Body)
		}
		r = compute(u1)
		s.settle(t, "compute", r)
		var c struct {
			Identity struct {
				UserAssignedIdentities map[string]struct {
					PrincipalID string `json:"principalId"`
					ClientID    string `json:"clientId"`
				} `json:"userAssignedIdentities"`
			} `json:"identity"`
		}
		json.Unmarshal(s.Do(t, "GET", ws+"/computes/cu"+av, nil).Body, &c)
		if got := c.Identity.UserAssignedIdentities[u1.id]; got.PrincipalID != u1.principal || got.ClientID != u1.client {
			t.Errorf("the compute's reference to uai1 = %+v, want the identity's ids %+v", c.Identity.UserAssignedIdentities, u1)
		}

		s.mustPut(t, ws+"/jobs/ju"+av, `{"properties":{"jobType":"Command","command":"true","environmentId":"e","computeId":"`+ws+`/computes/cu"}}`)
		r = s.jobAPI(t, s.token, "POST", "/rg1/ws1/claim", `{"compute":"cu"}`)
		var cl struct{ Token string }
		if json.Unmarshal(r.Body, &cl); r.Status != 200 || cl.Token == "" {
			t.Fatalf("claim: %d %s", r.Status, r.Body)
		}
		type miToken struct {
			AccessToken string `json:"access_token"`
			ClientID    string `json:"client_id"`
		}
		ask := func(query string) (*Response, miToken) {
			t.Helper()
			r := s.jobAPI(t, cl.Token, "GET", "/rg1/ws1/ju/identity?resource=https://management.azure.com/"+query, "")
			var tok miToken
			json.Unmarshal(r.Body, &tok)
			return r, tok
		}
		// The only identity, without naming it; a Reader role of the
		// identity lets it read, and nothing more.
		r, tok := ask("")
		if r.Status != 200 || tok.AccessToken == "" || tok.ClientID != u1.client {
			t.Fatalf("the job's identity token: %d %s", r.Status, r.Body)
		}
		claims := jwtClaims(t, tok.AccessToken)
		if claims["oid"] != u1.principal || !strings.EqualFold(claims["xms_mirid"].(string), u1.id) || claims["appid"] != u1.client || !strings.EqualFold(claims["xms_az_rid"].(string), ws+"/computes/cu") {
			t.Errorf("the claims of uai1's token: %v", claims)
		}
		if r := s.DoAs(t, tok.AccessToken, "GET", ws+av, nil); r.Status != 403 {
			t.Errorf("uai1 without a role reads the workspace: %d %s", r.Status, r.Body)
		}
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), u1.principal, "ServicePrincipal")
		if r := s.DoAs(t, tok.AccessToken, "GET", ws+av, nil); r.Status != 200 {
			t.Errorf("uai1 with Reader on rg1 reads the workspace: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, tok.AccessToken, "PUT", ws+"/computes/c9"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute"}}`); r.Status != 403 || !strings.Contains(r.ErrorMessage(), u1.principal) {
			t.Errorf("uai1 (Reader) writes a compute: %d %s", r.Status, r.Body)
		}
		// Named by each of Azure's parameters; what the compute lacks,
		// or two at once, is refused.
		for _, q := range []string{"&client_id=" + u1.client, "&object_id=" + u1.principal, "&principal_id=" + u1.principal, "&msi_res_id=" + u1.id, "&mi_res_id=" + strings.ToUpper(u1.id)} {
			if r, tok := ask(q); r.Status != 200 || jwtClaims(t, tok.AccessToken)["oid"] != u1.principal {
				t.Errorf("asking with %s: %d %s", q, r.Status, r.Body)
			}
		}
		for _, q := range []string{"&client_id=" + u2.client, "&mi_res_id=" + u2.id, "&object_id=" + u2.principal} {
			if r, _ := ask(q); r.Status != 400 || r.ErrorCode() != "IdentityNotFound" {
				t.Errorf("asking for uai2, which the compute lacks (%s): %d %s", q, r.Status, r.Body)
			}
		}
		if r, _ := ask("&client_id=" + u1.client + "&mi_res_id=" + u1.id); r.Status != 400 || r.ErrorCode() != "InvalidIdentitySelector" {
			t.Errorf("asking with two parameters: %d %s", r.Status, r.Body)
		}
		// A token of uai2 from the compute, which does not name it.
		forged, err := s.Directory.IssueManagedIdentityToken(context.Background(), s.TenantID, authn.ManagedIdentity{ResourceID: u2.id, ObjectID: u2.principal, ClientID: u2.client, Host: ws + "/computes/cu"}, "https://management.azure.com/")
		if err != nil {
			t.Fatal(err)
		}
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), u2.principal, "ServicePrincipal")
		if r := s.DoAs(t, forged.AccessToken, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("a token of uai2 from a compute without it: %d %s", r.Status, r.Body)
		}

		// The compute drops uai1 (for uai2): uai1's token is refused,
		// uai2 is the only one now.
		s.settle(t, "compute", compute(u2))
		if r := s.DoAs(t, tok.AccessToken, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("uai1's token after the compute dropped it: %d %s", r.Status, r.Body)
		}
		if r, tok := ask(""); r.Status != 200 || tok.ClientID != u2.client {
			t.Errorf("the only identity, uai2: %d %s", r.Status, r.Body)
		}
		// Two identities and no system-assigned one: name one.
		s.settle(t, "compute", compute(u1, u2))
		if r, _ := ask(""); r.Status != 400 || r.ErrorCode() != "MultipleUserAssignedIdentities" {
			t.Errorf("two identities, none named: %d %s", r.Status, r.Body)
		}
		r, tok = ask("&client_id=" + u1.client)
		if r.Status != 200 {
			t.Fatalf("uai1 by client id: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, tok.AccessToken, "GET", ws+av, nil); r.Status != 200 {
			t.Errorf("uai1's token, the compute naming it again: %d %s", r.Status, r.Body)
		}
		// uai1 deleted: its token is refused, and none is issued.
		if r := s.Do(t, "DELETE", u1.id+"?api-version=2023-01-31", nil); r.Status != 200 {
			t.Fatalf("deleting uai1: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, tok.AccessToken, "GET", ws+av, nil); r.Status != 401 {
			t.Errorf("uai1's token after uai1 was deleted: %d %s", r.Status, r.Body)
		}
		if r, _ := ask("&client_id=" + u1.client); r.Status != 400 || r.ErrorCode() != "IdentityNotFound" {
			t.Errorf("asking for the deleted uai1: %d %s", r.Status, r.Body)
		}
	})
}

// jwtClaims decodes a token's claims (unverified).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	var m map[string]any
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40s", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("the token's claims do not decode: %v", err)
	}
	return m
}

// TestJobOutputs: a job's token uploads its output files (paths checked,
// sizes bounded) while the job runs, for that job only; users list and
// download them with jobs/read and metadata/artifacts/read; nothing
// changes them once the job has finished; they go with the job.
func TestJobOutputs(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1, ws2 := s.mustWorkspace(t, "rg1", "ws1"), s.mustWorkspace(t, "rg2", "ws2")
		for _, ws := range []string{ws1, ws2} {
			s.settle(t, "compute", s.mustPut(t, ws+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`))
		}
		for _, j := range []struct{ ws, name string }{{ws1, "j1"}, {ws1, "j3"}, {ws2, "j2"}} {
			s.mustPut(t, j.ws+"/jobs/"+j.name+av, `{"properties":{"jobType":"Command","command":"true","environmentId":"e","computeId":"`+j.ws+`/computes/c1"}}`)
		}
		claim := func(ws string) string {
			t.Helper()
			r := s.jobAPI(t, s.token, "POST", ws+"/claim", `{"compute":"c1"}`)
			var cl struct{ Token string }
			if json.Unmarshal(r.Body, &cl); r.Status != 200 || cl.Token == "" {
				t.Fatalf("claim: %d %s", r.Status, r.Body)
			}
			return cl.Token
		}
		tok, tok3, tok2 := claim("/rg1/ws1"), claim("/rg1/ws1"), claim("/rg2/ws2")
		put := func(token, path string, body []byte) *Response {
			t.Helper()
			job, file, _ := strings.Cut(path, "/outputs/")
			return s.DoAs(t, token, "PUT", "/jobs/"+s.SubscriptionID+job+"/outputs?path="+file, body)
		}
		for _, f := range []struct{ path, body string }{{"result.txt", "first"}, {"dir/sub/model.bin", "\x00\x01weights"}, {"result.txt", "accuracy=0.9\n"}} {
			r := put(tok, "/rg1/ws1/j1/outputs/"+f.path, []byte(f.body))
			sum := sha256.Sum256([]byte(f.body))
			if r.Status != 200 || r.JSON()["sha256"] != hex.EncodeToString(sum[:]) || r.JSON()["size"] != float64(len(f.body)) {
				t.Errorf("PUT %s: %d %s", f.path, r.Status, r.Body)
			}
		}
		// Paths: relative, no '..' or '.', no empty segment, no backslash.
		for _, p := range []string{"a/../b", "a%2F..%2Fb", "%2Fetc%2Fpasswd", "/x", "./x", "x/.", "a%5Cb", "a%00b", "dir/", "a//b", "%2E%2E/x", "", strings.Repeat("a", 513)} {
			if r := put(tok, "/rg1/ws1/j1/outputs/"+p, []byte("x")); r.Status != 400 || r.ErrorCode() != "InvalidOutputPath" {
				t.Errorf("PUT outputs/%s: %d %s", p, r.Status, r.Body)
			}
		}
		// Sizes: a file, then all files, then how many.
		if r := put(tok, "/rg1/ws1/j1/outputs/big.bin", make([]byte, resources.MaxJobOutputFile+1)); r.Status != 413 || !strings.Contains(r.ErrorMessage(), "at most") {
			t.Errorf("a file over the bound: %d %s", r.Status, r.Body)
		}
		full := make([]byte, resources.MaxJobOutputFile)
		for i := range resources.MaxJobOutputTotal/resources.MaxJobOutputFile - 1 {
			if r := put(tok, "/rg1/ws1/j1/outputs/part"+strconv.Itoa(i), full); r.Status != 200 {
				t.Fatalf("part %d: %d %s", i, r.Status, r.Body)
			}
		}
		if r := put(tok, "/rg1/ws1/j1/outputs/last", full); r.Status != 413 || !strings.Contains(r.ErrorMessage(), "outputs hold at most") {
			t.Errorf("files over the total bound: %d %s", r.Status, r.Body)
		}
		for i := range resources.MaxJobOutputFiles {
			if r := put(tok3, "/rg1/ws1/j3/outputs/f"+strconv.Itoa(i), []byte("x")); r.Status != 200 {
				t.Fatalf("file %d of j3: %d %s", i, r.Status, r.Body)
			}
		}
		if r := put(tok3, "/rg1/ws1/j3/outputs/one-more", []byte("x")); r.Status != 413 || !strings.Contains(r.ErrorMessage(), "output files") {
			t.Errorf("a file over the count bound: %d %s", r.Status, r.Body)
		}
		if r := put(tok3, "/rg1/ws1/j3/outputs/f7", []byte("replaced")); r.Status != 200 {
			t.Errorf("replacing a file at the count bound: %d %s", r.Status, r.Body)
		}
		// The token is for its own job only; a user's token uploads nothing.
		for _, p := range []string{"/rg1/ws1/j3/outputs/x", "/rg2/ws2/j2/outputs/x", "/rg2/ws2/j1/outputs/x"} {
			if r := put(tok, p, []byte("x")); r.Status != 401 {
				t.Errorf("j1's token at %s: %d %s", p, r.Status, r.Body)
			}
		}
		if r := s.jobAPI(t, tok2, "GET", "/rg1/ws1/j1/outputs", ""); r.Status != 401 {
			t.Errorf("j2's token lists j1's outputs: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, tok2, "GET", "/rg1/ws1/j1/outputs?path=result.txt", ""); r.Status != 401 {
			t.Errorf("j2's token downloads j1's output: %d %s", r.Status, r.Body)
		}
		if r := put(s.token, "/rg1/ws1/j1/outputs/forged", []byte("x")); r.Status != 403 {
			t.Errorf("a user's PUT of an output: %d %s", r.Status, r.Body)
		}

		// Users read them with both actions.
		reader := s.NewPrincipal(t, "reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		r := s.jobAPI(t, reader.Token, "GET", "/rg1/ws1/j1/outputs", "")
		var list struct {
			Value []resources.OutputFile `json:"value"`
		}
		if json.Unmarshal(r.Body, &list); r.Status != 200 || len(list.Value) != 5 || list.Value[0].Path != "dir/sub/model.bin" || list.Value[4].Path != "result.txt" || list.Value[4].Size != 13 {
			t.Errorf("the reader's list: %d %s", r.Status, r.Body)
		}
		r = s.jobAPI(t, reader.Token, "GET", "/rg1/ws1/j1/outputs?path=result.txt", "")
		if r.Status != 200 || string(r.Body) != "accuracy=0.9\n" || r.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("the reader's download: %d %q", r.Status, r.Body)
		}
		if r := s.jobAPI(t, reader.Token, "GET", "/rg1/ws1/j1/outputs?path=nosuch.txt", ""); r.Status != 404 || r.ErrorCode() != "OutputNotFound" {
			t.Errorf("a file that is not there: %d %s", r.Status, r.Body)
		}
		none := s.NewPrincipal(t, "no-role")
		if r := s.jobAPI(t, none.Token, "GET", "/rg1/ws1/j1/outputs?path=result.txt", ""); r.Status != 403 {
			t.Errorf("a download without a role: %d %s", r.Status, r.Body)
		}
		jobsOnly := s.NewPrincipal(t, "jobs-only")
		role := s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
		s.put(t, role+"?api-version=2022-04-01", `{"properties":{"roleName":"Job reader","permissions":[{"actions":["Microsoft.MachineLearningServices/workspaces/jobs/read"]}],"assignableScopes":["`+s.sub()+`"]}}`, 201)
		s.assignRole(t, ws1, role, jobsOnly.ObjectID, "ServicePrincipal")
		if r := s.jobAPI(t, jobsOnly.Token, "GET", "/rg1/ws1/j1/status", ""); r.Status != 200 {
			t.Errorf("jobs/read reads the status: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, jobsOnly.Token, "GET", "/rg1/ws1/j1/outputs", ""); r.Status != 403 || !strings.Contains(r.ErrorMessage(), "metadata/artifacts/read") {
			t.Errorf("jobs/read without artifacts/read lists the outputs: %d %s", r.Status, r.Body)
		}

		// Finished: nothing changes them; still read.
		if r := s.jobAPI(t, tok, "POST", "/rg1/ws1/j1/status", `{"status":"Completed","exitCode":0}`); r.Status != 200 {
			t.Fatalf("Completed: %d %s", r.Status, r.Body)
		}
		if r := put(tok, "/rg1/ws1/j1/outputs/late.txt", []byte("x")); r.Status != 409 {
			t.Errorf("an output after the end: %d %s", r.Status, r.Body)
		}
		if r := s.jobAPI(t, tok, "GET", "/rg1/ws1/j1/outputs?path=result.txt", ""); r.Status != 200 || string(r.Body) != "accuracy=0.9\n" {
			t.Errorf("the job's own download: %d %q", r.Status, r.Body)
		}
		// Deleted with the job.
		if r := s.Do(t, "DELETE", ws1+"/jobs/j1"+av, nil); r.Status != 200 && r.Status != 202 {
			t.Fatalf("DELETE j1: %d %s", r.Status, r.Body)
		}
		var objs []*store.Object
		if err := s.Store.Read(context.Background(), func(tx store.Tx) error {
			var err error
			objs, err = tx.ListObjects(context.Background(), resources.KindJobOutput)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if strings.Contains(o.Key, "/jobs/j1/") {
				t.Errorf("an output of the deleted job is left: %s", o.Key)
			}
		}
		if len(objs) != resources.MaxJobOutputFiles {
			t.Errorf("%d output files are left, want j3's %d", len(objs), resources.MaxJobOutputFiles)
		}
	})
}
