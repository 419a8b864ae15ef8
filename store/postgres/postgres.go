package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mlgov/mlgov/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key every migration
// transaction takes first ("mlgov" in ASCII).
const migrationLock int64 = 0x6d6c676f76

// maxAttempts bounds how often Write runs fn when PostgreSQL reports a
// serialization failure or a deadlock.
const maxAttempts = 5

// DB is a store.Store on a PostgreSQL database. It is safe for concurrent
// use.
type DB struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; pgxpool's pool_* parameters size the pool, and
// search_path selects the schema the tables live in) and brings the
// schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool after the transactions in flight have finished.
// Using the DB afterwards returns store.ErrClosed; closing it again does
// nothing.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.pool.Close()
	return nil
}

// Pool returns the underlying pool (for metrics and for tests).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

var (
	readOptions  = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	writeOptions = pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
)

// Read runs fn in a REPEATABLE READ, READ ONLY transaction: fn sees one
// consistent snapshot.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, readOptions, fn)
}

// Write runs fn in a READ COMMITTED transaction and commits it if fn
// returns nil. On a serialization failure or deadlock the transaction is
// rolled back and fn runs again, at most maxAttempts times in all.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.run(ctx, writeOptions, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		// Back off 2, 4, 8, ... ms with jitter, so that the two sides of a
		// deadlock do not meet again at once.
		d := time.Duration(1<<attempt) * time.Millisecond
		d += rand.N(d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return err
		}
	}
}

// retryable reports whether err is a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

func (db *DB) run(ctx context.Context, opts pgx.TxOptions, fn func(store.Tx) error) error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	ptx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return db.wrap(ctx, "begin", err)
	}
	done := false
	defer func() {
		if !done { // fn failed or panicked, or Commit failed
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			ptx.Rollback(rctx)
		}
	}()
	if err := fn(newTx(ptx, opts.AccessMode != pgx.ReadOnly)); err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return db.wrap(ctx, "commit", err)
	}
	done = true
	return nil
}

func (db *DB) wrap(ctx context.Context, op string, err error) error {
	if db.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	return wrapErr(ctx, op, err)
}

// wrapErr annotates a driver error, making context errors visible to
// errors.Is.
func wrapErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("postgres: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, in file-name order, one transaction per file. Each
// transaction first takes the advisory lock, so replicas starting at the
// same time apply every file once, one after the other.
func migrate(ctx context.Context, pool *pgxpool.Pool) error { return migrateBefore(ctx, pool, "") }

// migrateBefore applies the migrations whose file names sort before
// before (all of them if it is empty).
func migrateBefore(ctx context.Context, pool *pgxpool.Pool, before string) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if before != "" && path.Base(name) >= before {
			break
		}
		if err := migrateFile(ctx, pool, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func migrateFile(ctx context.Context, pool *pgxpool.Pool, name string) error {
	version := strings.TrimSuffix(path.Base(name), ".sql")
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    TEXT        NOT NULL PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL
		)`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		// No arguments: pgx sends it with the simple protocol, which
		// allows several statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			version, time.Now().UTC())
		return err
	})
}
