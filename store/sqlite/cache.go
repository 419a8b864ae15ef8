package sqlite

import "github.com/mlgov/mlgov/store"

// maxCached bounds the resource cache of the write connection.
const maxCached = 4096

// resCache remembers resources as the write connection read them, so that
// the lookups every write repeats (subscription, resource group, parent
// resource) skip SQLite. Only the goroutine holding the write connection
// uses it.
//
// An entry is exactly what the database returned for the key, at the
// state of the open (group) transaction:
//   - PutResource and DeleteResource drop the key (the next read fills
//     it again);
//   - a savepoint rollback, a failed group transaction or a failed commit
//     drops everything, since entries may have been read from changes
//     that are gone;
//   - a commit by another connection (another process: PRAGMA
//     data_version, checked as each group transaction begins) drops
//     everything.
type resCache struct {
	m           map[string]*store.Resource
	dataVersion int64
}

func (c *resCache) get(key string) *store.Resource {
	if r, ok := c.m[key]; ok {
		return copyResource(r)
	}
	return nil
}

func (c *resCache) put(r *store.Resource) {
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]*store.Resource, 64)
	}
	c.m[r.Key] = copyResource(r)
}

func (c *resCache) drop(key string) { delete(c.m, key) }

func (c *resCache) clear() { c.m = nil }

func copyResource(r *store.Resource) *store.Resource {
	cp := *r
	if r.Body != nil {
		cp.Body = append(make([]byte, 0, len(r.Body)), r.Body...)
	}
	return &cp
}
