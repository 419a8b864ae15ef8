// Package store defines the storage interfaces of the control plane and
// its sentinel errors. Implementations live in store/sqlite and
// store/postgres; store/storetest is the conformance suite every backend
// must pass. Services depend on these interfaces only; cmd/mlgov picks the
// concrete store.
//
// Invariants: everything written inside one Write call commits or rolls
// back together (a resource write, its change, its activity-log events
// and its bookkeeping); every resource write records a Change (the store
// does, not the caller); keys are lower-cased resource IDs while the stored IDs keep
// the casing first written; list results are ordered by key.
//
// It imports only the standard library.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them (errors.Is works).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict") // e.g. an insert of an existing key with Create
	ErrClosed   = errors.New("store closed")
)

// Resource is one stored ARM resource (subscriptions and resource groups
// included: they are resources of type Microsoft.Resources/subscriptions
// and .../resourceGroups).
type Resource struct {
	// Key is the lower-cased resource ID: the primary key.
	Key string
	// ID is the resource ID with the casing first written.
	ID string
	// ParentKey is the lower-cased ID of the parent: the resource group
	// for top-level resources, the parent resource for children, the
	// resource for extension resources, the subscription for resource
	// groups, "" for subscriptions.
	ParentKey string
	// TypeKey is the lower-cased full resource type
	// (microsoft.machinelearningservices/workspaces/computes).
	TypeKey string
	// SubscriptionKey and ResourceGroupKey are lower-cased ("" when not
	// applicable).
	SubscriptionKey  string
	ResourceGroupKey string
	// Body is the full JSON representation returned by GET.
	Body []byte
	// ETag is the opaque entity tag of this version (without quotes).
	ETag string
	// Seq is the store-wide change sequence number of the last write
	// (set by the store on Put; increases with every write).
	Seq int64
	// CreatedAt and UpdatedAt are set by the caller.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListQuery selects resources. Zero fields do not filter.
type ListQuery struct {
	ParentKey        string // direct children of this key
	TypeKey          string // of this type
	SubscriptionKey  string
	ResourceGroupKey string
	KeyPrefix        string // keys starting with this prefix (e.g. everything under a resource group: "<rgkey>/")
	// After returns keys strictly greater than this (paging cursor).
	After string
	// Limit caps the result (0 = no cap).
	Limit int
	// MaxBytes, when positive, ends the result after the first resource
	// at which the bodies returned add up to MaxBytes or more (so at
	// least one resource is returned): a page of large resources is
	// bounded in memory, not only in count.
	MaxBytes int
}

// Event is one activity-log event. Body is the full EventData JSON; the
// other fields are the indexed columns used by ListEvents.
type Event struct {
	// ID is unique per event (eventDataId).
	ID              string
	SubscriptionKey string
	Timestamp       time.Time
	ResourceGroup   string // lower-cased
	ResourceKey     string // lower-cased resource ID
	CorrelationID   string // lower-cased
	OperationID     string
	Body            []byte
	// Seq orders events (set by the store).
	Seq int64
}

// EventQuery filters events of one subscription. Zero fields do not
// filter. Results are ordered by (Timestamp, Seq).
type EventQuery struct {
	SubscriptionKey string
	From, To        time.Time // inclusive range on Timestamp
	ResourceGroup   string
	ResourceKey     string // exact resource ID (lower-cased)
	CorrelationID   string
	// AfterSeq continues after this event (paging cursor).
	AfterSeq int64
	Limit    int
}

// Operation is a long-running operation's record.
type Operation struct {
	ID          string // lower-cased GUID
	ResourceKey string
	Status      string // InProgress, Succeeded, Failed, Canceled
	Body        []byte // the Azure-AsyncOperation status body and result
	// NotBefore is when a worker may next act on it (due time).
	NotBefore time.Time
	UpdatedAt time.Time
}

// Change is one committed resource write, recorded by the store in the
// transaction of the write itself (PutResource, DeleteResource), so that
// no caller can forget it: the change feed that compliance evaluation
// and caches follow, on every replica sharing the database.
type Change struct {
	// Seq orders changes. It is the Resource.Seq the write set (a delete
	// takes a number of its own from the same sequence), so a resource
	// read with Seq >= a change's Seq reflects that change. Numbers are
	// unique and increase, but not every number is used (a rolled-back
	// transaction's), and on some backends (PostgreSQL) a transaction
	// may commit after one that took a higher number: see FillChanges.
	Seq int64
	// Key, TypeKey and SubscriptionKey are the resource's (lower-cased).
	// Key is empty for a filler (see FillChanges), which records no
	// change.
	Key             string
	TypeKey         string
	SubscriptionKey string
	// Deleted: the resource was deleted; otherwise it was created or
	// replaced.
	Deleted bool
	// Time is when the store recorded the change (its clock).
	Time time.Time
}

// MaxFillChanges bounds the numbers one Tx.FillChanges call fills.
const MaxFillChanges = 10000

// Filler reports whether c is a filler: a sequence number no committed
// change used (see Tx.FillChanges).
func (c *Change) Filler() bool { return c.Key == "" }

// Object is a small typed document for everything else the control plane
// keeps (tenants, principals, client secret hashes, signing keys, ...),
// keyed by (Kind, Key).
type Object struct {
	Kind      string
	Key       string
	Body      []byte
	UpdatedAt time.Time
}

// Tx is a transaction. Reads inside a Write transaction see its own
// writes. GetResource with forUpdate locks the row (PostgreSQL
// SELECT ... FOR UPDATE; SQLite serializes writers anyway), so a
// read-check-write sequence (If-Match) is race-free.
type Tx interface {
	GetResource(ctx context.Context, key string, forUpdate bool) (*Resource, error)
	// PutResource inserts or replaces the resource, sets r.Seq and
	// records the change (Changes) in the same transaction.
	PutResource(ctx context.Context, r *Resource) error
	// DeleteResource removes one resource and records the change in the
	// same transaction; ErrNotFound if absent (nothing is recorded).
	DeleteResource(ctx context.Context, key string) error
	ListResources(ctx context.Context, q ListQuery) ([]*Resource, error)

	// Changes returns up to limit changes (fillers included) with Seq
	// greater than afterSeq, ordered by Seq; limit <= 0 means no cap.
	Changes(ctx context.Context, afterSeq int64, limit int) ([]*Change, error)
	// LastChangeSeq returns the highest Seq of the changes the
	// transaction sees (0 before the first), fillers included.
	LastChangeSeq(ctx context.Context) (int64, error)
	// PruneChanges deletes up to limit changes whose Time is before
	// before, lowest Seq first, and returns how many it deleted. It never
	// deletes the change with the highest Seq, which LastChangeSeq needs.
	PruneChanges(ctx context.Context, before time.Time, limit int) (int, error)
	// FillChanges records a filler at every number from from to to
	// (inclusive) that has no change, and returns how many it recorded.
	// A reader of the feed calls it for a gap in Seq that stayed open too
	// long: the number was taken by a transaction that rolled back, or
	// that has not committed yet. In the second case (PostgreSQL) the
	// filler's insert waits for that transaction: if it commits, its
	// change stays and no filler is recorded; if it rolls back, the
	// filler takes its number. Either way the gap is closed for good and
	// no committed change is skipped. At most MaxFillChanges numbers at
	// a time, and only numbers below a change's Seq (the store hands out
	// numbers above it).
	FillChanges(ctx context.Context, from, to int64) (int, error)

	AppendEvents(ctx context.Context, evs ...*Event) error
	ListEvents(ctx context.Context, q EventQuery) ([]*Event, error)
	// PruneEvents deletes up to limit events (of every subscription)
	// whose Timestamp is before before, oldest first, and returns how
	// many it deleted; callers prune in batches, a transaction each.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)

	PutOperation(ctx context.Context, op *Operation) error
	GetOperation(ctx context.Context, id string) (*Operation, error)
	// DueOperations returns in-progress operations with NotBefore <= now.
	DueOperations(ctx context.Context, now time.Time, limit int) ([]*Operation, error)

	GetObject(ctx context.Context, kind, key string) (*Object, error)
	PutObject(ctx context.Context, o *Object) error
	DeleteObject(ctx context.Context, kind, key string) error
	ListObjects(ctx context.Context, kind string) ([]*Object, error)
}

// Store runs transactions.
type Store interface {
	// Read runs fn in a read-only transaction.
	Read(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in a read-write transaction that commits if fn
	// returns nil and rolls back otherwise. Implementations may retry fn
	// on serialization failures, so fn must not have side effects
	// outside the transaction.
	Write(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// ResourceGetter is implemented by stores that can read a few resources
// without a transaction, typically from a cache of committed state.
// GetResources returns, for each key, the resource or nil when it does
// not exist; all of them as of one committed state of the store, as a
// Read transaction would see them.
type ResourceGetter interface {
	GetResources(ctx context.Context, keys ...string) ([]*Resource, error)
}

// GetResources reads the resources of keys (nil for those that do not
// exist) as of one committed state: through st's ResourceGetter when it
// has one, in a Read transaction otherwise.
func GetResources(ctx context.Context, st Store, keys ...string) ([]*Resource, error) {
	if g, ok := st.(ResourceGetter); ok {
		return g.GetResources(ctx, keys...)
	}
	return ReadResources(ctx, st, keys...)
}

// ReadResources reads the resources of keys (nil for those that do not
// exist) in one Read transaction.
func ReadResources(ctx context.Context, st Store, keys ...string) ([]*Resource, error) {
	out := make([]*Resource, len(keys))
	err := st.Read(ctx, func(tx Tx) error {
		for i, k := range keys {
			r, err := tx.GetResource(ctx, k, false)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
