package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/policy/suggest"
)

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// env is what every command writes to.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	openStore      StoreOpener
}

// Deps are the concrete pieces cmd/mlgov wires in.
type Deps struct {
	OpenStore StoreOpener
}

// Main runs the CLI with args (without the program name) and returns the
// exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainWith(Deps{}, args, stdin, stdout, stderr)
}

// MainWith is Main with the concrete dependencies (stores) supplied.
func MainWith(d Deps, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, openStore: d.OpenStore}
	root := &cobra.Command{
		Use:           "mlgov",
		Short:         "mlgov: a governance control plane for machine-learning platforms (Azure Policy compatible)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newPolicyCmd(e), newAliasCmd(e), newVersionCmd(e), newServeCmd(e), newActivityCmd(e), newBenchCmd(e), newDirectoryCmd(e), newRoleCmd(e), newRunnerCmd(e), newEgressCmd(e), newDeploymentCmd(e), newLoginCmd(e), newLogoutCmd(e), newSecurityCmd(e), newLandingZoneCmd(e))
	refuseUnknownSubcommands(root)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", err)
	return 2
}

// refuseUnknownSubcommands makes every command under root that only
// groups subcommands refuse a word that names none of them ("mlgov
// policy evaluate"), with cobra's suggestions, instead of printing its
// help and exiting 0; without a word it prints its help. (cobra checks
// the words of the root command only.)
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
		if !c.HasSubCommands() || c.Runnable() {
			continue
		}
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := suggestCommands(cmd, args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			} else {
				msg += "; run '" + cmd.CommandPath() + " --help' for its commands"
			}
			return errors.New(msg)
		}
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
}

// suggestCommands returns the names of cmd's subcommands (and aliases)
// that typed may have meant: within two edits of it, or one a prefix of
// the other ("evaluate" for eval, "lst" for list).
func suggestCommands(cmd *cobra.Command, typed string) []string {
	typed = strings.ToLower(typed)
	var out []string
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		for _, name := range append([]string{c.Name()}, c.Aliases...) {
			n := strings.ToLower(name)
			prefix := len(typed) >= 3 && len(n) >= 3 && (strings.HasPrefix(n, typed) || strings.HasPrefix(typed, n))
			if prefix || suggest.Distance(typed, n) <= 2 {
				out = append(out, c.Name())
				break
			}
		}
	}
	return out
}

// Version is set at build time with -ldflags "-X github.com/mlgov/mlgov/cli.Version=...".
var Version = "dev"

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the mlgov version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(e.stdout, "mlgov", Version)
			return nil
		},
	}
}
