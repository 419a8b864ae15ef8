package cli

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/internal/uuid"
)

// The directory of a running server, through its Graph API (package
// graph) with the administrator's credentials: groups and their members,
// applications with their secret and service principal.

var groupTable = func(w io.Writer, output string) printer {
	return printer{w: w, output: output, header: []string{"ID", "DISPLAY NAME", "DESCRIPTION"},
		row: func(r map[string]any) []string {
			return []string{field(r, "id"), field(r, "displayName"), field(r, "description")}
		}}
}

var memberTable = func(w io.Writer, output string) printer {
	return printer{w: w, output: output, header: []string{"ID", "TYPE", "DISPLAY NAME", "APP ID"},
		row: func(r map[string]any) []string {
			t := field(r, "@odata.type")
			if len(t) > len("#microsoft.graph.") {
				t = t[len("#microsoft.graph."):]
			}
			return []string{field(r, "id"), t, field(r, "displayName"), field(r, "appId")}
		}}
}

var appTable = func(w io.Writer, output string) printer {
	return printer{w: w, output: output, header: []string{"APP ID", "OBJECT ID", "DISPLAY NAME", "ENABLED"},
		row: func(r map[string]any) []string {
			return []string{field(r, "appId"), field(r, "id"), field(r, "displayName"), field(r, "accountEnabled")}
		}}
}

// graphArgs checks that the arguments are object ids (GUIDs).
func graphArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return fmt.Errorf("want %d argument(s): %v", len(names), names)
		}
		for i, a := range args {
			if !uuid.Valid(a) {
				return fmt.Errorf("%s %q is not an object id (a GUID)", names[i], a)
			}
		}
		return nil
	}
}

// graphCommand is a command of the Graph API: its RunE gets a client
// with a token for the directory.
func graphCommand(e *env, conn *connOptions, use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, cl *armClient, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.openFor(cmd.Context(), graphScope)
			if err != nil {
				return err
			}
			return run(cmd, cl, args)
		})}
}

func newDirectoryGroupCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "group", Short: "Security groups of a running server (its Graph API)"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())
	var desc string
	create := graphCommand(e, conn, "create NAME", "Create a security group", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *armClient, args []string) error {
		body, _ := json.Marshal(map[string]any{"displayName": args[0], "description": desc, "mailEnabled": false, "mailNickname": nickname(args[0]), "securityEnabled": true})
		_, b, err := cl.call(cmd.Context(), "POST", "/v1.0/groups", body)
		if err != nil {
			return err
		}
		return groupTable(e.stdout, conn.output).one(b)
	})
	create.Flags().StringVar(&desc, "description", "", "the group's description")
	list := graphCommand(e, conn, "list", "List the groups", cobra.NoArgs, func(cmd *cobra.Command, cl *armClient, args []string) error {
		items, err := cl.list(cmd.Context(), "/v1.0/groups")
		if err != nil {
			return err
		}
		return groupTable(e.stdout, conn.output).many(items)
	})
	del := graphCommand(e, conn, "delete GROUP_ID", "Delete a group (its role assignments stay, naming no one)", graphArgs("GROUP_ID"), func(cmd *cobra.Command, cl *armClient, args []string) error {
		_, _, err := cl.call(cmd.Context(), "DELETE", "/v1.0/groups/"+args[0], nil)
		return err
	})
	member := &cobra.Command{Use: "member", Short: "Members of a group: service principals and groups, by object id"}
	add := graphCommand(e, conn, "add GROUP_ID MEMBER_ID", "Add a member", graphArgs("GROUP_ID", "MEMBER_ID"), func(cmd *cobra.Command, cl *armClient, args []string) error {
		body, _ := json.Marshal(map[string]string{"@odata.id": cl.bs.Endpoint + "/v1.0/directoryObjects/" + args[1]})
		_, _, err := cl.call(cmd.Context(), "POST", "/v1.0/groups/"+args[0]+"/members/$ref", body)
		return err
	})
	remove := graphCommand(e, conn, "remove GROUP_ID MEMBER_ID", "Remove a member", graphArgs("GROUP_ID", "MEMBER_ID"), func(cmd *cobra.Command, cl *armClient, args []string) error {
		_, _, err := cl.call(cmd.Context(), "DELETE", "/v1.0/groups/"+args[0]+"/members/"+args[1]+"/$ref", nil)
		return err
	})
	mlist := graphCommand(e, conn, "list GROUP_ID", "List the members", graphArgs("GROUP_ID"), func(cmd *cobra.Command, cl *armClient, args []string) error {
		items, err := cl.list(cmd.Context(), "/v1.0/groups/"+args[0]+"/members")
		if err != nil {
			return err
		}
		return memberTable(e.stdout, conn.output).many(items)
	})
	member.AddCommand(add, remove, mlist)
	c.AddCommand(create, list, del, member)
	return c
}

// nickname makes a mailNickname of a display name (its letters and
// digits).
func nickname(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name) && len(b) < 64; i++ {
		if c := name[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "group"
	}
	return string(b)
}

// appCreated is what `directory app create` prints: az ad sp
// create-for-rbac's fields, and the service principal's object id (what
// role assignments name).
type appCreated struct {
	AppID       string `json:"appId"`
	ObjectID    string `json:"objectId"`
	DisplayName string `json:"displayName"`
	Password    string `json:"password,omitempty"`
	Tenant      string `json:"tenant"`
	// Thumbprint is the certificate's SHA-1 thumbprint (--cert).
	Thumbprint string `json:"certificateThumbprint,omitempty"`
}

// readCertificate reads the first certificate of a PEM file (a private
// key beside it is neither read nor sent).
func readCertificate(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--cert: %w", err)
	}
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			return nil, fmt.Errorf("--cert %s: no PEM CERTIFICATE block", path)
		}
		if b.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return nil, fmt.Errorf("--cert %s: %w", path, err)
			}
			return b.Bytes, nil
		}
	}
}

// callJSON sends a request and decodes the answer into out.
func callJSON(cmd *cobra.Command, cl *armClient, method, path string, body any, out any) error {
	b, _ := json.Marshal(body)
	_, resp, err := cl.call(cmd.Context(), method, path, b)
	if err != nil {
		return err
	}
	return json.Unmarshal(resp, out)
}

func newDirectoryAppCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "app", Short: "Applications and their service principals of a running server (its Graph API)"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())
	var certFile string
	create := graphCommand(e, conn, "create NAME", "Create an application with a client secret (printed once) or a certificate (--cert), and its service principal", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *armClient, args []string) error {
		var certDER []byte
		if certFile != "" {
			var err error
			if certDER, err = readCertificate(certFile); err != nil {
				return err
			}
		}
		var app struct{ ID, AppID, DisplayName string }
		var pw struct {
			SecretText string `json:"secretText"`
		}
		var sp struct{ ID string }
		body := map[string]any{"displayName": args[0]}
		if certDER != nil {
			body["keyCredentials"] = []any{map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": "mlgov directory app create",
				"key": base64.StdEncoding.EncodeToString(certDER)}}
		}
		if err := callJSON(cmd, cl, "POST", "/v1.0/applications", body, &app); err != nil {
			return err
		}
		if certDER == nil {
			if err := callJSON(cmd, cl, "POST", "/v1.0/applications/"+app.ID+"/addPassword", map[string]any{"passwordCredential": map[string]string{"displayName": "mlgov directory app create"}}, &pw); err != nil {
				return err
			}
		}
		if err := callJSON(cmd, cl, "POST", "/v1.0/servicePrincipals", map[string]string{"appId": app.AppID}, &sp); err != nil {
			return err
		}
		created := appCreated{AppID: app.AppID, ObjectID: sp.ID, DisplayName: app.DisplayName, Password: pw.SecretText, Tenant: cl.bs.TenantID}
		if certDER != nil {
			h := sha1.Sum(certDER)
			created.Thumbprint = strings.ToUpper(hex.EncodeToString(h[:]))
		}
		out, _ := json.MarshalIndent(created, "", "  ")
		_, err := fmt.Fprintf(e.stdout, "%s\n", out)
		return err
	})
	create.Flags().StringVar(&certFile, "cert", "", "PEM file of the certificate whose private key the application signs in with (instead of a client secret)")
	list := graphCommand(e, conn, "list", "List the service principals", cobra.NoArgs, func(cmd *cobra.Command, cl *armClient, args []string) error {
		items, err := cl.list(cmd.Context(), "/v1.0/servicePrincipals")
		if err != nil {
			return err
		}
		return appTable(e.stdout, conn.output).many(items)
	})
	del := graphCommand(e, conn, "delete APP_ID", "Delete an application and its service principal (its tokens stop working)", graphArgs("APP_ID"), func(cmd *cobra.Command, cl *armClient, args []string) error {
		items, err := cl.list(cmd.Context(), "/v1.0/applications?"+url.Values{"$filter": {"appId eq '" + args[0] + "'"}}.Encode())
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errors.New("no application has the app id " + args[0] + " (mlgov directory app list shows them)")
		}
		var app struct{ ID string }
		if err := json.Unmarshal(items[0], &app); err != nil {
			return err
		}
		_, _, err = cl.call(cmd.Context(), "DELETE", "/v1.0/applications/"+app.ID, nil)
		return err
	})
	c.AddCommand(create, list, del)
	return c
}
