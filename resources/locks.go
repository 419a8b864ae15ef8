package resources

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Management locks (Microsoft.Authorization/locks), as ARM has them: an
// extension resource at any scope ({scope}/providers/Microsoft.Authorization/locks/{name},
// the scope a subscription, a resource group or a resource) whose level
// holds for the scope and everything below it:
//
//   - CanNotDelete refuses every DELETE at or below the lock, and the
//     DELETE of anything the lock is below (a resource group or a parent
//     whose tree holds a locked resource: ARM checks the whole tree a
//     delete would remove);
//   - ReadOnly refuses that too, and every PUT, PATCH and POST action at
//     or below the lock. ARM's documentation ("Lock your resources to
//     protect your infrastructure") says a ReadOnly lock prevents all
//     POST operations on the resource, those that only read included
//     (a storage account's listKeys is its example), because ARM cannot
//     tell which POSTs change something. mlgov does the same: every
//     action of the write path (listKeys, listSecrets, getLogs,
//     regenerateKeys, start, stop, ...) is refused; GETs (and the views
//     and location APIs, which are GETs) are not. POSTs that are not
//     actions on a resource (the PolicyInsights queries) do not take the
//     write path and are not refused.
//
// The writes of locks themselves are never refused by a lock (a lock
// does not lock itself, nor the locks beside it), so that one can
// always be changed or removed. The refusal is 409 ScopeLocked with
// ARM's message.
//
// The check is a stage of the write path (checkLocks, right after the
// load stage, in the write transaction). It reads the locks from an
// index per subscription that each Manager keeps in memory, so that a
// write where no lock applies costs a few map lookups and no query.
// The index is kept current through the subscription's row: every write
// reads it in the load stage anyway (Attributes.subSeq), and every write
// of a lock rewrites it unchanged in its own transaction, which gives it
// a new Seq. A subscription whose Seq is not the one the index was built
// at is read again (one query of its locks, in the write's transaction):
// so a lock written on any replica holds on every replica from its
// commit on, without the change feed. Locks deleted without a write of a
// lock (with the tree they are in, by a long-running delete that was
// accepted before they were created) may stay in the index: a lock is
// read again in the transaction before it refuses anything, and one that
// is gone is skipped and the subscription read again at its next write.

// TypeLock is the type of management locks.
const TypeLock = "Microsoft.Authorization/locks"

var typeLockKey = arm.KeyOf(TypeLock)

// lockAPIVersions: the stable versions of the locks API (the REST
// specification's Microsoft.Authorization/locks/stable folders;
// @azure/arm-locks 2.1.0 sends 2020-05-01, the one whose locks have
// systemData).
var lockAPIVersions = []string{"2015-01-01", "2016-09-01", "2017-04-01", "2020-05-01"}

// maxLockNotes is the most characters properties.notes may have.
const maxLockNotes = 512

func lockSpec() *TypeSpec {
	return &TypeSpec{Type: TypeLock, APIVersions: lockAPIVersions, Extension: true, NoProvisioningState: true,
		Validate: validateLock, Defaults: lockDefaults, ScopeList: atScopeOnly("locks", "the locks at or above the scope")}
}

// lockLevel is a lock's level.
type lockLevel uint8

const (
	lockCanNotDelete lockLevel = iota + 1
	lockReadOnly
)

// parseLockLevel reads a level as ARM accepts it (case-insensitive).
func parseLockLevel(s string) (lockLevel, string, bool) {
	switch {
	case strings.EqualFold(s, "CanNotDelete"):
		return lockCanNotDelete, "CanNotDelete", true
	case strings.EqualFold(s, "ReadOnly"):
		return lockReadOnly, "ReadOnly", true
	}
	return 0, "", false
}

// validateLock checks a lock's body, collecting every problem (each
// names its place by JSON pointer).
func validateLock(body value.Value, create bool) error {
	var problems []*arm.Error
	bad := func(target, format string, args ...any) {
		e := arm.Errorf("InvalidRequestContent", format, args...)
		e.Target = target
		problems = append(problems, e)
	}
	p := body.Field("properties")
	switch {
	case p.IsNullish():
		bad("/properties", "A lock needs 'properties' with its 'level': 'CanNotDelete' or 'ReadOnly'.")
	case p.Kind() != value.Object:
		bad("/properties", "The lock's 'properties' must be a JSON object, not %s.", p.Kind())
	default:
		switch l := p.Field("level"); {
		case l.IsNullish():
			bad("/properties/level", "The lock level is required: 'CanNotDelete' or 'ReadOnly'.")
		case l.Kind() != value.String:
			bad("/properties/level", "The lock level must be a string, 'CanNotDelete' or 'ReadOnly', not %s.", l.Kind())
		default:
			if _, _, ok := parseLockLevel(l.Str()); !ok {
				bad("/properties/level", "The lock level '%s' is not valid: use 'CanNotDelete' or 'ReadOnly'.", arm.Clip(l.Str(), 64))
			}
		}
		switch n := p.Field("notes"); {
		case n.IsNullish():
		case n.Kind() != value.String:
			bad("/properties/notes", "The lock's notes must be a string, not %s.", n.Kind())
		case utf8.RuneCountInString(n.Str()) > maxLockNotes:
			bad("/properties/notes", "The lock's notes have %d characters; at most %d are allowed.", utf8.RuneCountInString(n.Str()), maxLockNotes)
		}
		switch o := p.Field("owners"); {
		case o.IsNullish():
		case o.Kind() != value.Array:
			bad("/properties/owners", "The lock's owners must be an array of objects with an 'applicationId', not %s.", o.Kind())
		default:
			for i := 0; i < o.Len(); i++ {
				it := o.Index(i)
				ptr := fmt.Sprintf("/properties/owners/%d", i)
				if it.Kind() != value.Object {
					bad(ptr, "Each lock owner must be an object with an 'applicationId', not %s.", it.Kind())
				} else if a := it.Field("applicationId"); !a.IsNullish() && a.Kind() != value.String {
					bad(ptr+"/applicationId", "A lock owner's applicationId must be a string, not %s.", a.Kind())
				}
			}
		}
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return problems[0]
	}
	top := *problems[0]
	top.Message = fmt.Sprintf("%s (and %d more problems: see details)", top.Message, len(problems)-1)
	top.Details = problems
	return &top
}

// lockDefaults keeps the properties ARM has (level in its canonical
// casing, notes, owners) and drops the others.
func lockDefaults(c *Ctx, obj, existing value.Value) value.Value {
	p := obj.Field("properties")
	_, level, _ := parseLockLevel(p.Field("level").Str())
	props := value.ObjectValue(value.Member{Key: "level", Value: str(level)})
	if n := p.Field("notes"); n.Kind() == value.String {
		props = props.With("notes", n)
	}
	if o := p.Field("owners"); o.Kind() == value.Array {
		props = props.With("owners", o)
	}
	return obj.With("properties", props)
}

// isLockType reports whether spec is the locks type.
func isLockType(spec *TypeSpec) bool {
	return spec != nil && len(spec.Type) == len(TypeLock) && arm.EqualName(spec.Type, TypeLock)
}

// lockEntry is one lock in the index.
type lockEntry struct {
	key     string // the lock's key
	scope   string // the key of its scope
	scopeID string // its scope as stored (for messages)
	level   lockLevel
}

// subLocks is the index's copy of a subscription's locks, as of the
// subscription row's Seq; never changed once built.
type subLocks struct {
	seq   int64
	locks []lockEntry            // by scope key, then key
	at    map[string][]lockEntry // by scope key
	// lens[n] is set when some scope key has n bytes: the prefixes of
	// a key of other lengths are not looked up.
	lens []bool
}

// lockIndex is a Manager's index of locks (its zero value is empty).
type lockIndex struct {
	mu   sync.RWMutex
	subs map[string]*subLocks // by subscription id (arm.KeyOf)
}

// locksOf returns the locks of the subscription whose row has Seq seq,
// read in tx if the index's copy is not of that Seq.
func (x *lockIndex) locksOf(ctx context.Context, tx store.Tx, subKey string, seq int64) (*subLocks, error) {
	x.mu.RLock()
	s := x.subs[subKey]
	x.mu.RUnlock()
	if s != nil && s.seq == seq {
		return s, nil
	}
	items, err := tx.ListResources(ctx, store.ListQuery{TypeKey: typeLockKey, KeyPrefix: "/subscriptions/" + subKey + "/"})
	if err != nil {
		return nil, err
	}
	s = &subLocks{seq: seq, at: make(map[string][]lockEntry)}
	for _, it := range items {
		e, ok := lockEntryOf(it)
		if !ok {
			continue
		}
		s.add(e)
	}
	sort.SliceStable(s.locks, func(i, j int) bool { return s.locks[i].scope < s.locks[j].scope })
	x.mu.Lock()
	if x.subs == nil {
		x.subs = make(map[string]*subLocks)
	}
	x.subs[subKey] = s
	x.mu.Unlock()
	return s, nil
}

// add adds e to s while s is built.
func (s *subLocks) add(e lockEntry) {
	s.locks = append(s.locks, e)
	s.at[e.scope] = append(s.at[e.scope], e)
	if n := len(e.scope); n >= len(s.lens) {
		s.lens = append(s.lens, make([]bool, n+1-len(s.lens))...)
	}
	s.lens[len(e.scope)] = true
}

// forget drops the index's copy s of a subscription's locks (one of its
// locks is gone): the next write reads them again.
func (x *lockIndex) forget(subKey string, s *subLocks) {
	x.mu.Lock()
	if x.subs[subKey] == s {
		delete(x.subs, subKey)
	}
	x.mu.Unlock()
}

// lockEntryOf reads a stored lock; false if it is not one.
func lockEntryOf(r *store.Resource) (lockEntry, bool) {
	v, err := value.Parse(r.Body)
	if err != nil {
		return lockEntry{}, false
	}
	level, _, ok := parseLockLevel(get(v, "properties", "level").Str())
	if !ok {
		return lockEntry{}, false
	}
	e := lockEntry{key: r.Key, scope: r.ParentKey, scopeID: r.ParentKey, level: level}
	if id, err := arm.ParseID(r.ID); err == nil && id.IsResource() {
		if p := id.Parent(); p != nil {
			e.scopeID = p.String()
		}
	}
	return e, true
}

// applying returns the locks of s that refuse a write of key (a delete
// if del): for any write, the ReadOnly locks at key or above it; for a
// delete, every lock at, above or below key.
func (s *subLocks) applying(key string, del bool) []lockEntry {
	var out []lockEntry
	// At or above: the scopes that are key itself or end where key has a
	// '/' (scope keys are resource keys, so a prefix that ends elsewhere
	// is no scope of key).
	for i := 1; i <= len(key) && i < len(s.lens); i++ {
		if !s.lens[i] || (i < len(key) && key[i] != '/') {
			continue
		}
		for _, e := range s.at[key[:i]] {
			if del || e.level == lockReadOnly {
				out = append(out, e)
			}
		}
	}
	if del {
		below := key + "/"
		i := sort.Search(len(s.locks), func(i int) bool { return s.locks[i].scope >= below })
		for ; i < len(s.locks) && strings.HasPrefix(s.locks[i].scope, below); i++ {
			out = append(out, s.locks[i])
		}
	}
	return out
}

// checkLocks is the locks stage of the write path: after the load stage,
// in the write transaction, it refuses a write that a lock forbids. A
// write of a lock is never refused; it makes the subscription's locks be
// read again (see the top of this file).
func (m *Manager) checkLocks(ctx context.Context, tx store.Tx, a *Attributes) error {
	subKey := arm.KeyOf(a.ID.SubscriptionID)
	if isLockType(a.Spec) {
		return bumpSubscription(ctx, tx, "/subscriptions/"+subKey)
	}
	s, err := m.locks.locksOf(ctx, tx, subKey, a.subSeq)
	if err != nil || len(s.locks) == 0 {
		return err
	}
	del := a.Operation == OpDelete
	found := s.applying(a.ID.Key(), del)
	if len(found) == 0 {
		return nil
	}
	// Confirmed in the transaction: a lock deleted with its tree (not by
	// a write of a lock) may still be in the index.
	var scopes []string
	seen := map[string]bool{}
	for _, e := range found {
		if _, err := tx.GetResource(ctx, e.key, false); errors.Is(err, store.ErrNotFound) {
			m.locks.forget(subKey, s)
			continue
		} else if err != nil {
			return err
		}
		if !seen[e.scope] {
			seen[e.scope] = true
			scopes = append(scopes, e.scopeID)
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	verb := "write"
	if del {
		verb = "delete"
	}
	return arm.Errorf("ScopeLocked", "The scope '%s' cannot perform %s operation because following scope(s) are locked: '%s'. Please remove the lock and try again.",
		a.ID.String(), verb, strings.Join(scopes, "', '"))
}

// bumpSubscription rewrites the subscription's row (key) as it is, in
// the transaction of a write of a lock: its new Seq tells every
// replica's index that the subscription's locks changed.
func bumpSubscription(ctx context.Context, tx store.Tx, key string) error {
	sub, err := tx.GetResource(ctx, key, true)
	if err != nil {
		return err
	}
	return tx.PutResource(ctx, sub)
}
