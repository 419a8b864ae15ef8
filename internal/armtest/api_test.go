package armtest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlgov/mlgov/store/postgres"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
	"github.com/mlgov/mlgov/store/sqlite"
)

// backends runs a test against every store.
var backends = []struct {
	name  string
	start func(t *testing.T) *Server
}{
	{"sqlite", startSQLite},
	{"postgres", startPostgres},
}

func startPostgres(t *testing.T) *Server {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return Start(t, st)
}

func startSQLite(t *testing.T) *Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return Start(t, st)
}

const av = "?api-version=2024-04-01"

func wsPath(s *Server, rg, ws string) string {
	return s.RG(rg) + "/providers/Microsoft.MachineLearningServices/workspaces/" + ws
}

// TestBadInput: each error case gives the right status, ARM code and a
// message that names the problem; nothing returns a 500.
func TestBadInput(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testBadInput(t, b.start(t)) })
	}
}

func testBadInput(t *testing.T, s *Server) {
	if r := s.Do(t, "PUT", s.RG("rg1")+"?api-version=2021-04-01", `{"location":"eastus"}`); r.Status != 201 {
		t.Fatalf("create rg: %d %s", r.Status, r.Body)
	}
	ws := wsPath(s, "rg1", "ws1")
	if r := s.Do(t, "PUT", ws+av, `{"location":"eastus","properties":{}}`); r.Status != 201 {
		t.Fatalf("create ws: %d %s", r.Status, r.Body)
	}
	big := `{"location":"eastus","properties":{"description":"` + strings.Repeat("x", 4<<20) + `"}}`
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code, msg          string
	}{
		{"missing api-version", "GET", ws, nil, nil, 400, "MissingApiVersionParameter", "api-version"},
		{"malformed api-version", "GET", ws + "?api-version=latest", nil, nil, 400, "InvalidApiVersionParameter", "'latest'"},
		{"unknown api-version for type", "GET", ws + "?api-version=1999-01-01", nil, nil, 400, "NoRegisteredProviderFound", "1999-01-01"},
		{"malformed JSON with position", "PUT", wsPath(s, "rg1", "ws2") + av, `{"location": "eastus",}`, nil, 400, "InvalidRequestContent", "line 1, column 23"},
		{"body not an object", "PUT", wsPath(s, "rg1", "ws2") + av, `[1]`, nil, 400, "InvalidRequestContent", "JSON object"},
		{"empty body", "PUT", wsPath(s, "rg1", "ws2") + av, ``, nil, 400, "InvalidRequestContent", "empty"},
		{"body over 4 MiB", "PUT", wsPath(s, "rg1", "ws2") + av, big, nil, 413, "RequestEntityTooLarge", "4194304"},
		{"wrong content type", "PUT", wsPath(s, "rg1", "ws2") + av, `{}`, []string{"Content-Type", "text/plain"}, 415, "UnsupportedMediaType", "text/plain"},
		{"location required", "PUT", wsPath(s, "rg1", "ws2") + av, `{"properties":{}}`, nil, 400, "LocationRequired", "location"},
		{"invalid workspace name", "PUT", wsPath(s, "rg1", "w") + av, `{"location":"eastus"}`, nil, 400, "InvalidResourceName", "'w'"},
		{"invalid rg name", "PUT", s.RG("bad.") + "?api-version=2021-04-01", `{"location":"eastus"}`, nil, 400, "InvalidResourceGroupName", "period"},
		{"invalid resource id", "GET", "/subscriptions/" + s.SubscriptionID + "/resourceGroups/rg1/foo/bar" + av, nil, nil, 400, "InvalidResourceId", "providers"},
		{"missing resource group", "PUT", wsPath(s, "nope", "ws3") + av, `{"location":"eastus"}`, nil, 404, "ResourceGroupNotFound", "'nope'"},
		{"missing parent", "PUT", ws + "x/computes/c1" + av, `{"location":"eastus","properties":{"computeType":"AmlCompute"}}`, nil, 404, "ParentResourceNotFound", "ws1x"},
		{"missing resource", "GET", wsPath(s, "rg1", "nosuch") + av, nil, nil, 404, "ResourceNotFound", "nosuch"},
		{"unknown subscription", "GET", "/subscriptions/00000000-0000-0000-0000-00000000dead/resourceGroups/rg1" + "?api-version=2021-04-01", nil, nil, 404, "SubscriptionNotFound", "dead"},
		{"bad compute type", "PUT", ws + "/computes/c1" + av, `{"location":"eastus","properties":{"computeType":"Mainframe"}}`, nil, 400, "InvalidRequestContent", "Mainframe"},
		{"bad identity type", "PUT", wsPath(s, "rg1", "ws2") + av, `{"location":"eastus","identity":{"type":"Magic"}}`, nil, 400, "InvalidIdentityType", "Magic"},
		{"uai not a uai id", "PUT", wsPath(s, "rg1", "ws2") + av, `{"location":"eastus","identity":{"type":"UserAssigned","userAssignedIdentities":{"/subscriptions/x/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/s":{}}}}`, nil, 400, "InvalidIdentity", "user-assigned"},
		{"bad tags", "PUT", wsPath(s, "rg1", "ws2") + av, `{"location":"eastus","tags":{"a":1}}`, nil, 400, "InvalidTag", "'a'"},
		{"location change", "PUT", ws + av, `{"location":"westus"}`, nil, 400, "InvalidResourceLocation", "westus"},
		{"if-match mismatch", "PUT", ws + av, `{"location":"eastus"}`, []string{"If-Match", `"nope"`}, 412, "PreconditionFailed", "If-Match"},
		{"if-none-match star on existing", "PUT", ws + av, `{"location":"eastus"}`, []string{"If-None-Match", "*"}, 412, "PreconditionFailed", "already exists"},
		{"if-match on missing", "PUT", wsPath(s, "rg1", "ws9") + av, `{"location":"eastus"}`, []string{"If-Match", "*"}, 412, "PreconditionFailed", "does not exist"},
		{"patch missing", "PATCH", wsPath(s, "rg1", "ws9") + av, `{"tags":{}}`, nil, 404, "ResourceNotFound", "ws9"},
		{"compute delete without action", "DELETE", ws + "/computes/c1" + av, nil, nil, 400, "InvalidQueryParameter", "underlyingResourceAction"},
		{"unknown action", "POST", ws + "/explode" + av, `{}`, nil, 400, "InvalidAction", "explode"},
		{"bad skip token", "GET", s.RG("rg1") + "/providers/Microsoft.MachineLearningServices/workspaces" + av + "&$skipToken=!!!", nil, nil, 400, "InvalidSkipToken", ""},
		{"bad $top", "GET", s.RG("rg1") + "/providers/Microsoft.MachineLearningServices/workspaces" + av + "&$top=-3", nil, nil, 400, "InvalidQueryParameter", "$top"},
		{"bad activity filter", "GET", "/subscriptions/" + s.SubscriptionID + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=level%20eq%20'x'", nil, nil, 400, "InvalidFilter", "level"},
		{"no token", "GET", ws + av, nil, []string{"Authorization", ""}, 401, "AuthenticationFailed", "Authorization"},
		{"garbage token", "GET", ws + av, nil, []string{"Authorization", "Bearer abc.def.ghi"}, 401, "InvalidAuthenticationToken", ""},
		{"method not allowed", "POST", s.RG("rg1") + "?api-version=2021-04-01", `{}`, nil, 405, "MethodNotAllowed", "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, tc.method, tc.path, tc.body, tc.headers...)
			if r.Status != tc.status || r.ErrorCode() != tc.code || !strings.Contains(r.ErrorMessage(), tc.msg) {
				t.Errorf("%s %s = %d %s %q, want %d %s containing %q", tc.method, tc.path[:min(len(tc.path), 120)], r.Status, r.ErrorCode(), r.ErrorMessage(), tc.status, tc.code, tc.msg)
			}
			if r.Status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

// TestIfMatchRace: 32 clients update one resource with If-Match; every
// successful update was based on the latest version, so no update is lost.
func TestIfMatchRace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testIfMatchRace(t, b.start(t)) })
	}
}

func testIfMatchRace(t *testing.T, s *Server) {
	s.Do(t, "PUT", s.RG("rg")+"?api-version=2021-04-01", `{"location":"eastus"}`)
	path := s.RG("rg") + "/providers/Microsoft.Storage/storageAccounts/counter?api-version=2023-01-01"
	if r := s.Do(t, "PUT", path, `{"location":"eastus","properties":{"n":0}}`); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	const clients, perClient = 32, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	succeeded := 0
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < perClient; {
				g := s.Do(t, "GET", path, nil)
				n := int(g.JSON()["properties"].(map[string]any)["n"].(float64))
				body := fmt.Sprintf(`{"location":"eastus","properties":{"n":%d}}`, n+1)
				p := s.Do(t, "PUT", path, body, "If-Match", g.Header.Get("ETag"))
				switch p.Status {
				case 200:
					mu.Lock()
					succeeded++
					mu.Unlock()
					done++
				case 412:
				default:
					t.Errorf("PUT = %d %s", p.Status, p.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	final := int(s.Do(t, "GET", path, nil).JSON()["properties"].(map[string]any)["n"].(float64))
	if final != succeeded || succeeded != clients*perClient {
		t.Errorf("final n = %d, successful updates = %d, want both %d (a lost update otherwise)", final, succeeded, clients*perClient)
	}
}
