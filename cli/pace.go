package cli

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// The open-loop bench (--rate) times each request from when it was due,
// so the client must send it then and not later: lateness of the
// client's own would be charged to the server. Go's timers are not good
// enough for that: with the processors idle, the runtime waits in epoll
// with millisecond resolution, so a wait of 300µs ends about 1ms later
// (measured on the 2-core machines here: p50 0.5ms late, p99 1.1ms, at
// 1,000 requests/s). waitUntil therefore uses the timer only for waits
// of more than paceTimerSlack, then sleeps precisely (a system call on
// Linux, see pace_linux.go, which wakes some tens of microseconds late
// here) until paceSpinSlack before due, and spins the rest.
//
// The spin is kept short on purpose: every microsecond of it is taken
// from the server on a two-core machine. With 100µs, GETs at 10,000/s
// had a p50 of 2.3ms against 0.2ms with 50µs; with 25µs the sends were
// later (send lag p95 1.1ms against 0.5ms).
const (
	paceTimerSlack = 2 * time.Millisecond
	paceSpinSlack  = 50 * time.Microsecond
)

// waitUntil returns at or after due, or with ctx's error when ctx ends
// first.
func waitUntil(ctx context.Context, due time.Time) error {
	if w := time.Until(due) - paceTimerSlack; w > 0 {
		t := time.NewTimer(w)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	for {
		w := time.Until(due)
		if w <= 0 {
			return nil
		}
		if w > paceSpinSlack {
			sleepPrecise(w - paceSpinSlack)
			continue
		}
		runtime.Gosched()
	}
}

// pace hands out request numbers, taken from next, on tokens, each at
// its due time: request n is due at start + (n-first-1)/rate. It stops
// when the number passes limit (when limit > 0), the due time reaches
// deadline, or ctx ends, and closes tokens. A token waits for a free
// client: when all are busy, the request goes out late and its latency,
// counted from due, shows it.
func pace(ctx context.Context, tokens chan<- int64, next *atomic.Int64, start, deadline time.Time, first, limit int64, rate float64) {
	defer close(tokens)
	for {
		n := next.Add(1)
		if limit > 0 && n > limit {
			return
		}
		due := dueAt(start, n-first-1, rate)
		if !due.Before(deadline) || waitUntil(ctx, due) != nil {
			return
		}
		select {
		case tokens <- n:
		case <-ctx.Done():
			return
		}
	}
}

// dueAt is when request i (from 0) of a run at rate requests per second
// starting at start is due.
func dueAt(start time.Time, i int64, rate float64) time.Time {
	return start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
}
