package cli

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/internal/uuid"
)

// A policy assignment's managed identity and its roles: what
// `policy assignment create --assign-identity` grants, as the portal and
// az do for DeployIfNotExists and Modify policies: the roles the
// definition (or each of the initiative's definitions) names in
// then.details.roleDefinitionIds, to the assignment's system-assigned
// identity, at the assignment's scope (or --identity-scope).

// definitionRoles returns the role definition GUIDs a definition or
// initiative names (sorted, unique).
func definitionRoles(ctx context.Context, cl *armClient, defID string) ([]string, error) {
	var ids []string
	if strings.Contains(strings.ToLower(defID), "/policysetdefinitions/") {
		b, err := cl.get(ctx, defID+"?api-version="+policyAPIVersion)
		if err != nil {
			return nil, err
		}
		var set struct {
			Properties struct {
				PolicyDefinitions []struct {
					PolicyDefinitionID string `json:"policyDefinitionId"`
				} `json:"policyDefinitions"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, fmt.Errorf("%s: %w", defID, err)
		}
		for _, m := range set.Properties.PolicyDefinitions {
			ids = append(ids, m.PolicyDefinitionID)
		}
	} else {
		ids = []string{defID}
	}
	var roles []string
	for _, id := range ids {
		b, err := cl.get(ctx, id+"?api-version="+policyAPIVersion)
		if err != nil {
			return nil, err
		}
		var def struct {
			Properties struct {
				PolicyRule struct {
					Then struct {
						Details json.RawMessage `json:"details"`
					} `json:"then"`
				} `json:"policyRule"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		var details struct {
			RoleDefinitionIDs []string `json:"roleDefinitionIds"`
		}
		json.Unmarshal(def.Properties.PolicyRule.Then.Details, &details) // details may be an array (Append, Deny): no roles
		for _, r := range details.RoleDefinitionIDs {
			g := r[strings.LastIndexByte(r, '/')+1:]
			if !uuid.Valid(g) {
				return nil, fmt.Errorf("%s: roleDefinitionIds holds '%s', which is not a role definition id", id, r)
			}
			roles = append(roles, strings.ToLower(g))
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// checkRoles refuses, before anything is written, roles the server does
// not know (built-in roles come from serve --role-definitions).
func checkRoles(ctx context.Context, cl *armClient, scope string, roles []string) error {
	var missing []string
	for _, r := range roles {
		id, err := roleID(ctx, cl, scope, r)
		if err != nil {
			return err
		}
		st, _, err := cl.do(ctx, "GET", id+"?api-version="+roleAPIVersion, nil)
		if err != nil {
			return err
		}
		if st == http.StatusNotFound {
			missing = append(missing, r)
		} else if st != http.StatusOK {
			return fmt.Errorf("GET role definition %s: status %d", r, st)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the definition needs the roles %s, which the server does not know (built-in roles come from mlgov serve --role-definitions): nothing was created", strings.Join(missing, ", "))
	}
	return nil
}

// roleAssignmentName is the name of the role assignment of a role to an
// assignment's identity: the same every time for the same three, so
// that running the command again does not make another.
func roleAssignmentName(assignmentID, principalID, role string) string {
	h := sha256.Sum256([]byte(strings.ToLower(assignmentID + "|" + principalID + "|" + role)))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout, name-derived
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// grantRoles gives the assignment's identity its roles at scope; on a
// failure it removes what it made and returns the error.
func grantRoles(ctx context.Context, cl *armClient, assignmentID, principalID, scope string, roles []string) ([]string, error) {
	var made []string
	for _, r := range roles {
		roleDef, err := roleID(ctx, cl, scope, r)
		if err != nil {
			return nil, errors.Join(err, revokeRoles(ctx, cl, made))
		}
		id := scope + "/providers/Microsoft.Authorization/roleAssignments/" + roleAssignmentName(assignmentID, principalID, r)
		body, _ := json.Marshal(map[string]any{"properties": map[string]string{"roleDefinitionId": roleDef, "principalId": principalID, "principalType": "ServicePrincipal",
			"description": "The managed identity of policy assignment " + assignmentID}})
		if _, _, err := cl.call(ctx, "PUT", id+"?api-version="+roleAPIVersion, body); err != nil {
			var ae *armError
			if !errors.As(err, &ae) || ae.Code != "RoleAssignmentExists" {
				return nil, errors.Join(err, revokeRoles(ctx, cl, made))
			}
			continue
		}
		made = append(made, id)
	}
	return made, nil
}

func revokeRoles(ctx context.Context, cl *armClient, ids []string) error {
	var errs []error
	for _, id := range ids {
		if _, _, err := cl.call(ctx, "DELETE", id+"?api-version="+roleAPIVersion, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// scopeOrDefault is --identity-scope, or the assignment's scope.
func scopeOrDefault(identityScope, at string) (string, error) {
	if identityScope == "" {
		return at, nil
	}
	u, err := url.PathUnescape(identityScope)
	if err != nil {
		return "", err
	}
	return scopeArg("identity-scope", u)
}
