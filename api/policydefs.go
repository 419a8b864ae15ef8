package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/mlgov/mlgov/arm"
)

// PolicyDefinitions serves the built-in policy definitions loaded at
// start as ARM resources:
// GET /providers/Microsoft.Authorization/policyDefinitions[/{name}].
type PolicyDefinitions struct {
	byName map[string]json.RawMessage
	names  []string
}

// NewPolicyDefinitions indexes definitions (full resource JSON, with
// "name") by name.
func NewPolicyDefinitions(defs map[string]json.RawMessage) *PolicyDefinitions {
	p := &PolicyDefinitions{byName: map[string]json.RawMessage{}}
	for n, d := range defs {
		p.byName[strings.ToLower(n)] = d
		p.names = append(p.names, strings.ToLower(n))
	}
	sort.Strings(p.names)
	return p
}

// Len is the number of definitions.
func (p *PolicyDefinitions) Len() int { return len(p.names) }

func (p *PolicyDefinitions) serve(w http.ResponseWriter, req *http.Request, id *arm.ID) {
	if req.Method != "GET" {
		writeError(w, 405, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on built-in policy definitions.", req.Method))
		return
	}
	if req.URL.Query().Get("api-version") == "" {
		writeError(w, 400, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if id.Trailing != "" {
		var b strings.Builder
		b.WriteString(`{"value":[`)
		for i, n := range p.names {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(p.byName[n])
		}
		b.WriteString("]}")
		w.Write([]byte(b.String()))
		return
	}
	d, ok := p.byName[strings.ToLower(id.Name())]
	if !ok {
		writeError(w, 404, arm.Errorf("PolicyDefinitionNotFound", "The policy definition '%s' could not be found.", id.Name()))
		return
	}
	w.Write(d)
}

// isPolicyDefinitionsPath matches the tenant-level built-in definitions.
func isPolicyDefinitionsPath(id *arm.ID) bool {
	if id.SubscriptionID != "" {
		return false
	}
	if len(id.Parts) == 0 {
		return strings.EqualFold(id.TrailingNamespace, "Microsoft.Authorization") && strings.EqualFold(id.Trailing, "policyDefinitions")
	}
	return len(id.Parts) == 1 && id.Trailing == "" && strings.EqualFold(id.Parts[0].Namespace, "Microsoft.Authorization") && strings.EqualFold(id.Parts[0].Type, "policyDefinitions")
}
