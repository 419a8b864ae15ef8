package egress

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/store"
)

// Decisions.
const (
	Allowed = "Allowed"
	Denied  = "Denied"
)

// Record is one decision of the proxy: a CONNECT tunnel or a plain
// request, recorded when it ends.
type Record struct {
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	WorkspaceID   string    `json:"workspaceId"`
	JobID         string    `json:"jobId"`
	Method        string    `json:"method"`
	Host          string    `json:"host"`
	Port          int       `json:"port"`
	Decision      string    `json:"decision"`
	Rule          string    `json:"rule,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	IsolationMode string    `json:"isolationMode,omitempty"`
	// Status is the HTTP status the proxy answered (200 for a tunnel
	// made), for a plain request the server's.
	Status     int     `json:"status,omitempty"`
	BytesUp    int64   `json:"bytesUp"`
	BytesDown  int64   `json:"bytesDown"`
	DurationMs float64 `json:"durationMs"`
	Error      string  `json:"error,omitempty"`
}

// LogKey is the store's event key (store.Event.SubscriptionKey) of a
// workspace's egress log: its records are events beside the activity
// log, pruned with it (serve --activity-retention).
func LogKey(workspaceID string) string { return "egress/" + strings.ToLower(workspaceID) }

// Log writes the proxy's records to the store in batches, off the
// proxy's path: Record queues, Run writes.
type Log struct {
	st  store.Store
	log *slog.Logger
	ch  chan *Record
	wg  sync.WaitGroup
}

// NewLog makes a log writing to st.
func NewLog(st store.Store, log *slog.Logger) *Log {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{st: st, log: log, ch: make(chan *Record, 8192)}
}

// maxBatch bounds the records of one write.
const maxBatch = 500

// Record queues r. When the queue is full it waits: a record is never
// dropped (the proxy's connection waits to close).
func (l *Log) Record(r *Record) {
	if r.ID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		r.ID = hex.EncodeToString(b[:])
	}
	l.ch <- r
}

// Run writes queued records until ctx ends, then what is queued.
func (l *Log) Run(ctx context.Context) {
	batch := make([]*Record, 0, maxBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		evs := make([]*store.Event, 0, len(batch))
		for _, r := range batch {
			body, err := json.Marshal(r)
			if err != nil {
				continue
			}
			evs = append(evs, &store.Event{ID: r.ID, SubscriptionKey: LogKey(r.WorkspaceID), Timestamp: r.Time,
				ResourceKey: strings.ToLower(r.JobID), Body: body})
		}
		wctx := context.WithoutCancel(ctx)
		for attempt := 0; ; attempt++ {
			err := l.st.Write(wctx, func(tx store.Tx) error { return tx.AppendEvents(wctx, evs...) })
			if err == nil {
				break
			}
			if attempt == 4 {
				l.log.Error("egress: writing the egress log; records lost", "records", len(evs), "error", err)
				break
			}
			l.log.Warn("egress: writing the egress log; trying again", "error", err)
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
		batch = batch[:0]
	}
	for {
		select {
		case r := <-l.ch:
			batch = append(batch, r)
		drain:
			for len(batch) < maxBatch {
				select {
				case r := <-l.ch:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			flush()
		case <-ctx.Done():
			for {
				select {
				case r := <-l.ch:
					batch = append(batch, r)
					if len(batch) == maxBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// Query selects records of one workspace.
type Query struct {
	WorkspaceID string
	JobID       string // "": every job
	Decision    string // Allowed, Denied or "": both
	Host        string // "": every host
	From, To    time.Time
	// After continues after this position (the previous page's Next).
	After int64
	Top   int
}

// List returns up to q.Top records in time order and the position to
// continue after (0: no more).
func List(ctx context.Context, st store.Store, q Query) ([]*Record, int64, error) {
	top := q.Top
	if top <= 0 {
		top = 100
	}
	var out []*Record
	after := q.After
	for len(out) < top {
		var evs []*store.Event
		err := st.Read(ctx, func(tx store.Tx) error {
			var err error
			evs, err = tx.ListEvents(ctx, store.EventQuery{SubscriptionKey: LogKey(q.WorkspaceID), ResourceKey: strings.ToLower(q.JobID),
				From: q.From, To: q.To, AfterSeq: after, Limit: 500})
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		for _, ev := range evs {
			after = ev.Seq
			var r Record
			if json.Unmarshal(ev.Body, &r) != nil {
				continue
			}
			if q.Decision != "" && !strings.EqualFold(r.Decision, q.Decision) || q.Host != "" && !strings.EqualFold(r.Host, q.Host) {
				continue
			}
			out = append(out, &r)
			if len(out) == top {
				return out, after, nil
			}
		}
		if len(evs) < 500 {
			return out, 0, nil
		}
	}
	return out, 0, nil
}
