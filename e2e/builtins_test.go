package e2e

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltInsServed: the built-in definitions and initiatives of the
// folder given with --policy-definitions (read in place from ../shared)
// are served read-only at tenant scope under their real ids, every one of
// them across the pages of their lists.
func TestBuiltInsServed(t *testing.T) {
	root := filepath.Join(RepoRoot(t), "..", "shared", "corpus", "azure-policy")
	if _, err := os.Stat(root); err != nil {
		requireOrSkip(t, "the reference data %s is not here: %v", root, err)
	}
	s := hxStart(t, "--policy-definitions", root)
	for _, tc := range []struct{ folder, typ string }{
		{"policyDefinitions", "policyDefinitions"},
		{"policySetDefinitions", "policySetDefinitions"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			want := map[string]bool{}
			filepath.WalkDir(filepath.Join(root, tc.folder), func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
					return err
				}
				raw, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				var f struct{ Name string }
				if json.Unmarshal(raw, &f) == nil && f.Name != "" {
					want[strings.ToLower(f.Name)] = true
				}
				return nil
			})
			if len(want) == 0 {
				t.Fatalf("no named %s under %s", tc.folder, root)
			}
			items, err := s.cl.listAll("/providers/Microsoft.Authorization/" + tc.typ + "?api-version=2023-04-01")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, it := range items {
				var r struct{ ID, Type, Name string }
				json.Unmarshal(it, &r)
				if r.ID != "/providers/Microsoft.Authorization/"+tc.typ+"/"+r.Name || r.Type != "Microsoft.Authorization/"+tc.typ {
					t.Errorf("%s: id %q type %q", r.Name, r.ID, r.Type)
				}
				if got[strings.ToLower(r.Name)] {
					t.Errorf("%s listed twice", r.Name)
				}
				got[strings.ToLower(r.Name)] = true
			}
			for n := range want {
				if !got[n] {
					t.Errorf("built-in %s %s is not listed", tc.typ, n)
				}
			}
			if len(got) != len(want) {
				t.Errorf("listed %d %s, the folder names %d", len(got), tc.typ, len(want))
			}
			for n := range want { // one of them, read alone
				a := s.hxMust(t, "GET", "/providers/Microsoft.Authorization/"+tc.typ+"/"+n+"?api-version=2023-04-01", nil, 200)
				if a2 := s.hxMust(t, "PUT", "/providers/Microsoft.Authorization/"+tc.typ+"/"+n+"?api-version=2023-04-01", a.body, 405); a2.status != 405 {
					t.Errorf("PUT on a built-in: %d", a2.status)
				}
				break
			}
		})
	}
}
