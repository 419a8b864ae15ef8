package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/store"
)

// defaultSecretLifetime is how long client secrets issued by serve and
// the directory commands are valid unless a flag says otherwise.
const defaultSecretLifetime = authn.DefaultSecretLifetime

// secretLifetime maps a lifetime flag (0: never expires) to
// authn.Config.SecretLifetime and authn.SecretOptions.Lifetime (negative:
// never expires).
func secretLifetime(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// directoryFlags are where the directory commands find the store: as
// serve does.
type directoryFlags struct {
	dataDir, storeURL, storePasswordFile string
}

func (d *directoryFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&d.dataDir, "data", "./mlgov-data", "data directory of mlgov serve (SQLite database, bootstrap.json)")
	f.StringVar(&d.storeURL, "store", "", "store URL: empty for SQLite in the data directory, or postgres://... (env MLGOV_STORE)")
	f.StringVar(&d.storePasswordFile, "store-password-file", "", "file holding the PostgreSQL password (env MLGOV_STORE_PASSWORD and PGPASSWORD also work)")
}

// open opens the store a serve on the same flags uses, offline. It does
// not create one: an SQLite database that does not exist is an error.
func (d *directoryFlags) open(ctx context.Context, e *env, onCmdline bool) (store.Store, string, error) {
	if e.openStore == nil {
		return nil, "", errors.New("this build has no store drivers")
	}
	dataDir, err := filepath.Abs(d.dataDir)
	if err != nil {
		return nil, "", err
	}
	storeURL, err := resolveStoreURL(d.storeURL, onCmdline, d.storePasswordFile, os.Getenv, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if err != nil {
		return nil, "", err
	}
	if storeURL == "" || strings.HasPrefix(storeURL, "sqlite://") {
		db := StoreFile(dataDir)
		if storeURL != "" {
			db = strings.TrimPrefix(storeURL, "sqlite://")
		}
		if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("no store at %s: run mlgov serve --data %s first, or give --data or --store", db, d.dataDir)
		}
	}
	st, err := e.openStore(ctx, storeURL, dataDir)
	if err != nil {
		return nil, "", fmt.Errorf("opening the store (a running mlgov serve holds an SQLite store: stop it first): %w", err)
	}
	return st, dataDir, nil
}

func newDirectoryCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "directory", Short: "Manage the directory: groups and applications of a running server; service principals' credentials offline, against the store"}
	sp := &cobra.Command{Use: "sp", Short: "Service principals (offline, against the store)"}
	cred := &cobra.Command{Use: "credential", Short: "Client secrets of a service principal"}
	cred.AddCommand(newCredentialResetCmd(e))
	sp.AddCommand(cred)
	c.AddCommand(sp, newDirectoryGroupCmd(e), newDirectoryAppCmd(e), newDirectoryUserCmd(e))
	return c
}

// credentialReset is what `directory sp credential reset` prints: az ad
// sp credential reset's fields, without the password when it went into
// bootstrap.json.
type credentialReset struct {
	AppID       string     `json:"appId"`
	Password    string     `json:"password,omitempty"`
	Tenant      string     `json:"tenant"`
	KeyID       string     `json:"keyId"`
	EndDateTime *time.Time `json:"endDateTime"`
	Bootstrap   string     `json:"bootstrap,omitempty"`
}

func newCredentialResetCmd(e *env) *cobra.Command {
	var df directoryFlags
	var id, tenant string
	var expiresIn time.Duration
	var keep bool
	c := &cobra.Command{
		Use:   "reset",
		Short: "Issue a new client secret for a service principal (the administrator by default) and revoke the others",
		Long: "Issues a new client secret for a service principal and removes its other secrets (unless --append),\n" +
			"working on the store directly (stop mlgov serve first when the store is SQLite). The old secrets stop\n" +
			"working at once, and the tokens issued with them are refused (by a running server on a shared\n" +
			"PostgreSQL store within 5 seconds). Without --append, a lockout after failed sign-ins is lifted.\n\n" +
			"For the administrator (the default), the new secret is written into DIR/bootstrap.json (0600) and\n" +
			"not printed; for another service principal (--id) it is printed as az ad sp credential reset does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if expiresIn < 0 {
				return fmt.Errorf("--expires-in %s: want a positive duration, or 0 for a secret that does not expire", expiresIn)
			}
			ctx := cmd.Context()
			st, dataDir, err := df.open(ctx, e, cmd.Flags().Changed("store"))
			if err != nil {
				return err
			}
			defer st.Close()
			state, err := readBootstrapState(ctx, st)
			if err != nil {
				return err
			}
			if id == "" {
				if state == nil {
					return errors.New("the store has no administrator (no mlgov serve has started on it): give --id and --tenant")
				}
				id = state.ClientID
			}
			if tenant == "" {
				if state == nil {
					return errors.New("give --tenant: the store has no bootstrap tenant")
				}
				tenant = state.TenantID
			}
			admin := state != nil && strings.EqualFold(id, state.ClientID) && strings.EqualFold(tenant, state.TenantID)
			path := filepath.Join(dataDir, "bootstrap.json")
			var bs *Bootstrap
			if admin {
				// Where the secret goes is settled before the old ones are
				// revoked.
				_, old, err := readBootstrapFile(path)
				switch {
				case err != nil || old == nil:
					bs = &Bootstrap{TenantID: state.TenantID, SubscriptionID: state.SubscriptionID, ClientID: state.ClientID}
				case !strings.EqualFold(old.ClientID, state.ClientID) || !strings.EqualFold(old.TenantID, state.TenantID):
					return fmt.Errorf("%s names administrator %s of tenant %s, but the store's administrator is %s of tenant %s: the file belongs to another store; move it away (nothing was changed)",
						path, old.ClientID, old.TenantID, state.ClientID, state.TenantID)
				default:
					bs = old
				}
			}
			// Issuer: tokens are neither issued nor verified here.
			idsvc := authn.New(st, authn.Config{Issuer: authn.IssuerAt("https://localhost")})
			secret, pc, err := idsvc.ResetClientSecret(ctx, tenant, id, authn.SecretOptions{Lifetime: secretLifetime(expiresIn), Keep: keep})
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no service principal with client id %s in tenant %s", id, tenant)
			} else if err != nil {
				return err
			}
			out := credentialReset{AppID: id, Tenant: strings.ToLower(tenant), KeyID: pc.KeyID}
			if !pc.End.IsZero() {
				out.EndDateTime = &pc.End
			}
			var werr error
			if admin {
				bs.ClientSecret = secret
				if werr = writeBootstrap(path, bs); werr == nil {
					out.Bootstrap = path
				}
			}
			if out.Bootstrap == "" {
				out.Password = secret
			}
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Fprintln(e.stdout, string(b))
			if werr != nil {
				return fmt.Errorf("writing %s: %w (the new secret is printed above: keep it, the old ones are revoked)", path, werr)
			}
			return nil
		},
	}
	df.register(c)
	f := c.Flags()
	f.StringVar(&id, "id", "", "client (application) id of the service principal (default: the administrator)")
	f.StringVar(&tenant, "tenant", "", "tenant id (default: the store's bootstrap tenant)")
	f.DurationVar(&expiresIn, "expires-in", defaultSecretLifetime, "how long the new secret is valid (0: it does not expire)")
	f.BoolVar(&keep, "append", false, "keep the other secrets (rotation with overlap: remove the old one later)")
	return c
}

// readBootstrapState reads what the store remembers of serve's first
// start (nil if there was none).
func readBootstrapState(ctx context.Context, st store.Store) (*bootstrapState, error) {
	var state *bootstrapState
	err := st.Read(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, "bootstrap", "state")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		state = &bootstrapState{}
		return json.Unmarshal(o.Body, state)
	})
	return state, err
}

// warnAdminSecretExpiry logs a warning at start when none of the
// administrator's secrets is valid for more than 30 days.
func warnAdminSecretExpiry(ctx context.Context, idsvc *authn.Service, bs *Bootstrap, now time.Time, log *slog.Logger) {
	sp, err := idsvc.ServicePrincipal(ctx, bs.TenantID, bs.ClientID)
	if err != nil {
		return
	}
	var last time.Time
	for _, c := range sp.PasswordCredentials {
		if c.End.IsZero() {
			return
		}
		if c.End.After(last) {
			last = c.End
		}
	}
	switch {
	case last.IsZero():
	case !now.Before(last):
		log.Warn("the administrator's client secret has expired: run mlgov directory sp credential reset (with the server stopped, on SQLite) or start with --reset-admin-secret", "clientId", bs.ClientID, "expired", last)
	case last.Sub(now) < 30*24*time.Hour:
		log.Warn("the administrator's client secret expires soon: run mlgov directory sp credential reset (with the server stopped, on SQLite) or start with --reset-admin-secret", "clientId", bs.ClientID, "expires", last)
	}
}
