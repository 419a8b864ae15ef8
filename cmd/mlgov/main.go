// Command mlgov is the mlgov control plane and CLI. This is the only place
// that picks concrete stores.
package main

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"strings"

	"github.com/mlgov/mlgov/cli"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/postgres"
	"github.com/mlgov/mlgov/store/sqlite"
)

func openStore(ctx context.Context, url, dataDir string) (store.Store, error) {
	switch {
	case url == "":
		return sqlite.Open(ctx, cli.StoreFile(dataDir))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	case strings.HasPrefix(url, "sqlite://"):
		return sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite://"))
	}
	return nil, fmt.Errorf("--store %q: use postgres://... or sqlite://PATH (or nothing for SQLite in the data directory)", redact(url))
}

// redact hides the password of a URL (error messages end up in logs).
func redact(s string) string {
	if u, err := neturl.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "…" + s[i:] // unparsable: keep only the host part
	}
	return s
}

func main() {
	os.Exit(cli.MainWith(cli.Deps{OpenStore: openStore}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
