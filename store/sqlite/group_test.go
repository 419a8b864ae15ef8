package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

func res(key, etag string) *store.Resource {
	return &store.Resource{Key: key, ID: key, TypeKey: "t", Body: []byte(`{"etag":"` + etag + `"}`), ETag: etag}
}

// TestGroupCommit: concurrent Writes share group transactions, yet each
// one commits or rolls back on its own: the writes of failing and
// panicking fns are gone, every other write is there, and Seq numbers
// follow commit order without repeats.
func TestGroupCommit(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"), sqlite.WithGroupCommit(16, 50e6))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	errFail := errors.New("fail")
	const writers, each = 32, 25
	var mu sync.Mutex
	seqs := map[string]int64{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("/r/%02d/%02d", w, i)
				r := res(key, "1")
				func() {
					defer func() {
						if p := recover(); p != nil && (i%7 != 3 || p != "boom") {
							t.Errorf("%s: recovered %v", key, p)
						}
					}()
					err := db.Write(t.Context(), func(tx store.Tx) error {
						if err := tx.PutResource(t.Context(), r); err != nil {
							return err
						}
						switch {
						case i%5 == 1:
							return errFail
						case i%7 == 3:
							panic("boom")
						}
						return nil
					})
					switch {
					case i%5 == 1:
						if !errors.Is(err, errFail) {
							t.Errorf("%s: failing fn: Write returned %v", key, err)
						}
					case err != nil:
						t.Errorf("%s: Write: %v", key, err)
					default:
						mu.Lock()
						seqs[key] = r.Seq
						mu.Unlock()
					}
				}()
			}
		})
	}
	wg.Wait()
	err = db.Read(t.Context(), func(tx store.Tx) error {
		all, err := tx.ListResources(t.Context(), store.ListQuery{KeyPrefix: "/r/"})
		if err != nil {
			return err
		}
		got := map[string]int64{}
		for _, r := range all {
			got[r.Key] = r.Seq
		}
		if len(got) != len(seqs) {
			t.Errorf("%d resources stored, want the %d whose Write succeeded", len(got), len(seqs))
		}
		for k, s := range seqs {
			if got[k] != s {
				t.Errorf("%s: stored Seq %d, Write reported %d", k, got[k], s)
			}
		}
		var all64 []int64
		for _, s := range got {
			all64 = append(all64, s)
		}
		sort.Slice(all64, func(i, j int) bool { return all64[i] < all64[j] })
		for i := 1; i < len(all64); i++ {
			if all64[i] == all64[i-1] {
				t.Errorf("Seq %d used twice", all64[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func etagOf(t *testing.T, db *sqlite.DB, key string) string {
	t.Helper()
	var etag string
	if err := db.Write(t.Context(), func(tx store.Tx) error {
		r, err := tx.GetResource(t.Context(), key, true)
		if err != nil {
			return err
		}
		etag = r.ETag
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return etag
}

// TestWriteCacheRollback: a resource read inside a Write that then fails
// is not remembered as the failed Write left it.
func TestWriteCacheRollback(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(t.Context(), func(tx store.Tx) error { return tx.PutResource(t.Context(), res("/k", "1")) }); err != nil {
		t.Fatal(err)
	}
	if got := etagOf(t, db, "/k"); got != "1" {
		t.Fatalf("etag %q, want 1", got)
	}
	errFail := errors.New("fail")
	err = db.Write(t.Context(), func(tx store.Tx) error {
		if err := tx.PutResource(t.Context(), res("/k", "2")); err != nil {
			return err
		}
		if r, err := tx.GetResource(t.Context(), "/k", false); err != nil || r.ETag != "2" {
			t.Errorf("read own write: %v %v", r, err)
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Write: %v", err)
	}
	if got := etagOf(t, db, "/k"); got != "1" {
		t.Errorf("after the failed Write, etag %q, want 1", got)
	}
	// Deleted resources are not found from memory either.
	if err := db.Write(t.Context(), func(tx store.Tx) error { return tx.DeleteResource(t.Context(), "/k") }); err != nil {
		t.Fatal(err)
	}
	err = db.Write(t.Context(), func(tx store.Tx) error {
		_, err := tx.GetResource(t.Context(), "/k", false)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetResource after delete: %v, want ErrNotFound", err)
	}
}

// TestWriteCacheOtherConnection: a change committed by another process
// (here another DB on the same file, opened with WithSharedFile) is seen
// by the next Write.
func TestWriteCacheOtherConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	db1, err := sqlite.Open(t.Context(), path, sqlite.WithSharedFile())
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	db2, err := sqlite.Open(t.Context(), path, sqlite.WithSharedFile())
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db1.Write(t.Context(), func(tx store.Tx) error { return tx.PutResource(t.Context(), res("/k", "1")) }); err != nil {
		t.Fatal(err)
	}
	if got := etagOf(t, db1, "/k"); got != "1" {
		t.Fatalf("etag %q, want 1", got)
	}
	if err := db2.Write(t.Context(), func(tx store.Tx) error { return tx.PutResource(t.Context(), res("/k", "2")) }); err != nil {
		t.Fatal(err)
	}
	if got := etagOf(t, db1, "/k"); got != "2" {
		t.Errorf("after another connection's write, etag %q, want 2", got)
	}
}
