package template

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mlgov/mlgov/policy/value"
)

// testCase is one case of testdata/*.json (each file holds an array).
type testCase struct {
	Name       string          `json:"name"`
	Template   json.RawMessage `json:"template"`
	Raw        string          `json:"raw"` // template text, when not JSON
	Parameters json.RawMessage `json:"parameters"`
	// Want lists the resources in write order.
	Want []struct {
		ID        string          `json:"id"`
		DependsOn []string        `json:"dependsOn"`
		Wave      *int            `json:"wave"`
		Deferred  bool            `json:"deferred"`
		Body      json.RawMessage `json:"body"`
		Nested    *struct {
			Scope      string          `json:"scope"`
			Parameters json.RawMessage `json:"parameters"`
		} `json:"nested"`
	} `json:"want"`
	Skipped []string        `json:"skipped"`
	Outputs json.RawMessage `json:"outputs"`
	Errors  []struct {
		Pointer  string `json:"pointer"`
		Code     string `json:"code"`
		Func     string `json:"func"`
		Contains string `json:"contains"`
	} `json:"errors"`
}

func testContext() Context {
	return Context{
		TenantID: "11111111-1111-1111-1111-111111111111", SubscriptionID: "00000000-0000-0000-0000-000000000001",
		ResourceGroup: "rg1", Location: "westeurope", DeploymentName: "dep1",
		Now:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		NewGUID: func() string { return "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" },
	}
}

// fakeStore answers reference() and list*() from a map of ids.
type fakeStore map[string]value.Value

func (f fakeStore) Reference(_ context.Context, id, _ string, full bool) (value.Value, error) {
	v, ok := f[strings.ToLower(id)]
	if !ok {
		return value.Value{}, &Error{Code: "ResourceNotFound", Message: "the resource '" + id + "' was not found"}
	}
	if full {
		return v, nil
	}
	p, _ := v.Get("properties")
	return p, nil
}

func (f fakeStore) List(_ context.Context, action, id, _ string, _ value.Value) (value.Value, error) {
	return value.ObjectValue(value.Member{Key: "action", Value: value.StringValue(action)}, value.Member{Key: "id", Value: value.StringValue(id)}), nil
}

func testStore() fakeStore {
	return fakeStore{
		"/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1/providers/microsoft.storage/storageaccounts/sa0": value.ObjectValue(
			value.Member{Key: "location", Value: value.StringValue("westeurope")},
			value.Member{Key: "properties", Value: value.ObjectValue(value.Member{Key: "primaryEndpoints", Value: value.StringValue("https://sa0")})}),
	}
}

func loadCases(t testing.TB) map[string][]testCase {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	out := map[string][]testCase{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cs []testCase
		if err := json.Unmarshal(data, &cs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = cs
	}
	return out
}

func mustValue(t testing.TB, raw json.RawMessage) value.Value {
	if len(raw) == 0 {
		return value.Value{}
	}
	v, err := value.Parse(raw)
	if err != nil {
		t.Fatalf("bad JSON in case: %v", err)
	}
	return v
}

func runCase(t *testing.T, c testCase) {
	src := []byte(c.Raw)
	if c.Raw == "" {
		src = c.Template
	}
	var errs ErrorList
	var plan *Plan
	tmpl, err := Parse(src)
	if err == nil {
		plan, err = tmpl.Plan(context.Background(), mustValue(t, c.Parameters), testContext(), testStore())
	}
	// The resources are "written" in plan order: a deferred body is
	// resolved against the store holding what was written before it.
	st := testStore()
	if err == nil {
		for _, r := range plan.Resources {
			if err = plan.Resolve(context.Background(), r, st); err != nil {
				break
			}
			st[strings.ToLower(r.ID)] = r.Body
		}
	}
	var outs value.Value
	if err == nil && len(c.Outputs) > 0 {
		outs, err = plan.Outputs(context.Background(), st)
	}
	if err != nil {
		el, ok := err.(ErrorList)
		if !ok {
			t.Fatalf("error is %T, not an ErrorList: %v", err, err)
		}
		errs = el
	}
	if len(c.Errors) > 0 || len(errs) > 0 {
		if len(errs) != len(c.Errors) {
			t.Fatalf("got %d errors, want %d: %v", len(errs), len(c.Errors), errs)
		}
		for i, w := range c.Errors {
			g := errs[i]
			if g.Pointer != w.Pointer || w.Func != "" && g.Func != w.Func || w.Code != "" && g.Code != w.Code || !strings.Contains(g.Message, w.Contains) {
				t.Errorf("error %d = {pointer %q, code %q, func %q, %q}, want {%q, %q, %q, containing %q}", i, g.Pointer, g.Code, g.Func, g.Message, w.Pointer, w.Code, w.Func, w.Contains)
			}
		}
		return
	}
	var gotIDs, wantIDs []string
	for _, r := range plan.Resources {
		gotIDs = append(gotIDs, r.ID)
	}
	for _, w := range c.Want {
		wantIDs = append(wantIDs, w.ID)
	}
	if d := cmp.Diff(wantIDs, gotIDs); d != "" {
		t.Fatalf("resource order (-want +got):\n%s", d)
	}
	for i, w := range c.Want {
		g := plan.Resources[i]
		if w.DependsOn != nil {
			if d := cmp.Diff(w.DependsOn, append([]string{}, g.DependsOn...)); d != "" {
				t.Errorf("%s dependsOn (-want +got):\n%s", g.ID, d)
			}
		}
		if w.Deferred != g.Deferred {
			t.Errorf("%s deferred = %v, want %v", g.ID, g.Deferred, w.Deferred)
		}
		if w.Wave != nil && *w.Wave != g.Wave {
			t.Errorf("%s wave = %d, want %d", g.ID, g.Wave, *w.Wave)
		}
		if len(w.Body) > 0 && !value.Equal(mustValue(t, w.Body), g.Body) {
			t.Errorf("%s body = %s, want %s", g.ID, g.Body.JSON(), w.Body)
		}
		if w.Nested != nil {
			if g.Deployment == nil {
				t.Fatalf("%s is not a nested deployment", g.ID)
			}
			if g.Deployment.Scope != w.Nested.Scope {
				t.Errorf("%s nested scope = %q, want %q", g.ID, g.Deployment.Scope, w.Nested.Scope)
			}
			if len(w.Nested.Parameters) > 0 && !value.Equal(mustValue(t, w.Nested.Parameters), g.Deployment.Parameters) {
				t.Errorf("%s nested parameters = %s, want %s", g.ID, g.Deployment.Parameters.JSON(), w.Nested.Parameters)
			}
		}
	}
	if c.Skipped != nil {
		if d := cmp.Diff(c.Skipped, append([]string{}, plan.Skipped...)); d != "" {
			t.Errorf("skipped (-want +got):\n%s", d)
		}
	}
	if len(c.Outputs) > 0 && !value.Equal(mustValue(t, c.Outputs), outs) {
		t.Errorf("outputs = %s\nwant %s", outs.JSON(), c.Outputs)
	}
}

func TestTemplates(t *testing.T) {
	for file, cs := range loadCases(t) {
		for _, c := range cs {
			t.Run(file+"/"+c.Name, func(t *testing.T) { runCase(t, c) })
		}
	}
}
