package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

func TestProvidersPath(t *testing.T) {
	for p, want := range map[string][3]string{
		"/subscriptions/s1/providers":                          {"s1", "", "ok"},
		"/subscriptions/s1/providers/NS.A":                     {"s1", "NS.A", "ok"},
		"/providers":                                           {"", "", "ok"},
		"/providers/NS.A":                                      {"", "NS.A", "ok"},
		"/PROVIDERS/ns.a":                                      {"", "ns.a", "ok"},
		"/subscriptions/s1/providers/NS.A/t":                   {"", "", ""},
		"/providers/Microsoft.Authorization/policyDefinitions": {"", "", ""},
		"/subscriptions/s1/resourceGroups/rg":                  {"", "", ""},
	} {
		sub, ns, ok := providersPath(p)
		got := [3]string{sub, ns, ""}
		if ok {
			got[2] = "ok"
		}
		if got != want {
			t.Errorf("providersPath(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestProviders: served namespaces are Registered with their types'
// api-versions and locations; a namespace known only to the catalog is
// NotRegistered; aliases (with per-api-version paths and metadata when the
// catalog has them) only with $expand=resourceTypes/aliases; bad requests
// are ARM errors.
func TestProviders(t *testing.T) {
	path := func(s string) value.Path {
		p, err := value.ParsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cat := alias.NewCatalog(
		&alias.Alias{Name: "Contoso.Widgets/gadgets/color", ResourceType: "Contoso.Widgets/gadgets", DefaultPath: path("properties.color"),
			Paths:         []alias.VersionedPath{{Path: path("properties.colour"), APIVersions: []string{"2020-01-01"}, Modifiable: true}},
			MetadataKnown: true, Type: "String", Modifiable: true},
		&alias.Alias{Name: "Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth", ResourceType: "Microsoft.MachineLearningServices/workspaces/computes",
			DefaultPath: path("properties.disableLocalAuth")},
	)
	p := &Providers{Registry: resources.NewRegistry(), Catalog: cat, Locations: []string{"eastus", "westus"}}
	get := func(t *testing.T, method, target string) (int, map[string]any) {
		t.Helper()
		sub, ns, ok := providersPath(httptest.NewRequest(method, target, nil).URL.Path)
		if !ok {
			t.Fatalf("%s is not a providers path", target)
		}
		w := httptest.NewRecorder()
		p.serve(w, httptest.NewRequest(method, target, nil), sub, ns)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, target, err, w.Body)
		}
		return w.Code, m
	}
	typeOf := func(pr map[string]any, rt string) map[string]any {
		for _, x := range pr["resourceTypes"].([]any) {
			if m := x.(map[string]any); m["resourceType"] == rt {
				return m
			}
		}
		t.Fatalf("no resource type %s in %v", rt, pr["namespace"])
		return nil
	}

	code, ml := get(t, "GET", "/subscriptions/s1/providers/microsoft.machinelearningservices?api-version=2021-04-01")
	if code != 200 || ml["namespace"] != "Microsoft.MachineLearningServices" || ml["registrationState"] != "Registered" || ml["id"] != "/subscriptions/s1/providers/Microsoft.MachineLearningServices" {
		t.Fatalf("ML provider: %d %v", code, ml)
	}
	computes := typeOf(ml, "workspaces/computes")
	if len(computes["apiVersions"].([]any)) == 0 || len(computes["locations"].([]any)) != 2 || computes["aliases"] != nil {
		t.Errorf("computes without $expand: %v", computes)
	}
	_, ml = get(t, "GET", "/subscriptions/s1/providers/Microsoft.MachineLearningServices?api-version=2021-04-01&$expand=resourceTypes/aliases")
	if as, _ := typeOf(ml, "workspaces/computes")["aliases"].([]any); len(as) != 1 || as[0].(map[string]any)["defaultPath"] != "properties.disableLocalAuth" {
		t.Errorf("computes aliases: %v", as)
	}

	_, c := get(t, "GET", "/providers/Contoso.Widgets?api-version=2021-04-01&$expand=resourceTypes/aliases")
	if c["registrationState"] != "NotRegistered" || c["id"] != nil {
		t.Errorf("catalog-only namespace at tenant scope: %v", c)
	}
	a := typeOf(c, "gadgets")["aliases"].([]any)[0].(map[string]any)
	want := `{"defaultMetadata":{"attributes":"Modifiable","type":"String"},"defaultPath":"properties.color","name":"Contoso.Widgets/gadgets/color","paths":[{"apiVersions":["2020-01-01"],"metadata":{"attributes":"Modifiable","type":"String"},"path":"properties.colour"}],"type":"NotSpecified"}`
	if b, _ := json.Marshal(a); string(b) != want {
		t.Errorf("alias:\n%s\nwant\n%s", b, want)
	}

	_, list := get(t, "GET", "/subscriptions/s1/providers?api-version=2021-04-01")
	names := map[string]string{}
	for _, x := range list["value"].([]any) {
		m := x.(map[string]any)
		names[m["namespace"].(string)] = m["registrationState"].(string)
	}
	if names["Microsoft.MachineLearningServices"] != "Registered" || names["Contoso.Widgets"] != "NotRegistered" || names["Microsoft.Storage"] != "Registered" {
		t.Errorf("list: %v", names)
	}

	for _, tc := range []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/providers/Nope.X?api-version=2021-04-01", 404, "InvalidResourceNamespace"},
		{"GET", "/providers/Contoso.Widgets", 400, "MissingApiVersionParameter"},
		{"GET", "/providers/Contoso.Widgets?api-version=2021-04-01&$expand=metadata", 400, "InvalidQueryParameter"},
		{"POST", "/subscriptions/s1/providers/Contoso.Widgets?api-version=2021-04-01", 405, "MethodNotAllowed"},
	} {
		code, m := get(t, tc.method, tc.target)
		if e, _ := m["error"].(map[string]any); code != tc.status || e["code"] != tc.code {
			t.Errorf("%s %s = %d %v, want %d %s", tc.method, tc.target, code, m, tc.status, tc.code)
		}
	}
}

// TestOperationsList: a served namespace lists read, write and delete of
// each type, its actions and the location-scoped APIs, each with a
// display; an unserved namespace is 404, another method 405.
func TestOperationsList(t *testing.T) {
	p := &Providers{Registry: resources.NewRegistry(), Catalog: alias.NewCatalog()}
	call := func(method, target string) (int, map[string]any) {
		t.Helper()
		ns, ok := operationsPath(httptest.NewRequest(method, target, nil).URL.Path)
		if !ok {
			t.Fatalf("%s is not an operations path", target)
		}
		w := httptest.NewRecorder()
		p.serveOperations(w, httptest.NewRequest(method, target, nil), ns)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", target, err, w.Body)
		}
		return w.Code, m
	}
	code, m := call("GET", "/providers/Microsoft.MachineLearningServices/operations?api-version=2022-10-01")
	names := map[string]map[string]any{}
	for _, o := range m["value"].([]any) {
		op := o.(map[string]any)
		names[op["name"].(string)] = op["display"].(map[string]any)
	}
	for _, want := range []string{
		"Microsoft.MachineLearningServices/workspaces/read", "Microsoft.MachineLearningServices/workspaces/computes/delete",
		"Microsoft.MachineLearningServices/workspaces/listKeys/action", "Microsoft.MachineLearningServices/locations/updateQuotas/action",
	} {
		if names[want] == nil {
			t.Errorf("no operation %s in %d", want, len(names))
		}
	}
	if d := names["Microsoft.MachineLearningServices/workspaces/computes/delete"]; code != 200 || d["provider"] != "Microsoft Machine Learning Services" || d["resource"] != "workspaces computes" {
		t.Errorf("%d; display %v", code, d)
	}
	if code, m := call("GET", "/providers/Contoso.Nothing/operations?api-version=2022-10-01"); code != 404 || m["error"] == nil {
		t.Errorf("an unserved namespace: %d %v", code, m)
	}
	if code, _ := call("POST", "/providers/Microsoft.MachineLearningServices/operations?api-version=2022-10-01"); code != 405 {
		t.Errorf("POST: %d", code)
	}
	if _, ok := operationsPath("/providers/Microsoft.MachineLearningServices"); ok {
		t.Error("a provider path taken for its operations")
	}
}
