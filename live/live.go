package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// Defaults of Config.
const (
	DefaultQueue     = 256
	DefaultPerCaller = 4
	// DefaultPoll is how often RunEvents looks for new events.
	DefaultPoll = 100 * time.Millisecond
	// gapWait is how long an event number skipped by a later one is
	// looked for (a transaction that took it commits later, PostgreSQL);
	// after it, it is given up (a rolled-back one).
	gapWait = 2 * time.Second
	// eventsPage bounds the events one poll reads.
	eventsPage = 1000
)

// Config configures a Hub.
type Config struct {
	// Authorizer gives each subscriber's Decider (package access).
	Authorizer resources.Authorizer
	// Queue is the events a subscriber may have waiting (default
	// DefaultQueue); one more drops it.
	Queue int
	// PerCaller bounds one principal's open subscriptions (default
	// DefaultPerCaller).
	PerCaller int
	// Log reports failures of the sources (nil: discarded).
	Log *slog.Logger
}

// Hub fans events out to subscribers. It is safe for concurrent use.
type Hub struct {
	cfg Config

	mu        sync.Mutex
	subs      map[*Subscription]struct{}
	perCaller map[string]int
	list      atomic.Pointer[[]*Subscription] // subs, rebuilt on change
}

// New returns a Hub.
func New(cfg Config) *Hub {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.PerCaller <= 0 {
		cfg.PerCaller = DefaultPerCaller
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{cfg: cfg, subs: map[*Subscription]struct{}{}, perCaller: map[string]int{}}
	h.list.Store(&[]*Subscription{})
	return h
}

// Subscription is one subscriber's stream.
type Subscription struct {
	h      *Hub
	caller activitylog.Caller
	scope  string // a lower-cased scope key ("": everything)
	ch     chan []byte
	done   chan struct{}
	once   sync.Once
}

// Events are the subscriber's events, each a JSON object.
func (s *Subscription) Events() <-chan []byte { return s.ch }

// Dropped is closed when the hub drops the subscriber (its queue was
// full) or it is closed.
func (s *Subscription) Dropped() <-chan struct{} { return s.done }

// Close ends the subscription.
func (s *Subscription) Close() { s.h.remove(s) }

// Subscribe opens a subscription of caller to the events at and below
// scope (a resource id; "" for the tenant). A principal with PerCaller
// subscriptions open is refused (429 TooManyRequests).
func (h *Hub) Subscribe(ctx context.Context, c *activitylog.Caller, scope string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perCaller[c.ObjectID] >= h.cfg.PerCaller {
		return nil, arm.Errorf("TooManyRequests", "The principal '%s' has %d change streams open, as many as one principal may; close one first.", c.ObjectID, h.cfg.PerCaller)
	}
	s := &Subscription{h: h, caller: *c, scope: strings.TrimSuffix(arm.KeyOf(scope), "/"), ch: make(chan []byte, h.cfg.Queue), done: make(chan struct{})}
	h.subs[s] = struct{}{}
	h.perCaller[c.ObjectID]++
	h.rebuild()
	return s, nil
}

func (h *Hub) remove(s *Subscription) {
	s.once.Do(func() {
		close(s.done)
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, s)
		if h.perCaller[s.caller.ObjectID]--; h.perCaller[s.caller.ObjectID] <= 0 {
			delete(h.perCaller, s.caller.ObjectID)
		}
		h.rebuild()
	})
}

// rebuild sets list from subs (under mu).
func (h *Hub) rebuild() {
	l := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		l = append(l, s)
	}
	h.list.Store(&l)
}

// Subscribers is how many subscriptions are open.
func (h *Hub) Subscribers() int { return len(*h.list.Load()) }

// Event is one event to publish: its JSON, the key of what it is about
// (for the subscribers' scopes) and the read that a subscriber needs.
type Event struct {
	Data []byte
	// Key is the lower-cased id of the resource it concerns.
	Key string
	// Action at Scope is what the subscriber must be allowed.
	Action, Scope string
}

// Publish offers events to every subscriber, each only those in its
// scope that its Decider allows. A subscriber whose queue is full is
// dropped. It never blocks.
func (h *Hub) Publish(ctx context.Context, evs []Event) {
	if len(evs) == 0 {
		return
	}
	for _, s := range *h.list.Load() {
		d, err := h.cfg.Authorizer.Decider(ctx, &s.caller)
		if err != nil {
			continue
		}
	events:
		for i := range evs {
			e := &evs[i]
			if !within(e.Key, s.scope) || !d.Allowed(e.Action, e.Scope) {
				continue
			}
			select {
			case s.ch <- e.Data:
			default:
				h.remove(s) // a slow client: dropped, never waited for
				break events
			}
		}
	}
}

// within reports whether key is scope or below it.
func within(key, scope string) bool {
	return scope == "" || key == scope || len(key) > len(scope) && key[len(scope)] == '/' && key[:len(scope)] == scope
}

// readAction is the RBAC read of a resource of type typ.
func readAction(typ string) string { return resources.RBACAction(typ + "/read") }

// Follow publishes the resource changes of f (every replica's writes).
func (h *Hub) Follow(f *feed.Feed) (unsubscribe func()) {
	return f.Subscribe(func(ctx context.Context, batch []*store.Change) {
		evs := make([]Event, 0, len(batch))
		for _, c := range batch {
			if c.Filler() {
				continue
			}
			op := "write"
			if c.Deleted {
				op = "delete"
			}
			b, _ := json.Marshal(struct {
				Kind      string `json:"kind"`
				ID        string `json:"id"`
				Type      string `json:"type"`
				Operation string `json:"operation"`
			}{"resource", c.Key, c.TypeKey, op})
			evs = append(evs, Event{Data: b, Key: c.Key, Action: readAction(c.TypeKey), Scope: c.Key})
		}
		h.Publish(ctx, evs)
	})
}

// maxComplianceIDs is the most resources a batch of compliance records
// is published for one by one; a larger batch (a scan's) is published
// as one event per resource group (or subscription) it touched.
const maxComplianceIDs = 64

// Compliance publishes that the compliance records of the resources of
// keys were written (govern.Governor.OnCompliance): an event per
// resource, or, for a larger batch, per scope ({"kind":"compliance",
// "scope":…}, for the readers of the scope), so that a scan does not
// flood the streams.
func (h *Hub) Compliance(keys []string) {
	if len(keys) > maxComplianceIDs {
		h.Publish(context.Background(), scopeEvents(keys))
		return
	}
	evs := make([]Event, 0, len(keys))
	for _, k := range keys {
		id, err := arm.ParseID(k)
		if err != nil {
			continue
		}
		b, _ := json.Marshal(struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		}{"compliance", k})
		evs = append(evs, Event{Data: b, Key: k, Action: readAction(id.Type()), Scope: k})
	}
	h.Publish(context.Background(), evs)
}

// scopeEvents are the compliance events of a large batch: one per
// resource group (or subscription, for resources outside groups) of keys.
func scopeEvents(keys []string) []Event {
	seen := map[string]bool{}
	var evs []Event
	for _, k := range keys {
		id, err := arm.ParseID(k)
		if err != nil {
			continue
		}
		scope, action := "/subscriptions/"+arm.KeyOf(id.SubscriptionID), "Microsoft.Resources/subscriptions/read"
		if id.ResourceGroup != "" {
			scope, action = scope+"/resourcegroups/"+arm.KeyOf(id.ResourceGroup), "Microsoft.Resources/subscriptions/resourceGroups/read"
		}
		if seen[scope] {
			continue
		}
		seen[scope] = true
		b, _ := json.Marshal(struct {
			Kind  string `json:"kind"`
			Scope string `json:"scope"`
		}{"compliance", scope})
		evs = append(evs, Event{Data: b, Key: scope, Action: action, Scope: scope})
	}
	return evs
}

// eventData are the fields of an EventData the stream carries.
type eventData struct {
	OperationName struct {
		Value string `json:"value"`
	} `json:"operationName"`
	Status struct {
		Value string `json:"value"`
	} `json:"status"`
	Category struct {
		Value string `json:"value"`
	} `json:"category"`
	ResourceID     string `json:"resourceId"`
	CorrelationID  string `json:"correlationId"`
	Caller         string `json:"caller"`
	Level          string `json:"level"`
	EventTimestamp string `json:"eventTimestamp"`
}

// activity is an activity-log event as published (nil: not one of the
// activity log: the egress and sign-in logs share the table).
func activity(e *store.Event) *Event {
	if e.SubscriptionKey == "" || strings.Contains(e.SubscriptionKey, "/") {
		return nil
	}
	var d eventData
	if json.Unmarshal(e.Body, &d) != nil {
		return nil
	}
	b, _ := json.Marshal(struct {
		Kind           string `json:"kind"`
		OperationName  string `json:"operationName"`
		Status         string `json:"status"`
		Category       string `json:"category"`
		Level          string `json:"level"`
		ResourceID     string `json:"resourceId"`
		CorrelationID  string `json:"correlationId"`
		Caller         string `json:"caller"`
		EventTimestamp string `json:"eventTimestamp"`
	}{"activity", d.OperationName.Value, d.Status.Value, d.Category.Value, d.Level, d.ResourceID, d.CorrelationID, d.Caller, d.EventTimestamp})
	key := e.ResourceKey
	scope := "/subscriptions/" + e.SubscriptionKey + "/providers/Microsoft.Insights/eventtypes/management"
	if key == "" {
		key = "/subscriptions/" + e.SubscriptionKey
	} else if strings.HasPrefix(key, "/subscriptions/"+e.SubscriptionKey+"/") {
		// An event of a resource is read by who may read the log of
		// that resource (the activity log's resourceUri filter): a
		// reader of its resource group gets it.
		scope = key
	}
	return &Event{Data: b, Key: key, Action: "Microsoft.Insights/eventtypes/values/read", Scope: scope}
}

// RunEvents publishes the activity-log events written from now on (by
// any replica), looking for them every poll (0: DefaultPoll), until ctx
// ends. A number skipped by a later event is looked for again for
// gapWait: on PostgreSQL a transaction may commit after one that took a
// higher number.
func (h *Hub) RunEvents(ctx context.Context, st store.Store, poll time.Duration) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	var cursor int64
	for {
		err := st.Read(ctx, func(tx store.Tx) error {
			var err error
			cursor, err = tx.LastEventSeq(ctx)
			return err
		})
		if err == nil {
			break
		}
		h.cfg.Log.Warn("following the activity log", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
	t := &tail{cursor: cursor, gaps: map[int64]time.Time{}}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		evs, err := t.poll(ctx, st, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				h.cfg.Log.Warn("following the activity log", "error", err)
			}
			continue
		}
		h.Publish(ctx, evs)
	}
}

// tail follows the events table by Seq.
type tail struct {
	cursor int64               // the highest Seq seen
	gaps   map[int64]time.Time // numbers below cursor not seen yet, since when
}

// poll reads the events after the cursor (and in the open gaps) and
// returns those of the activity log.
func (t *tail) poll(ctx context.Context, st store.Store, now time.Time) ([]Event, error) {
	from := t.cursor
	for n, since := range t.gaps {
		if now.Sub(since) > gapWait {
			delete(t.gaps, n)
		} else if n-1 < from {
			from = n - 1
		}
	}
	var evs []*store.Event
	if err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		evs, err = tx.EventsAfter(ctx, from, eventsPage)
		return err
	}); err != nil {
		return nil, err
	}
	var out []Event
	for _, e := range evs {
		if e.Seq <= t.cursor {
			if _, open := t.gaps[e.Seq]; !open {
				continue // delivered already
			}
			delete(t.gaps, e.Seq)
		} else {
			if e.Seq-t.cursor <= eventsPage {
				for n := t.cursor + 1; n < e.Seq; n++ {
					t.gaps[n] = now
				}
			}
			t.cursor = e.Seq
		}
		if a := activity(e); a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}
