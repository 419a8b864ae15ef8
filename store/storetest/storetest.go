package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

// Run runs the conformance suite against the backend that open returns.
//
// open must return a store on a database private to t: empty on the first
// call for a given t, and the same database again on a later call for the
// same t (the persistence test closes the store and opens it again). open
// should close the store in t.Cleanup, so Close must accept being called
// twice. Subtests call t.Parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"ResourceCRUD", testResourceCRUD},
		{"ResourceIDCasing", testResourceIDCasing},
		{"InvalidKeys", testInvalidKeys},
		{"ListResources", testListResources},
		{"ListMaxBytes", testListMaxBytes},
		{"KeyPrefixByteOrder", testKeyPrefixByteOrder},
		{"Timestamps", testTimestamps},
		{"Seq", testSeq},
		{"Atomicity", testAtomicity},
		{"PanicRollsBack", testPanicRollsBack},
		{"ReadYourWrites", testReadYourWrites},
		{"ReadOnly", testReadOnly},
		{"NoLostUpdate", testNoLostUpdate},
		{"GetResources", testGetResources},
		{"ListAll", testListAll},
		{"GetResourcesCoherent", testGetResourcesCoherent},
		{"DueOperationsExclusive", testDueOperationsExclusive},
		{"Events", testEvents},
		{"EventConflict", testEventConflict},
		{"PruneEvents", testPruneEvents},
		{"EventsAfter", testEventsAfter},
		{"ComplianceSnapshots", testComplianceSnapshots},
		{"KeysCompareByBytes", testKeysCompareByBytes},
		{"Changes", testChanges},
		{"ChangesRollback", testChangesRollback},
		{"ChangesOrder", testChangesOrder},
		{"PruneChanges", testPruneChanges},
		{"FillChanges", testFillChanges},
		{"Operations", testOperations},
		{"Objects", testObjects},
		{"PolicyStatesReplace", testPolicyStatesReplace},
		{"PolicyStatesList", testPolicyStatesList},
		{"PolicyStatesCount", testPolicyStatesCount},
		{"PolicyStatesBulk", testPolicyStatesBulk},
		{"PolicyStatesTotals", testPolicyStatesTotals},
		{"PolicyStatesTotalsConcurrent", testPolicyStatesTotalsConcurrent},
		{"PolicyStateHistory", testPolicyStateHistory},
		{"ScanTasks", testScanTasks},
		{"ScanTasksConcurrent", testScanTasksConcurrent},
		{"ContextCanceled", testContextCanceled},
		{"Closed", testClosed},
		{"Reopen", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// base is the suite's clock: fixed, with a sub-second part.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

var errBoom = errors.New("boom")

func write(t testing.TB, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func read(t testing.TB, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Read(context.Background(), fn); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

func put(t testing.TB, s store.Store, rs ...*store.Resource) {
	t.Helper()
	write(t, s, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.PutResource(context.Background(), r); err != nil {
				return err
			}
		}
		return nil
	})
}

// get reads one resource in a Read transaction.
func get(t testing.TB, s store.Store, key string) (*store.Resource, error) {
	t.Helper()
	var r *store.Resource
	err := s.Read(context.Background(), func(tx store.Tx) error {
		var err error
		r, err = tx.GetResource(context.Background(), key, false)
		return err
	})
	return r, err
}

func mustGet(t testing.TB, s store.Store, key string) *store.Resource {
	t.Helper()
	r, err := get(t, s, key)
	if err != nil {
		t.Fatalf("GetResource(%q): %v", key, err)
	}
	return r
}

func wantNotFound(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: error = %v, want one wrapping store.ErrNotFound", what, err)
	}
}

// resource builds a resource from its ID the way the resource manager
// does: lower-cased keys, the ID as given.
func resource(id, typ, parentKey, subKey, rgKey string) *store.Resource {
	return &store.Resource{
		Key:              strings.ToLower(id),
		ID:               id,
		ParentKey:        parentKey,
		TypeKey:          strings.ToLower(typ),
		SubscriptionKey:  subKey,
		ResourceGroupKey: rgKey,
		Body:             fmt.Appendf(nil, `{"id":%q,"type":%q}`, id, typ),
		ETag:             "etag-1",
		CreatedAt:        base,
		UpdatedAt:        base,
	}
}

func workspace(name string) *store.Resource {
	return resource("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG1/providers/Microsoft.MachineLearningServices/workspaces/"+name,
		"Microsoft.MachineLearningServices/workspaces",
		"/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1",
		"/subscriptions/00000000-0000-0000-0000-000000000001",
		"/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1")
}

func testResourceCRUD(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	w := workspace("W1")

	_, err := get(t, s, w.Key)
	wantNotFound(t, "GetResource before Put", err)

	put(t, s, w)
	if w.Seq <= 0 {
		t.Errorf("PutResource set Seq = %d, want > 0", w.Seq)
	}
	if diff := cmp.Diff(w, mustGet(t, s, w.Key)); diff != "" {
		t.Errorf("GetResource after Put (-want +got):\n%s", diff)
	}

	// Replace.
	w2 := workspace("W1")
	w2.Body = []byte(`{"properties":{"friendlyName":"v2"}}`)
	w2.ETag = "etag-2"
	w2.UpdatedAt = base.Add(time.Minute)
	put(t, s, w2)
	if w2.Seq <= w.Seq {
		t.Errorf("Seq after replace = %d, want > %d", w2.Seq, w.Seq)
	}
	if diff := cmp.Diff(w2, mustGet(t, s, w.Key)); diff != "" {
		t.Errorf("GetResource after replace (-want +got):\n%s", diff)
	}

	// Inside Write, forUpdate returns the same resource.
	write(t, s, func(tx store.Tx) error {
		got, err := tx.GetResource(ctx, w.Key, true)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(w2, got); diff != "" {
			t.Errorf("GetResource(forUpdate) (-want +got):\n%s", diff)
		}
		return nil
	})

	write(t, s, func(tx store.Tx) error { return tx.DeleteResource(ctx, w.Key) })
	_, err = get(t, s, w.Key)
	wantNotFound(t, "GetResource after Delete", err)
	err = s.Write(ctx, func(tx store.Tx) error { return tx.DeleteResource(ctx, w.Key) })
	wantNotFound(t, "DeleteResource of a missing resource", err)
}

func testResourceIDCasing(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	first := workspace("MyWorkspace")
	put(t, s, first)

	// The same resource written with other casing: same key, the stored
	// ID keeps the casing first written.
	second := workspace("MYWORKSPACE")
	second.ID = strings.ToUpper(second.ID)
	second.ETag = "etag-2"
	put(t, s, second)
	if second.ID != first.ID {
		t.Errorf("PutResource set r.ID = %q, want the stored ID %q", second.ID, first.ID)
	}
	got := mustGet(t, s, first.Key)
	if got.ID != first.ID {
		t.Errorf("ID = %q, want the casing first written %q", got.ID, first.ID)
	}
	if got.ETag != "etag-2" {
		t.Errorf("ETag = %q, want etag-2 (the replacement was written)", got.ETag)
	}
	var n int
	read(t, s, func(tx store.Tx) error {
		rs, err := tx.ListResources(t.Context(), store.ListQuery{})
		n = len(rs)
		return err
	})
	if n != 1 {
		t.Errorf("ListResources returned %d resources, want 1", n)
	}

	// Keys are compared exactly: the store does not fold case, callers
	// pass lower-cased keys.
	_, err := get(t, s, first.ID)
	wantNotFound(t, "GetResource by the mixed-case ID", err)
}

// testInvalidKeys checks that keys are non-empty, valid UTF-8 strings
// (key ranges and PostgreSQL's text type depend on it).
func testInvalidKeys(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	for _, key := range []string{"", "/bad/\xff\xfe"} {
		r := workspace("W1")
		r.Key = key
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.PutResource(t.Context(), r) })
		if err == nil {
			t.Errorf("PutResource with key %q succeeded, want an error", key)
		}
	}
	if n := len(listKeys(t, s, store.ListQuery{})); n != 0 {
		t.Errorf("%d resources stored, want none", n)
	}
}

// fixture is a small tenant: two subscriptions, three resource groups each
// (rg1 and rg10 share a prefix), workspaces with computes, and storage
// accounts.
func fixture() []*store.Resource {
	var out []*store.Resource
	for _, sub := range []string{"S1", "s2"} {
		sid := "/subscriptions/" + sub
		skey := strings.ToLower(sid)
		out = append(out, resource(sid, "Microsoft.Resources/subscriptions", "", skey, ""))
		for _, rg := range []string{"RG1", "rg10", "Rg2"} {
			gid := sid + "/resourceGroups/" + rg
			gkey := strings.ToLower(gid)
			out = append(out, resource(gid, "Microsoft.Resources/resourceGroups", skey, skey, gkey))
			for _, ws := range []string{"W1", "w2"} {
				wid := gid + "/providers/Microsoft.MachineLearningServices/workspaces/" + ws
				wkey := strings.ToLower(wid)
				out = append(out, resource(wid, "Microsoft.MachineLearningServices/workspaces", gkey, skey, gkey))
				out = append(out, resource(wid+"/computes/C1", "Microsoft.MachineLearningServices/workspaces/computes", wkey, skey, gkey))
			}
			out = append(out, resource(gid+"/providers/Microsoft.Storage/storageAccounts/st1", "Microsoft.Storage/storageAccounts", gkey, skey, gkey))
		}
	}
	return out
}

// listRef is the reference implementation of ListResources.
func listRef(all []*store.Resource, q store.ListQuery) []string {
	var keys []string
	for _, r := range all {
		if (q.ParentKey == "" || r.ParentKey == q.ParentKey) &&
			(q.TypeKey == "" || r.TypeKey == q.TypeKey) &&
			(q.SubscriptionKey == "" || r.SubscriptionKey == q.SubscriptionKey) &&
			(q.ResourceGroupKey == "" || r.ResourceGroupKey == q.ResourceGroupKey) &&
			strings.HasPrefix(r.Key, q.KeyPrefix) &&
			(q.After == "" || r.Key > q.After) {
			keys = append(keys, r.Key)
		}
	}
	slices.Sort(keys) // byte order
	if q.Limit > 0 && len(keys) > q.Limit {
		keys = keys[:q.Limit]
	}
	return keys
}

func listKeys(t *testing.T, s store.Store, q store.ListQuery) []string {
	t.Helper()
	var keys []string
	read(t, s, func(tx store.Tx) error {
		rs, err := tx.ListResources(t.Context(), q)
		for _, r := range rs {
			keys = append(keys, r.Key)
		}
		return err
	})
	return keys
}

// checkList compares ListResources(q) with the reference, then pages
// through the same query with small limits.
func checkList(t *testing.T, s store.Store, all []*store.Resource, q store.ListQuery) {
	t.Helper()
	want := listRef(all, q)
	if got := listKeys(t, s, q); !slices.Equal(got, want) {
		t.Errorf("ListResources(%+v):\n got %q\nwant %q", q, got, want)
	}
	if q.Limit > 0 || q.After != "" {
		return
	}
	for _, limit := range []int{1, 3} {
		var got []string
		p := q
		p.Limit = limit
		for range len(want) + 2 {
			page := listKeys(t, s, p)
			if len(page) > limit {
				t.Fatalf("ListResources(%+v) returned %d keys, more than Limit", p, len(page))
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			p.After = page[len(page)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("paging ListResources(%+v) by %d:\n got %q\nwant %q", q, limit, got, want)
		}
	}
}

func testListResources(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	all := fixture()
	put(t, s, all...)

	const (
		s1    = "/subscriptions/s1"
		s2    = "/subscriptions/s2"
		rg1   = s1 + "/resourcegroups/rg1"
		rg10  = s1 + "/resourcegroups/rg10"
		ws1   = rg1 + "/providers/microsoft.machinelearningservices/workspaces/w1"
		wsT   = "microsoft.machinelearningservices/workspaces"
		compT = "microsoft.machinelearningservices/workspaces/computes"
	)
	queries := []store.ListQuery{
		{},
		{ParentKey: ""},
		{ParentKey: s1},
		{ParentKey: rg1},
		{ParentKey: ws1},
		{ParentKey: "/subscriptions/nope"},
		{TypeKey: wsT},
		{TypeKey: compT},
		{TypeKey: "microsoft.resources/subscriptions"},
		{SubscriptionKey: s2},
		{ResourceGroupKey: rg10},
		{KeyPrefix: rg1 + "/"},
		{KeyPrefix: rg1},
		{KeyPrefix: s2 + "/"},
		{KeyPrefix: "/subscriptions/"},
		{KeyPrefix: "/nothing"},
		{SubscriptionKey: s1, TypeKey: wsT},
		{KeyPrefix: s1 + "/", TypeKey: compT},
		{ResourceGroupKey: rg1, ParentKey: rg1},
		{SubscriptionKey: s2, ResourceGroupKey: rg1}, // no match
		{After: rg1},
		{After: rg1, Limit: 4},
		{Limit: 5},
		{TypeKey: wsT, After: ws1, Limit: 2},
		{KeyPrefix: s1 + "/", After: rg10},
	}
	for _, q := range queries {
		checkList(t, s, all, q)
	}
}

// testKeyPrefixByteOrder checks that keys order and prefix-match byte-wise
// (code point order) for non-ASCII keys, including prefixes that end in
// the largest code point or just before the surrogate range, where the
// range bound needs a carry.
func testKeyPrefixByteOrder(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	keys := []string{
		"/u/a", "/u/ä", "/u/ä/x", "/u/äb", "/u/å", "/u/Z",
		"/u/\uD7FF", "/u/\uD7FFx", "/u/\uE000",
		"/u/\U0010FFFF", "/u/\U0010FFFF/z", "/u/\U0010FFFF\U0010FFFF",
		"/u0", "/u/", "/v", "/t",
	}
	var all []*store.Resource
	for _, k := range keys {
		all = append(all, &store.Resource{Key: k, ID: k, TypeKey: "t", Body: []byte("{}"), ETag: "e", CreatedAt: base, UpdatedAt: base})
	}
	put(t, s, all...)
	for _, p := range []string{"", "/u", "/u/", "/u/ä", "/u/\uD7FF", "/u/\U0010FFFF", "/u/\U0010FFFF\U0010FFFF", "/u/a", "/w"} {
		checkList(t, s, all, store.ListQuery{KeyPrefix: p})
	}
}

// wantTime checks a stored timestamp: in UTC, the same instant as in with
// at least microsecond precision.
func wantTime(t *testing.T, what string, got, in time.Time) {
	t.Helper()
	lo := in.Truncate(time.Microsecond)
	if got.Before(lo) || got.After(in) {
		t.Errorf("%s = %v, want %v (at least microsecond precision)", what, got, in)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

func testTimestamps(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456789, zone)
	updated := time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC)

	w := workspace("W1")
	w.CreatedAt, w.UpdatedAt = created, updated
	write(t, s, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, w); err != nil {
			return err
		}
		if err := tx.AppendEvents(ctx, &store.Event{ID: "e1", SubscriptionKey: "s", Timestamp: created, Body: []byte("{}")}); err != nil {
			return err
		}
		if err := tx.PutOperation(ctx, &store.Operation{ID: "op1", Status: "InProgress", NotBefore: created, UpdatedAt: updated, Body: []byte("{}")}); err != nil {
			return err
		}
		return tx.PutObject(ctx, &store.Object{Kind: "k", Key: "zero", Body: []byte("{}")})
	})
	read(t, s, func(tx store.Tx) error {
		r, err := tx.GetResource(ctx, w.Key, false)
		if err != nil {
			return err
		}
		wantTime(t, "Resource.CreatedAt", r.CreatedAt, created)
		wantTime(t, "Resource.UpdatedAt", r.UpdatedAt, updated)
		evs, err := tx.ListEvents(ctx, store.EventQuery{SubscriptionKey: "s"})
		if err != nil {
			return err
		}
		if len(evs) != 1 {
			t.Fatalf("ListEvents returned %d events, want 1", len(evs))
		}
		wantTime(t, "Event.Timestamp", evs[0].Timestamp, created)
		op, err := tx.GetOperation(ctx, "op1")
		if err != nil {
			return err
		}
		wantTime(t, "Operation.NotBefore", op.NotBefore, created)
		wantTime(t, "Operation.UpdatedAt", op.UpdatedAt, updated)
		o, err := tx.GetObject(ctx, "k", "zero")
		if err != nil {
			return err
		}
		if !o.UpdatedAt.IsZero() {
			t.Errorf("zero Object.UpdatedAt came back as %v, want the zero time", o.UpdatedAt)
		}
		return nil
	})

	// Range filters compare instants, whatever the zone of the bounds.
	read(t, s, func(tx store.Tx) error {
		evs, err := tx.ListEvents(ctx, store.EventQuery{From: created.In(time.UTC).Truncate(time.Microsecond), To: created.Add(time.Nanosecond)})
		if len(evs) != 1 {
			t.Errorf("ListEvents in an inclusive range around the event returned %d events, want 1", len(evs))
		}
		return err
	})
}

func testSeq(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	all := fixture()
	var last int64
	check := func(what string, r *store.Resource) {
		t.Helper()
		if r.Seq <= last {
			t.Errorf("%s: Seq = %d, want > %d", what, r.Seq, last)
		}
		last = r.Seq
	}
	for _, r := range all[:5] { // different types, one Write each
		put(t, s, r)
		check("Put "+r.Key, r)
	}
	write(t, s, func(tx store.Tx) error { // several in one Write
		for _, r := range all[5:10] {
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
			check("Put in one Write "+r.Key, r)
		}
		return nil
	})
	// A replace takes a new number.
	again := *all[0]
	put(t, s, &again)
	check("replace", &again)
	if got := mustGet(t, s, again.Key).Seq; got != again.Seq {
		t.Errorf("stored Seq = %d, want %d as set by PutResource", got, again.Seq)
	}
	// Numbers are not reused after the newest resource is deleted.
	write(t, s, func(tx store.Tx) error { return tx.DeleteResource(ctx, again.Key) })
	put(t, s, all[10])
	check("Put after deleting the newest", all[10])
	// A rolled-back Write does not make numbers go backwards either.
	_ = s.Write(ctx, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, all[11]); err != nil {
			return err
		}
		return errBoom
	})
	put(t, s, all[12])
	check("Put after a rollback", all[12])
	// Nor after the newest is deleted and the store closed and opened
	// again.
	write(t, s, func(tx store.Tx) error { return tx.DeleteResource(ctx, all[12].Key) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t)
	r := *all[0]
	put(t, s, &r)
	check("Put after reopening", &r)
}

// seed writes one resource, event, operation and object.
func seed(t *testing.T, s store.Store) (*store.Resource, *store.Event, *store.Operation, *store.Object) {
	r := workspace("seed")
	e := &store.Event{ID: "ev-seed", SubscriptionKey: r.SubscriptionKey, Timestamp: base, ResourceKey: r.Key, Body: []byte(`{"e":1}`)}
	op := &store.Operation{ID: "op-seed", ResourceKey: r.Key, Status: "InProgress", Body: []byte(`{"s":1}`), NotBefore: base, UpdatedAt: base}
	o := &store.Object{Kind: "tenant", Key: "seed", Body: []byte(`{"o":1}`), UpdatedAt: base}
	ctx := t.Context()
	write(t, s, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, r); err != nil {
			return err
		}
		if err := tx.AppendEvents(ctx, e); err != nil {
			return err
		}
		if err := tx.PutOperation(ctx, op); err != nil {
			return err
		}
		return tx.PutObject(ctx, o)
	})
	return r, e, op, o
}

// writeAll changes every table: it replaces and deletes the seeded rows
// and adds new ones.
func writeAll(ctx context.Context, tx store.Tx) error {
	r := workspace("seed")
	r.Body, r.ETag = []byte(`{"changed":true}`), "etag-changed"
	if err := tx.PutResource(ctx, r); err != nil {
		return err
	}
	if err := tx.PutResource(ctx, workspace("new")); err != nil {
		return err
	}
	if err := tx.AppendEvents(ctx, &store.Event{ID: "ev-new", SubscriptionKey: r.SubscriptionKey, Timestamp: base, Body: []byte("{}")}); err != nil {
		return err
	}
	if err := tx.PutOperation(ctx, &store.Operation{ID: "op-seed", Status: "Failed", Body: []byte("{}"), NotBefore: base, UpdatedAt: base}); err != nil {
		return err
	}
	if err := tx.PutOperation(ctx, &store.Operation{ID: "op-new", Status: "InProgress", Body: []byte("{}"), NotBefore: base, UpdatedAt: base}); err != nil {
		return err
	}
	if err := tx.DeleteObject(ctx, "tenant", "seed"); err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: "tenant", Key: "new", Body: []byte("{}"), UpdatedAt: base})
}

// checkSeedOnly checks that the store holds exactly what seed wrote.
func checkSeedOnly(t *testing.T, s store.Store, r *store.Resource, e *store.Event, op *store.Operation, o *store.Object) {
	t.Helper()
	ctx := t.Context()
	read(t, s, func(tx store.Tx) error {
		rs, err := tx.ListResources(ctx, store.ListQuery{})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]*store.Resource{r}, rs); diff != "" {
			t.Errorf("resources after rollback (-want +got):\n%s", diff)
		}
		evs, err := tx.ListEvents(ctx, store.EventQuery{})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]*store.Event{e}, evs); diff != "" {
			t.Errorf("events after rollback (-want +got):\n%s", diff)
		}
		ops, err := tx.DueOperations(ctx, base, 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]*store.Operation{op}, ops); diff != "" {
			t.Errorf("operations after rollback (-want +got):\n%s", diff)
		}
		_, err = tx.GetOperation(ctx, "op-new")
		wantNotFound(t, "GetOperation of a rolled-back operation", err)
		objs, err := tx.ListObjects(ctx, "tenant")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]*store.Object{o}, objs); diff != "" {
			t.Errorf("objects after rollback (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testAtomicity(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	r, e, op, o := seed(t, s)
	err := s.Write(t.Context(), func(tx store.Tx) error {
		if err := writeAll(t.Context(), tx); err != nil {
			return err
		}
		return fmt.Errorf("validation: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write returned %v, want the error of fn", err)
	}
	checkSeedOnly(t, s, r, e, op, o)

	// The same writes commit when fn succeeds.
	write(t, s, func(tx store.Tx) error { return writeAll(t.Context(), tx) })
	if got := mustGet(t, s, r.Key); got.ETag != "etag-changed" {
		t.Errorf("after a successful Write, ETag = %q, want etag-changed", got.ETag)
	}
}

func testPanicRollsBack(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	r, e, op, o := seed(t, s)
	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Errorf("recovered %v, want the panic value of fn", p)
			}
		}()
		_ = s.Write(t.Context(), func(tx store.Tx) error {
			if err := writeAll(t.Context(), tx); err != nil {
				return err
			}
			panic(errBoom)
		})
	}()
	checkSeedOnly(t, s, r, e, op, o)

	// The store is still writable: the panic released the transaction.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.Write(ctx, func(tx store.Tx) error { return tx.PutResource(ctx, workspace("after")) }); err != nil {
		t.Fatalf("Write after a panicking Write: %v", err)
	}
}

func testReadYourWrites(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	old := workspace("old")
	put(t, s, old)
	write(t, s, func(tx store.Tx) error {
		w := workspace("W1")
		if err := tx.PutResource(ctx, w); err != nil {
			return err
		}
		for _, forUpdate := range []bool{false, true} {
			got, err := tx.GetResource(ctx, w.Key, forUpdate)
			if err != nil {
				return fmt.Errorf("GetResource(forUpdate=%v) of a resource put in this Write: %w", forUpdate, err)
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("GetResource in the same Write (-want +got):\n%s", diff)
			}
		}
		if err := tx.DeleteResource(ctx, old.Key); err != nil {
			return err
		}
		if _, err := tx.GetResource(ctx, old.Key, false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetResource of a resource deleted in this Write: %v, want ErrNotFound", err)
		}
		rs, err := tx.ListResources(ctx, store.ListQuery{})
		if err != nil {
			return err
		}
		if len(rs) != 1 || rs[0].Key != w.Key {
			t.Errorf("ListResources in the same Write returned %d resources, want only %s", len(rs), w.Key)
		}

		e := &store.Event{ID: "e1", SubscriptionKey: w.SubscriptionKey, Timestamp: base, ResourceKey: w.Key, Body: []byte("{}")}
		if err := tx.AppendEvents(ctx, e); err != nil {
			return err
		}
		evs, err := tx.ListEvents(ctx, store.EventQuery{ResourceKey: w.Key})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]*store.Event{e}, evs); diff != "" {
			t.Errorf("ListEvents in the same Write (-want +got):\n%s", diff)
		}

		op := &store.Operation{ID: "op1", ResourceKey: w.Key, Status: "InProgress", Body: []byte("{}"), NotBefore: base, UpdatedAt: base}
		if err := tx.PutOperation(ctx, op); err != nil {
			return err
		}
		if got, err := tx.GetOperation(ctx, op.ID); err != nil || got.Status != op.Status {
			t.Errorf("GetOperation in the same Write = %+v, %v", got, err)
		}
		if due, err := tx.DueOperations(ctx, base, 0); err != nil || len(due) != 1 {
			t.Errorf("DueOperations in the same Write returned %d operations (err %v), want 1", len(due), err)
		}

		o := &store.Object{Kind: "principal", Key: "p1", Body: []byte(`{"p":1}`), UpdatedAt: base}
		if err := tx.PutObject(ctx, o); err != nil {
			return err
		}
		if got, err := tx.GetObject(ctx, o.Kind, o.Key); err != nil || string(got.Body) != string(o.Body) {
			t.Errorf("GetObject in the same Write = %+v, %v", got, err)
		}
		if err := tx.DeleteObject(ctx, o.Kind, o.Key); err != nil {
			return err
		}
		if objs, err := tx.ListObjects(ctx, o.Kind); err != nil || len(objs) != 0 {
			t.Errorf("ListObjects after DeleteObject in the same Write returned %d objects (err %v), want 0", len(objs), err)
		}
		return nil
	})
}

func testReadOnly(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	r, _, _, _ := seed(t, s)
	writes := map[string]func(tx store.Tx) error{
		"PutResource":    func(tx store.Tx) error { return tx.PutResource(ctx, workspace("ro")) },
		"DeleteResource": func(tx store.Tx) error { return tx.DeleteResource(ctx, r.Key) },
		"AppendEvents": func(tx store.Tx) error {
			return tx.AppendEvents(ctx, &store.Event{ID: "ro", SubscriptionKey: "s", Timestamp: base, Body: []byte("{}")})
		},
		"PutOperation": func(tx store.Tx) error {
			return tx.PutOperation(ctx, &store.Operation{ID: "ro", Status: "InProgress", Body: []byte("{}")})
		},
		"PutObject": func(tx store.Tx) error {
			return tx.PutObject(ctx, &store.Object{Kind: "k", Key: "ro", Body: []byte("{}")})
		},
		"DeleteObject": func(tx store.Tx) error { return tx.DeleteObject(ctx, "tenant", "seed") },
		"PruneEvents": func(tx store.Tx) error {
			_, err := tx.PruneEvents(ctx, base.Add(time.Hour), 10)
			return err
		},
	}
	for name, fn := range writes {
		err := s.Read(ctx, func(tx store.Tx) error {
			if err := fn(tx); err == nil {
				return fmt.Errorf("%s succeeded in a Read transaction", name)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	// forUpdate is harmless in Read.
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetResource(ctx, r.Key, true)
		return err
	})
	read(t, s, func(tx store.Tx) error {
		n := 0
		rs, err := tx.ListResources(ctx, store.ListQuery{})
		n += len(rs)
		if err != nil {
			return err
		}
		evs, err := tx.ListEvents(ctx, store.EventQuery{})
		n += len(evs)
		if err != nil {
			return err
		}
		objs, err := tx.ListObjects(ctx, "k")
		n += len(objs)
		if _, err := tx.GetObject(ctx, "tenant", "seed"); err != nil {
			t.Errorf("object deleted by a Read transaction: %v", err)
		}
		if n != 2 {
			t.Errorf("store holds %d rows after failed writes in Read, want 2", n)
		}
		return err
	})
}

// testNoLostUpdate runs concurrent read-modify-write transactions on one
// resource: with GetResource(forUpdate) every increment must survive.
func testNoLostUpdate(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	const workers, rounds = 8, 10
	ctr := workspace("counter")
	ctr.Body = []byte("0")
	put(t, s, ctr)

	var wg sync.WaitGroup
	var mu sync.Mutex
	seqs := map[int64]bool{}
	for range workers {
		wg.Go(func() {
			for range rounds {
				var seq int64
				err := s.Write(t.Context(), func(tx store.Tx) error {
					r, err := tx.GetResource(t.Context(), ctr.Key, true)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(r.Body))
					if err != nil {
						return err
					}
					r.Body = strconv.AppendInt(nil, int64(n+1), 10)
					r.ETag = fmt.Sprintf("etag-%d", n+1)
					if err := tx.PutResource(t.Context(), r); err != nil {
						return err
					}
					seq = r.Seq
					return nil
				})
				if err != nil {
					t.Errorf("Write: %v", err)
					return
				}
				mu.Lock()
				if seqs[seq] {
					t.Errorf("Seq %d handed out twice", seq)
				}
				seqs[seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got := string(mustGet(t, s, ctr.Key).Body); got != strconv.Itoa(workers*rounds) {
		t.Errorf("counter = %s after %d increments: updates were lost", got, workers*rounds)
	}
}

// testDueOperationsExclusive has workers take due operations inside Write
// and push them into the future: every operation must be taken exactly
// once.
func testDueOperationsExclusive(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	const ops, workers = 24, 4
	write(t, s, func(tx store.Tx) error {
		for i := range ops {
			op := &store.Operation{ID: fmt.Sprintf("op-%02d", i), Status: "InProgress", Body: []byte("{}"),
				NotBefore: base.Add(-time.Duration(i) * time.Second), UpdatedAt: base}
			if err := tx.PutOperation(t.Context(), op); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	taken := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				var got []string
				err := s.Write(t.Context(), func(tx store.Tx) error {
					got = got[:0] // fn may run again
					due, err := tx.DueOperations(t.Context(), base, 2)
					if err != nil {
						return err
					}
					for _, op := range due {
						op.NotBefore = base.Add(time.Hour)
						if err := tx.PutOperation(t.Context(), op); err != nil {
							return err
						}
						got = append(got, op.ID)
					}
					return nil
				})
				if err != nil {
					t.Errorf("Write: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, id := range got {
					taken[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != ops {
		t.Errorf("%d operations taken, want %d", len(taken), ops)
	}
	for id, n := range taken {
		if n != 1 {
			t.Errorf("operation %s taken %d times, want once", id, n)
		}
	}
}

func events() []*store.Event {
	ev := func(id, sub string, min int, rg, res, corr string) *store.Event {
		return &store.Event{ID: id, SubscriptionKey: sub, Timestamp: base.Add(time.Duration(min) * time.Minute),
			ResourceGroup: rg, ResourceKey: res, CorrelationID: corr, OperationID: "op-" + id,
			Body: fmt.Appendf(nil, `{"eventDataId":%q}`, id)}
	}
	return []*store.Event{
		ev("e1", "s1", 1, "rg1", "/k1", "c1"),
		ev("e2", "s1", 2, "rg1", "/k2", "c1"),
		ev("e3", "s1", 2, "rg2", "/k3", "c2"), // same time as e2
		ev("e4", "s2", 3, "rg1", "/k4", "c3"),
		ev("e5", "s1", 0, "rg2", "/k1", "c2"), // appended last, earliest time
		ev("e6", "s1", 2, "rg1", "/k1", "c1"), // same time as e2, e3
	}
}

// eventsRef is the reference implementation of ListEvents: evs are in
// append (Seq) order.
func eventsRef(evs []*store.Event, q store.EventQuery) []string {
	var sel []*store.Event
	for _, e := range evs {
		if (q.SubscriptionKey == "" || e.SubscriptionKey == q.SubscriptionKey) &&
			(q.From.IsZero() || !e.Timestamp.Before(q.From)) &&
			(q.To.IsZero() || !e.Timestamp.After(q.To)) &&
			(q.ResourceGroup == "" || e.ResourceGroup == q.ResourceGroup) &&
			(q.ResourceKey == "" || e.ResourceKey == q.ResourceKey) &&
			(q.CorrelationID == "" || e.CorrelationID == q.CorrelationID) {
			sel = append(sel, e)
		}
	}
	// Order by (Timestamp, Seq); evs are in Seq order already.
	slices.SortStableFunc(sel, func(a, b *store.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	// The cursor is the position of the event AfterSeq, whether or not
	// the filters select it.
	var cursor *store.Event
	for _, e := range evs {
		if q.AfterSeq > 0 && e.Seq == q.AfterSeq {
			cursor = e
		}
	}
	var ids []string
	for _, e := range sel {
		if cursor != nil {
			if c := e.Timestamp.Compare(cursor.Timestamp); c < 0 || c == 0 && e.Seq <= cursor.Seq {
				continue
			}
		} else if q.AfterSeq > 0 && e.Seq <= q.AfterSeq {
			continue
		}
		ids = append(ids, e.ID)
	}
	if q.Limit > 0 && len(ids) > q.Limit {
		ids = ids[:q.Limit]
	}
	return ids
}

func listEvents(t *testing.T, s store.Store, q store.EventQuery) []*store.Event {
	t.Helper()
	var evs []*store.Event
	read(t, s, func(tx store.Tx) error {
		var err error
		evs, err = tx.ListEvents(t.Context(), q)
		return err
	})
	return evs
}

func eventIDs(evs []*store.Event) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func testEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	evs := events()
	write(t, s, func(tx store.Tx) error { return tx.AppendEvents(ctx, evs[:3]...) }) // several at once
	for _, e := range evs[3:] {
		write(t, s, func(tx store.Tx) error { return tx.AppendEvents(ctx, e) })
	}
	for i, e := range evs {
		if e.Seq <= 0 || i > 0 && e.Seq <= evs[i-1].Seq {
			t.Errorf("event %s: Seq = %d, want > 0 and increasing in append order", e.ID, e.Seq)
		}
	}
	if diff := cmp.Diff(evs[3:4], listEvents(t, s, store.EventQuery{SubscriptionKey: "s2"})); diff != "" {
		t.Errorf("ListEvents returned other fields than appended (-want +got):\n%s", diff)
	}

	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	queries := []store.EventQuery{
		{},
		{SubscriptionKey: "s1"},
		{SubscriptionKey: "s2"},
		{SubscriptionKey: "s3"},
		{SubscriptionKey: "s1", From: at(1)},
		{SubscriptionKey: "s1", To: at(1)},
		{SubscriptionKey: "s1", From: at(1), To: at(2)},
		{SubscriptionKey: "s1", From: at(2), To: at(2)},
		{SubscriptionKey: "s1", From: at(2).Add(time.Microsecond)},
		{SubscriptionKey: "s1", ResourceGroup: "rg1"},
		{ResourceGroup: "rg1"},
		{SubscriptionKey: "s1", ResourceKey: "/k1"},
		{SubscriptionKey: "s1", CorrelationID: "c2"},
		{CorrelationID: "c1", ResourceKey: "/k1"},
		{SubscriptionKey: "s1", ResourceGroup: "rg1", From: at(2), CorrelationID: "c1"},
		{SubscriptionKey: "s1", Limit: 2},
		{SubscriptionKey: "s1", AfterSeq: evs[0].Seq},
		{SubscriptionKey: "s1", AfterSeq: evs[1].Seq, Limit: 1},
		{SubscriptionKey: "s1", AfterSeq: evs[4].Seq},                       // the earliest event, appended last
		{SubscriptionKey: "s1", ResourceGroup: "rg1", AfterSeq: evs[2].Seq}, // cursor outside the filter
	}
	for _, q := range queries {
		want := eventsRef(evs, q)
		if got := eventIDs(listEvents(t, s, q)); !slices.Equal(got, want) {
			t.Errorf("ListEvents(%+v) = %q, want %q", q, got, want)
		}
		if q.Limit > 0 || q.AfterSeq > 0 {
			continue
		}
		// Page through with AfterSeq.
		for _, limit := range []int{1, 2} {
			var got []string
			p := q
			p.Limit = limit
			for range len(want) + 2 {
				page := listEvents(t, s, p)
				got = append(got, eventIDs(page)...)
				if len(page) < limit {
					break
				}
				p.AfterSeq = page[len(page)-1].Seq
			}
			if !slices.Equal(got, want) {
				t.Errorf("paging ListEvents(%+v) by %d = %q, want %q", q, limit, got, want)
			}
		}
	}
	if got := listEvents(t, s, store.EventQuery{AfterSeq: 1 << 40}); len(got) != 0 {
		t.Errorf("ListEvents after an unknown, too high Seq returned %q, want none", eventIDs(got))
	}
}

func testEventConflict(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	evs := events()
	write(t, s, func(tx store.Tx) error { return tx.AppendEvents(ctx, evs[0]) })
	dup := *evs[0]
	dup.Body = []byte(`{"dup":true}`)
	write(t, s, func(tx store.Tx) error {
		err := tx.AppendEvents(ctx, &dup)
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("AppendEvents of an existing ID: %v, want ErrConflict", err)
		}
		// The transaction is still usable after the conflict.
		return tx.AppendEvents(ctx, evs[1])
	})
	got := listEvents(t, s, store.EventQuery{})
	if ids := eventIDs(got); !slices.Equal(ids, []string{"e1", "e2"}) {
		t.Fatalf("events = %q, want e1 e2", ids)
	}
	if string(got[0].Body) != string(evs[0].Body) {
		t.Errorf("conflicting append replaced the event body with %s", got[0].Body)
	}
}

func testOperations(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	op := func(id, status string, nb time.Duration) *store.Operation {
		return &store.Operation{ID: id, ResourceKey: "/r/" + id, Status: status,
			Body: fmt.Appendf(nil, `{"status":%q}`, status), NotBefore: base.Add(nb), UpdatedAt: base}
	}
	ops := []*store.Operation{
		op("op1", "InProgress", 0),
		op("op2", "InProgress", 10*time.Minute),
		op("op3", "Succeeded", -time.Hour),
		op("op4", "InProgress", -time.Minute),
		op("op6", "InProgress", -2*time.Minute),
		op("op5", "InProgress", -2*time.Minute), // same time as op6: ordered by ID
	}
	write(t, s, func(tx store.Tx) error {
		for _, o := range ops {
			if err := tx.PutOperation(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	due := func(now time.Time, limit int) []string {
		var ids []string
		read(t, s, func(tx store.Tx) error {
			got, err := tx.DueOperations(ctx, now, limit)
			for _, o := range got {
				ids = append(ids, o.ID)
			}
			return err
		})
		return ids
	}
	for _, tc := range []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{base, 0, []string{"op5", "op6", "op4", "op1"}},
		{base.Add(10 * time.Minute), 0, []string{"op5", "op6", "op4", "op1", "op2"}},
		{base, 3, []string{"op5", "op6", "op4"}},
		{base.Add(-90 * time.Minute), 0, nil},
	} {
		if got := due(tc.now, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("DueOperations(%v, %d) = %q, want %q", tc.now, tc.limit, got, tc.want)
		}
	}

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetOperation(ctx, "op1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(ops[0], got); diff != "" {
			t.Errorf("GetOperation (-want +got):\n%s", diff)
		}
		_, err = tx.GetOperation(ctx, "nope")
		wantNotFound(t, "GetOperation of a missing operation", err)
		return nil
	})

	// Replace: a finished operation is no longer due.
	done := op("op1", "Succeeded", 0)
	done.UpdatedAt = base.Add(time.Second)
	write(t, s, func(tx store.Tx) error { return tx.PutOperation(ctx, done) })
	if got := due(base, 0); !slices.Equal(got, []string{"op5", "op6", "op4"}) {
		t.Errorf("DueOperations after op1 succeeded = %q", got)
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetOperation(ctx, "op1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(done, got); diff != "" {
			t.Errorf("GetOperation after replace (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testObjects(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	obj := func(kind, key, body string) *store.Object {
		return &store.Object{Kind: kind, Key: key, Body: []byte(body), UpdatedAt: base}
	}
	objs := []*store.Object{obj("tenant", "b", `{"n":"b"}`), obj("tenant", "a", `{"n":"a"}`), obj("principal", "a", `{"p":"a"}`)}
	write(t, s, func(tx store.Tx) error {
		for _, o := range objs {
			if err := tx.PutObject(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(kind string) []*store.Object {
		var got []*store.Object
		read(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.ListObjects(ctx, kind)
			return err
		})
		return got
	}
	if diff := cmp.Diff([]*store.Object{objs[1], objs[0]}, list("tenant")); diff != "" {
		t.Errorf("ListObjects(tenant) (-want +got):\n%s", diff)
	}
	if got := list("nothing"); len(got) != 0 {
		t.Errorf("ListObjects of an unknown kind returned %d objects", len(got))
	}

	repl := obj("tenant", "a", `{"n":"a2"}`)
	repl.UpdatedAt = base.Add(time.Hour)
	write(t, s, func(tx store.Tx) error { return tx.PutObject(ctx, repl) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetObject(ctx, "tenant", "a")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(repl, got); diff != "" {
			t.Errorf("GetObject after replace (-want +got):\n%s", diff)
		}
		if got, err := tx.GetObject(ctx, "principal", "a"); err != nil || string(got.Body) != `{"p":"a"}` {
			t.Errorf("GetObject(principal, a) = %+v, %v: kinds must not mix", got, err)
		}
		_, err = tx.GetObject(ctx, "tenant", "zzz")
		wantNotFound(t, "GetObject of a missing object", err)
		return nil
	})

	write(t, s, func(tx store.Tx) error { return tx.DeleteObject(ctx, "tenant", "a") })
	err := s.Write(ctx, func(tx store.Tx) error { return tx.DeleteObject(ctx, "tenant", "a") })
	wantNotFound(t, "DeleteObject of a missing object", err)
	if diff := cmp.Diff([]*store.Object{objs[0]}, list("tenant")); diff != "" {
		t.Errorf("ListObjects(tenant) after delete (-want +got):\n%s", diff)
	}
}

func testContextCanceled(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	w := workspace("W1")
	err := s.Write(canceled, func(tx store.Tx) error { return tx.PutResource(canceled, w) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a canceled context: %v, want context.Canceled", err)
	}
	err = s.Read(canceled, func(tx store.Tx) error {
		_, err := tx.GetResource(canceled, w.Key, false)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a canceled context: %v, want context.Canceled", err)
	}

	// Canceled while the transaction is open: fn returns nil, yet the
	// commit must not happen.
	ctx, cancel := context.WithCancel(t.Context())
	err = s.Write(ctx, func(tx store.Tx) error {
		if err := tx.PutResource(ctx, w); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write whose context was canceled inside fn: %v, want context.Canceled", err)
	}
	_, err = get(t, s, w.Key)
	wantNotFound(t, "GetResource after canceled Writes", err)

	// The store still works.
	put(t, s, w)
}

func testClosed(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	put(t, s, workspace("W1"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := s.Read(t.Context(), func(tx store.Tx) error { return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	called := false
	err = s.Write(t.Context(), func(tx store.Tx) error { called = true; return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if called {
		t.Error("Write after Close ran fn")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}

func testReopen(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	r, e, op, o := seed(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t)
	checkSeedOnly(t, s, r, e, op, o)
	w := workspace("after-reopen")
	put(t, s, w)
	if w.Seq <= r.Seq {
		t.Errorf("Seq after reopen = %d, want > %d", w.Seq, r.Seq)
	}
	evs := events()
	write(t, s, func(tx store.Tx) error { return tx.AppendEvents(t.Context(), evs[0]) })
	if evs[0].Seq <= e.Seq {
		t.Errorf("event Seq after reopen = %d, want > %d", evs[0].Seq, e.Seq)
	}
}

// testGetResources: store.GetResources (a ResourceGetter's cache, or a
// Read) returns what was last committed, nil for absent keys, and copies
// the caller may change.
func testGetResources(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	a, b := workspace("ga"), workspace("gb")
	put(t, s, a)
	get := func() []*store.Resource {
		t.Helper()
		rs, err := store.GetResources(t.Context(), s, a.Key, b.Key, a.Key)
		if err != nil {
			t.Fatalf("GetResources: %v", err)
		}
		if len(rs) != 3 {
			t.Fatalf("GetResources returned %d resources for 3 keys", len(rs))
		}
		return rs
	}
	for round := range 2 { // the second round may come from a cache
		rs := get()
		if rs[0] == nil || rs[2] == nil || rs[0].ETag != "etag-1" || rs[0].ID != a.ID || string(rs[0].Body) != string(a.Body) {
			t.Fatalf("round %d: GetResources(a) = %+v, want %+v", round, rs[0], a)
		}
		if rs[1] != nil {
			t.Fatalf("round %d: GetResources(absent) = %+v, want nil", round, rs[1])
		}
		rs[0].Body[0] = 'X' // must not reach the store or its cache
		rs[0].ETag = "changed"
	}
	// A committed change is seen at once; a rolled-back one never.
	a2 := workspace("ga")
	a2.ETag, a2.Body = "etag-2", []byte(`{"v":2}`)
	put(t, s, a2)
	if rs := get(); rs[0] == nil || rs[0].ETag != "etag-2" || string(rs[0].Body) != `{"v":2}` {
		t.Fatalf("after an update: %+v, want etag-2", rs[0])
	}
	err := s.Write(t.Context(), func(tx store.Tx) error {
		a3 := workspace("ga")
		a3.ETag = "etag-rolled-back"
		if err := tx.PutResource(t.Context(), a3); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("failing Write: %v", err)
	}
	if rs := get(); rs[0] == nil || rs[0].ETag != "etag-2" {
		t.Fatalf("after a rolled-back update: %+v, want etag-2", rs[0])
	}
	write(t, s, func(tx store.Tx) error { return tx.DeleteResource(t.Context(), a.Key) })
	if rs := get(); rs[0] != nil || rs[2] != nil {
		t.Fatalf("after delete: %+v, want nil", rs[0])
	}
}

// testGetResourcesCoherent: writers update two resources together, each
// write with a higher version; readers must always see both at the same
// version (one committed state), and never a version older than one
// whose Write had returned before the read began.
func testGetResourcesCoherent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	a, b := workspace("pair-a"), workspace("pair-b")
	a.ETag, b.ETag = "0", "0"
	put(t, s, a, b)
	const writers, readers, rounds = 4, 4, 60
	var next, acked atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				var v int64
				err := s.Write(t.Context(), func(tx store.Tx) error {
					// Lock a first, so that versions follow commit order.
					if _, err := tx.GetResource(t.Context(), a.Key, true); err != nil {
						return err
					}
					v = next.Add(1)
					for _, r := range []*store.Resource{workspace("pair-a"), workspace("pair-b")} {
						r.ETag = strconv.FormatInt(v, 10)
						if err := tx.PutResource(t.Context(), r); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("Write: %v", err)
					return
				}
				for { // acked = max(acked, v)
					cur := acked.Load()
					if v <= cur || acked.CompareAndSwap(cur, v) {
						break
					}
				}
			}
		})
	}
	done := make(chan struct{})
	var reads atomic.Int64
	var rwg sync.WaitGroup
	for range readers {
		rwg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				floor := acked.Load()
				rs, err := store.GetResources(t.Context(), s, a.Key, b.Key)
				if err != nil {
					t.Errorf("GetResources: %v", err)
					return
				}
				if rs[0] == nil || rs[1] == nil {
					t.Errorf("GetResources: a resource is missing: %v", rs)
					return
				}
				va, _ := strconv.ParseInt(rs[0].ETag, 10, 64)
				vb, _ := strconv.ParseInt(rs[1].ETag, 10, 64)
				if va != vb {
					t.Errorf("GetResources saw two states at once: a at version %d, b at %d", va, vb)
					return
				}
				if va < floor {
					t.Errorf("GetResources saw version %d after version %d was acknowledged", va, floor)
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	close(done)
	rwg.Wait()
	if reads.Load() == 0 {
		t.Error("no read completed")
	}
	rs, err := store.GetResources(t.Context(), s, a.Key, b.Key)
	if err != nil || rs[0] == nil || rs[0].ETag != strconv.FormatInt(acked.Load(), 10) {
		t.Errorf("after the writers: %v %v, want version %d", rs, err, acked.Load())
	}
}

// testListAll: store.ListAll pages through every resource a query selects,
// in key order, from After on, and stops when the caller does.
func testListAll(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	var want []string
	for i := range 7 {
		w := workspace(fmt.Sprintf("la%d", i))
		put(t, s, w)
		want = append(want, w.Key)
	}
	prefix := want[0][:strings.LastIndexByte(want[0], '/')+1]
	var got []string
	for r, err := range store.ListAll(t.Context(), s, store.ListQuery{KeyPrefix: prefix, Limit: 2, MaxBytes: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListAll pages of 2 = %v, want %v", got, want)
	}
	got = nil
	for r, err := range store.ListAll(t.Context(), s, store.ListQuery{KeyPrefix: prefix, After: want[2], Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, r.Key); len(got) == 2 {
			break
		}
	}
	if !slices.Equal(got, want[3:5]) {
		t.Errorf("ListAll after %s, stopped after 2 = %v", want[2], got)
	}
}
