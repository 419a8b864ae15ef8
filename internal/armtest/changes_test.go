package armtest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/live"
	"github.com/mlgov/mlgov/store/feed"
)

// changeStream is an open change stream's events as they arrive.
type changeStream struct {
	events chan map[string]any
}

// openChanges opens the change stream at scope ("" for the tenant) with
// token and returns once the server has subscribed it (its first line).
func (s *Server) openChanges(t *testing.T, token, scope string) *changeStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+scope+"/providers/Mlgov.Governance/changes?api-version="+api.ChangesAPIVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("change stream at %q: %d %s", scope, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), ":") {
		t.Fatalf("change stream at %q: first line %q", scope, sc.Text())
	}
	cs := &changeStream{events: make(chan map[string]any, 1000)}
	go func() {
		defer close(cs.events)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(d), &m) == nil {
					cs.events <- m
				}
			}
		}
	}()
	return cs
}

// wait returns the first event that match accepts within bound, and the
// events before it.
func (cs *changeStream) wait(t *testing.T, what string, bound time.Duration, match func(map[string]any) bool) (map[string]any, []map[string]any) {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	var before []map[string]any
	for {
		select {
		case e, ok := <-cs.events:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			if match(e) {
				return e, before
			}
			before = append(before, e)
		case <-deadline.C:
			t.Fatalf("%s: no event within %v (got %v)", what, bound, before)
		}
	}
}

// about matches the events of a kind about a resource id.
func about(kind, id string) func(map[string]any) bool {
	return func(e map[string]any) bool {
		if e["kind"] != kind {
			return false
		}
		got, _ := e["id"].(string)
		if kind == "activity" {
			got, _ = e["resourceId"].(string)
		}
		return strings.EqualFold(got, id)
	}
}

// TestChangeStream: the dashboard's change stream pushes, within a
// second, another principal's write and delete of a resource, its
// compliance records, and a write refused by policy with its
// correlation id; a Reader of one resource group receives that group's
// events and none of another's; the stream's bad input is refused and a
// principal's open streams are bounded.
func TestChangeStream(t *testing.T) {
	deny := mlBuiltin(t, "DisableLocalAuth_Audit.json")
	idle := mlBuiltin(t, "IdleShutdown_Audit.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1 := s.mustWorkspace(t, "rg1", "ws1")
		ws2 := s.mustWorkspace(t, "rg2", "ws2")
		writer := s.NewPrincipal(t, "writer")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), writer.ObjectID, "ServicePrincipal")
		reader := s.NewPrincipal(t, "rg1-reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		s.assign(t, s.sub(), "idle", idle, "")
		s.assign(t, s.RG("rg1"), "no-local-auth", deny, `"parameters":{"effect":{"value":"Deny"}}`)

		admin := s.openChanges(t, s.token, s.sub())
		mine := s.openChanges(t, reader.Token, "")

		// Another principal's write, in rg1: both see it within a second.
		c1 := ws1 + "/computes/ci1"
		start := time.Now()
		if r := s.DoAs(t, writer.Token, "PUT", c1+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`); r.Status != 201 {
			t.Fatalf("PUT by the writer: %d %s", r.Status, r.Body)
		}
		e, _ := admin.wait(t, "the write", time.Second, about("resource", c1))
		if e["operation"] != "write" || time.Since(start) > time.Second {
			t.Errorf("the write's event %v after %v", e, time.Since(start))
		}
		mine.wait(t, "the write, to the reader of rg1", time.Second, about("resource", c1))
		// Its compliance records, once evaluated.
		admin.wait(t, "the compute's compliance", 2*time.Second, about("compliance", c1))

		// A write in rg2, then one in rg1: the reader of rg1 gets the
		// second and never the first.
		c2 := ws2 + "/computes/ci2"
		s.put(t, c2+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`, 201)
		admin.wait(t, "the write in rg2", time.Second, about("resource", c2))
		c3 := ws1 + "/computes/ci3"
		s.put(t, c3+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`, 201)
		_, before := mine.wait(t, "the reader's next write in rg1", time.Second, about("resource", c3))
		for _, e := range before {
			if b, _ := json.Marshal(e); strings.Contains(strings.ToLower(string(b)), "/resourcegroups/rg2/") {
				t.Errorf("the reader of rg1 received an event of rg2: %s", b)
			}
		}

		// A write refused by policy: its activity events, with the
		// request's correlation id.
		bad := ws1 + "/computes/local-auth"
		r := s.DoAs(t, writer.Token, "PUT", bad+av, computeBody)
		violation(t, r)
		corr := r.Header.Get("x-ms-correlation-request-id")
		e, _ = admin.wait(t, "the denied write", time.Second, func(e map[string]any) bool {
			return about("activity", bad)(e) && e["operationName"] == "Microsoft.Authorization/policies/deny/action"
		})
		if e["status"] != "Failed" || !strings.EqualFold(e["correlationId"].(string), corr) {
			t.Errorf("the deny event: %v (correlation id %s)", e, corr)
		}
		// The reader of rg1 reads rg1's activity log (resourceUri or
		// resourceGroupName filter): it gets the event too.
		mine.wait(t, "the denied write, to the reader of rg1", time.Second, func(e map[string]any) bool {
			return about("activity", bad)(e) && e["operationName"] == "Microsoft.Authorization/policies/deny/action"
		})

		// An exemption re-evaluates by a scan: the exempted resource's
		// compliance is told too.
		s.put(t, c1+"/providers/Microsoft.Authorization/policyExemptions/ex1?api-version=2022-07-01-preview",
			`{"properties":{"policyAssignmentId":"`+s.sub()+`/providers/Microsoft.Authorization/policyAssignments/idle","exemptionCategory":"Waiver"}}`, 201)
		admin.wait(t, "the exempted compute's compliance", 5*time.Second, about("compliance", c1))

		// A delete (of a resource deleted at once: a compute's is a
		// long-running operation).
		sa := s.RG("rg1") + "/providers/Microsoft.Storage/storageAccounts/sa1"
		s.put(t, sa+"?api-version=2023-05-01", `{"location":"eastus","properties":{}}`, 201)
		start = time.Now()
		if r := s.DoAs(t, writer.Token, "DELETE", sa+"?api-version=2023-05-01", nil); r.Status != 200 {
			t.Fatalf("DELETE: %d %s", r.Status, r.Body)
		}
		mine.wait(t, "the delete, to the reader of rg1", time.Second, func(e map[string]any) bool { return about("resource", sa)(e) && e["operation"] == "delete" })
		if time.Since(start) > time.Second {
			t.Errorf("the delete's event after %v", time.Since(start))
		}

		// Bad input, and the bound on a principal's streams.
		path := s.sub() + "/providers/Mlgov.Governance/changes"
		wantError(t, "an unknown api-version", s.Do(t, "GET", path+"?api-version=2020-01-01", nil), 400, "InvalidApiVersionParameter", "api-version")
		if r := s.Do(t, "GET", path, nil); r.Status != 400 || r.ErrorCode() != "MissingApiVersionParameter" {
			t.Errorf("no api-version: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", ws1+"/providers/Mlgov.Governance/changes?api-version="+api.ChangesAPIVersion, nil); r.Status != 400 || r.ErrorCode() != "InvalidRequestUri" {
			t.Errorf("at a workspace: %d %s", r.Status, r.Body)
		}
		for range live.DefaultPerCaller - 1 {
			s.openChanges(t, reader.Token, s.RG("rg1"))
		}
		if r := s.DoAs(t, reader.Token, "GET", path+"?api-version="+api.ChangesAPIVersion, nil); r.Status != 429 || r.ErrorCode() != "TooManyRequests" {
			t.Errorf("a fifth stream: %d %s", r.Status, r.Body)
		}
	})
}

// TestChangeStreamOtherReplica: a replica that did not take the request
// streams its write (the change feed) and its activity events (the
// events table) all the same.
func TestChangeStreamOtherReplica(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		other := live.New(live.Config{Authorizer: s.Access})
		ctx := s.otherReplica(t, func(fd *feed.Feed) { other.Follow(fd) })
		go other.RunEvents(ctx, s.Store, 20*time.Millisecond)
		sub, err := other.Subscribe(ctx, &activitylog.Caller{Name: "admin", ObjectID: s.AdminObjectID, Type: "ServicePrincipal"}, s.sub())
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		time.Sleep(100 * time.Millisecond) // RunEvents has read where the log ends
		c := ws + "/computes/c1"
		s.put(t, c+av, computeBody, 201)
		key := arm.KeyOf(c)
		var resource, activity bool
		deadline := time.After(2 * time.Second)
		for !resource || !activity {
			select {
			case b := <-sub.Events():
				var e map[string]any
				json.Unmarshal(b, &e)
				resource = resource || about("resource", key)(e)
				activity = activity || about("activity", c)(e) && e["operationName"] == "Microsoft.MachineLearningServices/workspaces/computes/write"
			case <-deadline:
				t.Fatalf("the other replica: the write %v, its activity %v", resource, activity)
			}
		}
	})
}
