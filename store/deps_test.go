package store_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces what the doc.go files of the store packages
// say they must not import.
func TestDependencies(t *testing.T) {
	for _, r := range []struct {
		pkg     string
		allowed []string // non-standard import path prefixes
		banned  []string // standard-library packages
	}{
		{"github.com/mlgov/mlgov/store", []string{"github.com/mlgov/mlgov/store"}, []string{"database/sql", "net/http", "testing"}},
		{"github.com/mlgov/mlgov/store/feed", []string{"github.com/mlgov/mlgov/store"}, []string{"database/sql", "net/http", "testing"}},
		{"github.com/mlgov/mlgov/store/internal/sqlq", []string{"github.com/mlgov/mlgov/store"}, []string{"database/sql", "net/http", "testing"}},
		{"github.com/mlgov/mlgov/store/storetest", []string{"github.com/mlgov/mlgov/store", "github.com/google/go-cmp"}, []string{"net/http"}},
		{"github.com/mlgov/mlgov/store/sqlite", []string{"github.com/mlgov/mlgov/store", "modernc.org/", "golang.org/x/sys", "github.com/dustin/go-humanize", "github.com/google/uuid", "github.com/remyoudompheng/bigfft", "github.com/mattn/go-isatty", "github.com/ncruces/go-strftime"}, []string{"net/http", "testing"}},
		{"github.com/mlgov/mlgov/store/postgres", []string{"github.com/mlgov/mlgov/store", "github.com/jackc/", "golang.org/x/sync", "golang.org/x/text"}, []string{"net/http", "testing"}},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if .Standard}}std {{end}}{{.ImportPath}}", r.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkg, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if dep, ok := strings.CutPrefix(line, "std "); ok {
				for _, b := range r.banned {
					if dep == b {
						t.Errorf("%s imports %s", r.pkg, dep)
					}
				}
				continue
			}
			if strings.HasPrefix(line, "github.com/mlgov/mlgov/store/") && r.pkg != line &&
				(strings.HasSuffix(line, "/sqlite") || strings.HasSuffix(line, "/postgres") || strings.HasSuffix(line, "/storetest")) {
				t.Errorf("%s depends on the concrete package %s", r.pkg, line)
			}
			ok := false
			for _, a := range r.allowed {
				ok = ok || strings.HasPrefix(line, a)
			}
			if !ok {
				t.Errorf("%s depends on %s, which is not allowed", r.pkg, line)
			}
		}
	}
}
