package cli

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// defaultPolicyPaths are the development and CI defaults: the reference
// data beside the checkout, used when present and no flag is given.
var (
	defaultPolicyPaths = []string{"../shared/corpus/azure-policy"}
	defaultAliasPaths  = []string{"../shared/corpus/aliases/Microsoft.MachineLearningServices.json"}
)

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
	byName := map[string]json.RawMessage{}
	if len(policyPaths) > 0 {
		files, err := definition.LoadPaths(policyPaths)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
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
			raw, err := os.ReadFile(f.Path)
			if err != nil {
				continue
			}
			v, err := value.Parse(raw)
			if err != nil || d.Name == "" {
				continue
			}
			v = v.With("id", value.StringValue("/providers/Microsoft.Authorization/policyDefinitions/"+d.Name)).
				With("type", value.StringValue("Microsoft.Authorization/policyDefinitions")).
				With("name", value.StringValue(d.Name))
			byName[d.Name] = json.RawMessage(v.JSON())
		}
	}
	out.defs = api.NewPolicyDefinitions(byName)
	return out, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
