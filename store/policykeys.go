package store

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"strings"
	"sync"
)

// PolicyKeyID is the id under which a compliance record names a key other than
// its resource's (assignment, reference, subscription, resource group,
// type, definition, set): the first 8 bytes of the key's MD5 as a
// big-endian int64, and 0 for the empty key. The records hold the id
// (8 bytes instead of a key of about 100); policy_keys maps it back.
//
// The id is a function of the key alone, so any writer works it out
// without reading the database, in a transaction that may roll back, and
// a query's bound key becomes its id. PostgreSQL computes the same value
// as ('x' || substr(md5(k), 1, 16))::bit(64)::bigint (the migrations
// do); a collision of two keys is detected when the second is written
// (by the store) and refused, never merged.
func PolicyKeyID(k string) int64 {
	if k == "" {
		return 0
	}
	ids.mu.RLock()
	id, ok := ids.byKey[k]
	ids.mu.RUnlock()
	if ok {
		return id
	}
	sum := md5.Sum([]byte(k))
	id = int64(binary.BigEndian.Uint64(sum[:8]))
	ids.mu.Lock()
	if len(ids.byKey) >= maxKeyIDs {
		ids.byKey, ids.byID = make(map[string]int64), make(map[int64]string)
	}
	ids.byKey[k], ids.byID[id] = id, k
	ids.mu.Unlock()
	return id
}

// KnownPolicyKey returns the key of id if this process worked id out
// from it with PolicyKeyID lately (the empty key for 0).
func KnownPolicyKey(id int64) (string, bool) {
	if id == 0 {
		return "", true
	}
	ids.mu.RLock()
	k, ok := ids.byID[id]
	ids.mu.RUnlock()
	return k, ok
}

// maxKeyIDs bounds the memo of PolicyKeyID: past it, the memo starts over.
const maxKeyIDs = 1 << 16

// ids memoizes PolicyKeyID both ways: the keys of records repeat (a few
// assignments and definitions over many resources).
var ids = struct {
	mu    sync.RWMutex
	byKey map[string]int64
	byID  map[int64]string
}{byKey: map[string]int64{}, byID: map[int64]string{}}

// ComparePolicyStateKeys orders records as the store lists them: by
// resource key, then by the PolicyKeyID of the assignment key and of the
// reference key, then by Timestamp.
func ComparePolicyStateKeys(a, b PolicyStateKey) int {
	if c := strings.Compare(a.ResourceKey, b.ResourceKey); c != 0 {
		return c
	}
	if c := cmp.Compare(PolicyKeyID(a.AssignmentKey), PolicyKeyID(b.AssignmentKey)); c != 0 {
		return c
	}
	if c := cmp.Compare(PolicyKeyID(a.ReferenceKey), PolicyKeyID(b.ReferenceKey)); c != 0 {
		return c
	}
	return a.Timestamp.Compare(b.Timestamp)
}
