package armtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// Management locks (Microsoft.Authorization/locks) at every scope, and
// the writes they refuse with 409 ScopeLocked, on SQLite and PostgreSQL.

const lav = "?api-version=2020-05-01" // what @azure/arm-locks 2.1.0 sends

func lockPath(scope, name string) string {
	return scope + "/providers/Microsoft.Authorization/locks/" + name
}

// lock creates (201) or updates (200) a lock.
func (s *Server) lock(t *testing.T, scope, name, level string) string {
	t.Helper()
	p := lockPath(scope, name)
	r := s.Do(t, "PUT", p+lav, `{"properties":{"level":"`+level+`","notes":"test"}}`)
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("PUT lock %s: %d %s", p, r.Status, r.Body)
	}
	return p
}

func (s *Server) unlock(t *testing.T, p string) {
	t.Helper()
	if r := s.Do(t, "DELETE", p+lav, nil); r.Status != 200 && r.Status != 204 {
		t.Fatalf("DELETE lock %s: %d %s", p, r.Status, r.Body)
	}
}

// wantLocked checks a refusal by a lock: 409 ScopeLocked, ARM's message
// naming the operation, the scope written and the locked scope.
func wantLocked(t *testing.T, what string, r *Response, op, scope, locked string) {
	t.Helper()
	want := fmt.Sprintf("The scope '%s' cannot perform %s operation because following scope(s) are locked: '%s'. Please remove the lock and try again.", scope, op, locked)
	if r.Status != 409 || r.ErrorCode() != "ScopeLocked" || !strings.EqualFold(r.ErrorMessage(), want) {
		t.Errorf("%s: %d %s %q, want 409 ScopeLocked %q", what, r.Status, r.ErrorCode(), r.ErrorMessage(), want)
	}
}

// wantOK checks a write went through.
func wantOK(t *testing.T, what string, r *Response) {
	t.Helper()
	if r.Status >= 300 {
		t.Errorf("%s: %d %s, want it done", what, r.Status, r.Body)
	}
}

const computeDelete = "&underlyingResourceAction=Delete"

// TestLockCanNotDelete: a CanNotDelete lock on a resource group refuses
// deleting a workspace in it, a compute below that and the group itself
// (with a Failed event in the activity log), allows PUT and PATCH;
// removing the lock allows the deletes again.
func TestLockCanNotDelete(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		c1 := ws + "/computes/c1"
		s.put(t, c1+av, computeBody, 201)
		lk := s.lock(t, s.RG("rg1"), "nodelete", "CanNotDelete")
		if r := s.Do(t, "GET", lk+lav, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"level":"CanNotDelete"`) ||
			!strings.EqualFold(fmt.Sprint(r.JSON()["id"]), lk) || r.JSON()["type"] != "Microsoft.Authorization/locks" || r.JSON()["name"] != "nodelete" {
			t.Errorf("GET lock: %d %s", r.Status, r.Body)
		}
		wantLocked(t, "delete workspace", s.Do(t, "DELETE", ws+av, nil), "delete", ws, s.RG("rg1"))
		wantLocked(t, "delete compute", s.Do(t, "DELETE", c1+av+computeDelete, nil), "delete", c1, s.RG("rg1"))
		wantLocked(t, "delete resource group", s.Do(t, "DELETE", s.RG("rg1")+"?api-version=2021-04-01", nil), "delete", s.RG("rg1"), s.RG("rg1"))
		wantOK(t, "PUT compute", s.Do(t, "PUT", ws+"/computes/c2"+av, computeBody))
		wantOK(t, "PATCH workspace", s.Do(t, "PATCH", ws+av, `{"tags":{"a":"b"}}`))
		// The refusal is in the activity log as a Failed delete.
		failed := false
		for _, ev := range s.Events(t, "resourceUri eq '"+ws+"'", 0) {
			b, _ := json.Marshal(ev)
			if ev["status"].(map[string]any)["value"] == "Failed" && strings.Contains(string(b), "ScopeLocked") &&
				ev["operationName"].(map[string]any)["value"] == "Microsoft.MachineLearningServices/workspaces/delete" {
				failed = true
			}
		}
		if !failed {
			t.Errorf("no Failed delete event with ScopeLocked for %s", ws)
		}
		// Still there.
		if r := s.Do(t, "GET", ws+av, nil); r.Status != 200 {
			t.Errorf("GET workspace after refused delete: %d", r.Status)
		}
		s.unlock(t, lk)
		if r := s.Do(t, "GET", lk+lav, nil); r.Status != 404 {
			t.Errorf("GET deleted lock: %d %s", r.Status, r.Body)
		}
		wantOK(t, "delete compute after unlock", s.Do(t, "DELETE", c1+av+computeDelete, nil))
		wantOK(t, "delete workspace after unlock", s.Do(t, "DELETE", ws+av, nil))
	})
}

// TestLockReadOnly: a ReadOnly lock on a workspace refuses its PATCH, a
// PUT of a compute below it, a POST action and its tags, allows GET; a
// sibling workspace is not affected; changing the lock is allowed (a
// lock does not lock itself), and so is adding another beside it.
func TestLockReadOnly(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		ws2 := wsPath(s, "rg1", "ws2")
		s.put(t, ws2+av, `{"location":"eastus"}`, 201)
		lk := s.lock(t, ws, "readonly", "ReadOnly")
		wantLocked(t, "PATCH workspace", s.Do(t, "PATCH", ws+av, `{"tags":{"a":"b"}}`), "write", ws, ws)
		wantLocked(t, "PUT workspace", s.Do(t, "PUT", ws+av, `{"location":"eastus"}`), "write", ws, ws)
		wantLocked(t, "PUT compute below", s.Do(t, "PUT", ws+"/computes/c1"+av, computeBody), "write", ws+"/computes/c1", ws)
		wantLocked(t, "POST listKeys", s.Do(t, "POST", ws+"/listKeys"+av, nil), "write", ws, ws)
		wantLocked(t, "PATCH tags at scope", s.Do(t, "PATCH", ws+"/providers/Microsoft.Resources/tags/default"+tav, `{"operation":"Merge","properties":{"tags":{"a":"b"}}}`), "write", ws, ws)
		wantLocked(t, "DELETE workspace", s.Do(t, "DELETE", ws+av, nil), "delete", ws, ws)
		wantLocked(t, "DELETE resource group", s.Do(t, "DELETE", s.RG("rg1")+"?api-version=2021-04-01", nil), "delete", s.RG("rg1"), ws)
		if r := s.Do(t, "GET", ws+av, nil); r.Status != 200 {
			t.Errorf("GET locked workspace: %d %s", r.Status, r.Body)
		}
		// The sibling is not locked.
		wantOK(t, "PATCH sibling", s.Do(t, "PATCH", ws2+av, `{"tags":{"a":"b"}}`))
		wantOK(t, "PUT compute in sibling", s.Do(t, "PUT", ws2+"/computes/c1"+av, computeBody))
		wantOK(t, "POST listKeys on sibling", s.Do(t, "POST", ws2+"/listKeys"+av, nil))
		wantOK(t, "DELETE sibling", s.Do(t, "DELETE", ws2+av, nil))
		// Locks are not locked: another beside it, and a change of it.
		other := s.lock(t, ws, "another", "CanNotDelete")
		s.unlock(t, other)
		s.lock(t, ws, "readonly", "CanNotDelete")
		wantOK(t, "PUT compute once CanNotDelete", s.Do(t, "PUT", ws+"/computes/c1"+av, computeBody))
		wantLocked(t, "DELETE compute once CanNotDelete", s.Do(t, "DELETE", ws+"/computes/c1"+av+computeDelete, nil), "delete", ws+"/computes/c1", ws)
		s.unlock(t, lk)
		wantOK(t, "PATCH once unlocked", s.Do(t, "PATCH", ws+av, `{"tags":{"a":"b"}}`))
	})
}

// TestLockSubscription: a lock on the subscription holds for every
// resource group and resource in it; two locks are both named.
func TestLockSubscription(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		mustCreateRG(t, s, "rg2")
		st := storagePath(s, "rg2", "st1")
		s.put(t, st+storageAV, `{"location":"eastus"}`, 201)
		lk := s.lock(t, s.sub(), "sub-nodelete", "CanNotDelete")
		wantLocked(t, "delete resource group", s.Do(t, "DELETE", s.RG("rg1")+"?api-version=2021-04-01", nil), "delete", s.RG("rg1"), s.sub())
		wantLocked(t, "delete storage account", s.Do(t, "DELETE", st+storageAV, nil), "delete", st, s.sub())
		wantOK(t, "create a resource group", s.Do(t, "PUT", s.RG("rg3")+"?api-version=2021-04-01", `{"location":"eastus"}`))
		// Two locks that apply are both named (the subscription's first).
		lk2 := s.lock(t, s.RG("rg2"), "rg-nodelete", "CanNotDelete")
		wantLocked(t, "delete under two locks", s.Do(t, "DELETE", st+storageAV, nil), "delete", st, s.sub()+"', '"+s.RG("rg2"))
		s.unlock(t, lk2)
		ro := s.lock(t, s.sub(), "sub-readonly", "ReadOnly")
		wantLocked(t, "create a resource group under ReadOnly", s.Do(t, "PUT", s.RG("rg4")+"?api-version=2021-04-01", `{"location":"eastus"}`), "write", s.RG("rg4"), s.sub())
		wantLocked(t, "PUT storage under ReadOnly", s.Do(t, "PUT", st+storageAV, `{"location":"eastus"}`), "write", st, s.sub())
		s.unlock(t, ro)
		s.unlock(t, lk)
		wantOK(t, "delete storage account after unlock", s.Do(t, "DELETE", st+storageAV, nil))
		wantOK(t, "delete resource group after unlock", s.Do(t, "DELETE", s.RG("rg1")+"?api-version=2021-04-01", nil))
	})
}

// TestLockBodies: bad lock bodies are refused with a 400 that names the
// problem; a lock's scope must exist.
func TestLockBodies(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		p := lockPath(s.RG("rg1"), "l1") + lav
		for _, c := range []struct {
			body, target string
			parts        []string
		}{
			{`{}`, "/properties", []string{"'level'"}},
			{`{"properties":[]}`, "/properties", []string{"JSON object"}},
			{`{"properties":{}}`, "/properties/level", []string{"required", "CanNotDelete", "ReadOnly"}},
			{`{"properties":{"level":"NotSpecified"}}`, "/properties/level", []string{"'NotSpecified'"}},
			{`{"properties":{"level":"Locked"}}`, "/properties/level", []string{"'Locked'"}},
			{`{"properties":{"level":1}}`, "/properties/level", []string{"string"}},
			{`{"properties":{"level":"ReadOnly","notes":"` + strings.Repeat("n", 513) + `"}}`, "/properties/notes", []string{"513", "512"}},
			{`{"properties":{"level":"ReadOnly","notes":7}}`, "/properties/notes", []string{"string"}},
			{`{"properties":{"level":"ReadOnly","owners":{}}}`, "/properties/owners", []string{"array"}},
			{`{"properties":{"level":"ReadOnly","owners":[{"applicationId":5}]}}`, "/properties/owners/0/applicationId", []string{"string"}},
			{`{"properties":{"level":"nope","notes":7}}`, "/properties/level", []string{"'nope'", "1 more"}},
		} {
			wantError(t, c.body, s.Do(t, "PUT", p, c.body), 400, "InvalidRequestContent", c.target, c.parts...)
		}
		if r := s.Do(t, "GET", p, nil); r.Status != 404 {
			t.Errorf("a refused lock was stored: %d %s", r.Status, r.Body)
		}
		// 512 characters are allowed; the level's casing is ARM's; the
		// properties ARM does not have are dropped.
		r := s.Do(t, "PUT", p, `{"properties":{"level":"readonly","notes":"`+strings.Repeat("n", 512)+`","owners":[{"applicationId":"app1"}],"other":1}}`)
		if r.Status != 201 {
			t.Fatalf("PUT lock: %d %s", r.Status, r.Body)
		}
		props, _ := r.JSON()["properties"].(map[string]any)
		if props["level"] != "ReadOnly" || len(fmt.Sprint(props["notes"])) != 512 || props["other"] != nil || props["owners"] == nil {
			t.Errorf("stored lock properties: %v", props)
		}
		if r := s.Do(t, "PUT", p, `{"properties":{"level":"ReadOnly"}}`); r.Status != 200 {
			t.Errorf("PUT of an existing lock: %d, want 200", r.Status)
		}
		if r := s.Do(t, "GET", strings.TrimSuffix(p, lav)+"?api-version=2016-09-01", nil); r.Status != 200 {
			t.Errorf("GET with api-version 2016-09-01: %d %s", r.Status, r.Body)
		}
		wantError(t, "lock on a missing group", s.Do(t, "PUT", lockPath(s.RG("nogroup"), "l1")+lav, `{"properties":{"level":"ReadOnly"}}`), 404, "ResourceGroupNotFound", "")
		wantError(t, "lock on a missing resource", s.Do(t, "PUT", lockPath(wsPath(s, "rg1", "nows"), "l1")+lav, `{"properties":{"level":"ReadOnly"}}`), 404, "ParentResourceNotFound", "")
		wantError(t, "bad api-version", s.Do(t, "PUT", lockPath(s.RG("rg1"), "l2")+"?api-version=2019-01-01", `{"properties":{"level":"ReadOnly"}}`), 400, "NoRegisteredProviderFound", "")
	})
}

// TestLockLists: the lists of locks at a scope give the locks at, above
// and below it; with $filter=atScope() those at or above it.
func TestLockLists(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		mustCreateRG(t, s, "rg2")
		s.lock(t, s.sub(), "l-sub", "CanNotDelete")
		s.lock(t, s.RG("rg1"), "l-rg1", "CanNotDelete")
		s.lock(t, ws, "l-ws1", "CanNotDelete")
		s.lock(t, s.RG("rg2"), "l-rg2", "CanNotDelete")
		list := func(scope, filter string) []string {
			t.Helper()
			path := scope + "/providers/Microsoft.Authorization/locks" + lav
			if filter != "" {
				path += "&$filter=" + url.QueryEscape(filter)
			}
			got := names(s.listAll(t, path))
			slices.Sort(got)
			return got
		}
		for _, c := range []struct {
			scope, filter string
			want          []string
		}{
			{s.sub(), "", []string{"l-rg1", "l-rg2", "l-sub", "l-ws1"}},
			{s.sub(), "atScope()", []string{"l-sub"}},
			{s.RG("rg1"), "", []string{"l-rg1", "l-sub", "l-ws1"}},
			{s.RG("rg1"), "atScope()", []string{"l-rg1", "l-sub"}},
			{s.RG("rg2"), "", []string{"l-rg2", "l-sub"}},
			{ws, "", []string{"l-rg1", "l-sub", "l-ws1"}},
			{ws, " ATSCOPE( ) ", []string{"l-rg1", "l-sub", "l-ws1"}},
		} {
			if got := list(c.scope, c.filter); !slices.Equal(got, c.want) {
				t.Errorf("locks at %s (%q): %v, want %v", c.scope, c.filter, got, c.want)
			}
		}
		wantError(t, "bad $filter", s.Do(t, "GET", s.RG("rg1")+"/providers/Microsoft.Authorization/locks"+lav+"&$filter="+url.QueryEscape("name eq 'l-rg1'"), nil), 400, "InvalidFilter", "$filter", "atScope()")
		wantError(t, "list at a missing group", s.Do(t, "GET", s.RG("nogroup")+"/providers/Microsoft.Authorization/locks"+lav, nil), 404, "ResourceGroupNotFound", "")
		wantError(t, "POST to a list", s.Do(t, "POST", s.RG("rg1")+"/providers/Microsoft.Authorization/locks"+lav, nil), 405, "MethodNotAllowed", "")
	})
}

// TestLockReplicas: a lock written through one control plane holds on
// another sharing its store (a replica: here a second manager), from the
// lock's commit on, and its removal too: each manager's index of the
// locks knows it is stale by the subscription's row, which a write of a
// lock rewrites.
func TestLockReplicas(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *Server) {
		b := resources.New(a.Store, resources.NewRegistry(), resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuidV4, TenantID: a.TenantID})
		do := func(method, path, body string) error {
			t.Helper()
			id, err := arm.ParseID(path)
			if err != nil {
				t.Fatal(err)
			}
			r := &resources.Request{Method: method, Path: path, ID: id, APIVersion: strings.TrimPrefix(storageAV, "?api-version="), Query: url.Values{}, Body: []byte(body),
				Caller: activitylog.Caller{Name: "replica", AppID: "replica"}}
			_, err = b.Handle(context.Background(), r)
			return err
		}
		mustCreateRG(t, a, "rg1")
		st := storagePath(a, "rg1", "st1")
		a.put(t, st+storageAV, `{"location":"eastus"}`, 201)
		// b's index holds the subscription without locks.
		if err := do("PUT", st, `{"location":"eastus"}`); err != nil {
			t.Fatalf("PUT on b before the lock: %v", err)
		}
		lk := a.lock(t, a.RG("rg1"), "nodelete", "CanNotDelete")
		var ae *arm.Error
		if err := do("DELETE", st, ""); !errors.As(err, &ae) || ae.Code != "ScopeLocked" {
			t.Errorf("DELETE on b under a's lock: %v, want ScopeLocked", err)
		}
		a.unlock(t, lk)
		if err := do("DELETE", st, ""); err != nil {
			t.Errorf("DELETE on b after the unlock on a: %v", err)
		}
	})
}

// TestLockDeletedWithTree: a lock created below a workspace whose
// delete was accepted before goes with the workspace's tree; it then
// refuses nothing (a workspace and compute of the same names are
// created and deleted again).
func TestLockDeletedWithTree(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		c1 := ws + "/computes/c1"
		s.put(t, c1+av, computeBody, 201)
		del := s.Do(t, "DELETE", ws+av, nil)
		if del.Status != 202 {
			t.Fatalf("DELETE workspace: %d %s", del.Status, del.Body)
		}
		s.lock(t, c1, "late", "CanNotDelete")
		// A write that reads the locks (the index now holds "late").
		wantLocked(t, "delete the locked compute", s.Do(t, "DELETE", c1+av+computeDelete, nil), "delete", c1, c1)
		if st := s.WaitLRO(t, del.Header.Get("Azure-AsyncOperation")); st != "Succeeded" {
			t.Fatalf("workspace delete: %s", st)
		}
		if r := s.Do(t, "GET", lockPath(c1, "late")+lav, nil); r.Status != 404 {
			t.Fatalf("the lock outlived its tree: %d %s", r.Status, r.Body)
		}
		s.put(t, ws+av, `{"location":"eastus"}`, 201)
		s.put(t, c1+av, computeBody, 201)
		wantOK(t, "delete the compute again", s.Do(t, "DELETE", c1+av+computeDelete, nil))
	})
}
