package armtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/rbac"
)

// SharedDir is the reference data beside the checkout (../shared from the
// repository root), as seen from this package's directory.
const SharedDir = "../../../shared"

// builtins are the Machine Learning built-in definitions (read in place
// from SharedDir, never copied) and the alias catalog the harness
// serves; none when SharedDir is absent.
type builtins struct {
	builtins   *govern.Builtins
	defs, sets *api.PolicyDefinitions
	catalog    *alias.Catalog
	// roles are the built-in role definitions (none when SharedDir is
	// absent: access then knows Owner only).
	roles []*rbac.RoleDefinition
	// ByFile maps a built-in file's base name (DisableLocalAuth_Modify.json)
	// to its definition name (the GUID).
	ByFile map[string]string
}

var (
	builtinsOnce sync.Once
	builtinsVal  *builtins
)

// loadBuiltins reads the ML built-ins once per test binary.
func loadBuiltins() *builtins {
	builtinsOnce.Do(func() {
		b := &builtins{ByFile: map[string]string{}}
		defs := map[string]json.RawMessage{}
		cats := []*alias.Catalog{alias.Builtin()}
		if c, err := alias.LoadFile(filepath.Join(SharedDir, "corpus/aliases/Microsoft.MachineLearningServices.json")); err == nil {
			cats = append(cats, c)
		}
		b.catalog = alias.Merge(cats...)
		files, _ := definition.LoadPaths([]string{filepath.Join(SharedDir, "corpus/azure-policy/policyDefinitions/Machine Learning")})
		for _, f := range files {
			if f.Err != nil || f.Doc.Kind != definition.KindPolicy || f.Doc.Policy.Name == "" {
				continue
			}
			raw, err := os.ReadFile(f.Path)
			if err != nil {
				continue
			}
			if r, err := govern.BuiltinResource(raw, "policyDefinitions", f.Doc.Policy.Name); err == nil {
				defs[f.Doc.Policy.Name] = r
				b.ByFile[filepath.Base(f.Path)] = f.Doc.Policy.Name
			}
		}
		if f, err := os.Open(filepath.Join(SharedDir, "corpus/rbac/builtin-roles.json")); err == nil {
			b.roles, _ = rbac.LoadRoleDefinitions(f)
			f.Close()
		}
		b.builtins = govern.NewBuiltins(defs, nil)
		b.defs = api.NewPolicyDefinitions(defs)
		b.sets = api.NewPolicySetDefinitions(nil)
		builtinsVal = b
	})
	return builtinsVal
}

// BuiltinID returns the id of the ML built-in in file (its base name),
// and false when the reference data is absent.
func BuiltinID(file string) (string, bool) {
	n, ok := loadBuiltins().ByFile[file]
	return "/providers/Microsoft.Authorization/policyDefinitions/" + n, ok
}
