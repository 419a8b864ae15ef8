package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
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
	root.AddCommand(newPolicyCmd(e), newAliasCmd(e), newVersionCmd(e), newServeCmd(e), newActivityCmd(e), newBenchCmd(e))
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
