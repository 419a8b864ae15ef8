package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/mlgov/mlgov/arm"
)

// Deny assignments ({scope}/providers/Microsoft.Authorization/denyAssignments[/{id}])
// are read-only in Azure: the platform makes them (managed applications,
// deployment stacks, blueprints). mlgov makes none, so their lists are
// empty, knowingly, and a deny assignment is never found; package rbac
// decides deny assignments when some exist. Writes are refused.

// denyAssignmentsPath reports whether id names the deny assignments (or
// one) at some scope, and the scope.
func denyAssignmentsPath(id *arm.ID) (scope string, one bool, ok bool) {
	switch n := len(id.Parts); {
	case n > 0 && id.Trailing == "" && arm.EqualName(id.Parts[n-1].Namespace, "Microsoft.Authorization") && strings.EqualFold(id.Parts[n-1].Type, "denyAssignments"):
		s := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:n-1]}
		return s.String(), true, true
	case id.Trailing != "" && arm.EqualName(id.TrailingNamespace, "Microsoft.Authorization") && strings.EqualFold(id.Trailing, "denyAssignments"):
		s := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}
		return s.String(), false, true
	}
	return "", false, false
}

// denyFilterTerm is one term of the $filter Azure documents for deny
// assignments.
var denyFilterTerm = regexp.MustCompile(`^(?i:atScope\(\)|(principalId|gdprExportPrincipalId|denyAssignmentName) eq '[^']*')$`)

func (s *Server) serveDenyAssignments(w http.ResponseWriter, req *http.Request, scope string, one bool) {
	q, ok := readOnlyGET(w, req, arm.Errorf("MethodNotAllowed", "Deny assignments are read-only: the platform makes them, and mlgov makes none."))
	if !ok {
		return
	}
	if scope == "" {
		scope = "/"
	}
	if one {
		writeError(w, 404, arm.Errorf("DenyAssignmentNotFound", "The deny assignment '%s' does not exist.", arm.Clip(req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:], 64)))
		return
	}
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		for _, t := range strings.Split(f, " and ") {
			if !denyFilterTerm.MatchString(strings.TrimSpace(t)) {
				e := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported on deny assignments: use atScope(), principalId eq '{id}', gdprExportPrincipalId eq '{id}' or denyAssignmentName eq '{name}', joined by 'and'.", arm.Clip(f, 200))
				e.Target = "$filter"
				writeError(w, 400, e)
				return
			}
		}
	}
	writeJSON(w, 200, map[string]any{"value": []any{}})
}
