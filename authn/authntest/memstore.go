package authntest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mlgov/mlgov/store"
)

// errUnsupported is returned by the resource, change and operation
// methods, which authn does not use.
var errUnsupported = errors.New("authntest: not supported by the in-memory store")

type objKey struct{ kind, key string }

// MemStore is an in-memory store.Store with real transactions for objects
// and events: a Write works on a copy that replaces the state only if fn
// returns nil. Resources and operations are not supported.
type MemStore struct {
	mu     sync.RWMutex
	objs   map[objKey]store.Object
	events []store.Event   // in Seq order
	ids    map[string]bool // of events
	seq    int64
	closed bool
}

var _ store.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{objs: map[objKey]store.Object{}, ids: map[string]bool{}}
}

func (m *MemStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return store.ErrClosed
	}
	return fn(&memTx{objs: m.objs, events: m.events, readOnly: true})
}

func (m *MemStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return store.ErrClosed
	}
	tx := &memTx{objs: maps.Clone(m.objs), events: m.events, seq: m.seq, ids: m.ids, newIDs: map[string]bool{}}
	if err := fn(tx); err != nil {
		return err
	}
	m.objs, m.seq = tx.objs, tx.seq
	if tx.pruned {
		m.events = append(tx.events, tx.added...)
	} else {
		m.events = append(m.events, tx.added...)
	}
	maps.Copy(m.ids, tx.newIDs)
	if tx.pruned {
		clear(m.ids)
		for _, e := range m.events {
			m.ids[e.ID] = true
		}
	}
	return nil
}

func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// Objects returns a copy of every stored object, ordered by kind and key.
func (m *MemStore) Objects() []store.Object {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := slices.Collect(maps.Values(m.objs))
	slices.SortFunc(out, func(a, b store.Object) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key))
	})
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// Put stores an object directly (for tests that plant or corrupt state).
func (m *MemStore) Put(o store.Object) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o.Body = slices.Clone(o.Body)
	m.objs[objKey{o.Kind, o.Key}] = o
}

type memTx struct {
	objs map[objKey]store.Object
	// events are the committed events (not written to: a prune replaces
	// the slice), added those the transaction appended.
	events, added []store.Event
	seq           int64
	// ids are the committed events' ids (read only), newIDs those
	// appended by the transaction; pruned: some were deleted.
	ids, newIDs map[string]bool
	pruned      bool
	readOnly    bool
}

func (t *memTx) GetObject(ctx context.Context, kind, key string) (*store.Object, error) {
	o, ok := t.objs[objKey{kind, key}]
	if !ok {
		return nil, fmt.Errorf("object %s/%s: %w", kind, key, store.ErrNotFound)
	}
	o.Body = slices.Clone(o.Body)
	return &o, nil
}

func (t *memTx) PutObject(ctx context.Context, o *store.Object) error {
	if t.readOnly {
		return errors.New("authntest: write in a read transaction")
	}
	c := *o
	c.Body = slices.Clone(o.Body)
	t.objs[objKey{o.Kind, o.Key}] = c
	return nil
}

func (t *memTx) DeleteObject(ctx context.Context, kind, key string) error {
	if t.readOnly {
		return errors.New("authntest: write in a read transaction")
	}
	k := objKey{kind, key}
	if _, ok := t.objs[k]; !ok {
		return fmt.Errorf("object %s/%s: %w", kind, key, store.ErrNotFound)
	}
	delete(t.objs, k)
	return nil
}

func (t *memTx) ListObjects(ctx context.Context, kind string) ([]*store.Object, error) {
	var out []*store.Object
	for k, o := range t.objs {
		if k.kind == kind {
			o.Body = slices.Clone(o.Body)
			out = append(out, &o)
		}
	}
	slices.SortFunc(out, func(a, b *store.Object) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

func (t *memTx) GetResource(context.Context, string, bool) (*store.Resource, error) {
	return nil, errUnsupported
}
func (t *memTx) PutResource(context.Context, *store.Resource) error { return errUnsupported }
func (t *memTx) DeleteResource(context.Context, string) error       { return errUnsupported }
func (t *memTx) ListResources(context.Context, store.ListQuery) ([]*store.Resource, error) {
	return nil, errUnsupported
}
func (t *memTx) AppendEvents(ctx context.Context, evs ...*store.Event) error {
	if t.readOnly {
		return errors.New("authntest: write in a read transaction")
	}
	for _, e := range evs {
		if (t.ids[e.ID] && !t.pruned) || t.newIDs[e.ID] {
			return fmt.Errorf("event %q: %w", e.ID, store.ErrConflict)
		}
		t.newIDs[e.ID] = true
		t.seq++
		e.Seq = t.seq
		c := *e
		c.Body = slices.Clone(e.Body)
		t.added = append(t.added, c)
	}
	return nil
}

func (t *memTx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if t.readOnly {
		return 0, errors.New("authntest: write in a read transaction")
	}
	var kept, keptAdded []store.Event
	n := 0
	for i, evs := range [][]store.Event{t.events, t.added} {
		for _, e := range evs {
			if e.Timestamp.Before(before) && (limit <= 0 || n < limit) {
				n++
				continue
			}
			if i == 0 {
				kept = append(kept, e)
			} else {
				keptAdded = append(keptAdded, e)
			}
		}
	}
	t.events, t.added = kept, keptAdded
	t.pruned = t.pruned || n > 0
	return n, nil
}

// ListEvents filters as the real stores do, ordered by (Timestamp, Seq).
// AfterSeq continues after the event of that Seq in that order.
func (t *memTx) ListEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	var out []*store.Event
	for _, e := range slices.Concat(t.events, t.added) {
		if (q.SubscriptionKey != "" && e.SubscriptionKey != q.SubscriptionKey) ||
			(!q.From.IsZero() && e.Timestamp.Before(q.From)) || (!q.To.IsZero() && e.Timestamp.After(q.To)) ||
			(q.ResourceGroup != "" && e.ResourceGroup != q.ResourceGroup) ||
			(q.ResourceKey != "" && e.ResourceKey != q.ResourceKey) ||
			(q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) {
			continue
		}
		e.Body = slices.Clone(e.Body)
		out = append(out, &e)
	}
	slices.SortStableFunc(out, func(a, b *store.Event) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Seq, b.Seq))
	})
	if q.AfterSeq > 0 {
		i := slices.IndexFunc(out, func(e *store.Event) bool { return e.Seq == q.AfterSeq })
		if i >= 0 {
			out = out[i+1:]
		} else {
			out = slices.DeleteFunc(out, func(e *store.Event) bool { return e.Seq <= q.AfterSeq })
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}
func (t *memTx) PutOperation(context.Context, *store.Operation) error { return errUnsupported }
func (t *memTx) GetOperation(context.Context, string) (*store.Operation, error) {
	return nil, errUnsupported
}
func (t *memTx) DueOperations(context.Context, time.Time, int) ([]*store.Operation, error) {
	return nil, errUnsupported
}
func (t *memTx) Changes(context.Context, int64, int) ([]*store.Change, error) {
	return nil, errUnsupported
}
func (t *memTx) LastChangeSeq(context.Context) (int64, error) { return 0, errUnsupported }
func (t *memTx) PruneChanges(context.Context, time.Time, int) (int, error) {
	return 0, errUnsupported
}
func (t *memTx) FillChanges(context.Context, int64, int64) (int, error) { return 0, errUnsupported }
func (t *memTx) ReplacePolicyStates(context.Context, string, []*store.PolicyState) error {
	return errUnsupported
}
func (t *memTx) PutPolicyStatesBatch(context.Context, []*store.PolicyState, []string) error {
	return errUnsupported
}
func (t *memTx) DeletePolicyStates(context.Context, string) error { return errUnsupported }
func (t *memTx) SumPolicyStates(context.Context, string, string) ([]*store.PolicyStateTotal, error) {
	return nil, errUnsupported
}
func (t *memTx) TotalPolicyStates(context.Context, store.PolicyStateQuery) ([]*store.PolicyStateTotal, error) {
	return nil, errUnsupported
}
func (t *memTx) DeletePolicyStatesOfAssignment(context.Context, string) (int, error) {
	return 0, errUnsupported
}
func (t *memTx) PrunePolicyStateHistory(context.Context, time.Time, int) (int, error) {
	return 0, errUnsupported
}
func (t *memTx) ListPolicyStates(context.Context, store.PolicyStateQuery) ([]*store.PolicyState, error) {
	return nil, errUnsupported
}
func (t *memTx) CountPolicyStates(context.Context, store.PolicyStateQuery, []string) ([]*store.PolicyStateCount, error) {
	return nil, errUnsupported
}
func (t *memTx) CreateScanTasks(context.Context, []*store.ScanTask) error { return errUnsupported }
func (t *memTx) ClaimScanTask(context.Context, string, time.Time, time.Time) (*store.ScanTask, error) {
	return nil, errUnsupported
}
func (t *memTx) CompleteScanTask(context.Context, string, string, string, int) error {
	return errUnsupported
}
func (t *memTx) ScanProgress(context.Context, string) (int, int, error) { return 0, 0, errUnsupported }
func (t *memTx) EventsAfter(context.Context, int64, int) ([]*store.Event, error) {
	return nil, errUnsupported
}
func (t *memTx) LastEventSeq(context.Context) (int64, error) { return 0, errUnsupported }
func (t *memTx) PutComplianceSnapshots(context.Context, []*store.ComplianceSnapshot) error {
	return errUnsupported
}
func (t *memTx) ListComplianceSnapshots(context.Context, string, time.Time, time.Time, int) ([]*store.ComplianceSnapshot, error) {
	return nil, errUnsupported
}
func (t *memTx) PruneComplianceSnapshots(context.Context, time.Time, int) (int, error) {
	return 0, errUnsupported
}
