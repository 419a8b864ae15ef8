package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newAliasCmd(e *env) *cobra.Command {
	var aliasPaths []string
	c := &cobra.Command{Use: "alias", Short: "List and show policy aliases (mlgov's own plus --aliases catalogs)"}
	c.PersistentFlags().StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog file (repeatable)")
	var typ string
	list := &cobra.Command{
		Use:   "list",
		Short: "List aliases, optionally of one resource type",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalog(aliasPaths)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ALIAS\tPATH\tMODIFIABLE")
			types := cat.Types()
			if typ != "" {
				if _, ok := cat.Type(typ); !ok {
					return fmt.Errorf("no aliases for resource type %q", typ)
				}
				types = []string{typ}
			}
			n := 0
			for _, t := range types {
				for _, a := range cat.AliasesOf(t) {
					fmt.Fprintf(tw, "%s\t%s\t%v\n", a.Name, a.DefaultPath.String(), a.Modifiable)
					n++
				}
			}
			tw.Flush()
			fmt.Fprintf(e.stderr, "%d aliases\n", n)
			return nil
		},
	}
	list.Flags().StringVar(&typ, "type", "", "resource type, e.g. Microsoft.MachineLearningServices/workspaces/computes")
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
