package policyres

import (
	"strings"

	"github.com/mlgov/mlgov/arm"
)

// ScopeContains reports whether id is scope itself or below it (compared
// case-insensitively, segment by segment). The scope "/" (or "") is the
// tenant root and contains everything.
func ScopeContains(scope, id string) bool {
	return keyContains(idKey(scope), idKey(id))
}

// keyContains is ScopeContains on keys.
func keyContains(s, i string) bool {
	if s == "" || s == "/" {
		return true
	}
	return i == s || (strings.HasPrefix(i, s) && i[len(s)] == '/')
}

// inScope is keyContains, or s is one of the management groups above
// the resource.
func inScope(s, i string, above []string) bool {
	if keyContains(s, i) {
		return true
	}
	for _, g := range above {
		if g == s {
			return true
		}
	}
	return false
}

// Key is the comparison key of a resource id: its CanonicalID, lower-cased
// as arm.KeyOf does.
func Key(id string) string { return idKey(id) }

// scopeOf returns the scope an extension resource ({scope}/providers/
// Microsoft.Authorization/{type}/{name}) is created at.
func scopeOf(id *arm.ID) string {
	p := id.Parent()
	if p == nil {
		return "/"
	}
	s := p.String()
	if s == "" {
		return "/"
	}
	return s
}

// policyIDKind tells whether an id names a policyDefinitions or a
// policySetDefinitions resource: "definition", "set" or "".
func policyIDKind(id string) (string, *arm.ID) {
	pid, err := arm.ParseID(CanonicalID(id))
	if err != nil || pid.Trailing != "" || len(pid.Parts) == 0 {
		return "", nil
	}
	last := pid.Parts[len(pid.Parts)-1]
	if !strings.EqualFold(last.Namespace, "Microsoft.Authorization") || pid.ResourceGroup != "" {
		return "", nil
	}
	switch {
	case strings.EqualFold(last.Type, "policyDefinitions"):
		return "definition", pid
	case strings.EqualFold(last.Type, "policySetDefinitions"):
		return "set", pid
	}
	return "", nil
}
