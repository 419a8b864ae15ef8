package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

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
	c := &cobra.Command{Use: "role", Short: "Azure RBAC of a running server: role definitions"}
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
	c.AddCommand(def)
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
