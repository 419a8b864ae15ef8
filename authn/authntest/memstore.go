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

// errUnsupported is returned by the resource, change, event and operation
// methods, which authn does not use.
var errUnsupported = errors.New("authntest: not supported by the in-memory store")

type objKey struct{ kind, key string }

// MemStore is an in-memory store.Store with real transactions for objects:
// a Write works on a copy that replaces the state only if fn returns nil.
// Resources, events and operations are not supported.
type MemStore struct {
	mu     sync.RWMutex
	objs   map[objKey]store.Object
	closed bool
}

var _ store.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{objs: map[objKey]store.Object{}} }

func (m *MemStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return store.ErrClosed
	}
	return fn(&memTx{objs: m.objs, readOnly: true})
}

func (m *MemStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return store.ErrClosed
	}
	tx := &memTx{objs: maps.Clone(m.objs)}
	if err := fn(tx); err != nil {
		return err
	}
	m.objs = tx.objs
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
	objs     map[objKey]store.Object
	readOnly bool
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
func (t *memTx) AppendEvents(context.Context, ...*store.Event) error { return errUnsupported }
func (t *memTx) PruneEvents(context.Context, time.Time, int) (int, error) {
	return 0, errUnsupported
}
func (t *memTx) ListEvents(context.Context, store.EventQuery) ([]*store.Event, error) {
	return nil, errUnsupported
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
