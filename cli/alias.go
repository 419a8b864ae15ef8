package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/suggest"
)

func newAliasCmd(e *env) *cobra.Command {
	var aliasPaths []string
	c := &cobra.Command{Use: "alias", Short: "List and show policy aliases (mlgov's own plus --aliases catalogs)"}
	c.PersistentFlags().StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog file (repeatable)")
	var typ, output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List aliases, optionally of one resource type",
		Long: "Lists the aliases of the catalogs (mlgov's own plus --aliases): the alias, its default path\n" +
			"and whether Modify may change it. With --type, the ALIAS column names the alias after the type\n" +
			"(-o json always gives full names, the type and the api-version-specific paths).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			cat, err := loadCatalog(aliasPaths)
			if err != nil {
				return err
			}
			types := cat.Types()
			if typ != "" {
				rt, ok := cat.Type(typ)
				if !ok {
					msg := fmt.Sprintf("no aliases for resource type %q", typ)
					if near := suggest.Nearest(typ, types, 3, 4); len(near) > 0 {
						msg += "; did you mean " + strings.Join(quoteAll(near), " or ") + "?"
					}
					return errors.New(msg)
				}
				types = []string{rt.Name}
			}
			var all []*alias.Alias
			for _, t := range types {
				all = append(all, cat.AliasesOf(t)...)
			}
			if output == "json" {
				out := make([]aliasJSON, len(all))
				for i, a := range all {
					out[i] = toAliasJSON(a)
				}
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ALIAS\tPATH\tMODIFIABLE")
			for _, a := range all {
				name := a.Name
				if typ != "" && len(name) > len(types[0])+1 && strings.EqualFold(name[:len(types[0])], types[0]) {
					name = name[len(types[0])+1:]
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\n", name, a.DefaultPath.String(), a.Modifiable)
			}
			tw.Flush()
			fmt.Fprintf(e.stderr, "%d aliases\n", len(all))
			return nil
		},
	}
	list.Flags().StringVar(&typ, "type", "", "resource type, e.g. Microsoft.MachineLearningServices/workspaces/computes")
	list.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one alias: its resource type, default path and api-version-specific paths",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalog(aliasPaths)
			if err != nil {
				return err
			}
			a, ok := cat.Lookup(args[0])
			if !ok {
				return fmt.Errorf("unknown alias %q", args[0])
			}
			fmt.Fprintf(e.stdout, "name:         %s\nresourceType: %s\ndefaultPath:  %s\nmodifiable:   %v\n", a.Name, a.ResourceType, a.DefaultPath.String(), a.Modifiable)
			for _, p := range a.Paths {
				fmt.Fprintf(e.stdout, "path:         %s (api-versions %s)\n", p.Path.String(), strings.Join(p.APIVersions, ", "))
			}
			return nil
		},
	}
	c.AddCommand(list, show)
	return c
}

// aliasJSON is an alias as alias list -o json prints it.
type aliasJSON struct {
	Name         string          `json:"name"`
	ResourceType string          `json:"resourceType"`
	DefaultPath  string          `json:"defaultPath"`
	Modifiable   bool            `json:"modifiable"`
	Paths        []aliasPathJSON `json:"paths,omitempty"`
}

type aliasPathJSON struct {
	Path        string   `json:"path"`
	APIVersions []string `json:"apiVersions"`
}

func toAliasJSON(a *alias.Alias) aliasJSON {
	out := aliasJSON{Name: a.Name, ResourceType: a.ResourceType, DefaultPath: a.DefaultPath.String(), Modifiable: a.Modifiable}
	for _, p := range a.Paths {
		out.Paths = append(out.Paths, aliasPathJSON{Path: p.Path.String(), APIVersions: p.APIVersions})
	}
	return out
}
