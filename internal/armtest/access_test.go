package armtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/access"
	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store/feed"
)

// The authorization matrix of rbac/testdata/matrix.tsv, run again over
// HTTP: one service principal per column, each given its one role
// assignment through the API (the custom role and the nested groups
// too), and every row sent as the request that needs its action.
//
// Writes, deletes and actions are sent with If-Match: "probe". The
// authorize stage comes before the load stage, so an allowed request
// reaches the precondition and is answered 412 (204 for a delete of
// what does not exist) without changing anything, and a refused one is
// answered 403 AuthorizationFailed. TestAccessWrites shows the writes
// themselves.

const matrixFile = "../../rbac/testdata/matrix.tsv"

// matrixTenant is the tenant of the matrix's header, made through the
// API, with a principal per column.
type matrixTenant struct {
	targets    map[string]string
	principals map[string]*Principal
}

// mustPut writes a resource and fails the test unless it is created or
// replaced (200, 201, 202).
func (s *Server) mustPut(t *testing.T, path, body string) *Response {
	t.Helper()
	r := s.Do(t, "PUT", path, body)
	if r.Status != 200 && r.Status != 201 && r.Status != 202 {
		t.Fatalf("PUT %s: %d %s", path, r.Status, r.Body)
	}
	return r
}

// roleIDByName finds a role definition's id through the API.
func roleIDByName(t *testing.T, s *Server, name string) string {
	t.Helper()
	r := s.Do(t, "GET", s.sub()+"/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=roleName%20eq%20'"+strings.ReplaceAll(name, " ", "%20")+"'", nil)
	var out struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || r.Status != 200 || len(out.Value) != 1 {
		t.Fatalf("role %q: %d %s", name, r.Status, r.Body)
	}
	return out.Value[0].ID
}

// assignRole gives a role at a scope through the API and returns the
// assignment's id.
func (s *Server) assignRole(t *testing.T, scope, roleID, principalID, principalType string) string {
	t.Helper()
	id := scope + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.New()
	s.put(t, id+"?api-version=2022-04-01", fmt.Sprintf(`{"properties":{"roleDefinitionId":%q,"principalId":%q,"principalType":%q}}`, roleID, principalID, principalType), 201)
	return id
}

func newMatrixTenant(t *testing.T, s *Server) *matrixTenant {
	t.Helper()
	ctx := context.Background()
	mustCreateRG(t, s, "rg1")
	mustCreateRG(t, s, "rg2")
	ws1 := s.mustWorkspace(t, "rg1", "ws1")
	ws2 := s.mustWorkspace(t, "rg2", "ws2")
	s.settle(t, "compute", s.mustPut(t, ws1+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`))
	s.mustPut(t, ws1+"/jobs/j1"+av, `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`)
	s.settle(t, "endpoint", s.mustPut(t, ws1+"/onlineEndpoints/e1"+av, `{"location":"eastus","properties":{"authMode":"AADToken"}}`))
	s.mustPut(t, ws1+"/datastores/d1"+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"k"}}}}`)
	s.mustPut(t, ws1+"/connections/conn1"+av, `{"properties":{"category":"Git","target":"https://example.com","authType":"PAT","credentials":{"pat":"secret"}}}`)
	sa1 := s.RG("rg1") + "/providers/Microsoft.Storage/storageAccounts/sa1"
	s.mustPut(t, sa1+"?api-version=2023-05-01", `{"location":"eastus","properties":{}}`)

	custom, err := os.ReadFile("../../rbac/testdata/custom-role.json")
	if err != nil {
		t.Fatal(err)
	}
	var role map[string]any
	json.Unmarshal([]byte(strings.ReplaceAll(string(custom), "11111111-1111-1111-1111-111111111111", s.SubscriptionID)), &role)
	customID := s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/" + role["name"].(string)
	props := map[string]any{"roleName": role["roleName"], "description": role["description"], "assignableScopes": role["assignableScopes"], "permissions": role["permissions"]}
	body, _ := json.Marshal(map[string]any{"properties": props})
	s.put(t, customID+"?api-version=2022-04-01", string(body), 201)

	mt := &matrixTenant{principals: map[string]*Principal{}, targets: map[string]string{
		"sub": s.sub(), "rg1": s.RG("rg1"), "ws1": ws1, "ws2": ws2, "c1": ws1 + "/computes/c1", "j1": ws1 + "/jobs/j1",
		"e1": ws1 + "/onlineEndpoints/e1", "d1": ws1 + "/datastores/d1", "n1": ws1 + "/connections/conn1", "sa1": sa1,
	}}
	for _, p := range []string{"owner", "contributor", "reader", "datasci", "computeop", "custom", "none", "sibling", "nested"} {
		mt.principals[p] = s.NewPrincipal(t, "matrix-"+p)
	}
	for _, as := range []struct{ principal, role, scope string }{
		{"owner", "Owner", s.RG("rg1")}, {"contributor", "Contributor", s.RG("rg1")}, {"reader", "Reader", s.RG("rg1")},
		{"datasci", "AzureML Data Scientist", ws1}, {"computeop", "AzureML Compute Operator", ws1},
		{"sibling", "Owner", s.RG("rg2")},
	} {
		s.assignRole(t, as.scope, roleIDByName(t, s, as.role), mt.principals[as.principal].ObjectID, "ServicePrincipal")
	}
	s.assignRole(t, ws1, customID, mt.principals["custom"].ObjectID, "ServicePrincipal")
	// nested is a member of g2, itself a member of g1 (and g1 of g2: a
	// cycle); g1 has AzureML Data Scientist at ws1.
	g1, err := s.Directory.CreateGroup(ctx, s.TenantID, "g1")
	if err != nil {
		t.Fatal(err)
	}
	g2, err := s.Directory.CreateGroup(ctx, s.TenantID, "g2")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][2]string{{g1.ObjectID, g2.ObjectID}, {g2.ObjectID, mt.principals["nested"].ObjectID}, {g2.ObjectID, g1.ObjectID}} {
		if err := s.Directory.AddMember(ctx, s.TenantID, m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	s.assignRole(t, ws1, roleIDByName(t, s, "AzureML Data Scientist"), g1.ObjectID, "Group")
	return mt
}

// matrixRequest is the HTTP request that needs action at target, or ""
// when mlgov serves no request for it yet.
func matrixRequest(action, target string) (method, path string) {
	a := strings.ToLower(action)
	last := a[strings.LastIndexByte(a, '/')+1:]
	switch {
	case strings.HasPrefix(a, "microsoft.machinelearningservices/workspaces/onlineendpoints/score/"):
		return "SCORE", target // the scoring gateway, with a token for https://ml.azure.com
	case strings.HasSuffix(a, "/computes/write") && !strings.Contains(target, "/computes/"):
		return "PUT", target + "/computes/c2"
	case strings.HasPrefix(a, "microsoft.authorization/roleassignments/"):
		return "PUT", target + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.New()
	case strings.HasPrefix(a, "microsoft.authorization/policyassignments/"):
		return "PUT", target + "/providers/Microsoft.Authorization/policyAssignments/probe"
	case strings.HasPrefix(a, "microsoft.authorization/locks/"):
		return "DELETE", target + "/providers/Microsoft.Authorization/locks/probe"
	case last == "read":
		return "GET", target
	case last == "write":
		return "PUT", target
	case last == "delete":
		return "DELETE", target
	case last == "action":
		parts := strings.Split(action, "/")
		return "POST", target + "/" + parts[len(parts)-2]
	}
	return "", ""
}

// apiVersionFor is the api-version a request to path is sent with.
func apiVersionFor(path string) string {
	switch p := strings.ToLower(path); {
	case strings.Contains(p, "/providers/microsoft.authorization/roleassignments/"):
		return "2022-04-01"
	case strings.Contains(p, "/providers/microsoft.authorization/locks/"):
		return "2020-05-01"
	case strings.Contains(p, "/providers/microsoft.authorization/policyassignments/"):
		return "2025-03-01"
	case strings.Contains(p, "/providers/microsoft.storage/"):
		return "2023-05-01"
	case strings.Contains(p, "/providers/microsoft.machinelearningservices/"):
		return "2024-04-01"
	}
	return "2022-09-01"
}

// TestAccessMatrix: every cell of rbac/testdata/matrix.tsv over HTTP.
func TestAccessMatrix(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mt := newMatrixTenant(t, s)
		f, err := os.Open(matrixFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var columns []string
		cells, rows, unserved := 0, 0, 0
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			l := sc.Text()
			if strings.HasPrefix(l, "# action\t") {
				columns = strings.Split(l, "\t")[2:]
				continue
			}
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			fields := strings.Split(l, "\t")
			if strings.HasPrefix(fields[0], "data:") {
				unserved++
				continue // data actions: the data planes (to come)
			}
			target, ok := mt.targets[fields[1]]
			if !ok {
				t.Fatalf("matrix.tsv:%d: unknown target %q", line, fields[1])
			}
			method, path := matrixRequest(fields[0], target)
			if method == "" {
				unserved++
				continue
			}
			rows++
			for i, p := range columns {
				want := fields[i+2]
				var headers []string
				if method != "GET" {
					headers = []string{"If-Match", `"probe"`}
				}
				var r *Response
				if method == "SCORE" {
					// The endpoint (AADToken) has no deployment: an
					// authorized call gets as far as 424 NoTraffic.
					tok, err := s.Directory.TokenForClientSecret(context.Background(), s.TenantID, mt.principals[p].AppID, mt.principals[p].Secret, "https://ml.azure.com/.default")
					if err != nil {
						t.Fatal(err)
					}
					r = s.scoreRaw(t, s.URL+"/endpoints/"+s.SubscriptionID+"/rg1/ws1/e1/score", tok.AccessToken, "")
				} else {
					q := "?api-version=" + apiVersionFor(path)
					if method == "DELETE" && strings.Contains(path, "/computes/") {
						q += "&underlyingResourceAction=Delete"
					}
					r = s.DoAs(t, mt.principals[p].Token, method, path+q, matrixBody(method), headers...)
				}
				cells++
				got := "A"
				if r.Status == 403 {
					got = "D"
					if r.ErrorCode() != "AuthorizationFailed" {
						t.Errorf("matrix.tsv:%d: %s %s %s: 403 %s, want AuthorizationFailed", line, p, method, path, r.ErrorCode())
					}
				} else if want := map[string][]int{"GET": {200}, "PUT": {412}, "POST": {412}, "DELETE": {412, 204}, "SCORE": {424}}[method]; !containsInt(want, r.Status) {
					t.Errorf("matrix.tsv:%d: %s %s %s: %d %.300s, want one of %v (allowed) or 403", line, p, method, path, r.Status, r.Body, want)
				}
				if got != want {
					t.Errorf("matrix.tsv:%d: %s %s at %s (%s %s): %s, want %s (%d %.200s)", line, p, fields[0], fields[1], method, path, got, want, r.Status, r.Body)
				}
			}
		}
		if rows < 20 || len(columns) != 9 {
			t.Fatalf("%d rows over HTTP, %d principals", rows, len(columns))
		}
		t.Logf("%d cells over HTTP (%d rows × %d principals); %d rows have no HTTP request yet (data actions of other providers' data planes)", cells, rows, len(columns), unserved)
	})
}

func matrixBody(method string) any {
	if method == "PUT" {
		return `{"location":"eastus","properties":{}}`
	}
	return nil
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// TestAccessReplicas: a role assignment written through one control
// plane decides on another sharing its store (a replica: here a second
// access.Access following its own change feed), from the commit on, and
// its removal too; a custom role written on one is read on the other.
func TestAccessReplicas(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, a *Server) {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		b := access.New(a.Store, access.Config{Roles: loadBuiltins().roles})
		if err := b.Load(ctx); err != nil {
			t.Fatal(err)
		}
		fd := feed.New(a.Store, feed.Options{Interval: 20 * time.Millisecond})
		b.Follow(fd)
		go fd.Run(ctx)
		<-fd.Ready()
		mustCreateRG(t, a, "rg1")
		ws := a.mustWorkspace(t, "rg1", "ws1")
		p := a.NewPrincipal(t, "replicated")
		allowed := func() bool {
			d, err := b.Decider(ctx, &activitylog.Caller{ObjectID: p.ObjectID})
			if err != nil {
				t.Fatal(err)
			}
			return d.Allowed("Microsoft.MachineLearningServices/workspaces/jobs/write", ws+"/jobs/j1")
		}
		eventually := func(what string, want bool) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for allowed() != want {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the replica still decides %v after 5 s", what, !want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if allowed() {
			t.Fatal("allowed before any role assignment")
		}
		asg := a.assignRole(t, ws, roleIDByName(t, a, "AzureML Data Scientist"), p.ObjectID, "ServicePrincipal")
		eventually("the role assignment made on the other replica", true)
		if r := a.Do(t, "DELETE", asg+"?api-version=2022-04-01", nil); r.Status != 200 {
			t.Fatalf("DELETE: %d %s", r.Status, r.Body)
		}
		eventually("the role assignment removed on the other replica", false)

		role := a.sub() + "/providers/Microsoft.Authorization/roleDefinitions/7f3c8e2a-0b1d-4e5f-9a6b-c7d8e9f0a1b2"
		a.put(t, role+"?api-version=2022-04-01", `{"properties":{"roleName":"Replicated","permissions":[{"actions":["*/read"]}],"assignableScopes":["`+a.sub()+`"]}}`, 201)
		deadline := time.Now().Add(5 * time.Second)
		for {
			custom, err := b.CustomRoles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(custom) == 1 && custom[0].RoleName == "Replicated" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the replica's custom roles after 5 s: %v", custom)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestGroupMembershipAtOnce: a membership changed through Graph decides
// the member's next request on the same server, without waiting for the
// groups' cache to expire.
func TestGroupMembershipAtOnce(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	s := startSQLite(t)
	admin := s.graphToken(t, s.ClientID, s.ClientSecret)
	ws := s.mustWorkspace(t, "rg1", "ws1")
	p := s.NewPrincipal(t, "member")
	g := s.graph(t, admin, "POST", "/groups", map[string]any{"displayName": "readers", "mailEnabled": false, "mailNickname": "readers", "securityEnabled": true}, 201)
	gid := g["id"].(string)
	s.assignRole(t, ws, roleIDByName(t, s, "Reader"), gid, "Group")
	read := func() int { return s.DoAs(t, p.Token, "GET", ws+av, "").Status }
	if st := read(); st != 403 {
		t.Fatalf("before joining: %d", st)
	}
	s.graph(t, admin, "POST", "/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": s.URL + "/v1.0/directoryObjects/" + p.ObjectID}, 204)
	if st := read(); st != 200 {
		t.Errorf("just after joining: %d", st)
	}
	s.graph(t, admin, "DELETE", "/groups/"+gid+"/members/"+p.ObjectID+"/$ref", nil, 204)
	if st := read(); st != 403 {
		t.Errorf("just after leaving: %d", st)
	}
}
