package rbac

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shared is ../shared beside the checkout (the built-in roles are read
// there, never copied).
var shared = filepath.Join("..", "..", "shared")

const (
	sub = "11111111-1111-1111-1111-111111111111"
	ml  = "/providers/Microsoft.MachineLearningServices"
)

// builtins loads the built-in role definitions and the test's custom role.
func builtins(t testing.TB) []*RoleDefinition {
	t.Helper()
	f, err := os.Open(filepath.Join(shared, "corpus", "rbac", "builtin-roles.json"))
	if err != nil {
		t.Skipf("the built-in roles are read from ../shared/corpus/rbac (not found: %v)", err)
	}
	defer f.Close()
	defs, err := LoadRoleDefinitions(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/custom-role.json")
	if err != nil {
		t.Fatal(err)
	}
	var custom RoleDefinition
	if err := json.Unmarshal(b, &custom); err != nil {
		t.Fatal(err)
	}
	if err := custom.Validate(); err != nil {
		t.Fatal(err)
	}
	return append(defs, &custom)
}

func roleID(t testing.TB, defs []*RoleDefinition, name string) string {
	t.Helper()
	for _, d := range defs {
		if d.RoleName == name {
			return "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + d.Name
		}
	}
	t.Fatalf("no role %q", name)
	return ""
}

// TestMatrix checks every cell of testdata/matrix.tsv: the principals
// and their one assignment each, as the file's header describes them.
func TestMatrix(t *testing.T) {
	defs := builtins(t)
	a := New(defs)
	rg := func(n string) string { return "/subscriptions/" + sub + "/resourceGroups/" + n }
	ws1 := rg("rg1") + ml + "/workspaces/ws1"
	targets := map[string]string{
		"sub": "/subscriptions/" + sub, "rg1": rg("rg1"), "ws1": ws1, "ws2": rg("rg2") + ml + "/workspaces/ws2",
		"c1": ws1 + "/computes/c1", "j1": ws1 + "/jobs/j1", "e1": ws1 + "/onlineEndpoints/e1",
		"d1": ws1 + "/datastores/d1", "n1": ws1 + "/connections/n1",
		"sa1":  rg("rg1") + "/providers/Microsoft.Storage/storageAccounts/sa1",
		"blob": rg("rg1") + "/providers/Microsoft.Storage/storageAccounts/sa1/blobServices/default/containers/c",
	}
	ids := map[string]string{}
	id := func(name string) string {
		if ids[name] == "" {
			ids[name] = fmt.Sprintf("00000000-0000-4000-8000-%012d", len(ids)+1)
		}
		return ids[name]
	}
	for _, as := range []struct{ principal, role, scope string }{
		{"owner", "Owner", rg("rg1")}, {"contributor", "Contributor", rg("rg1")}, {"reader", "Reader", rg("rg1")},
		{"datasci", "AzureML Data Scientist", ws1}, {"computeop", "AzureML Compute Operator", ws1},
		{"custom", "ML Job Submitter", ws1}, {"sibling", "Owner", rg("rg2")}, {"g1", "AzureML Data Scientist", ws1},
	} {
		if err := a.Add(&Assignment{ID: as.principal, Scope: as.scope, RoleDefinitionID: roleID(t, defs, as.role), PrincipalID: id(as.principal), PrincipalType: "ServicePrincipal"}); err != nil {
			t.Fatalf("assign %s: %v", as.principal, err)
		}
	}
	groups := map[string][]string{id("nested"): {id("g2")}, id("g2"): {id("g1")}, id("g1"): {id("g2")}} // a cycle, too
	memberOf := func(p string) []string { return groups[p] }

	f, err := os.Open("testdata/matrix.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var principals []string
	cells, rows := 0, 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		if strings.HasPrefix(l, "# action\t") {
			principals = strings.Split(l, "\t")[2:]
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(principals) == 0 || len(f) != len(principals)+2 {
			t.Fatalf("matrix.tsv:%d: %d fields, want %d (after the header line)", line, len(f), len(principals)+2)
		}
		rows++
		action, data := strings.CutPrefix(f[0], "data:")
		target, ok := targets[f[1]]
		if !ok {
			t.Fatalf("matrix.tsv:%d: unknown target %q", line, f[1])
		}
		for i, p := range principals {
			want := f[i+2]
			if want != "A" && want != "D" {
				t.Fatalf("matrix.tsv:%d: cell %q for %s is not A or D", line, want, p)
			}
			d, err := a.Decide(Request{Principals: ExpandGroups(id(p), memberOf), Action: action, DataAction: data, Scope: target})
			if err != nil {
				t.Fatalf("matrix.tsv:%d: %v", line, err)
			}
			cells++
			if got := map[bool]string{true: "A", false: "D"}[d.Allowed]; got != want {
				t.Errorf("matrix.tsv:%d: %s %s at %s: %s, want %s", line, p, action, f[1], got, want)
			}
		}
	}
	if rows < 20 || len(principals) != 9 {
		t.Fatalf("the matrix has %d rows and %d principals", rows, len(principals))
	}
	t.Logf("%d cells, %d rows × %d principals: no mismatch unless reported above", cells, rows, len(principals))
}
