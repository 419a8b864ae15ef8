package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
)

// TestPolicyDefinitionsPaged: the built-in list is paged by nextLink, at
// most $top (≤ 100) definitions and 4 MiB plus one definition a page, and
// every definition comes back once, in name order; nextLink is built from
// the public URL.
func TestPolicyDefinitionsPaged(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, size  int
		top      string
		maxItems int
	}{
		{"small", 250, 200, "", 100},
		{"top", 250, 200, "&$top=30", 30},
		{"large", 120, 300 << 10, "", 14}, // 300 KiB each: 4 MiB is reached at the 14th
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := map[string]json.RawMessage{}
			for i := range tc.n {
				name := fmt.Sprintf("def-%04d", i)
				defs[name] = json.RawMessage(fmt.Sprintf(`{"name":%q,"pad":%q}`, name, strings.Repeat("x", tc.size)))
			}
			p := NewPolicyDefinitions(defs)
			const public = "https://mlgov.example:8443"
			u := "/providers/Microsoft.Authorization/policyDefinitions?api-version=2023-04-01" + tc.top
			var got []string
			for pages := 0; u != ""; pages++ {
				if pages > tc.n {
					t.Fatal("nextLink does not end")
				}
				req := httptest.NewRequest("GET", strings.TrimPrefix(u, public), nil)
				id, err := arm.ParseID(req.URL.Path)
				if err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				p.serve(w, req, id, public)
				var page struct {
					Value    []struct{ Name string }
					NextLink string
				}
				if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
					t.Fatalf("page %d: %v: %.200s", pages, err, w.Body)
				}
				if len(page.Value) == 0 || len(page.Value) > tc.maxItems {
					t.Errorf("page %d holds %d definitions, want 1..%d", pages, len(page.Value), tc.maxItems)
				}
				if page.NextLink != "" && !strings.HasPrefix(page.NextLink, public+"/providers/") {
					t.Errorf("nextLink %q is not under %s", page.NextLink, public)
				}
				for _, v := range page.Value {
					got = append(got, v.Name)
				}
				u = page.NextLink
			}
			if len(got) != tc.n || got[0] != "def-0000" || got[len(got)-1] != fmt.Sprintf("def-%04d", tc.n-1) {
				t.Errorf("listed %d definitions (%v ... %v), want %d in order", len(got), got[:1], got[len(got)-1:], tc.n)
			}
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("out of order or repeated: %s after %s", got[i], got[i-1])
				}
			}
		})
	}
	p := NewPolicyDefinitions(map[string]json.RawMessage{"a": json.RawMessage(`{"name":"a"}`)})
	for q, code := range map[string]string{"&$top=0": "InvalidQueryParameter", "&$skipToken=%%%": "InvalidSkipToken"} {
		req := httptest.NewRequest("GET", "/providers/Microsoft.Authorization/policyDefinitions?api-version=2023-04-01"+strings.ReplaceAll(q, "%%%", "%25%25"), nil)
		id, _ := arm.ParseID(req.URL.Path)
		w := httptest.NewRecorder()
		p.serve(w, req, id, "https://x")
		if w.Code != 400 || !strings.Contains(w.Body.String(), code) {
			t.Errorf("%s: %d %s, want 400 %s", q, w.Code, w.Body, code)
		}
	}
}
