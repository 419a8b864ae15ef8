package feed_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
	"github.com/mlgov/mlgov/store/postgres"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
	"github.com/mlgov/mlgov/store/sqlite"
)

// within bounds every wait for a delivery that must come: far longer than
// any poll interval a test uses except the 1h one, which it must not wait
// for.
const within = 10 * time.Second

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func res(key string) *store.Resource {
	return &store.Resource{Key: key, ID: key, TypeKey: "t/t", SubscriptionKey: "/subscriptions/s", Body: []byte("{}"), ETag: "e"}
}

func putKeys(ctx context.Context, s store.Store, keys ...string) error {
	return s.Write(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.PutResource(ctx, res(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// start runs f until the test ends and waits until it is ready; the
// returned channel gets every change delivered, and an error if batches
// are empty or out of order.
func start(t *testing.T, f *feed.Feed) <-chan *store.Change {
	t.Helper()
	out := make(chan *store.Change, 1000)
	var last int64
	f.Subscribe(func(ctx context.Context, batch []*store.Change) {
		if len(batch) == 0 {
			t.Error("empty batch")
		}
		for _, c := range batch {
			if c.Seq <= last {
				t.Errorf("change %d delivered after %d", c.Seq, last)
			}
			if c.Filler() {
				t.Errorf("filler %d delivered", c.Seq)
			}
			last = c.Seq
			out <- c
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(within):
			t.Error("Run did not return after its context ended")
		}
	})
	select {
	case <-f.Ready():
	case err := <-done:
		t.Fatalf("Run returned %v before it was ready", err)
	case <-time.After(within):
		t.Fatal("the feed did not get ready")
	}
	return out
}

// expect reads the next changes and checks their keys and Deleted flags
// ("-key" for a delete).
func expect(t *testing.T, ch <-chan *store.Change, wait time.Duration, want ...string) []*store.Change {
	t.Helper()
	var got []*store.Change
	for _, w := range want {
		select {
		case c := <-ch:
			got = append(got, c)
			k := c.Key
			if c.Deleted {
				k = "-" + k
			}
			if k != w {
				t.Fatalf("change %d: %s, want %s", len(got), k, w)
			}
		case <-time.After(wait):
			t.Fatalf("after %d of %q: no change within %v", len(got), want, wait)
		}
	}
	return got
}

// expectNone checks that nothing is delivered for d.
func expectNone(t *testing.T, ch <-chan *store.Change, d time.Duration) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("change %d (%s) delivered, want none yet", c.Seq, c.Key)
	case <-time.After(d):
	}
}

// TestNotify: with a poll interval of an hour, changes are delivered
// because the writer calls Notify, without waiting for a poll; puts,
// replaces and deletes, in order; what was written before Run is not.
func TestNotify(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	if err := putKeys(ctx, db, "/before"); err != nil {
		t.Fatal(err)
	}
	f := feed.New(db, feed.Options{Interval: time.Hour})
	ch := start(t, f)
	if err := putKeys(ctx, db, "/a", "/b"); err != nil {
		t.Fatal(err)
	}
	f.Notify()
	got := expect(t, ch, within, "/a", "/b")
	if err := db.Write(ctx, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, res("/a")); err != nil {
			return err
		}
		return tx.DeleteResource(ctx, "/b")
	}); err != nil {
		t.Fatal(err)
	}
	f.Notify()
	got = append(got, expect(t, ch, within, "/a", "-/b")...)
	// Seq moves once the subscribers have returned, a moment after they
	// received the batch.
	for deadline := time.Now().Add(within); f.Seq() != got[len(got)-1].Seq && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if f.Seq() != got[len(got)-1].Seq {
		t.Errorf("Seq() = %d, want %d", f.Seq(), got[len(got)-1].Seq)
	}
	// A Write that fails delivers nothing; Notify without a change neither.
	db.Write(ctx, func(tx store.Tx) error {
		tx.PutResource(ctx, res("/c"))
		return errors.New("boom")
	})
	f.Notify()
	expectNone(t, ch, 100*time.Millisecond)
}

// TestBatches: more changes than Options.Batch come in several batches,
// all of them, in order; a second subscriber gets the same; an
// unsubscribed one gets nothing more.
func TestBatches(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	f := feed.New(db, feed.Options{Interval: time.Hour, Batch: 3})
	var mu sync.Mutex
	var sizes []int
	var other int
	f.Subscribe(func(_ context.Context, b []*store.Change) {
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
	})
	unsub := f.Subscribe(func(_ context.Context, b []*store.Change) {
		mu.Lock()
		other += len(b)
		mu.Unlock()
	})
	unsub()
	ch := start(t, f)
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("/r%02d", i))
	}
	if err := putKeys(ctx, db, keys...); err != nil {
		t.Fatal(err)
	}
	f.Notify()
	expect(t, ch, within, keys...)
	mu.Lock()
	defer mu.Unlock()
	for _, n := range sizes {
		if n > 3 {
			t.Errorf("a batch of %d, want at most 3", n)
		}
	}
	if other != 0 {
		t.Errorf("the unsubscribed function got %d changes", other)
	}
}

// TestRunOnce: a second Run fails; Run returns when its context ends.
func TestRunOnce(t *testing.T) {
	f := feed.New(openSQLite(t), feed.Options{})
	start(t, f) // its cleanup checks that Run returns
	if err := f.Run(t.Context()); err == nil {
		t.Error("a second Run succeeded")
	}
}

// hold starts a Write that puts key and then waits for release (true:
// commit, false: roll back); it returns once the put is done, with the
// Write's result to come on the channel.
func hold(t *testing.T, s store.Store, key string, release <-chan bool) (seq int64, result <-chan error) {
	t.Helper()
	took := make(chan int64, 1)
	res := make(chan error, 1)
	go func() {
		ctx := context.Background()
		res <- s.Write(ctx, func(tx store.Tx) error {
			r := &store.Resource{Key: key, ID: key, TypeKey: "t/t", Body: []byte("{}"), ETag: "e"}
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
			took <- r.Seq
			if !<-release {
				return errors.New("rolled back")
			}
			return nil
		})
	}()
	select {
	case seq = <-took:
	case err := <-res:
		t.Fatalf("held Write: %v", err)
	}
	return seq, res
}

// TestPostgresOutOfOrder: on PostgreSQL a transaction that took a lower
// number commits after one that took a higher one. The feed holds the
// later change back until the earlier commits and then delivers both in
// order: when the earlier one commits within the gap timeout, when it
// commits only after (the fill waits for it), and when it rolls back
// (the fill takes its number; nothing is delivered for it).
func TestPostgresOutOfOrder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gapTimeout time.Duration
		commit     bool
	}{
		{"CommitWithinGapTimeout", 5 * time.Second, true},
		{"CommitAfterGapTimeout", 100 * time.Millisecond, true},
		{"RollBack", 100 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openPostgres(t, pgtest.SchemaURL(t))
			ctx := t.Context()
			f := feed.New(db, feed.Options{Interval: 10 * time.Millisecond, GapTimeout: tc.gapTimeout})
			ch := start(t, f)
			release := make(chan bool, 1)
			t.Cleanup(func() { // before db.Close, which waits for the held Write
				select {
				case release <- false:
				default:
				}
			})
			slowSeq, slow := hold(t, db, "/slow", release)
			fast := res("/fast")
			if err := db.Write(ctx, func(tx store.Tx) error { return tx.PutResource(ctx, fast) }); err != nil {
				t.Fatal(err)
			}
			if fast.Seq <= slowSeq {
				t.Fatalf("the later transaction took %d, not above %d", fast.Seq, slowSeq)
			}
			// Past the gap timeout in two cases: the fill is waiting for
			// the slow transaction.
			expectNone(t, ch, 500*time.Millisecond)
			release <- tc.commit
			err := <-slow
			if tc.commit && err != nil {
				t.Fatalf("held Write: %v", err)
			}
			if tc.commit {
				got := expect(t, ch, within, "/slow", "/fast")
				if got[0].Seq != slowSeq || got[1].Seq != fast.Seq {
					t.Errorf("delivered Seqs %d, %d; want %d, %d", got[0].Seq, got[1].Seq, slowSeq, fast.Seq)
				}
			} else {
				expect(t, ch, within, "/fast")
			}
			expectNone(t, ch, 50*time.Millisecond)
		})
	}
}

// TestReplica: a feed on a second store on the same PostgreSQL schema (a
// second replica) sees a change written through the first within a
// second, with the default poll interval and no Notify.
func TestReplica(t *testing.T) {
	url := pgtest.SchemaURL(t)
	db1, db2 := openPostgres(t, url), openPostgres(t, url)
	ch := start(t, feed.New(db2, feed.Options{}))
	if err := putKeys(t.Context(), db1, "/from-replica-1"); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, time.Second, "/from-replica-1")
}

// TestPrune: Prune deletes the changes older than keep and no others, and
// keeps the newest even when it is old.
func TestPrune(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	keys := make([]string, 2500)
	for i := range keys {
		keys[i] = fmt.Sprintf("/k/%04d", i)
	}
	if err := putKeys(ctx, db, keys...); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		db.Read(ctx, func(tx store.Tx) error {
			cs, err := tx.Changes(ctx, 0, 0)
			n = len(cs)
			return err
		})
		return n
	}
	if n, err := feed.Prune(ctx, db, time.Now(), time.Hour); err != nil || n != 0 || count() != 2500 {
		t.Fatalf("changes younger than keep: pruned %d (%v), %d left", n, err, count())
	}
	n, err := feed.Prune(ctx, db, time.Now().Add(2*time.Hour), time.Hour)
	if err != nil || n != 2499 || count() != 1 {
		t.Fatalf("changes older than keep: pruned %d (%v), %d left; want 2499 and the newest", n, err, count())
	}
}
