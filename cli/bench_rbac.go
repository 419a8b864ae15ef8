package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/mlgov/mlgov/internal/uuid"
)

// readerRole is the built-in Reader role's GUID.
const readerRole = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

// assignRoles gives n principals (new object ids, principalType
// ServicePrincipal: principals the directory does not hold, as Azure
// accepts them) the Reader role, spread over the subscription, the
// bench's resource group and its workspace, for the run: the tenant's
// role assignments that every request's authorization looks past. It
// returns the assignments' paths, for removal.
func (c *benchClient) assignRoles(ctx context.Context, sub, rg, ws string, n int, logw io.Writer) ([]string, error) {
	fmt.Fprintf(logw, "bench: creating %d role assignments\n", n)
	scopes := []string{"/subscriptions/" + sub, rg, ws}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = scopes[i%len(scopes)] + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.New() + "?api-version=" + roleAPIVersion
	}
	body := func() []byte {
		return []byte(`{"properties":{"roleDefinitionId":"/subscriptions/` + sub + `/providers/Microsoft.Authorization/roleDefinitions/` + readerRole +
			`","principalId":"` + uuid.New() + `","principalType":"ServicePrincipal"}}`)
	}
	err := parallel(ctx, 16, n, func(i int) error {
		st, _, b, err := c.do(ctx, "PUT", paths[i], body(), false)
		if err != nil || st != 201 {
			return setupErr(fmt.Sprintf("creating role assignment %d", i), st, b, err)
		}
		return nil
	})
	return paths, err
}

// unassignRoles removes the role assignments assignRoles made.
func (c *benchClient) unassignRoles(ctx context.Context, paths []string) {
	parallel(ctx, 16, len(paths), func(i int) error {
		c.do(ctx, "DELETE", paths[i], nil, false)
		return nil
	})
}
