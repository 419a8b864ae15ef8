package cli

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestPace checks the pacer's contract: numbers in order from next, none
// handed out before it is due, the limit and the deadline respected, and
// the channel closed at the end or when the context ends.
func TestPace(t *testing.T) {
	const rate = 4000.0
	var next atomic.Int64
	next.Store(10) // as after a warm-up
	start := time.Now()
	tokens := make(chan int64)
	go pace(t.Context(), tokens, &next, start, start.Add(time.Minute), 10, 60, rate)
	want := int64(11)
	for n := range tokens {
		now := time.Now()
		if n != want {
			t.Fatalf("got request %d, want %d", n, want)
		}
		if due := dueAt(start, n-11, rate); now.Before(due) {
			t.Errorf("request %d handed out %v before it was due", n, due.Sub(now))
		}
		want++
	}
	if want != 61 {
		t.Errorf("pace stopped after request %d, want 60 (the limit)", want-1)
	}

	// The deadline: at 1,000/s, requests due at 0, 1, ..., 19ms fall
	// before a deadline of 19.5ms.
	next.Store(0)
	start = time.Now()
	tokens = make(chan int64)
	go pace(t.Context(), tokens, &next, start, start.Add(19500*time.Microsecond), 0, 0, 1000)
	count := 0
	for range tokens {
		count++
	}
	if count != 20 {
		t.Errorf("with a deadline: %d requests, want 20", count)
	}

	// Cancelling ends a pacer that is waiting for a client, and one
	// that is waiting for a due time.
	for _, take := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		next.Store(0)
		tokens = make(chan int64)
		start = time.Now()
		go pace(ctx, tokens, &next, start, start.Add(time.Hour), 0, 0, 1.0/3600)
		if take {
			<-tokens // request 1 is due at once; request 2 in an hour
		}
		cancel()
		// A pacer blocked on a send may still hand out that one token
		// (select chooses among ready cases); then it must close.
		extra := 0
		for closed := false; !closed; {
			select {
			case _, ok := <-tokens:
				if closed = !ok; ok {
					extra++
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("pace did not stop on cancel (take %v)", take)
			}
		}
		if extra > 1 || (take && extra > 0) {
			t.Errorf("%d tokens after cancel (take %v)", extra, take)
		}
	}
}

// TestWaitUntil checks that waitUntil never returns early, over the
// three ways it waits (timer, precise sleep, spin).
func TestWaitUntil(t *testing.T) {
	for _, d := range []time.Duration{0, 20 * time.Microsecond, 300 * time.Microsecond, 3 * time.Millisecond} {
		for range 20 {
			due := time.Now().Add(d)
			if err := waitUntil(t.Context(), due); err != nil {
				t.Fatal(err)
			}
			if now := time.Now(); now.Before(due) {
				t.Fatalf("wait of %v returned %v early", d, due.Sub(now))
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := waitUntil(ctx, time.Now().Add(time.Hour)); err == nil {
		t.Error("waitUntil with an ended context returned nil")
	}
}
