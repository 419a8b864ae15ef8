// Package deptest enforces the dependency direction of docs/ARCHITECTURE.md.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed third-party module prefixes per package pattern.
var rules = []struct {
	pkgs    string
	allowed []string // import path prefixes allowed outside the standard library
	banned  []string // standard-library packages that must not appear
}{
	{"./policy/...", []string{"github.com/mlgov/mlgov/policy", "golang.org/x/text"}, []string{"net/http", "database/sql", "log/slog", "os/exec"}},
	{"./arm/...", []string{"github.com/mlgov/mlgov/arm"}, []string{"net/http", "database/sql"}},
	// Azure RBAC decisions: pure, on role definitions and assignments given.
	{"./rbac/...", []string{"github.com/mlgov/mlgov/rbac", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/internal/uuid"}, []string{"net/http", "database/sql", "log/slog", "os/exec"}},
	// The policy resources are built for the write path, never from it.
	{"./policyres/...", []string{"github.com/mlgov/mlgov/policyres", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/policy", "golang.org/x/text"}, []string{"net/http", "database/sql", "log/slog"}},
	// The ARM template language: pure, on the expression language only.
	{"./deploy/template/...", []string{"github.com/mlgov/mlgov/deploy/template", "github.com/mlgov/mlgov/policy/expr", "github.com/mlgov/mlgov/policy/value", "golang.org/x/text"}, []string{"net/http", "database/sql", "log/slog", "os/exec"}},
	// The deployment engine writes through the resource manager and the
	// store interfaces, never a driver or HTTP.
	{"./deploy", []string{"github.com/mlgov/mlgov/deploy", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "golang.org/x/text"}, []string{"database/sql", "net/http"}},
	// The benchmarks' resources, written through the store interfaces.
	{"./internal/benchdata", []string{"github.com/mlgov/mlgov/internal/benchdata", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/store"}, []string{"database/sql", "net/http", "os/exec"}},
	// The web dashboard serves its embedded files and configuration: it
	// reads no store and decides nothing (the page calls the API).
	{"./ui", []string{"github.com/mlgov/mlgov/ui"}, []string{"database/sql", "os/exec", "log/slog"}},
	// Landing zones are vended through the resource manager (requests as
	// their caller) and a Deployer, never a store or HTTP.
	{"./landingzone", []string{"github.com/mlgov/mlgov/landingzone", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/rbac", "github.com/mlgov/mlgov/internal/uuid", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "golang.org/x/text"}, []string{"database/sql", "net/http"}},
	// Services and the transport use the store interfaces, never a driver.
	// (odata: the $filter of the resource lists, parsed as PolicyInsights'.)
	{"./resources/...", []string{"github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "golang.org/x/text"}, []string{"database/sql", "net/http"}},
	{"./api/...", []string{"github.com/mlgov/mlgov/api", "github.com/mlgov/mlgov/egress", "github.com/mlgov/mlgov/internal/uuid", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/authn", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "github.com/mlgov/mlgov/rbac", "github.com/mlgov/mlgov/federation", "golang.org/x/text", "github.com/go-jose/go-jose", "golang.org/x/crypto", "golang.org/x/sys/cpu"}, []string{"database/sql"}},
	{"./access/...", []string{"github.com/mlgov/mlgov/access", "github.com/mlgov/mlgov/rbac", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "github.com/mlgov/mlgov/internal/uuid", "golang.org/x/text"}, []string{"database/sql", "net/http"}},
	// Vulnerability findings: types on the write path, reports parsed;
	// no HTTP, no driver.
	{"./security/...", []string{"github.com/mlgov/mlgov/security", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "golang.org/x/text"}, []string{"database/sql", "net/http", "os/exec"}},
	// The inbound network checks: decisions on the store's resources,
	// never HTTP (api knows them as an api.Inbound).
	{"./inbound/...", []string{"github.com/mlgov/mlgov/inbound", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "golang.org/x/text"}, []string{"database/sql", "net/http", "os/exec"}},
	// The dashboard's change stream: the feed, the store's events and
	// RBAC decisions, never HTTP (api writes the stream: api.Changes).
	{"./live/...", []string{"github.com/mlgov/mlgov/live", "github.com/mlgov/mlgov/resources", "github.com/mlgov/mlgov/arm", "github.com/mlgov/mlgov/activitylog", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/policy", "github.com/mlgov/mlgov/odata", "golang.org/x/text"}, []string{"database/sql", "net/http", "os/exec"}},
	{"./federation/...", []string{"github.com/mlgov/mlgov/federation", "github.com/mlgov/mlgov/internal/uuid", "github.com/go-jose/go-jose"}, []string{"database/sql"}},
	{"./graph/...", []string{"github.com/mlgov/mlgov/graph", "github.com/mlgov/mlgov/odata", "github.com/mlgov/mlgov/authn", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/internal/uuid", "github.com/go-jose/go-jose", "golang.org/x/crypto", "golang.org/x/sys/cpu"}, []string{"database/sql"}},
	{"./authn/...", []string{"github.com/mlgov/mlgov/authn", "github.com/mlgov/mlgov/store", "github.com/mlgov/mlgov/internal/uuid", "github.com/go-jose/go-jose", "golang.org/x/crypto", "golang.org/x/sys/cpu"}, []string{"database/sql", "net/http"}},
	// The OData query options of PolicyInsights: standard library only,
	// rendering SQL as text without a driver.
	{"./odata/...", []string{"github.com/mlgov/mlgov/odata"}, []string{"database/sql", "net/http", "log/slog", "os/exec"}},
	// The egress proxy and its log: the store interfaces, nothing of the
	// control plane's packages (reached through Config's functions).
	{"./egress/...", []string{"github.com/mlgov/mlgov/egress", "github.com/mlgov/mlgov/store"}, []string{"database/sql", "os/exec"}},
	// The SQL shared by the SQL backends reaches a database only through
	// the backend's Querier: no driver, no database/sql.
	{"./store/internal/...", []string{"github.com/mlgov/mlgov/store"}, []string{"database/sql", "database/sql/driver"}},
}

func TestDependencyDirection(t *testing.T) {
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "../../"+strings.TrimPrefix(r.pkgs, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			// store/feed follows any store.Store through its interfaces:
			// services may use it.
			if strings.HasPrefix(dep, "github.com/mlgov/mlgov/store/") && dep != "github.com/mlgov/mlgov/store/feed" &&
				!strings.HasPrefix(r.pkgs, "./store/") {
				t.Errorf("%s depends on the concrete store %s", r.pkgs, dep)
				continue
			}
			ok := false
			for _, a := range r.allowed {
				if strings.HasPrefix(dep, a) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s depends on %s, which is not allowed", r.pkgs, dep)
			}
		}
		std, err := exec.Command("go", "list", "-deps", "-f", "{{if .Standard}}{{.ImportPath}}{{end}}", "../../"+strings.TrimPrefix(r.pkgs, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, std)
		}
		for _, dep := range strings.Fields(string(std)) {
			for _, b := range r.banned {
				if dep == b {
					t.Errorf("%s imports %s, which the engine must not use", r.pkgs, dep)
				}
			}
		}
	}
}
