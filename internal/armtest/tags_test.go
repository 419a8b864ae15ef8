package armtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// Tags at scope ({scope}/providers/Microsoft.Resources/tags/default): a
// view of the scope's own tags, written through the scope's write path.

const tav = "?api-version=2025-04-01" // what @azure/arm-resources 8.x sends

func tagsPath(scope string) string { return scope + "/providers/Microsoft.Resources/tags/default" }

// tagsOf returns the tags of a GET body (nil when absent).
func tagsOf(t *testing.T, r *Response) map[string]string {
	t.Helper()
	var b struct {
		Tags       map[string]string
		Properties struct{ Tags map[string]string }
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.Body)
	}
	if b.Tags != nil {
		return b.Tags
	}
	return b.Properties.Tags
}

// wantTags checks that the tags API and the scope resource agree on the
// tags, and that they are want.
func (s *Server) wantTags(t *testing.T, scope, scopeQuery string, want map[string]string) {
	t.Helper()
	view := s.Do(t, "GET", tagsPath(scope)+tav, nil)
	if view.Status != 200 {
		t.Fatalf("GET tags of %s: %d %s", scope, view.Status, view.Body)
	}
	res := s.Do(t, "GET", scope+scopeQuery, nil)
	if res.Status != 200 {
		t.Fatalf("GET %s: %d %s", scope, res.Status, res.Body)
	}
	if d := cmp.Diff(want, tagsOf(t, view)); d != "" {
		t.Errorf("tags resource of %s (-want +got):\n%s", scope, d)
	}
	if d := cmp.Diff(want, tagsOf(t, res)); d != "" {
		t.Errorf("tags of the resource %s itself (-want +got):\n%s", scope, d)
	}
}

// TestTagsAtScope: the tags resource of a resource group, a resource
// (synchronous and long-running types) and the subscription is a view of
// their tags: GET shows them, PUT replaces them, PATCH merges, replaces
// or deletes (by name or name and value), DELETE removes them all;
// nothing is stored under the tags path; the write is logged as
// Microsoft.Resources/tags/write against the scope.
func TestTagsAtScope(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		rg := s.RG("rg1")
		s.put(t, rg+"?api-version=2021-04-01", `{"location":"eastus","tags":{"a":"1"}}`, 201)
		view := s.Do(t, "GET", tagsPath(rg)+tav, nil)
		want := map[string]any{"id": tagsPath(rg), "name": "default", "type": "Microsoft.Resources/tags",
			"properties": map[string]any{"tags": map[string]any{"a": "1"}}}
		if view.Status != 200 {
			t.Fatalf("GET tags: %d %s", view.Status, view.Body)
		}
		if d := cmp.Diff(want, view.JSON()); d != "" {
			t.Errorf("GET tags (-want +got):\n%s", d)
		}

		rgq := "?api-version=2021-04-01"
		steps := []struct {
			method, body string
			want         map[string]string
		}{
			{"PUT", `{"properties":{"tags":{"x":"1","y":"2"}}}`, map[string]string{"x": "1", "y": "2"}},
			{"PATCH", `{"operation":"Merge","properties":{"tags":{"Y":"3","z":"4"}}}`, map[string]string{"x": "1", "y": "3", "z": "4"}},
			// x matches by value, z by name alone (empty value), y's
			// value differs: kept.
			{"PATCH", `{"operation":"Delete","properties":{"tags":{"x":"1","y":"nope","z":""}}}`, map[string]string{"y": "3"}},
			{"PATCH", `{"operation":"replace","properties":{"tags":{"k":"v"}}}`, map[string]string{"k": "v"}},
		}
		for _, st := range steps {
			r := s.Do(t, st.method, tagsPath(rg)+tav, st.body)
			if r.Status != 200 {
				t.Fatalf("%s %s: %d %s", st.method, st.body, r.Status, r.Body)
			}
			if d := cmp.Diff(st.want, tagsOf(t, r)); d != "" {
				t.Errorf("%s %s: answer (-want +got):\n%s", st.method, st.body, d)
			}
			s.wantTags(t, rg, rgq, st.want)
		}
		if r := s.Do(t, "DELETE", tagsPath(rg)+tav, nil); r.Status != 200 || len(r.Body) != 0 {
			t.Errorf("DELETE tags: %d %s, want 200 without a body (deleteAtScope takes 200 or 202)", r.Status, r.Body)
		}
		s.wantTags(t, rg, rgq, map[string]string{})

		// A synchronous resource: its ETag and systemData change.
		st := storagePath(s, "rg1", "st1")
		before := s.put(t, st+storageAV, `{"location":"eastus","tags":{"env":"dev"},"properties":{}}`, 201)
		s.put(t, tagsPath(st)+tav, `{"properties":{"tags":{"env":"prod","team":"ml"}}}`, 200)
		s.wantTags(t, st, storageAV, map[string]string{"env": "prod", "team": "ml"})
		after := s.Do(t, "GET", st+storageAV, nil)
		if after.Header.Get("ETag") == before.Header.Get("ETag") {
			t.Errorf("the resource's ETag did not change with its tags: %s", after.Header.Get("ETag"))
		}
		sd := func(r *Response) map[string]any { m, _ := r.JSON()["systemData"].(map[string]any); return m }
		if b, a := sd(before), sd(after); a["createdAt"] != b["createdAt"] || a["lastModifiedAt"] == nil {
			t.Errorf("systemData: before %v, after %v", b, a)
		}

		// A long-running type: the tags change is synchronous (200, no
		// operation) and the resource keeps its state.
		ws := s.mustWorkspace(t, "rg1", "ws1")
		r := s.put(t, tagsPath(ws)+tav, `{"properties":{"tags":{"cost":"42"}}}`, 200)
		if r.Header.Get("Azure-AsyncOperation") != "" || r.Header.Get("Location") != "" {
			t.Errorf("a tags write answered with an operation to poll: %v", r.Header)
		}
		s.wantTags(t, ws, av, map[string]string{"cost": "42"})
		if p, _ := s.Do(t, "GET", ws+av, nil).JSON()["properties"].(map[string]any); p["provisioningState"] == "Updating" {
			t.Errorf("the workspace is Updating after a tags write")
		}

		// The subscription.
		sub := s.sub()
		s.put(t, tagsPath(sub)+tav, `{"properties":{"tags":{"costCenter":"7"}}}`, 200)
		s.wantTags(t, sub, "?api-version=2022-12-01", map[string]string{"costCenter": "7"})
		if v := s.Do(t, "GET", tagsPath(sub)+tav, nil).JSON(); v["id"] != tagsPath(sub) {
			t.Errorf("subscription tags id %v", v["id"])
		}

		// Nothing is stored under the tags path.
		for _, scope := range []string{rg, st, ws, sub} {
			rs, err := store.GetResources(context.Background(), s.Store, arm.KeyOf(tagsPath(scope)))
			if err != nil || rs[0] != nil {
				t.Errorf("something is stored at %s: %v %v", tagsPath(scope), rs, err)
			}
		}

		// Activity log: the write of the scope, named as Azure names it.
		var ops []string
		for _, e := range s.Events(t, "", 0) {
			on, _ := e["operationName"].(map[string]any)
			name, _ := on["value"].(string)
			if strings.HasPrefix(name, "Microsoft.Resources/tags/") && strings.EqualFold(fmt.Sprint(e["resourceId"]), st) {
				status, _ := e["status"].(map[string]any)
				ops = append(ops, name+" "+fmt.Sprint(status["value"]))
			}
		}
		if d := cmp.Diff([]string{"Microsoft.Resources/tags/write Started", "Microsoft.Resources/tags/write Succeeded"}, ops); d != "" {
			t.Errorf("activity log of the storage account's tags write (-want +got):\n%s", d)
		}
	})
}

// TestTagsAtScopeRefusals: a scope that does not exist is the 404 of its
// kind; bad bodies, names, api-versions and methods are 400/405 naming
// what is wrong, and change nothing.
func TestTagsAtScopeRefusals(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		ws := s.mustWorkspace(t, "rg1", "ws1")
		st := storagePath(s, "rg1", "st1")
		s.put(t, st+storageAV, `{"location":"eastus","tags":{"keep":"me"},"properties":{}}`, 201)
		put := `{"properties":{"tags":{"a":"b"}}}`
		cases := []struct {
			what, method, path, body string
			status                   int
			code, target             string
			parts                    []string
		}{
			{"missing group", "PUT", tagsPath(s.RG("nope")), put, 404, "ResourceGroupNotFound", "", nil},
			{"missing group GET", "GET", tagsPath(s.RG("nope")), "", 404, "ResourceGroupNotFound", "", nil},
			{"missing resource", "PUT", tagsPath(storagePath(s, "rg1", "nope")), put, 404, "ResourceNotFound", "", nil},
			{"missing resource GET", "GET", tagsPath(storagePath(s, "rg1", "nope")), "", 404, "ResourceNotFound", "", nil},
			{"missing resource in missing group", "PATCH", tagsPath(storagePath(s, "nope", "st1")), `{"operation":"Merge","properties":{"tags":{}}}`, 404, "ResourceGroupNotFound", "", nil},
			{"missing subscription", "PUT", tagsPath("/subscriptions/00000000-0000-0000-0000-000000000000"), put, 404, "SubscriptionNotFound", "", nil},
			{"missing parent", "DELETE", tagsPath(wsPath(s, "rg1", "nope") + "/computes/c1"), "", 404, "ParentResourceNotFound", "", nil},
			{"no operation", "PATCH", tagsPath(st), put, 400, "InvalidRequestContent", "/operation", []string{"Merge, Replace or Delete"}},
			{"bad operation", "PATCH", tagsPath(st), `{"operation":"Add","properties":{"tags":{}}}`, 400, "InvalidRequestContent", "/operation", []string{"'Add'"}},
			{"tags at the top", "PUT", tagsPath(st), `{"tags":{"a":"b"}}`, 400, "InvalidRequestContent", "/properties", []string{"properties"}},
			{"no tags", "PUT", tagsPath(st), `{"properties":{}}`, 400, "InvalidRequestContent", "/properties/tags", []string{"properties.tags"}},
			{"tag value not a string", "PUT", tagsPath(st), `{"properties":{"tags":{"n":1}}}`, 400, "InvalidTag", "", []string{"'n'"}},
			{"bad tag name", "PATCH", tagsPath(st), `{"operation":"Merge","properties":{"tags":{"a/b":"c"}}}`, 400, "InvalidTagName", "", []string{"a/b"}},
			{"too many after a merge", "PATCH", tagsPath(st), `{"operation":"Merge","properties":{"tags":` + manyTags(50) + `}}`, 400, "InvalidTag", "", []string{"51"}},
			{"empty body", "PUT", tagsPath(st), "", 400, "InvalidRequestContent", "", nil},
			{"not default", "PUT", st + "/providers/Microsoft.Resources/tags/other", put, 400, "InvalidResourceName", "", []string{"'default'"}},
			{"old api-version", "GET", tagsPath(st) + "?api-version=2018-05-01", "", 400, "InvalidApiVersionParameter", "", []string{"2019-10-01"}},
			{"POST", "POST", tagsPath(st), put, 405, "MethodNotAllowed", "", nil},
			{"HEAD is not served", "HEAD", tagsPath(st), "", 405, "", "", nil},
			{"a collection of tags", "GET", st + "/providers/Microsoft.Resources/tags", "", 400, "OperationNotSupported", "", []string{"tags/default"}},
			{"a proxy resource has no tags", "PUT", tagsPath(ws + "/jobs/j1"), put, 400, "OperationNotSupported", "", []string{"workspaces/jobs"}},
			{"tags of tags", "GET", tagsPath(tagsPath(st)), "", 400, "InvalidResourceType", "", nil},
		}
		for _, c := range cases {
			path := c.path
			if !strings.Contains(path, "api-version") {
				path += tav
			}
			r := s.Do(t, c.method, path, c.body)
			if c.method == "HEAD" {
				if r.Status != c.status {
					t.Errorf("%s: %d, want %d", c.what, r.Status, c.status)
				}
				continue
			}
			wantError(t, c.what, r, c.status, c.code, c.target, c.parts...)
		}
		s.wantTags(t, st, storageAV, map[string]string{"keep": "me"})
	})
}

func manyTags(n int) string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("t%d", i)] = "v"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestTagsAtScopePolicy: a tags write is governed as a tags-only PATCH
// of its scope: a Deny that requires a tag refuses a tags write that
// removes it (403, nothing written, the deny logged); a Modify adds its
// tag to what the tags API writes and answers; a Deny that does not
// inspect tags does not block a tags write (it blocks a PUT).
func TestTagsAtScopePolicy(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		st := storagePath(s, "rg1", "st1")
		s.put(t, st+storageAV, `{"location":"eastus","tags":{"env":"dev"},"properties":{}}`, 201)
		ws := s.mustWorkspace(t, "rg1", "ws1")

		needEnv := s.define(t, "need-env", "Indexed",
			`{"if":{"allOf":[{"field":"type","equals":"Microsoft.Storage/storageAccounts"},{"field":"tags['env']","exists":"false"}]},"then":{"effect":"Deny"}}`, "")
		s.assign(t, s.RG("rg1"), "need-env", needEnv, "")

		info := violation(t, s.Do(t, "PUT", tagsPath(st)+tav, `{"properties":{"tags":{"team":"ml"}}}`))
		if info["policyAssignmentName"] != "need-env" {
			t.Errorf("violation: %v", info)
		}
		violation(t, s.Do(t, "PATCH", tagsPath(st)+tav, `{"operation":"Delete","properties":{"tags":{"env":""}}}`))
		violation(t, s.Do(t, "DELETE", tagsPath(st)+tav, nil))
		s.wantTags(t, st, storageAV, map[string]string{"env": "dev"})
		if evs := s.policyEvents(t, "deny", st); len(evs) != 3 {
			t.Errorf("%d deny events for the storage account, want 3", len(evs))
		}
		// The refused writes are logged as failed against the scope, as
		// an applied one is logged.
		failed := map[string]int{}
		for _, e := range s.Events(t, "", 0) {
			on, _ := e["operationName"].(map[string]any)
			status, _ := e["status"].(map[string]any)
			if status["value"] == "Failed" && strings.EqualFold(fmt.Sprint(e["resourceId"]), st) && strings.HasPrefix(fmt.Sprint(on["value"]), "Microsoft.Resources/") {
				failed[fmt.Sprint(on["value"])]++
			}
		}
		if d := cmp.Diff(map[string]int{"Microsoft.Resources/tags/write": 2, "Microsoft.Resources/tags/delete": 1}, failed); d != "" {
			t.Errorf("failed events of the refused tags writes (-want +got):\n%s", d)
		}
		// The same as a tags-only PATCH of the resource.
		violation(t, s.Do(t, "PATCH", st+storageAV, `{"tags":{"team":"ml"}}`))
		s.put(t, tagsPath(st)+tav, `{"properties":{"tags":{"env":"prod"}}}`, 200)
		s.wantTags(t, st, storageAV, map[string]string{"env": "prod"})

		// Modify: the tag it adds is stored and answered.
		owner := s.define(t, "owner-tag", "Indexed",
			`{"if":{"allOf":[{"field":"type","equals":"Microsoft.Storage/storageAccounts"},{"field":"tags['owner']","exists":"false"}]},`+
				`"then":{"effect":"Modify","details":{"roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],`+
				`"operations":[{"operation":"addOrReplace","field":"tags['owner']","value":"platform"}]}}}`, "")
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Authorization/policyAssignments/owner"+pav,
			`{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+owner+`"}}`, 201)
		r := s.put(t, tagsPath(st)+tav, `{"properties":{"tags":{"env":"test"}}}`, 200)
		want := map[string]string{"env": "test", "owner": "platform"}
		if d := cmp.Diff(want, tagsOf(t, r)); d != "" {
			t.Errorf("answer of a tags write under Modify (-want +got):\n%s", d)
		}
		s.wantTags(t, st, storageAV, want)
		if evs := s.policyEvents(t, "modify", st); len(evs) != 1 {
			t.Errorf("%d modify events, want 1", len(evs))
		}
		r = s.Do(t, "PATCH", tagsPath(st)+tav, `{"operation":"Delete","properties":{"tags":{"owner":""}}}`)
		if d := cmp.Diff(want, tagsOf(t, r)); r.Status != 200 || d != "" {
			t.Errorf("deleting the tag Modify adds: %d (-want +got):\n%s", r.Status, d)
		}

		// A Deny on a property: tags writes pass, a PUT does not.
		pna := s.define(t, "no-public-ws", "Indexed",
			`{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"Microsoft.MachineLearningServices/workspaces/publicNetworkAccess","notEquals":"Disabled"}]},"then":{"effect":"Deny"}}`, "")
		s.assign(t, s.RG("rg1"), "no-public-ws", pna, "")
		violation(t, s.Do(t, "PUT", ws+av, `{"location":"eastus"}`))
		s.put(t, tagsPath(ws)+tav, `{"properties":{"tags":{"cost":"1"}}}`, 200)
		s.wantTags(t, ws, av, map[string]string{"cost": "1"})
	})
}

// TestTagNames: the subscription's tag names with their counts and
// values, from the subscription, its groups and its resources.
func TestTagNames(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("rg1")+"?api-version=2021-04-01", `{"location":"eastus","tags":{"env":"dev"}}`, 201)
		s.put(t, storagePath(s, "rg1", "st1")+storageAV, `{"location":"eastus","tags":{"Env":"prod","team":"ml"},"properties":{}}`, 201)
		s.put(t, storagePath(s, "rg1", "st2")+storageAV, `{"location":"eastus","tags":{"env":"prod"},"properties":{}}`, 201)
		r := s.Do(t, "GET", s.sub()+"/tagNames"+tav, nil)
		if r.Status != 200 {
			t.Fatalf("tagNames: %d %s", r.Status, r.Body)
		}
		var got struct {
			Value []struct {
				ID      string
				TagName string
				Count   struct{ Type, Value any }
				Values  []struct {
					TagValue string
					Count    struct{ Value float64 }
				}
			}
		}
		json.Unmarshal(r.Body, &got)
		summary := []string{}
		for _, v := range got.Value {
			line := fmt.Sprintf("%s=%v:", v.TagName, v.Count.Value)
			for _, x := range v.Values {
				line += fmt.Sprintf(" %s=%v", x.TagValue, x.Count.Value)
			}
			summary = append(summary, line)
		}
		if d := cmp.Diff([]string{"env=3: dev=1 prod=2", "team=1: ml=1"}, summary); d != "" {
			t.Errorf("tagNames (-want +got):\n%s\n%s", d, r.Body)
		}
		if len(got.Value) > 0 && got.Value[0].ID != s.sub()+"/tagNames/env" {
			t.Errorf("id %q", got.Value[0].ID)
		}
		// Paged by $top.
		p1 := s.Do(t, "GET", s.sub()+"/tagNames"+tav+"&$top=1", nil).JSON()
		next, _ := p1["nextLink"].(string)
		if vals, _ := p1["value"].([]any); len(vals) != 1 || next == "" {
			t.Fatalf("first page of one: %v", p1)
		}
		p2 := s.Do(t, "GET", strings.TrimPrefix(next, s.URL), nil).JSON()
		if vals, _ := p2["value"].([]any); len(vals) != 1 || vals[0].(map[string]any)["tagName"] != "team" {
			t.Errorf("second page: %v", p2)
		}
		wantError(t, "tagNames PUT", s.Do(t, "PUT", s.sub()+"/tagNames"+tav, "{}"), 405, "MethodNotAllowed", "")
	})
}
