package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
)

// roleAPIVersion is what @azure/arm-authorization sends for role
// definitions.
const roleAPIVersion = "2022-04-01"

var roleDefinitionTable = func(w io.Writer, output string) printer {
	return printer{w: w, output: output, header: []string{"NAME", "ROLE NAME", "TYPE", "ACTIONS", "NOT ACTIONS", "DATA ACTIONS"},
		row: func(r map[string]any) []string {
			var a, na, da int
			perms, _ := field2(r, "properties", "permissions").([]any)
			for _, p := range perms {
				m, _ := p.(map[string]any)
				for _, c := range []struct {
					k string
					n *int
				}{{"actions", &a}, {"notActions", &na}, {"dataActions", &da}} {
					l, _ := m[c.k].([]any)
					*c.n += len(l)
				}
			}
			return []string{field(r, "name"), field(r, "properties", "roleName"), field(r, "properties", "type"), fmt.Sprint(a), fmt.Sprint(na), fmt.Sprint(da)}
		}}
}

func newRoleCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "role", Short: "Azure RBAC of a running server: role definitions and assignments"}
	def := &cobra.Command{Use: "definition", Short: "The role definitions a running server serves (built-ins, read-only)"}
	conn := new(connOptions)
	conn.register(def.PersistentFlags())
	var name string
	var custom bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the role definitions, or those of one name (--name)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.open(cmd.Context())
			if err != nil {
				return err
			}
			q := url.Values{"api-version": {roleAPIVersion}}
			switch {
			case name != "" && custom:
				return errors.New("--name and --custom: give one of them (a name names one role, built-in or custom)")
			case name != "":
				q.Set("$filter", "roleName eq '"+strings.ReplaceAll(name, "'", "''")+"'")
			case custom:
				q.Set("$filter", "type eq 'CustomRole'")
			}
			items, err := cl.list(cmd.Context(), "/providers/Microsoft.Authorization/roleDefinitions?"+q.Encode())
			if err != nil {
				return err
			}
			return roleDefinitionTable(e.stdout, conn.output).many(items)
		}),
	}
	list.Flags().StringVar(&name, "name", "", "the role's name, e.g. \"AzureML Data Scientist\"")
	list.Flags().BoolVar(&custom, "custom", false, "custom roles only")
	show := &cobra.Command{
		Use:   "show NAME|ID",
		Short: "Show a role definition by its role name or its GUID",
		Args:  cobra.ExactArgs(1),
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.open(cmd.Context())
			if err != nil {
				return err
			}
			arg := args[0]
			if i := strings.LastIndexByte(arg, '/'); i >= 0 && strings.Contains(strings.ToLower(arg), "/roledefinitions/") {
				arg = arg[i+1:]
			}
			if uuid.Valid(arg) {
				_, b, err := cl.call(cmd.Context(), "GET", "/providers/Microsoft.Authorization/roleDefinitions/"+arg+"?api-version="+roleAPIVersion, nil)
				if err != nil {
					return err
				}
				return roleDefinitionTable(e.stdout, conn.output).one(b)
			}
			q := url.Values{"api-version": {roleAPIVersion}, "$filter": {"roleName eq '" + strings.ReplaceAll(arg, "'", "''") + "'"}}
			items, err := cl.list(cmd.Context(), "/providers/Microsoft.Authorization/roleDefinitions?"+q.Encode())
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return fmt.Errorf("no role definition named %q (mlgov role definition list shows them)", arg)
			}
			if conn.output == "json" {
				return roleDefinitionTable(e.stdout, conn.output).one(items[0])
			}
			return showRole(e.stdout, items[0])
		}),
	}
	def.AddCommand(list, show)
	c.AddCommand(def, newRoleAssignmentCmd(e))
	return c
}

var roleAssignmentTable = func(roles map[string]string) func(w io.Writer, output string) printer {
	return func(w io.Writer, output string) printer {
		return printer{w: w, output: output, header: []string{"NAME", "ROLE", "PRINCIPAL", "PRINCIPAL TYPE", "SCOPE"},
			row: func(r map[string]any) []string {
				role := field(r, "properties", "roleDefinitionId")
				if n := roles[strings.ToLower(role[strings.LastIndexByte(role, '/')+1:])]; n != "" {
					role = n
				}
				return []string{field(r, "name"), role, field(r, "properties", "principalId"), field(r, "properties", "principalType"), field(r, "properties", "scope")}
			}}
	}
}

// roleNames maps the role definitions' GUIDs (lower-cased) to their
// names.
func roleNames(ctx context.Context, cl *armClient) (map[string]string, error) {
	items, err := cl.list(ctx, "/providers/Microsoft.Authorization/roleDefinitions?api-version="+roleAPIVersion)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, raw := range items {
		var d struct {
			Name       string `json:"name"`
			Properties struct {
				RoleName string `json:"roleName"`
			} `json:"properties"`
		}
		if json.Unmarshal(raw, &d) == nil {
			out[strings.ToLower(d.Name)] = d.Properties.RoleName
		}
	}
	return out, nil
}

// roleID resolves --role: a role name, a GUID or a role definition id.
func roleID(ctx context.Context, cl *armClient, scope, role string) (string, error) {
	sub := scope
	if id, err := arm.ParseID(scope); err == nil && id.SubscriptionID != "" {
		sub = "/subscriptions/" + id.SubscriptionID
	}
	if i := strings.LastIndexByte(role, '/'); i >= 0 && strings.Contains(strings.ToLower(role), "/roledefinitions/") {
		role = role[i+1:]
	}
	if uuid.Valid(role) {
		return sub + "/providers/Microsoft.Authorization/roleDefinitions/" + strings.ToLower(role), nil
	}
	q := url.Values{"api-version": {roleAPIVersion}, "$filter": {"roleName eq '" + strings.ReplaceAll(role, "'", "''") + "'"}}
	items, err := cl.list(ctx, sub+"/providers/Microsoft.Authorization/roleDefinitions?"+q.Encode())
	if err != nil {
		return "", err
	}
	if len(items) != 1 {
		return "", fmt.Errorf("--role %q: no role definition has that name (mlgov role definition list shows them)", role)
	}
	var d struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(items[0], &d); err != nil {
		return "", err
	}
	return sub + "/providers/Microsoft.Authorization/roleDefinitions/" + d.Name, nil
}

func newRoleAssignmentCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "assignment", Short: "Role assignments of a running server: who has which role where"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())
	const coll = "/providers/Microsoft.Authorization/roleAssignments"

	var role, assignee, assigneeType, name, scope, rg string
	create := &cobra.Command{
		Use:   "create",
		Short: "Give a principal (user, group or service principal object id) a role at a scope (default: the subscription)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			checks := []error{checkScopeFlags(&scope, rg)}
			if role == "" {
				checks = append(checks, errors.New("--role is required: a role name (\"AzureML Data Scientist\") or GUID"))
			}
			if !uuid.Valid(assignee) {
				checks = append(checks, fmt.Errorf("--assignee %q: give the principal's object id (a GUID)", assignee))
			}
			if name != "" && !uuid.Valid(name) {
				checks = append(checks, fmt.Errorf("--name %q: a role assignment's name is a GUID", name))
			}
			cl, err := conn.open(cmd.Context(), checks...)
			if err != nil {
				return err
			}
			at, err := cl.resolveScope(scope, rg)
			if err != nil {
				return err
			}
			rid, err := roleID(cmd.Context(), cl, at, role)
			if err != nil {
				return err
			}
			props := map[string]any{"roleDefinitionId": rid, "principalId": assignee}
			if assigneeType != "" {
				props["principalType"] = assigneeType
			}
			body, _ := json.Marshal(map[string]any{"properties": props})
			if name == "" {
				name = uuid.New()
			}
			_, b, err := cl.call(cmd.Context(), "PUT", at+coll+"/"+name+"?api-version="+roleAPIVersion, body)
			if err != nil {
				return err
			}
			roles, err := roleNames(cmd.Context(), cl)
			if err != nil {
				return err
			}
			return roleAssignmentTable(roles)(e.stdout, conn.output).one(b)
		}),
	}
	create.Flags().StringVar(&role, "role", "", "the role: its name or GUID")
	create.Flags().StringVar(&assignee, "assignee", "", "object id of the user, group or service principal")
	create.Flags().StringVar(&assigneeType, "assignee-principal-type", "", "User, Group or ServicePrincipal (default: the directory's)")
	create.Flags().StringVarP(&name, "name", "n", "", "the assignment's name, a GUID (default: a new one)")
	addScopeFlags(create.Flags(), &scope, &rg)

	var lScope, lRG, lAssignee string
	var atScope bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the role assignments at, above and below a scope (default: the subscription)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			checks := []error{checkScopeFlags(&lScope, lRG)}
			if lAssignee != "" && !uuid.Valid(lAssignee) {
				checks = append(checks, fmt.Errorf("--assignee %q: give the principal's object id (a GUID)", lAssignee))
			}
			cl, err := conn.open(cmd.Context(), checks...)
			if err != nil {
				return err
			}
			at, err := cl.resolveScope(lScope, lRG)
			if err != nil {
				return err
			}
			var terms []string
			if atScope {
				terms = append(terms, "atScope()")
			}
			if lAssignee != "" {
				terms = append(terms, "assignedTo('"+lAssignee+"')")
			}
			q := url.Values{"api-version": {roleAPIVersion}}
			if len(terms) > 0 {
				q.Set("$filter", strings.Join(terms, " and "))
			}
			items, err := cl.list(cmd.Context(), at+coll+"?"+q.Encode())
			if err != nil {
				return err
			}
			roles, err := roleNames(cmd.Context(), cl)
			if err != nil {
				return err
			}
			return roleAssignmentTable(roles)(e.stdout, conn.output).many(items)
		}),
	}
	addScopeFlags(list.Flags(), &lScope, &lRG)
	list.Flags().StringVar(&lAssignee, "assignee", "", "only the assignments of this object id and of the groups it is a member of")
	list.Flags().BoolVar(&atScope, "at-scope", false, "only the assignments at or above the scope (those that hold there)")

	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a role assignment by its id ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid})",
		Args:  cobra.ExactArgs(1),
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			id, err := arm.ParseID(args[0])
			var check error
			if err != nil || !id.IsResource() || !strings.EqualFold(id.Type(), "Microsoft.Authorization/roleAssignments") {
				check = fmt.Errorf("%q is not a role assignment id ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid}; mlgov role assignment list shows them)", args[0])
			}
			cl, err := conn.open(cmd.Context(), check)
			if err != nil {
				return err
			}
			st, _, err := cl.call(cmd.Context(), "DELETE", args[0]+"?api-version="+roleAPIVersion, nil)
			if err != nil {
				return err
			}
			if st == 204 {
				return fmt.Errorf("no role assignment %s", args[0])
			}
			return nil
		}),
	}
	c.AddCommand(create, list, del)
	return c
}

// showRole prints one role definition with its permissions, one string
// a line.
func showRole(w io.Writer, raw json.RawMessage) error {
	var r struct {
		Name       string `json:"name"`
		Properties struct {
			RoleName, Type, Description string
			AssignableScopes            []string `json:"assignableScopes"`
			Permissions                 []map[string]any
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("the server's answer is not a role definition: %w", err)
	}
	p := r.Properties
	fmt.Fprintf(w, "name:             %s\nroleName:         %s\ntype:             %s\ndescription:      %s\nassignableScopes: %s\n",
		r.Name, p.RoleName, p.Type, p.Description, strings.Join(p.AssignableScopes, ", "))
	for i, perm := range p.Permissions {
		fmt.Fprintf(w, "permissions[%d]:\n", i)
		for _, k := range []string{"actions", "notActions", "dataActions", "notDataActions"} {
			l, _ := perm[k].([]any)
			for _, s := range l {
				fmt.Fprintf(w, "  %-15s %v\n", k+":", s)
			}
		}
	}
	return nil
}
