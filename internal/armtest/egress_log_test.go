package armtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/egress"
)

// TestEgressLogAPI: GET /egress/{sub}/{rg}/{ws}/log answers the
// workspace's records to a caller with workspaces/read on it (a Reader
// of the resource group), filtered by job and decision and paged by
// nextLink; a caller without the role 403, without a token 401; bad
// parameters 400 naming them; another workspace's records are not in it.
func TestEgressLogAPI(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		other := s.mustWorkspace(t, "rg1", "ws2")
		lg := egress.NewLog(s.Store, nil)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { lg.Run(ctx); close(done) }()
		now := time.Now().UTC()
		for i := range 5 {
			d := egress.Allowed
			if i%2 == 1 {
				d = egress.Denied
			}
			lg.Record(&egress.Record{Time: now.Add(time.Duration(i) * time.Millisecond), WorkspaceID: ws, JobID: ws + "/jobs/job1", Method: "CONNECT", Host: fmt.Sprintf("h%d.example.com", i), Port: 443, Decision: d})
		}
		lg.Record(&egress.Record{Time: now, WorkspaceID: other, JobID: other + "/jobs/job1", Method: "GET", Host: "secret.example.com", Port: 80, Decision: egress.Allowed})
		stop()
		<-done
		base := "/egress/" + s.SubscriptionID + "/rg1/ws1/log"
		list := func(token, q string) (int, []map[string]any, string) {
			t.Helper()
			r := s.DoAs(t, token, "GET", base+q, nil)
			var out struct {
				Value    []map[string]any `json:"value"`
				NextLink string           `json:"nextLink"`
			}
			json.Unmarshal(r.Body, &out)
			return r.Status, out.Value, out.NextLink
		}
		if st, v, _ := list(s.token, ""); st != 200 || len(v) != 5 {
			t.Fatalf("all: %d %v", st, v)
		}
		if st, v, _ := list(s.token, "?job=job1&decision=denied"); st != 200 || len(v) != 2 || v[0]["host"] != "h1.example.com" {
			t.Errorf("denied of job1: %d %v", st, v)
		}
		if st, v, _ := list(s.token, "?job=job2"); st != 200 || len(v) != 0 {
			t.Errorf("job2: %d %v", st, v)
		}
		st, v, next := list(s.token, "?$top=3")
		if st != 200 || len(v) != 3 || !strings.Contains(next, "$skiptoken=") && !strings.Contains(next, "%24skiptoken=") {
			t.Fatalf("page 1: %d %v %q", st, v, next)
		}
		r := s.Do(t, "GET", strings.TrimPrefix(next, s.URL), nil)
		var page2 struct {
			Value []map[string]any `json:"value"`
		}
		json.Unmarshal(r.Body, &page2)
		if r.Status != 200 || len(page2.Value) != 2 || page2.Value[1]["host"] != "h4.example.com" {
			t.Errorf("page 2: %d %s", r.Status, r.Body)
		}
		for _, c := range []struct{ q, part string }{{"?decision=Maybe", "decision"}, {"?$top=0", "$top"}, {"?$top=5000", "$top"}, {"?from=yesterday", "from"}, {"?job=a/b", "job"}, {"?$skiptoken=x", "$skiptoken"}} {
			wantError(t, c.q, s.Do(t, "GET", base+c.q, nil), 400, "InvalidQueryParameterValue", "", c.part)
		}
		p := s.NewPrincipal(t, "egress-reader")
		if st, _, _ := list(p.Token, ""); st != 403 {
			t.Errorf("a caller without a role: %d, want 403", st)
		}
		s.assignRole(t, "/subscriptions/"+s.SubscriptionID+"/resourceGroups/rg1", "/subscriptions/"+s.SubscriptionID+"/providers/Microsoft.Authorization/roleDefinitions/"+roleReader, p.ObjectID, "ServicePrincipal")
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, v, _ := list(p.Token, "")
			if st == 200 && len(v) == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a Reader: %d %v", st, v)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if st, _, _ := list("", ""); st != 401 {
			t.Errorf("no token: %d, want 401", st)
		}
		if r := s.Do(t, "GET", "/egress/"+s.SubscriptionID+"/rg1/ws1/other", nil); r.Status != 404 {
			t.Errorf("another path: %d", r.Status)
		}
	})
}
