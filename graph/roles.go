package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/store"
)

// Directory role assignments: /v1.0/roleManagement/directory/roleAssignments
// GET (list, one), POST {roleDefinitionId, principalId, directoryScopeId
// "/"}, DELETE. The directory has one role, Global Administrator; the
// administrators serve is configured with hold it too and are listed
// (id "bootstrap-{objectId}"), but cannot be removed here.

const bootstrapPrefix = "bootstrap-"

func roleAssignmentJSON(id, role, principal string) map[string]any {
	return map[string]any{"id": id, "roleDefinitionId": role, "principalId": principal, "directoryScopeId": "/"}
}

func (s *Server) roleAssignments(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	const set = "roleManagement/directory/roleAssignments"
	switch {
	case len(seg) == 0 && method == "GET":
		var out []map[string]any
		for _, a := range s.cfg.Admins {
			out = append(out, roleAssignmentJSON(bootstrapPrefix+strings.ToLower(a), authn.GlobalAdministratorRole, strings.ToLower(a)))
		}
		as, err := s.dir.DirectoryRoleAssignments(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range as {
			out = append(out, roleAssignmentJSON(a.ID, a.RoleDefinitionID, a.PrincipalID))
		}
		return s.collection(set, out), 200, nil
	case len(seg) == 0 && method == "POST":
		var body struct {
			ODataType        string `json:"@odata.type"`
			RoleDefinitionID string `json:"roleDefinitionId"`
			PrincipalID      string `json:"principalId"`
			DirectoryScopeID string `json:"directoryScopeId"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		a, err := s.dir.AddDirectoryRole(ctx, s.cfg.TenantID, body.RoleDefinitionID, body.PrincipalID, body.DirectoryScopeID)
		switch {
		case errors.Is(err, authn.ErrRoleInvalid):
			return nil, 0, badRequest("%s", strings.TrimPrefix(err.Error(), authn.ErrRoleInvalid.Error()+": "))
		case errors.Is(err, store.ErrConflict):
			return nil, 0, errf(409, "Request_BadRequest", "A conflicting object with one or more of the specified property values is present in the directory: the principal has the role.")
		case err != nil:
			return nil, 0, err
		}
		return s.entity(set, roleAssignmentJSON(a.ID, a.RoleDefinitionID, a.PrincipalID)), 201, nil
	case len(seg) == 1:
		if strings.HasPrefix(strings.ToLower(seg[0]), bootstrapPrefix) {
			oid := strings.TrimPrefix(strings.ToLower(seg[0]), bootstrapPrefix)
			for _, a := range s.cfg.Admins {
				if strings.EqualFold(a, oid) {
					if method == "GET" {
						return s.entity(set, roleAssignmentJSON(seg[0], authn.GlobalAdministratorRole, oid)), 200, nil
					}
					return nil, 0, badRequest("The role of the administrator serve is configured with comes from its configuration: it cannot be removed here.")
				}
			}
			return nil, 0, notFound(seg[0])
		}
		as, err := s.dir.DirectoryRoleAssignments(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range as {
			if !strings.EqualFold(a.ID, seg[0]) {
				continue
			}
			switch method {
			case "GET":
				return s.entity(set, roleAssignmentJSON(a.ID, a.RoleDefinitionID, a.PrincipalID)), 200, nil
			case "DELETE":
				return nil, 204, s.dir.DeleteDirectoryRole(ctx, s.cfg.TenantID, a.ID)
			}
		}
		if method == "GET" || method == "DELETE" {
			return nil, 0, notFound(seg[0])
		}
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}
