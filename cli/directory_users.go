package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Users of a running server's directory, through its Graph API: create
// (the password from a file or standard input, never an argument),
// list, delete, end their sessions, reset their authenticator app.

var userTable = func(w io.Writer, output string) printer {
	return printer{w: w, output: output, header: []string{"ID", "USER PRINCIPAL NAME", "DISPLAY NAME", "ENABLED"},
		row: func(r map[string]any) []string {
			return []string{field(r, "id"), field(r, "userPrincipalName"), field(r, "displayName"), field(r, "accountEnabled")}
		}}
}

// readPassword reads a password: the first line of a file, or of
// standard input with "-".
func readPassword(e *env, path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-file: no password on its first line")
	}
	return pw, nil
}

func newDirectoryUserCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Users of a running server (its Graph API)"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())
	var display, pwFile string
	create := graphCommand(e, conn, "create USER_PRINCIPAL_NAME", "Create a user with a password (read from --password-file, - for standard input)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *armClient, args []string) error {
		if pwFile == "" {
			return errors.New("--password-file is required (- reads standard input)")
		}
		pw, err := readPassword(e, pwFile)
		if err != nil {
			return err
		}
		name := display
		if name == "" {
			name, _, _ = strings.Cut(args[0], "@")
		}
		body, _ := json.Marshal(map[string]any{"accountEnabled": true, "displayName": name, "mailNickname": nickname(name),
			"userPrincipalName": args[0], "passwordProfile": map[string]any{"password": pw, "forceChangePasswordNextSignIn": false}})
		_, b, err := cl.call(cmd.Context(), "POST", "/v1.0/users", body)
		if err != nil {
			return err
		}
		return userTable(e.stdout, conn.output).one(b)
	})
	create.Flags().StringVar(&display, "display-name", "", "the user's display name (default: the name before @)")
	create.Flags().StringVar(&pwFile, "password-file", "", "file whose first line is the password; - reads standard input")
	list := graphCommand(e, conn, "list", "List the users", cobra.NoArgs, func(cmd *cobra.Command, cl *armClient, args []string) error {
		items, err := cl.list(cmd.Context(), "/v1.0/users")
		if err != nil {
			return err
		}
		return userTable(e.stdout, conn.output).many(items)
	})
	del := graphCommand(e, conn, "delete USER", "Delete a user (by object id or user principal name): its tokens stop working", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *armClient, args []string) error {
		_, _, err := cl.call(cmd.Context(), "DELETE", "/v1.0/users/"+url.PathEscape(args[0]), nil)
		return err
	})
	revoke := graphCommand(e, conn, "revoke-sessions USER", "End all the user's sign-in sessions: refresh tokens, browser sessions and access tokens stop working", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *armClient, args []string) error {
		_, _, err := cl.call(cmd.Context(), "POST", "/v1.0/users/"+url.PathEscape(args[0])+"/revokeSignInSessions", []byte("{}"))
		return err
	})
	resetMFA := graphCommand(e, conn, "reset-mfa USER", "Remove the user's authenticator app: the next sign-in that needs MFA enrols a new one", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *armClient, args []string) error {
		items, err := cl.list(cmd.Context(), "/v1.0/users/"+url.PathEscape(args[0])+"/authentication/softwareOathMethods")
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("%s has no authenticator app", args[0])
		}
		var m struct{ ID string }
		if err := json.Unmarshal(items[0], &m); err != nil {
			return err
		}
		_, _, err = cl.call(cmd.Context(), "DELETE", "/v1.0/users/"+url.PathEscape(args[0])+"/authentication/softwareOathMethods/"+m.ID, nil)
		return err
	})
	c.AddCommand(create, list, del, revoke, resetMFA)
	return c
}
