package sqlite

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/mlgov/mlgov/store"
)

// Bounds of the committed-resource cache.
const (
	maxCommittedEntries = 1 << 16
	maxCommittedBytes   = 64 << 20
)

// committed remembers resources as they were last committed, so that
// GetResources (every ARM GET) usually needs no SQLite transaction at all.
//
// Only this process writes the database (Open holds an exclusive lock on
// it), and every commit goes through commitBatch, which brackets the
// COMMIT with begin and end:
//   - begin makes gen odd and drops every key the group transaction
//     wrote; end makes gen even again, before any writer of the group is
//     told its Write is done;
//   - a lookup answers only if gen was even and unchanged from before
//     its first key to after its last, so the entries it returns were all
//     current at one instant with no commit in flight: one committed
//     state, as a Read transaction would see;
//   - a fill stores what a Read transaction read only if gen is still the
//     even value it had before the transaction began: no commit began
//     since, so what was read is still current.
//
// So an entry is never older than the last acknowledged write of its key.
type committed struct {
	enabled bool
	gen     atomic.Uint64
	mu      sync.RWMutex
	m       map[string]*store.Resource
	bytes   int
}

// lookup fills out with copies of the entries of keys and reports whether
// it found them all at one committed state.
func (c *committed) lookup(keys []string, out []*store.Resource) bool {
	g := c.gen.Load()
	if !c.enabled || g&1 == 1 {
		return false
	}
	c.mu.RLock()
	for i, k := range keys {
		r := c.m[k]
		if r == nil {
			c.mu.RUnlock()
			return false
		}
		out[i] = copyResource(r)
	}
	c.mu.RUnlock()
	return c.gen.Load() == g
}

// fill stores copies of rs (nil entries are skipped) if no commit began
// since gen was g.
func (c *committed) fill(g uint64, rs []*store.Resource) {
	if !c.enabled || g&1 == 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != g {
		return
	}
	if c.m == nil {
		c.m = make(map[string]*store.Resource)
	}
	for _, r := range rs {
		if r == nil {
			continue
		}
		if old := c.m[r.Key]; old != nil {
			c.bytes -= entrySize(old)
		}
		c.m[r.Key] = copyResource(r)
		c.bytes += entrySize(r)
	}
	// Over a bound: drop arbitrary entries (map order) down to 3/4 of
	// both, so that eviction is not paid on every fill.
	if len(c.m) > maxCommittedEntries || c.bytes > maxCommittedBytes {
		for k, r := range c.m {
			if len(c.m) <= maxCommittedEntries*3/4 && c.bytes <= maxCommittedBytes*3/4 {
				break
			}
			delete(c.m, k)
			c.bytes -= entrySize(r)
		}
	}
}

// begin is called before a COMMIT of a transaction that wrote keys. A
// transaction that wrote no resources changes nothing the cache holds
// and leaves it alone (begin and end do nothing), so that lookups and
// fills running beside it need not start over.
func (c *committed) begin(keys map[string]struct{}) {
	if len(keys) == 0 {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	for k := range keys {
		if r := c.m[k]; r != nil {
			c.bytes -= entrySize(r)
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

// end is called after the COMMIT (whether it succeeded or not), with the
// keys given to begin.
func (c *committed) end(keys map[string]struct{}) {
	if len(keys) > 0 {
		c.gen.Add(1)
	}
}

func entrySize(r *store.Resource) int {
	return len(r.Key) + len(r.ID) + len(r.ParentKey) + len(r.TypeKey) + len(r.SubscriptionKey) +
		len(r.ResourceGroupKey) + len(r.Body) + len(r.ETag) + 128
}

// GetResources implements store.ResourceGetter: from the committed cache
// when it holds every key, otherwise in one Read transaction whose
// results fill the cache.
func (db *DB) GetResources(ctx context.Context, keys ...string) ([]*store.Resource, error) {
	if db.closed.Load() {
		return nil, store.ErrClosed
	}
	out := make([]*store.Resource, len(keys))
	if db.rc.lookup(keys, out) {
		return out, nil
	}
	g := db.rc.gen.Load()
	out, err := store.ReadResources(ctx, db, keys...)
	if err != nil {
		return nil, err
	}
	db.rc.fill(g, out)
	return out, nil
}

var _ store.ResourceGetter = (*DB)(nil)
