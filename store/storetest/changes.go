package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mlgov/mlgov/store"
)

// changes reads the changes after afterSeq (limit 0: all of them).
func changes(t testing.TB, s store.Store, afterSeq int64, limit int) []*store.Change {
	t.Helper()
	var out []*store.Change
	read(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.Changes(context.Background(), afterSeq, limit)
		return err
	})
	return out
}

func lastChangeSeq(t testing.TB, s store.Store) int64 {
	t.Helper()
	var seq int64
	read(t, s, func(tx store.Tx) error {
		var err error
		seq, err = tx.LastChangeSeq(context.Background())
		return err
	})
	return seq
}

// change is what a test expects of a store.Change (its Time is checked
// apart).
func change(seq int64, r *store.Resource, deleted bool) *store.Change {
	return &store.Change{Seq: seq, Key: r.Key, TypeKey: r.TypeKey, SubscriptionKey: r.SubscriptionKey, Deleted: deleted}
}

var ignoreChangeTime = cmpopts.IgnoreFields(store.Change{}, "Time")

// testChanges: every PutResource (create, replace) and DeleteResource
// records a change in its transaction, with the resource's keys and the
// Seq the put set; a delete takes a greater number; Changes pages in Seq
// order; LastChangeSeq follows; a delete of a missing resource records
// nothing; the numbers go on after Close and Open.
func testChanges(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if n := lastChangeSeq(t, s); n != 0 {
		t.Errorf("LastChangeSeq of an empty store = %d, want 0", n)
	}
	if got := changes(t, s, 0, 0); len(got) != 0 {
		t.Errorf("Changes of an empty store = %d changes, want none", len(got))
	}
	a, b := workspace("A"), resource("/subscriptions/S2", "Microsoft.Resources/subscriptions", "", "/subscriptions/s2", "")
	before := time.Now()
	put(t, s, a)
	a2 := workspace("A")
	a2.ETag = "etag-2"
	var delSeq int64
	write(t, s, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, a2); err != nil {
			return err
		}
		if err := tx.PutResource(ctx, b); err != nil {
			return err
		}
		if err := tx.DeleteResource(ctx, a.Key); err != nil {
			return err
		}
		// A missing resource: no change, and the Write still commits.
		if err := tx.DeleteResource(ctx, "/nothing"); err == nil {
			t.Error("DeleteResource of a missing resource succeeded")
		}
		// The transaction sees its own changes.
		got, err := tx.Changes(ctx, a.Seq, 0)
		if err != nil {
			return err
		}
		if len(got) != 3 {
			t.Errorf("Changes inside the Write = %d changes, want 3", len(got))
		} else {
			delSeq = got[2].Seq
		}
		return nil
	})
	after := time.Now()
	want := []*store.Change{change(a.Seq, a, false), change(a2.Seq, a2, false), change(b.Seq, b, false), change(delSeq, a, true)}
	got := changes(t, s, 0, 0)
	if diff := cmp.Diff(want, got, ignoreChangeTime); diff != "" {
		t.Fatalf("Changes(0) (-want +got):\n%s", diff)
	}
	for i, c := range got {
		if i > 0 && c.Seq <= got[i-1].Seq {
			t.Errorf("change %d: Seq %d after %d, want increasing", i, c.Seq, got[i-1].Seq)
		}
		if c.Time.Before(before.Truncate(time.Microsecond)) || c.Time.After(after) || c.Time.Location() != time.UTC {
			t.Errorf("change %d: Time = %v, want in UTC between %v and %v", i, c.Time, before, after)
		}
		if c.Filler() {
			t.Errorf("change %d is a filler", i)
		}
	}
	if n := lastChangeSeq(t, s); n != delSeq {
		t.Errorf("LastChangeSeq = %d, want %d (the delete's)", n, delSeq)
	}
	// Paging: after a Seq, with a limit.
	if diff := cmp.Diff(want[1:3], changes(t, s, a.Seq, 2), ignoreChangeTime); diff != "" {
		t.Errorf("Changes(after %d, limit 2) (-want +got):\n%s", a.Seq, diff)
	}
	if diff := cmp.Diff(want[3:], changes(t, s, b.Seq, 10), ignoreChangeTime); diff != "" {
		t.Errorf("Changes(after %d, limit 10) (-want +got):\n%s", b.Seq, diff)
	}
	if got := changes(t, s, delSeq, 0); len(got) != 0 {
		t.Errorf("Changes after the last = %d changes, want none", len(got))
	}

	// Read-only transactions record nothing.
	err := s.Read(ctx, func(tx store.Tx) error {
		if _, err := tx.PruneChanges(ctx, after, 10); err == nil {
			t.Error("PruneChanges in a Read succeeded")
		}
		if _, err := tx.FillChanges(ctx, 1, 1); err == nil {
			t.Error("FillChanges in a Read succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Close and open again: the changes stay, and new ones come after.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t)
	if n := lastChangeSeq(t, s); n != delSeq {
		t.Errorf("LastChangeSeq after reopening = %d, want %d", n, delSeq)
	}
	write(t, s, func(tx store.Tx) error { return tx.DeleteResource(ctx, b.Key) })
	got = changes(t, s, delSeq, 0)
	if len(got) != 1 || got[0].Seq <= delSeq || got[0].Key != b.Key || !got[0].Deleted {
		t.Errorf("Changes after reopening and deleting %s = %+v, want one delete after %d", b.Key, got, delSeq)
	}
}

// testChangesRollback: a Write that fails or panics records no change, and
// the changes of a group of Writes are those of the Writes that succeed.
func testChangesRollback(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	a := workspace("A")
	put(t, s, a)
	last := lastChangeSeq(t, s)
	err := s.Write(ctx, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, workspace("B")); err != nil {
			return err
		}
		if err := tx.DeleteResource(ctx, a.Key); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write = %v, want errBoom", err)
	}
	func() {
		defer func() { recover() }()
		s.Write(ctx, func(tx store.Tx) error {
			if err := tx.PutResource(ctx, workspace("C")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if got := changes(t, s, last, 0); len(got) != 0 {
		t.Errorf("after rolled-back Writes: Changes = %+v, want none", got)
	}
	if n := lastChangeSeq(t, s); n != last {
		t.Errorf("LastChangeSeq after rolled-back Writes = %d, want %d", n, last)
	}
	// Concurrent Writes, some of them failing (SQLite groups them in one
	// transaction): exactly the successful ones are recorded.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var want []string
	for i := range 16 {
		wg.Go(func() {
			r := workspace(fmt.Sprintf("g%02d", i))
			err := s.Write(ctx, func(tx store.Tx) error {
				if err := tx.PutResource(ctx, r); err != nil {
					return err
				}
				if i%3 == 0 {
					return errBoom
				}
				return nil
			})
			if err == nil {
				mu.Lock()
				want = append(want, r.Key)
				mu.Unlock()
			} else if !errors.Is(err, errBoom) {
				t.Errorf("Write %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var keys []string
	for _, c := range changes(t, s, last, 0) {
		keys = append(keys, c.Key)
	}
	if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("changes of concurrent Writes, some failing (-want +got):\n%s", diff)
	}
}

// testChangesOrder: concurrent writers; every committed write has exactly
// one change, with the Seq its PutResource set, and Changes returns them
// in increasing Seq order.
func testChangesOrder(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	const writers, each = 4, 10
	var wg sync.WaitGroup
	seqs := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := workspace(fmt.Sprintf("w%d-%02d", w, i%3)) // replaces too
				if err := s.Write(ctx, func(tx store.Tx) error { return tx.PutResource(ctx, r) }); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				seqs[w] = append(seqs[w], r.Seq)
			}
		})
	}
	wg.Wait()
	got := changes(t, s, 0, 0)
	if len(got) != writers*each {
		t.Fatalf("Changes = %d changes, want %d", len(got), writers*each)
	}
	bySeq := map[int64]*store.Change{}
	for i, c := range got {
		if i > 0 && c.Seq <= got[i-1].Seq {
			t.Errorf("change %d: Seq %d after %d, want increasing", i, c.Seq, got[i-1].Seq)
		}
		bySeq[c.Seq] = c
	}
	for w, ss := range seqs {
		for i, seq := range ss {
			if c := bySeq[seq]; c == nil || c.Key != workspace(fmt.Sprintf("w%d-%02d", w, i%3)).Key {
				t.Errorf("writer %d, write %d (Seq %d): change %+v", w, i, seq, c)
			}
		}
	}
}

// testPruneChanges: PruneChanges deletes at most limit changes older than
// the cutoff, lowest Seq first, never the newest one.
func testPruneChanges(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	prune := func(before time.Time, limit int) int {
		t.Helper()
		var n int
		write(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneChanges(ctx, before, limit)
			return err
		})
		return n
	}
	var old, young []int64
	for i := range 5 {
		r := workspace(fmt.Sprintf("old%d", i))
		put(t, s, r)
		old = append(old, r.Seq)
	}
	time.Sleep(5 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(5 * time.Millisecond)
	for i := range 3 {
		r := workspace(fmt.Sprintf("young%d", i))
		put(t, s, r)
		young = append(young, r.Seq)
	}
	seqs := func() []int64 {
		var out []int64
		for _, c := range changes(t, s, 0, 0) {
			out = append(out, c.Seq)
		}
		return out
	}
	if n := prune(cutoff, 0); n != 0 {
		t.Errorf("PruneChanges(limit 0) = %d, want 0", n)
	}
	if n := prune(cutoff, 2); n != 2 {
		t.Errorf("first batch: PruneChanges = %d, want 2", n)
	}
	if diff := cmp.Diff(append(old[2:], young...), seqs()); diff != "" {
		t.Errorf("after a batch of 2 (-want +got):\n%s", diff)
	}
	if n := prune(cutoff, 10); n != 3 {
		t.Errorf("second batch: PruneChanges = %d, want 3", n)
	}
	if n := prune(cutoff, 10); n != 0 {
		t.Errorf("third batch: PruneChanges = %d, want 0", n)
	}
	if diff := cmp.Diff(young, seqs()); diff != "" {
		t.Errorf("after pruning what is older than the cutoff (-want +got):\n%s", diff)
	}
	// Everything is old an hour from now, but the newest change stays.
	if n := prune(time.Now().Add(time.Hour), 10); n != 2 {
		t.Errorf("PruneChanges(an hour from now) = %d, want 2", n)
	}
	if diff := cmp.Diff(young[2:], seqs()); diff != "" {
		t.Errorf("after pruning everything (-want +got):\n%s", diff)
	}
	if n := lastChangeSeq(t, s); n != young[2] {
		t.Errorf("LastChangeSeq after pruning = %d, want %d", n, young[2])
	}
}

// testFillChanges: FillChanges records fillers at the numbers of a range
// that have no change (rolled-back Writes' numbers, if the backend leaves
// gaps, and pruned changes) and leaves the changes there alone.
func testFillChanges(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	a, mid, b := workspace("A"), workspace("C"), workspace("B")
	put(t, s, a)
	_ = s.Write(ctx, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, workspace("rolled-back")); err != nil {
			return err
		}
		return errBoom
	})
	put(t, s, mid)
	put(t, s, b)
	write(t, s, func(tx store.Tx) error { // a's change goes
		_, err := tx.PruneChanges(ctx, time.Now().Add(time.Hour), 1)
		return err
	})
	before := changes(t, s, 0, 0)
	from, to := a.Seq, b.Seq
	missing := int(to-from+1) - len(before)
	if len(before) != 2 || missing < 1 {
		t.Fatalf("before FillChanges: changes %+v, want those of %d and %d", before, mid.Seq, b.Seq)
	}
	var n int
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.FillChanges(ctx, from, to)
		return err
	})
	if n != missing {
		t.Errorf("FillChanges(%d, %d) = %d, want %d", from, to, n, missing)
	}
	got := changes(t, s, 0, 0)
	if len(got) != int(to-from+1) {
		t.Fatalf("after FillChanges(%d, %d): %d changes, want one per number", from, to, len(got))
	}
	for i, c := range got {
		if c.Seq != from+int64(i) {
			t.Errorf("change %d: Seq %d, want %d", i, c.Seq, from+int64(i))
		}
		switch c.Seq {
		case mid.Seq, b.Seq:
			if c.Filler() {
				t.Errorf("change %d: the change of a write became a filler", c.Seq)
			}
		default:
			if !c.Filler() || c.Deleted || c.TypeKey != "" || c.SubscriptionKey != "" {
				t.Errorf("change %d = %+v, want a filler", c.Seq, c)
			}
		}
	}
	write(t, s, func(tx store.Tx) error {
		if n, err := tx.FillChanges(ctx, from, to); n != 0 || err != nil {
			t.Errorf("FillChanges again = %d, %v; want 0", n, err)
		}
		for _, r := range [][2]int64{{0, 1}, {5, 4}, {1, 1 << 20}} {
			if _, err := tx.FillChanges(ctx, r[0], r[1]); err == nil {
				t.Errorf("FillChanges(%d, %d) succeeded, want an error", r[0], r[1])
			}
		}
		return nil
	})
}
