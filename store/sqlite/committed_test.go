package sqlite

import (
	"fmt"
	"testing"

	"github.com/mlgov/mlgov/store"
)

// TestCommittedBounds: the committed-resource cache stays within its
// entry and byte bounds, and a fill after a commit began stores nothing.
func TestCommittedBounds(t *testing.T) {
	var c committed
	c.enabled = true
	big := make([]byte, 4096)
	for i := range maxCommittedEntries + 1000 {
		r := &store.Resource{Key: fmt.Sprintf("/k/%06d", i), Body: big[:i%len(big)]}
		c.fill(c.gen.Load(), []*store.Resource{r})
		if len(c.m) > maxCommittedEntries || c.bytes > maxCommittedBytes {
			t.Fatalf("after %d fills: %d entries, %d bytes; bounds %d, %d", i+1, len(c.m), c.bytes, maxCommittedEntries, maxCommittedBytes)
		}
	}
	sum := 0
	for _, r := range c.m {
		sum += entrySize(r)
	}
	if sum != c.bytes {
		t.Errorf("bytes = %d, entries add up to %d", c.bytes, sum)
	}

	g := c.gen.Load()
	c.begin(map[string]struct{}{"/k/000001": {}})
	c.fill(g, []*store.Resource{{Key: "/stale"}})
	c.end(map[string]struct{}{"/k/000001": {}})
	c.fill(g, []*store.Resource{{Key: "/stale"}})
	if c.m["/stale"] != nil || c.m["/k/000001"] != nil {
		t.Error("a fill from before a commit was stored, or the committed key survived")
	}
	// A transaction that wrote no resources leaves fills alone.
	g = c.gen.Load()
	c.begin(nil)
	c.end(nil)
	c.fill(g, []*store.Resource{{Key: "/fresh"}})
	if c.m["/fresh"] == nil {
		t.Error("a fill after a commit without resource writes was dropped")
	}
	out := make([]*store.Resource, 1)
	if c.lookup([]string{"/stale"}, out) {
		t.Error("lookup of an absent key succeeded")
	}
}
