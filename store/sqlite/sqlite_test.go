package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
	"github.com/mlgov/mlgov/store/storetest"
)

// opener returns a storetest open function: one database file per test,
// the same file again when a test opens a second time.
func opener(opts ...sqlite.Option) func(t *testing.T) store.Store {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "mlgov.db")
			paths[t] = path
		}
		mu.Unlock()
		db, err := sqlite.Open(t.Context(), path, opts...)
		if err != nil {
			t.Fatalf("sqlite.Open(%q): %v", path, err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, opener())
}

// TestStoreShared runs the suite WithSharedFile: no committed-resource
// cache, and the sequence counter in the database.
func TestStoreShared(t *testing.T) {
	storetest.Run(t, opener(sqlite.WithSharedFile()))
}

func TestOpenErrors(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db"} {
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.WithSynchronous("OFF")); err == nil {
		t.Error("Open with synchronous=OFF succeeded, want an error")
	}
}

// TestPathCharacters opens a database whose path contains characters
// that mean something in a URI.
func TestPathCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag%20", "my db.sqlite")
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer db.Close()
	if err := db.Write(t.Context(), func(tx store.Tx) error {
		return tx.PutObject(t.Context(), &store.Object{Kind: "k", Key: "k", Body: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	if !fileExists(path) {
		t.Errorf("database file %q was not created", path)
	}
}

// TestSynchronousFull runs the suite's basics with synchronous=FULL.
func TestSynchronousFull(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "full.db"), sqlite.WithSynchronous(sqlite.SyncFull))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(t.Context(), func(tx store.Tx) error {
		return tx.PutObject(t.Context(), &store.Object{Kind: "k", Key: "k", Body: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkStore(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.Benchmark(b, db)
}

// BenchmarkStoreShared is BenchmarkStore without the committed-resource
// cache (WithSharedFile), for comparison.
func BenchmarkStoreShared(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), sqlite.WithSharedFile())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.Benchmark(b, db)
}

// TestOpenLocked: one DB at a time on a file, unless all of them share it.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]sqlite.Option{nil, {sqlite.WithSharedFile()}} {
		if db2, err := sqlite.Open(t.Context(), path, opts...); err == nil {
			db2.Close()
			t.Fatalf("a second Open (%d options) succeeded while the file is open", len(opts))
		} else if !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), "l.db.lock") {
			t.Errorf("second Open: %v, want an error naming the lock", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s1, err := sqlite.Open(t.Context(), path, sqlite.WithSharedFile())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer s1.Close()
	s2, err := sqlite.Open(t.Context(), path, sqlite.WithSharedFile())
	if err != nil {
		t.Fatalf("second shared Open: %v", err)
	}
	defer s2.Close()
	if db3, err := sqlite.Open(t.Context(), path); err == nil {
		db3.Close()
		t.Fatal("an exclusive Open succeeded while the file is shared")
	}
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestChangesNoGap: SQLite commits one transaction at a time, so the
// numbers of its changes have no gaps for the feed to wait for: a Write
// that rolls back gives its numbers back, in a group transaction too, and
// a delete of a missing resource takes none.
func TestChangesNoGap(t *testing.T) {
	for _, opts := range [][]sqlite.Option{nil, {sqlite.WithSharedFile()}} {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gap.db"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		put := func(key string, fail bool) error {
			return db.Write(ctx, func(tx store.Tx) error {
				if err := tx.PutResource(ctx, &store.Resource{Key: key, ID: key, TypeKey: "t", Body: []byte("{}"), ETag: "e"}); err != nil {
					return err
				}
				if err := tx.DeleteResource(ctx, "/missing"); err == nil {
					t.Error("DeleteResource of a missing resource succeeded")
				}
				if fail {
					return errors.New("boom")
				}
				return nil
			})
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { put(fmt.Sprintf("/r%02d", i), i%4 == 1) })
		}
		wg.Wait()
		var cs []*store.Change
		if err := db.Read(ctx, func(tx store.Tx) error {
			cs, err = tx.Changes(ctx, 0, 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(cs) != 15 {
			t.Errorf("%d options: %d changes, want 15", len(opts), len(cs))
		}
		for i, c := range cs {
			if c.Seq != int64(i+1) {
				t.Errorf("%d options: change %d has Seq %d, want %d (no gaps)", len(opts), i, c.Seq, i+1)
			}
		}
		db.Close()
	}
}

func BenchmarkPolicyStates(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkPolicyStates(b, db)
}

// TestFillTotalsMigration: migration 0010 works out the totals of the
// records an older database holds as the store keeps them.
func TestFillTotalsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mlgov.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.FillTotalsMigration(t, db, func(t *testing.T) store.Store {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{`DELETE FROM policy_state_totals`, `DELETE FROM schema_migrations WHERE version = '0010_policy_state_totals_refill'`} {
			if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
				t.Fatal(err)
			}
		}
		raw.Close()
		db, err = sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
