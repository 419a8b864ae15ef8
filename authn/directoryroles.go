package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Directory roles: who administers the directory itself (Microsoft
// Graph's roleManagement/directory/roleAssignments). mlgov's directory
// has one role, Global Administrator: its holders manage the directory
// through Graph, as the administrators serve is configured with do, and
// conditional access policies may name it (conditions.users
// includeRoles/excludeRoles), as the policies that require MFA of
// administrators do. Other roles of Entra's are refused, never stored as
// if they granted something.

// GlobalAdministratorRole is the Global Administrator role's template id
// (its roleDefinitionId in Graph).
const GlobalAdministratorRole = "62e90394-69f5-4237-9190-012177145e10"

// KindDirectoryRoleAssignment is the store kind of directory role
// assignments (key tenant/id).
const KindDirectoryRoleAssignment = "directoryRoleAssignments"

// DirectoryRoleAssignment gives a principal a directory role.
type DirectoryRoleAssignment struct {
	ID               string    `json:"id"`
	TenantID         string    `json:"tenantId"`
	RoleDefinitionID string    `json:"roleDefinitionId"`
	PrincipalID      string    `json:"principalId"`
	DirectoryScopeID string    `json:"directoryScopeId"`
	CreatedAt        time.Time `json:"createdDateTime"`
}

// ErrRoleInvalid marks a directory role assignment mlgov refuses (the
// message says why).
var ErrRoleInvalid = errors.New("authn: invalid directory role assignment")

// CheckDirectoryRole refuses a role mlgov's directory does not have.
func CheckDirectoryRole(roleDefinitionID string) error {
	if !strings.EqualFold(roleDefinitionID, GlobalAdministratorRole) {
		return fmt.Errorf("%w: the directory role '%s' is not one mlgov's directory has: it has Global Administrator (%s) only", ErrRoleInvalid, clip(roleDefinitionID), GlobalAdministratorRole)
	}
	return nil
}

// AddDirectoryRole gives a user or a service principal of the tenant a
// directory role (directoryScopeId "/").
func (s *Service) AddDirectoryRole(ctx context.Context, tenantID, roleDefinitionID, principalID, scope string) (*DirectoryRoleAssignment, error) {
	tenantID = strings.ToLower(tenantID)
	if err := CheckDirectoryRole(roleDefinitionID); err != nil {
		return nil, err
	}
	if scope != "/" {
		return nil, fmt.Errorf("%w: directoryScopeId '%s': mlgov's directory roles are tenant-wide ('/')", ErrRoleInvalid, clip(scope))
	}
	typ, ok, err := s.ObjectType(ctx, tenantID, principalID)
	if err != nil {
		return nil, err
	}
	if !ok || typ == "Group" {
		return nil, fmt.Errorf("%w: the principal '%s' is no user or service principal of the directory", ErrRoleInvalid, clip(principalID))
	}
	id, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	a := &DirectoryRoleAssignment{ID: id, TenantID: tenantID, RoleDefinitionID: GlobalAdministratorRole, PrincipalID: strings.ToLower(principalID),
		DirectoryScopeID: "/", CreatedAt: s.now()}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		as, err := listCA[DirectoryRoleAssignment](ctx, tx, KindDirectoryRoleAssignment, tenantID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(as, func(x *DirectoryRoleAssignment) bool { return x.PrincipalID == a.PrincipalID }) {
			return fmt.Errorf("authn: the principal %s has the role: %w", a.PrincipalID, store.ErrConflict)
		}
		return putJSON(ctx, tx, KindDirectoryRoleAssignment, tenantID+"/"+id, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DirectoryRoleAssignments lists a tenant's directory role assignments,
// by creation.
func (s *Service) DirectoryRoleAssignments(ctx context.Context, tenantID string) ([]*DirectoryRoleAssignment, error) {
	var out []*DirectoryRoleAssignment
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = listCA[DirectoryRoleAssignment](ctx, tx, KindDirectoryRoleAssignment, tenantID)
		return err
	})
	slices.SortFunc(out, func(a, b *DirectoryRoleAssignment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// DeleteDirectoryRole removes a directory role assignment.
func (s *Service) DeleteDirectoryRole(ctx context.Context, tenantID, id string) error {
	key := strings.ToLower(tenantID) + "/" + strings.ToLower(id)
	return s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindDirectoryRoleAssignment, key); err != nil {
			return fmt.Errorf("authn: directory role assignment %q: %w", clip(id), err)
		}
		return tx.DeleteObject(ctx, KindDirectoryRoleAssignment, key)
	})
}

// HasDirectoryRole reports whether a principal holds a directory role.
func (s *Service) HasDirectoryRole(ctx context.Context, tenantID, principalID, roleDefinitionID string) (bool, error) {
	var has bool
	err := s.st.Read(ctx, func(tx store.Tx) error {
		roles, err := directoryRolesOf(ctx, tx, tenantID, principalID)
		has = containsFold(roles, roleDefinitionID)
		return err
	})
	return has, err
}

// directoryRolesOf returns the role definition ids a principal holds.
func directoryRolesOf(ctx context.Context, tx store.Tx, tenantID, principalID string) ([]string, error) {
	as, err := listCA[DirectoryRoleAssignment](ctx, tx, KindDirectoryRoleAssignment, tenantID)
	if err != nil {
		return nil, err
	}
	roles := []string{}
	for _, a := range as {
		if strings.EqualFold(a.PrincipalID, principalID) {
			roles = append(roles, a.RoleDefinitionID)
		}
	}
	return roles, nil
}

// removeMemberships takes a deleted principal out of its groups and its
// directory roles.
func removeMemberships(ctx context.Context, tx store.Tx, tenantID, principalID string, now time.Time) error {
	if err := leaveGroups(ctx, tx, tenantID, principalID, now); err != nil {
		return err
	}
	return dropDirectoryRoles(ctx, tx, tenantID, principalID)
}

// dropDirectoryRoles removes a deleted principal's directory roles.
func dropDirectoryRoles(ctx context.Context, tx store.Tx, tenantID, principalID string) error {
	objs, err := tx.ListObjects(ctx, KindDirectoryRoleAssignment)
	if err != nil {
		return err
	}
	for _, o := range objs {
		var a DirectoryRoleAssignment
		if json.Unmarshal(o.Body, &a) == nil && strings.EqualFold(a.TenantID, tenantID) && strings.EqualFold(a.PrincipalID, principalID) {
			if err := tx.DeleteObject(ctx, o.Kind, o.Key); err != nil {
				return err
			}
		}
	}
	return nil
}
