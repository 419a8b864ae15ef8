package govern_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// The governor as a replica among others: what it learns from the change
// feed about the writes of the others.

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runFeed runs a feed until the test ends and waits until it is Ready.
func runFeed(t testing.TB, fd *feed.Feed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fd.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-fd.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("the feed is not ready after 5 s")
	}
}

func lastChangeSeq(t *testing.T, st store.Store) int64 {
	t.Helper()
	var seq int64
	if err := st.Read(context.Background(), func(tx store.Tx) error {
		var err error
		seq, err = tx.LastChangeSeq(context.Background())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

// waitDelivered waits until fd has delivered every change committed so far.
func waitDelivered(t *testing.T, st store.Store, fd *feed.Feed) {
	t.Helper()
	last := lastChangeSeq(t, st)
	for deadline := time.Now().Add(5 * time.Second); fd.Seq() < last; {
		if time.Now().After(deadline) {
			t.Fatalf("the feed delivered up to %d, want %d", fd.Seq(), last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollowScanOnePerChange: replicas follow the same changes in
// batches of their own; the scan a policy change starts is named after
// the change's scope and second, so they start one scan, not one each. Before, it was named
// after the last change of the batch: a replica that saw the assignment
// alone and one that saw it with the next write started two scans of the
// same scope.
func TestFollowScanOnePerChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Replica A polls often; replica B only when notified (one batch).
	fdA := feed.New(f.st, feed.Options{Interval: 5 * time.Millisecond})
	defer f.gov.Follow(fdA, quietLog())()
	gB := govern.New(f.st, govern.Config{Compliance: f.cs})
	fdB := feed.New(f.st, feed.Options{Interval: time.Hour})
	defer gB.Follow(fdB, quietLog())()
	runFeed(t, fdA)
	runFeed(t, fdB)

	sub := "/subscriptions/" + f.sub
	f.must(t, "PUT", sub+"/resourceGroups/rg0?api-version=2021-04-01", `{"location":"eastus"}`)
	f.must(t, "PUT", sub+"/providers/Microsoft.Authorization/policyAssignments/a?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+f.builtin(t, "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f")+`","parameters":{"effect":{"value":"Audit"}}}}`)
	waitDelivered(t, f.st, fdA) // A: the assignment in a batch of its own (or with rg0)
	f.must(t, "PUT", sub+"/resourceGroups/rg1?api-version=2021-04-01", `{"location":"eastus"}`)
	waitDelivered(t, f.st, fdA)
	fdB.Notify() // B: rg0, the assignment and rg1 in one batch
	waitDelivered(t, f.st, fdB)
	// The scans start once their second of changes is over.
	time.Sleep(1100 * time.Millisecond)
	f.gov.StartDue(ctx, quietLog())
	gB.StartDue(ctx, quietLog())

	scans := map[string]int{}
	for {
		var k *store.ScanTask
		now := time.Now().UTC()
		err := f.cs.Write(ctx, func(tx store.Tx) error {
			var err error
			k, err = tx.ClaimScanTask(ctx, "test", now, now.Add(time.Hour))
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(k.ScanID, "change-") {
			scans[k.ScanID]++
		}
	}
	if len(scans) != 1 {
		t.Errorf("one assignment, seen by two replicas, started the scans %v; want one", scans)
	}
}

// TestFollowRebuildsAtFeedStart: an assignment another replica commits
// after this one's Refresh and before its feed starts is not delivered by
// the feed (it starts after the last change); Follow rebuilds the
// snapshot once the feed is Ready, so it is in force all the same.
// Before, it stayed out of the snapshot until the next policy change.
func TestFollowRebuildsAtFeedStart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gB := govern.New(f.st, govern.Config{Compliance: f.cs})
	if err := gB.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := gB.Assignments(ctx); n != 0 {
		t.Fatalf("%d assignments before any was made", n)
	}
	// Another replica (A, the fixture) writes an assignment now.
	f.must(t, "PUT", "/subscriptions/"+f.sub+"/providers/Microsoft.Authorization/policyAssignments/a?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+f.builtin(t, "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f")+`","parameters":{"effect":{"value":"Deny"}}}}`)
	fdB := feed.New(f.st, feed.Options{Interval: 5 * time.Millisecond})
	defer gB.Follow(fdB, quietLog())()
	runFeed(t, fdB)
	for deadline := time.Now().Add(2 * time.Second); ; {
		n, err := gB.Assignments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B's snapshot holds %d assignments 2 s after its feed started, want the one A wrote before", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
