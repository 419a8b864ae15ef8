package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/rbac"
)

// defaultPolicyPaths are the development and CI defaults: the reference
// data beside the checkout, used when present and no flag is given.
var (
	defaultPolicyPaths = []string{"../shared/corpus/azure-policy"}
	defaultAliasPaths  = []string{"../shared/corpus/aliases/Microsoft.MachineLearningServices.json"}
)

// defaultRoleDefinitions are the built-in role definitions beside the
// checkout (development and CI), used when present and no flag is given.
const defaultRoleDefinitions = "../shared/corpus/rbac/builtin-roles.json"

func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// policyLoad is the result of loading built-in definitions at start.
type policyLoad struct {
	defs     *api.PolicyDefinitions
	sets     *api.PolicyDefinitions
	builtins *govern.Builtins // the same, for assignments
	catalog  *alias.Catalog
	compiled int
	failed   []string
}

// loadPolicies reads alias catalogs and built-in definitions from the
// configured paths (never from the repository) and compiles every
// definition once to validate it.
func loadPolicies(policyPaths, aliasPaths []string) (*policyLoad, error) {
	cat, err := loadCatalog(aliasPaths)
	if err != nil {
		return nil, err
	}
	out := &policyLoad{catalog: cat}
	byName, setsByName := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	if len(policyPaths) > 0 {
		files, err := definition.LoadPaths(policyPaths)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.Err == nil && f.Doc.Kind == definition.KindPolicySet && f.Doc.Set.Name != "" {
				// Served as read; members are compiled when an
				// initiative is assigned, against the definitions then known.
				if raw, err := builtInJSON(f.Path, "policySetDefinitions", f.Doc.Set.Name); err == nil {
					setsByName[f.Doc.Set.Name] = raw
				} else {
					out.failed = append(out.failed, f.Path+": "+firstLine(err.Error()))
				}
				continue
			}
			if f.Err != nil || f.Doc.Kind != definition.KindPolicy {
				if f.Err != nil {
					out.failed = append(out.failed, f.Path+": "+firstLine(f.Err.Error()))
				}
				continue
			}
			d := f.Doc.Policy
			if _, err := policy.Compile(d, policy.Options{Aliases: cat, AllowMissingParameters: true}); err != nil {
				out.failed = append(out.failed, f.Path+": "+firstLine(err.Error()))
				continue
			}
			out.compiled++
			if d.Name == "" {
				continue
			}
			if raw, err := builtInJSON(f.Path, "policyDefinitions", d.Name); err == nil {
				byName[d.Name] = raw
			}
		}
	}
	out.defs = api.NewPolicyDefinitions(byName)
	out.sets = api.NewPolicySetDefinitions(setsByName)
	out.builtins = govern.NewBuiltins(byName, setsByName)
	return out, nil
}

// builtInJSON is a built-in file as the ARM resource Azure serves.
func builtInJSON(path, typ, name string) (json.RawMessage, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return govern.BuiltinResource(raw, typ, name)
}

// firstLine is s up to its first line break (an Entra error description
// without its trace lines).
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// loadRoleDefinitions reads the built-in role definitions of
// --role-definitions ("": none).
func loadRoleDefinitions(path string) (*api.RoleDefinitions, error) {
	if path == "" {
		return api.NewRoleDefinitions(nil), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--role-definitions: %w", err)
	}
	defer f.Close()
	defs, err := rbac.LoadRoleDefinitions(f)
	if err != nil {
		return nil, fmt.Errorf("--role-definitions %s: %w", path, err)
	}
	return api.NewRoleDefinitions(defs), nil
}
