package feed

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/store"
)

// Defaults of Options.
const (
	DefaultInterval   = 100 * time.Millisecond
	DefaultGapTimeout = 2 * time.Second
	DefaultBatch      = 500
)

// Logger receives the errors a Feed retries after (a *slog.Logger is one).
type Logger interface {
	Error(msg string, args ...any)
}

// Options configure a Feed. Zero fields take the defaults.
type Options struct {
	// Interval is how often the Feed polls when not notified
	// (DefaultInterval).
	Interval time.Duration
	// GapTimeout is how long a gap in Seq is waited for before the Feed
	// fills it (DefaultGapTimeout).
	GapTimeout time.Duration
	// Batch caps the changes read (and so delivered) at once
	// (DefaultBatch).
	Batch int
	// Logger gets read and fill errors (nil: they are dropped; the Feed
	// retries either way).
	Logger Logger
}

// Func receives a batch of changes: never empty, in increasing Seq order,
// after those of the previous call. ctx is Run's.
type Func func(ctx context.Context, batch []*store.Change)

// Feed follows a store's changes; see the package documentation. Build it
// with New, subscribe, and call Run once.
type Feed struct {
	st     store.Store
	opts   Options
	notify chan struct{}
	ready  chan struct{}

	running atomic.Bool
	seq     atomic.Int64 // the Seq delivered up to (fillers included)

	mu     sync.Mutex
	subs   map[int]Func
	nextID int

	// gap is the first number of the gap the Feed waits for (0: none)
	// and since when; only Run's goroutine uses them.
	gap      int64
	gapSince time.Time
}

// New returns a Feed on st.
func New(st store.Store, opts Options) *Feed {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.GapTimeout <= 0 {
		opts.GapTimeout = DefaultGapTimeout
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	return &Feed{st: st, opts: opts, notify: make(chan struct{}, 1), ready: make(chan struct{}), subs: map[int]Func{}}
}

// Subscribe adds fn, which receives every batch delivered from now on
// until the returned function is called (a delivery in progress may
// still call it once). It may be called at any time, from a subscriber
// too.
func (f *Feed) Subscribe(fn Func) (unsubscribe func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// Notify makes the Feed poll at once (or right after the poll in
// progress). It never blocks.
func (f *Feed) Notify() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// Ready is closed once Run has read where it starts: changes committed
// after that are delivered.
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// Seq returns the Seq up to which changes have been delivered.
func (f *Feed) Seq() int64 { return f.seq.Load() }

// errRunning is returned by a second Run.
var errRunning = errors.New("feed: Run called twice")

// Run follows the store until ctx ends, then returns nil; errors of the
// store are logged and retried. Run may be called once.
func (f *Feed) Run(ctx context.Context) error {
	if f.running.Swap(true) {
		return errRunning
	}
	// Since Go 1.23 a stopped or reset timer delivers no stale tick.
	timer := time.NewTimer(f.opts.Interval)
	defer timer.Stop()
	wait := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-f.notify:
			return true
		case <-timer.C:
			return true
		}
	}

	for {
		seq, err := f.lastSeq(ctx)
		if err == nil {
			f.seq.Store(seq)
			break
		}
		f.log(ctx, "reading the last change", err)
		if !wait(f.opts.Interval) {
			return nil
		}
	}
	close(f.ready)

	for {
		again, err := f.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			f.log(ctx, "reading changes", err)
			again = false
		}
		if again {
			continue
		}
		d := f.opts.Interval
		if f.gap != 0 {
			// Poll again soon while a gap is open, and once its time is up.
			d = min(d, f.opts.GapTimeout/10, max(time.Millisecond, time.Until(f.gapSince.Add(f.opts.GapTimeout))))
		}
		if !wait(d) {
			return nil
		}
	}
}

func (f *Feed) log(ctx context.Context, msg string, err error) {
	if f.opts.Logger != nil && ctx.Err() == nil {
		f.opts.Logger.Error("change feed: "+msg, "err", err)
	}
}

func (f *Feed) lastSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := f.st.Read(ctx, func(tx store.Tx) error {
		var err error
		seq, err = tx.LastChangeSeq(ctx)
		return err
	})
	return seq, err
}

// poll reads the changes after the last delivered, delivers those before
// the first gap and deals with the gap. It reports whether to poll again
// at once (a full batch, or a gap just filled).
func (f *Feed) poll(ctx context.Context) (again bool, err error) {
	after := f.seq.Load()
	var cs []*store.Change
	err = f.st.Read(ctx, func(tx store.Tx) error {
		var err error
		cs, err = tx.Changes(ctx, after, f.opts.Batch)
		return err
	})
	if err != nil {
		return false, err
	}
	last, n := after, 0 // delivered up to; the changes read up to there
	var batch []*store.Change
	for _, c := range cs {
		if c.Seq != last+1 {
			break
		}
		last, n = c.Seq, n+1
		if !c.Filler() {
			batch = append(batch, c)
		}
	}
	if len(batch) > 0 {
		f.deliver(ctx, batch)
	}
	f.seq.Store(last)
	if n == len(cs) { // no gap in what was read
		f.gap = 0
		return len(cs) == f.opts.Batch, nil
	}
	// A gap: the numbers from last+1 to the next change read.
	from, to := last+1, cs[n].Seq-1
	if f.gap != from {
		f.gap, f.gapSince = from, time.Now()
		return n > 0, nil
	}
	if time.Since(f.gapSince) < f.opts.GapTimeout {
		return false, nil
	}
	to = min(to, from+store.MaxFillChanges-1)
	err = f.st.Write(ctx, func(tx store.Tx) error {
		_, err := tx.FillChanges(ctx, from, to)
		return err
	})
	if err != nil {
		return false, err
	}
	return true, nil
}

// deliver calls every subscriber with batch, in the order they
// subscribed (the dashboard's stream, subscribed before compliance,
// tells a write before the records it leads to).
func (f *Feed) deliver(ctx context.Context, batch []*store.Change) {
	f.mu.Lock()
	fns := make([]Func, 0, len(f.subs))
	for _, id := range slices.Sorted(maps.Keys(f.subs)) {
		fns = append(fns, f.subs[id])
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, batch)
	}
}

// DefaultKeep is how long changes are kept for feeds (Prune): a feed
// reads them within a poll interval, so an hour covers a replica that
// lags or restarts; one that lags more reads the full state again.
const DefaultKeep = time.Hour

// Prune deletes the changes older than keep, in transactions of at most
// 1,000, and returns how many it deleted (the newest change always stays:
// see store.Tx.PruneChanges).
func Prune(ctx context.Context, st store.Store, now time.Time, keep time.Duration) (int, error) {
	total := 0
	for {
		var n int
		err := st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneChanges(ctx, now.Add(-keep), 1000)
			return err
		})
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// RunPrune calls Prune every keep/10 until ctx ends (the server's job).
func RunPrune(ctx context.Context, st store.Store, keep time.Duration, log Logger) {
	t := time.NewTicker(max(keep/10, time.Second))
	defer t.Stop()
	for {
		if _, err := Prune(ctx, st, time.Now(), keep); err != nil && ctx.Err() == nil && log != nil {
			log.Error("pruning the change feed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
