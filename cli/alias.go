package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

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
			"and whether Modify may change it, in a table per resource type whose ALIAS column names the\n" +
			"alias after the type (-o json always gives full names, the type and the api-version-specific paths).",
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
			// A table per type, the aliases named after it; the columns
			// are as wide as their cells up to a cap, past which a cell
			// pushes only its own row (one table padded to the longest
			// alias name and path of the catalog would make every row
			// over 250 characters wide).
			for i, t := range types {
				as := cat.AliasesOf(t)
				if len(as) == 0 {
					continue
				}
				indent := ""
				if typ == "" {
					if i > 0 {
						fmt.Fprintln(e.stdout)
					}
					fmt.Fprintln(e.stdout, t)
					indent = "  "
				}
				rows := [][3]string{{"ALIAS", "PATH", "MODIFIABLE"}}
				for _, a := range as {
					name := a.Name
					if len(name) > len(t)+1 && strings.EqualFold(name[:len(t)], t) {
						name = name[len(t)+1:]
					}
					rows = append(rows, [3]string{name, a.DefaultPath.String(), fmt.Sprint(a.Modifiable)})
				}
				writeColumns(e.stdout, indent, rows, 56, 64)
			}
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

// writeColumns prints rows of three cells, the first two padded to the
// widest cell of their column but at most to widths w0 and w1: a longer
// cell is followed by two spaces and makes only its own row wider.
func writeColumns(w io.Writer, indent string, rows [][3]string, w0, w1 int) {
	widths := [2]int{}
	for _, r := range rows {
		for c := range 2 {
			widths[c] = max(widths[c], len(r[c]))
		}
	}
	widths[0], widths[1] = min(widths[0], w0), min(widths[1], w1)
	for _, r := range rows {
		line := indent
		for c := range 2 {
			line += r[c] + strings.Repeat(" ", max(widths[c]-len(r[c]), 0)) + "  "
		}
		fmt.Fprintln(w, line+r[2])
	}
}
