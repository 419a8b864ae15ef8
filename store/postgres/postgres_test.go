package postgres_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/postgres"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
	"github.com/mlgov/mlgov/store/storetest"
)

// opener returns a storetest open function: one schema per test, the same
// schema again when a test opens a second time.
func opener() func(t *testing.T) store.Store {
	var mu sync.Mutex
	urls := map[*testing.T]string{}
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		u, ok := urls[t]
		if !ok {
			u = pgtest.SchemaURL(t)
			urls[t] = u
		}
		mu.Unlock()
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}

func TestStore(t *testing.T) {
	pgtest.Server(t)
	storetest.Run(t, opener())
}

// TestConcurrentOpen starts several replicas against one empty schema at
// once: the advisory lock must let exactly one of them apply each
// migration.
func TestConcurrentOpen(t *testing.T) {
	u := pgtest.SchemaURL(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), u)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
		}
	}
	db, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Pool().QueryRow(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("schema_migrations has %d rows, want 1 per migration file (%d)", n, len(files))
	}
}

func TestOpenBadURL(t *testing.T) {
	if _, err := postgres.Open(t.Context(), "postgres://%zz"); err == nil {
		t.Error("Open with a malformed URL succeeded")
	}
}

func BenchmarkStore(b *testing.B) {
	db, err := postgres.Open(b.Context(), pgtest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.Benchmark(b, db)
}

// TestDeadlockRetry makes two Writes lock two resources in opposite
// orders. PostgreSQL aborts one of them with a deadlock (40P01); Write
// must run its fn again and both must succeed.
func TestDeadlockRetry(t *testing.T) {
	u := pgtest.SchemaURL(t)
	db, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	keys := []string{"/a", "/b"}
	if err := db.Write(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.PutResource(ctx, &store.Resource{Key: k, ID: k, TypeKey: "t", Body: []byte("0"), ETag: "e"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	var locked sync.WaitGroup // both hold their first lock
	locked.Add(2)
	var firstRound [2]sync.Once
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		first, second := keys[i], keys[1-i]
		wg.Go(func() {
			errs[i] = db.Write(ctx, func(tx store.Tx) error {
				calls.Add(1)
				if _, err := tx.GetResource(ctx, first, true); err != nil {
					return err
				}
				firstRound[i].Do(func() {
					locked.Done()
					locked.Wait()
				})
				r, err := tx.GetResource(ctx, second, true)
				if err != nil {
					return err
				}
				r.Body = append(r.Body, '+')
				return tx.PutResource(ctx, r)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Write %d: %v", i, err)
		}
	}
	if n := calls.Load(); n < 3 {
		t.Errorf("fn ran %d times, want at least 3 (one retry after the deadlock)", n)
	}
}

// TestScanTasksTwoReplicas: claimers on two stores (two replicas) on one
// schema never get the same scan task (FOR UPDATE SKIP LOCKED).
func TestScanTasksTwoReplicas(t *testing.T) {
	u := pgtest.SchemaURL(t)
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	storetest.ScanTasksConcurrent(t, dbs[0], dbs[1])
}

func BenchmarkPolicyStates(b *testing.B) {
	db, err := postgres.Open(b.Context(), pgtest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkPolicyStates(b, db)
}

// TestFillTotalsMigration: migration 0010 works out the totals of the
// records an older database holds as the store keeps them.
func TestFillTotalsMigration(t *testing.T) {
	u := pgtest.SchemaURL(t)
	db, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	storetest.FillTotalsMigration(t, db, func(t *testing.T) store.Store {
		db.Close()
		conn, err := pgxpool.New(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{`DELETE FROM policy_state_totals`, `DELETE FROM schema_migrations WHERE version = '0010_policy_state_totals_refill'`} {
			if _, err := conn.Exec(t.Context(), stmt); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
		db, err = postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
