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
	"iter"
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

// PolicyState is one compliance record: the state of one resource under
// one policy assignment and one definition of it (a single definition's
// assignment has one, a set's one per member). The key is (ResourceKey,
// AssignmentKey, ReferenceKey); the other fields are the columns
// PolicyStateQuery and CountPolicyStates filter and group by. All keys
// are lower-cased.
type PolicyState struct {
	ResourceKey   string
	AssignmentKey string
	// ReferenceKey is the set member's policyDefinitionReferenceId
	// (lower-cased), "" for an assignment of a single definition.
	ReferenceKey     string
	SubscriptionKey  string
	ResourceGroupKey string // "" when not applicable
	ResourceTypeKey  string
	DefinitionKey    string
	SetKey           string // "" when not via a set
	// State is the complianceState: Compliant, NonCompliant, Exempt,
	// Conflict, Unknown, Error, Protected.
	State string
	// Action is the effect, lower-case (policyDefinitionAction).
	Action    string
	Timestamp time.Time
	// Body is the PolicyInsights record JSON, returned as it is.
	Body []byte
}

// PolicyStateKey is the key of a PolicyState, the paging cursor of
// ListPolicyStates. Timestamp is the record's, for a query of the
// history (PolicyStateQuery.History), where a key has several records.
type PolicyStateKey struct {
	ResourceKey, AssignmentKey, ReferenceKey string
	Timestamp                                time.Time
}

// PolicyStateColumns are the column names PolicyStateQuery.Where may use
// (ts is PolicyState.Timestamp, compared with time.Time arguments) and,
// ts aside, the columns CountPolicyStates may group by.
var PolicyStateColumns = []string{
	"resource_key", "assignment_key", "reference_key", "subscription_key", "resource_group_key",
	"resource_type_key", "definition_key", "set_key", "state", "action", "ts",
}

// PolicyStateQuery selects compliance records. Zero fields do not filter.
// Results are in the order of ComparePolicyStateKeys: by ResourceKey,
// then by the PolicyKeyID of AssignmentKey and ReferenceKey (then by
// Timestamp, with History).
type PolicyStateQuery struct {
	SubscriptionKey  string
	ResourceGroupKey string
	// ResourceKey selects one resource's records.
	ResourceKey string
	// KeyPrefix selects the records of resources whose key starts with
	// it: the indexed way to scope a query to a subscription or resource
	// group ("<subscriptionkey>/"; the subscription's own records then
	// need ResourceKey or SubscriptionKey).
	KeyPrefix string
	// Under selects the records of the resource of this key and of the
	// resources under it (a resource group: itself and what it holds):
	// a range of the key index.
	Under         string
	AssignmentKey string
	// AssignmentKeys, when not nil, selects the records of these
	// assignments only (an empty list: none).
	AssignmentKeys []string
	DefinitionKey  string
	SetKey         string
	// Where is an extra SQL condition over the columns named in
	// PolicyStateColumns, with ? placeholders for Args (the store
	// renumbers them for its database, and encodes time.Time arguments
	// as it stores ts). It is SQL: callers render it from a parsed
	// $filter, never from raw input, and it must contain no ? other than
	// placeholders.
	Where string
	Args  []any
	// After continues after this key (paging cursor).
	After *PolicyStateKey
	// Limit caps the result (0 = no cap).
	Limit int
	// MaxBytes, when positive, ends the result after the first record at
	// which the bodies returned add up to MaxBytes or more (at least one
	// record is returned), like ListQuery.MaxBytes.
	MaxBytes int
	// History adds the earlier records of each key that the store keeps
	// (a record replaced by one of another state, or by none), ordered
	// after the key by Timestamp, the current record last; After then
	// needs its Timestamp.
	History bool
}

// PolicyStateGroupBy are the columns CountPolicyStates may group by.
var PolicyStateGroupBy = PolicyStateColumns[:len(PolicyStateColumns)-1]

// PolicyStateCount is one group of CountPolicyStates.
type PolicyStateCount struct {
	// Values are the group's values, by groupBy column name.
	Values map[string]string
	// Count is the number of records, Resources the number of distinct
	// resources among them.
	Count     int
	Resources int
	// FirstResourceKey is the least resource key among them ("" when
	// there is none): where the group starts in the records' order.
	FirstResourceKey string
}

// ComplianceRank orders compliance states for rolling several records up
// into one state (policy-language.md §16): NonCompliant, Compliant,
// Error, Conflict, Protected, Exempt, Unknown; a resource's state under
// several policies, or under an initiative's members, is the state of
// lowest rank among its records. Other states rank last.
func ComplianceRank(state string) int {
	switch state {
	case "NonCompliant":
		return 1
	case "Compliant":
		return 2
	case "Error":
		return 3
	case "Conflict":
		return 4
	case "Protected":
		return 5
	case "Exempt":
		return 6
	case "Unknown":
		return 7
	}
	return 8
}

// TotalLevel is what a PolicyStateTotal counts.
type TotalLevel int

const (
	// TotalRecords counts the records of one assignment and definition
	// reference (with its definition, set and action) in one state.
	TotalRecords TotalLevel = iota
	// TotalAssignmentResources counts the resources whose records of one
	// assignment roll up to the state (ComplianceRank).
	TotalAssignmentResources
	// TotalResources counts the resources whose records, of every
	// assignment, roll up to the state.
	TotalResources
)

// PolicyStateTotal is one group of SumPolicyStates: the fields the level
// does not group by are "".
type PolicyStateTotal struct {
	Level                                                      TotalLevel
	AssignmentKey, ReferenceKey, DefinitionKey, SetKey, Action string
	State                                                      string
	Count                                                      int
}

// ComplianceSnapshot is the compliance totals of one scope at one
// moment, kept for the trend over time. The store keeps Body as it is.
type ComplianceSnapshot struct {
	// ScopeKey is the lower-cased id of the scope (a subscription or a
	// resource group).
	ScopeKey string
	Time     time.Time
	Body     []byte
}

// ScanTask is one part of a compliance scan, which replicas sharing the
// database claim (lease) and complete one at a time.
type ScanTask struct {
	ScanID, TaskID string
	// Scope is what the task covers: by convention a resource key prefix
	// ("<subscriptionkey>/", "<resourcegroupkey>/"; a subscription's own
	// resource is the scan's business). The store keeps it as it is.
	Scope string
	// Owner is the replica that holds (or last held) the lease, "" while
	// the task is pending.
	Owner string
	// LeaseUntil is when the owner's lease ends (zero while pending).
	LeaseUntil time.Time
	Done       bool
	// Processed is what the owner reported on completion (e.g. resources
	// evaluated).
	Processed int
}

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
	// EventsAfter returns up to limit events (of every subscription and
	// log) with Seq greater than afterSeq, ordered by Seq: for following
	// the events as they are written. As with Changes, on some backends
	// (PostgreSQL) an event may commit after one with a higher Seq.
	EventsAfter(ctx context.Context, afterSeq int64, limit int) ([]*Event, error)
	// LastEventSeq returns the highest Seq of the events the transaction
	// sees (0 before the first).
	LastEventSeq(ctx context.Context) (int64, error)
	// PruneEvents deletes up to limit events (of every subscription)
	// whose Timestamp is before before, oldest first, and returns how
	// many it deleted; callers prune in batches, a transaction each.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)

	PutOperation(ctx context.Context, op *Operation) error
	GetOperation(ctx context.Context, id string) (*Operation, error)
	// DueOperations returns in-progress operations with NotBefore <= now.
	DueOperations(ctx context.Context, now time.Time, limit int) ([]*Operation, error)

	// Every write of compliance records keeps the totals SumPolicyStates
	// returns, in the same transaction.

	// ReplacePolicyStates makes the records of the resource exactly
	// states (none: DeletePolicyStates), which must all have ResourceKey
	// resourceKey.
	ReplacePolicyStates(ctx context.Context, resourceKey string, states []*PolicyState) error
	// PutPolicyStatesBatch is the bulk path of a scan: it makes the
	// records of the resources replaceResources names exactly states
	// (thousands of records a call). Every record's resource must be in
	// replaceResources, and a key must not occur twice in states; a
	// resource of replaceResources without states is left with none.
	PutPolicyStatesBatch(ctx context.Context, states []*PolicyState, replaceResources []string) error
	// DeletePolicyStates deletes the records of one resource.
	DeletePolicyStates(ctx context.Context, resourceKey string) error
	// DeletePolicyStatesOfAssignment deletes the records of one
	// assignment and returns how many it deleted.
	DeletePolicyStatesOfAssignment(ctx context.Context, assignmentKey string) (int, error)
	// PrunePolicyStateHistory deletes up to limit earlier records
	// (PolicyStateQuery.History) older than before, oldest first, and
	// returns how many it deleted.
	PrunePolicyStateHistory(ctx context.Context, before time.Time, limit int) (int, error)
	// SumPolicyStates returns the totals of the records of a
	// subscription or, with resourceGroupKey, of one resource group
	// (keys as the records have them), every level, without the groups
	// that count nothing, ordered by level and then the group's keys.
	// Its cost depends on the number of groups, not of records.
	SumPolicyStates(ctx context.Context, subscriptionKey, resourceGroupKey string) ([]*PolicyStateTotal, error)
	// TotalPolicyStates works out the same totals (summed over
	// subscriptions and resource groups) from the records q selects (q's
	// After, Limit and MaxBytes are ignored): for scopes the kept totals
	// do not cover. Its cost depends on the number of records.
	TotalPolicyStates(ctx context.Context, q PolicyStateQuery) ([]*PolicyStateTotal, error)
	ListPolicyStates(ctx context.Context, q PolicyStateQuery) ([]*PolicyState, error)
	// CountPolicyStates counts the records q selects (q's After, Limit
	// and MaxBytes are ignored) grouped by the groupBy columns (a subset
	// of PolicyStateGroupBy; none: one row, even over no records),
	// ordered by them. A grouping by the resource's own columns only
	// (subscription_key, resource_group_key, resource_type_key) counts
	// per resource in key order, without sorting the records: the
	// overview's counts of resources by type and by scope.
	CountPolicyStates(ctx context.Context, q PolicyStateQuery, groupBy []string) ([]*PolicyStateCount, error)

	// PutComplianceSnapshots inserts the snapshots, replacing those of
	// the same scope and time.
	PutComplianceSnapshots(ctx context.Context, snaps []*ComplianceSnapshot) error
	// ListComplianceSnapshots returns up to limit snapshots of a scope
	// whose Time is after after and at or before to, ordered by Time.
	ListComplianceSnapshots(ctx context.Context, scopeKey string, after, to time.Time, limit int) ([]*ComplianceSnapshot, error)
	// PruneComplianceSnapshots deletes up to limit snapshots (of every
	// scope) whose Time is before before, oldest first, and returns how
	// many it deleted.
	PruneComplianceSnapshots(ctx context.Context, before time.Time, limit int) (int, error)

	// CreateScanTasks inserts pending tasks (Owner, LeaseUntil, Done and
	// Processed are ignored); ErrConflict if one exists already.
	CreateScanTasks(ctx context.Context, tasks []*ScanTask) error
	// ClaimScanTask leases to owner, until leaseUntil, a task that is not
	// done and pending or whose lease ended at or before now (the
	// earliest lease first, then by ScanID and TaskID), and returns it;
	// ErrNotFound when there is none. Concurrent claimers never get the
	// same task while its lease lasts (PostgreSQL: FOR UPDATE SKIP
	// LOCKED).
	ClaimScanTask(ctx context.Context, owner string, now, leaseUntil time.Time) (*ScanTask, error)
	// CompleteScanTask marks the task done with processed; ErrNotFound
	// if it does not exist, ErrConflict if owner does not hold it (it was
	// claimed by another after the lease ended). Completing it again by
	// the same owner updates processed.
	CompleteScanTask(ctx context.Context, scanID, taskID, owner string, processed int) error
	// ScanProgress returns how many of the scan's tasks are done, of how
	// many; ErrNotFound if the scan has none.
	ScanProgress(ctx context.Context, scanID string) (done, total int, err error)

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

// ListAll lists every resource q selects (its After is where to start,
// its Limit the page size, default 500; MaxBytes is not used), a page per
// Read transaction, in key order. An error ends the sequence with it.
func ListAll(ctx context.Context, st Store, q ListQuery) iter.Seq2[*Resource, error] {
	if q.Limit <= 0 {
		q.Limit = 500
	}
	q.MaxBytes = 0
	return func(yield func(*Resource, error) bool) {
		for {
			var page []*Resource
			if err := st.Read(ctx, func(tx Tx) error {
				var err error
				page, err = tx.ListResources(ctx, q)
				return err
			}); err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) < q.Limit {
				return
			}
			q.After = page[len(page)-1].Key
		}
	}
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
