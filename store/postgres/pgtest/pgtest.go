// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema on the server every development and CI machine runs at
// 127.0.0.1:5432, dropped when the test ends, or a visible skip when no
// server is reachable. It is imported only by tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testURLs are tried in order unless MLGOV_TEST_POSTGRES_URL is set.
var testURLs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
}

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// Server returns the URL of a reachable test server, or skips t.
func Server(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		urls := testURLs
		if u := os.Getenv("MLGOV_TEST_POSTGRES_URL"); u != "" {
			urls = []string{u}
		}
		var errs []string
		for _, u := range urls {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn, err := pgx.Connect(ctx, u)
			if err == nil {
				err = conn.Ping(ctx)
				conn.Close(ctx)
			}
			cancel()
			if err == nil {
				serverURL = u
				return
			}
			errs = append(errs, fmt.Sprintf("%s: %v", u, err))
		}
		serverErr = fmt.Errorf("PostgreSQL unreachable (set MLGOV_TEST_POSTGRES_URL): %v", errs)
	})
	if serverErr != nil {
		t.Skip(serverErr)
	}
	return serverURL
}

// SchemaURL creates a fresh schema for t, dropped at the end of the test,
// and returns a URL whose connections use it.
func SchemaURL(t testing.TB) string {
	t.Helper()
	base := Server(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "mlgov_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}
