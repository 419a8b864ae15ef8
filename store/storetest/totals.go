package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

// rollupOrder is policy-language.md §16's ranking, the test's own copy:
// a resource's records roll up to the first of these among them.
var rollupOrder = []string{"NonCompliant", "Compliant", "Error", "Conflict", "Protected", "Exempt", "Unknown"}

// wantTotals works out SumPolicyStates of a subscription (and resource
// group, unless "") from the records themselves.
func wantTotals(records []*store.PolicyState, sub, rg string) []string {
	n := map[string]int{}
	worst := func(a, b string) string {
		if a == "" || slices.Index(rollupOrder, b) < slices.Index(rollupOrder, a) {
			return b
		}
		return a
	}
	perResource := map[string]string{}
	perAssignment := map[[2]string]string{}
	for _, p := range records {
		if p.SubscriptionKey != sub || (rg != "" && p.ResourceGroupKey != rg) {
			continue
		}
		n[fmt.Sprintf("0|%s|%s|%s|%s|%s|%s", p.AssignmentKey, p.ReferenceKey, p.DefinitionKey, p.SetKey, p.Action, p.State)]++
		perResource[p.ResourceKey] = worst(perResource[p.ResourceKey], p.State)
		k := [2]string{p.ResourceKey, p.AssignmentKey}
		perAssignment[k] = worst(perAssignment[k], p.State)
	}
	for k, st := range perAssignment {
		n[fmt.Sprintf("1|%s|||||%s", k[1], st)]++
	}
	for _, st := range perResource {
		n[fmt.Sprintf("2||||||%s", st)]++
	}
	var out []string
	for k, c := range n {
		out = append(out, fmt.Sprintf("%s=%d", k, c))
	}
	slices.Sort(out)
	return out
}

func sumStates(t *testing.T, s store.Store, sub, rg string) []string {
	t.Helper()
	var out []string
	read(t, s, func(tx store.Tx) error {
		ts, err := tx.SumPolicyStates(t.Context(), sub, rg)
		for _, x := range ts {
			out = append(out, fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s=%d", x.Level, x.AssignmentKey, x.ReferenceKey, x.DefinitionKey, x.SetKey, x.Action, x.State, x.Count))
		}
		return err
	})
	if !slices.IsSorted(out) {
		t.Errorf("SumPolicyStates(%q, %q) is not in order: %v", sub, rg, out)
	}
	return out
}

// totalStates is sumStates for TotalPolicyStates of q.
func totalStates(t *testing.T, s store.Store, q store.PolicyStateQuery) []string {
	t.Helper()
	var out []string
	read(t, s, func(tx store.Tx) error {
		ts, err := tx.TotalPolicyStates(t.Context(), q)
		for _, x := range ts {
			out = append(out, fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s=%d", x.Level, x.AssignmentKey, x.ReferenceKey, x.DefinitionKey, x.SetKey, x.Action, x.State, x.Count))
		}
		return err
	})
	return out
}

// testPolicyStatesTotals: after every kind of write (batches that
// replace resources, single replaces, deletes of a resource's and of an
// assignment's records, a rolled-back write), SumPolicyStates of the
// subscription and of each resource group, and TotalPolicyStates of the
// same records, equal the totals worked out from the records, at every
// level; the states roll up by rank.
func testPolicyStatesTotals(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(1, 2))
	states := append(slices.Clone(rollupOrder), "Unknown")
	type res struct{ rg, name string }
	var resources []res
	for i := range 12 {
		resources = append(resources, res{fmt.Sprintf("rg%d", i%3), fmt.Sprintf("w%02d", i)})
	}
	// records of one resource: a few single assignments and a set's members.
	recordsOf := func(r res) []*store.PolicyState {
		var out []*store.PolicyState
		for _, a := range []string{"as1", "as2", "as3"} {
			if rnd.IntN(4) > 0 {
				out = append(out, policyState(r.rg, r.name, a, "", states[rnd.IntN(len(states))]))
			}
		}
		if rnd.IntN(3) > 0 {
			for _, ref := range []string{"m1", "m2", "m3"} {
				p := policyState(r.rg, r.name, "set", ref, states[rnd.IntN(len(states))])
				if ref == "m2" {
					p.Action = "deny"
				}
				out = append(out, p)
			}
		}
		return out
	}
	check := func(step string) {
		t.Helper()
		all := listStates(t, s, store.PolicyStateQuery{})
		for _, rg := range []string{"", psSub + "/resourcegroups/rg0", psSub + "/resourcegroups/rg1", psSub + "/resourcegroups/rg2"} {
			want, got := wantTotals(all, psSub, rg), sumStates(t, s, psSub, rg)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: SumPolicyStates(%q) =\n%v\nwant\n%v", step, rg, got, want)
			}
			q := store.PolicyStateQuery{SubscriptionKey: psSub, ResourceGroupKey: rg}
			if got := totalStates(t, s, q); !slices.Equal(got, want) {
				t.Fatalf("%s: TotalPolicyStates(%q) =\n%v\nwant\n%v", step, rg, got, want)
			}
		}
	}
	check("empty")
	if got := sumStates(t, s, psSub, ""); len(got) != 0 {
		t.Fatalf("totals of an empty store: %v", got)
	}
	for round := range 8 {
		var batch []*store.PolicyState
		var keys []string
		for _, r := range resources {
			if rnd.IntN(2) == 0 {
				continue
			}
			rs := recordsOf(r)
			batch = append(batch, rs...)
			keys = append(keys, psSub+"/resourcegroups/"+r.rg+"/providers/microsoft.machinelearningservices/workspaces/"+r.name)
		}
		putStates(t, s, keys, batch)
		check(fmt.Sprintf("round %d: batch", round))
		r := resources[rnd.IntN(len(resources))]
		rs := recordsOf(r)
		if len(rs) > 0 {
			write(t, s, func(tx store.Tx) error { return tx.ReplacePolicyStates(ctx, rs[0].ResourceKey, rs) })
			check(fmt.Sprintf("round %d: replace", round))
		}
		r = resources[rnd.IntN(len(resources))]
		write(t, s, func(tx store.Tx) error {
			return tx.DeletePolicyStates(ctx, psSub+"/resourcegroups/"+r.rg+"/providers/microsoft.machinelearningservices/workspaces/"+r.name)
		})
		check(fmt.Sprintf("round %d: delete", round))
		err := s.Write(ctx, func(tx store.Tx) error {
			if err := tx.PutPolicyStatesBatch(ctx, recordsOf(resources[0]), []string{policyState(resources[0].rg, resources[0].name, "as1", "", "").ResourceKey}); err != nil {
				return err
			}
			return errBoom
		})
		if err == nil {
			t.Fatal("a Write that failed committed")
		}
		check(fmt.Sprintf("round %d: rolled back", round))
		if round%3 == 2 {
			a := []string{"as1", "as2", "set"}[round%3]
			write(t, s, func(tx store.Tx) error {
				_, err := tx.DeletePolicyStatesOfAssignment(ctx, policyState("rg0", "x", a, "", "").AssignmentKey)
				return err
			})
			check(fmt.Sprintf("round %d: delete assignment %s", round, a))
		}
	}
	if got := sumStates(t, s, "/subscriptions/other", ""); len(got) != 0 {
		t.Errorf("totals of another subscription: %v", got)
	}
}

// FillTotalsMigration checks the migration that works out the totals of
// records written before the store kept them: it writes records to s,
// then refill must empty policy_state_totals, forget that migration and
// open the store again (s is closed by then); the totals of the reopened
// store must be those of the records.
func FillTotalsMigration(t *testing.T, s store.Store, refill func(t *testing.T) store.Store) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var batch []*store.PolicyState
	var keys []string
	for i := range 20 {
		rg, name := fmt.Sprintf("rg%d", i%3), fmt.Sprintf("w%02d", i)
		for _, a := range []string{"as1", "as2"} {
			batch = append(batch, policyState(rg, name, a, "", rollupOrder[rnd.IntN(len(rollupOrder))]))
		}
		for _, ref := range []string{"m1", "m2"} {
			batch = append(batch, policyState(rg, name, "set", ref, rollupOrder[rnd.IntN(len(rollupOrder))]))
		}
		keys = append(keys, batch[len(batch)-1].ResourceKey)
	}
	putStates(t, s, keys, batch)
	kept := sumStates(t, s, psSub, "")
	s = refill(t)
	if got := sumStates(t, s, psSub, ""); !slices.Equal(got, kept) {
		t.Errorf("totals after the migration:\n%v\nwant those kept before:\n%v", got, kept)
	}
	rg := psSub + "/resourcegroups/rg1"
	if got, want := sumStates(t, s, psSub, rg), wantTotals(listStates(t, s, store.PolicyStateQuery{}), psSub, rg); !slices.Equal(got, want) {
		t.Errorf("totals of %s after the migration:\n%v\nwant\n%v", rg, got, want)
	}
}

// testPolicyStatesTotalsConcurrent: writers that replace the records of
// the same resources at the same time (replicas following one change
// feed) leave each resource with one writer's records, never a mix or
// duplicates, and totals that match the records.
func testPolicyStatesTotalsConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for round := range 10 {
				var batch []*store.PolicyState
				var keys []string
				for i := range 8 {
					// Each writer gives the resource its own assignments,
					// so that a mix of two writers' records would show.
					name := fmt.Sprintf("w%02d", (i+round+w)%8)
					for a := range 1 + w {
						batch = append(batch, policyState("rg0", name, fmt.Sprintf("as%d-%d", w, a), "", rollupOrder[(w+round+a)%len(rollupOrder)]))
					}
					keys = append(keys, batch[len(batch)-1].ResourceKey)
				}
				if err := s.Write(ctx, func(tx store.Tx) error { return tx.PutPolicyStatesBatch(ctx, batch, keys) }); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	all := listStates(t, s, store.PolicyStateQuery{})
	writers := map[string]string{}
	for _, p := range all {
		w := p.AssignmentKey[strings.LastIndex(p.AssignmentKey, "/as")+3:]
		w = w[:strings.IndexByte(w, '-')]
		if prev, ok := writers[p.ResourceKey]; ok && prev != w {
			t.Errorf("%s has records of writers %s and %s", p.ResourceKey, prev, w)
		}
		writers[p.ResourceKey] = w
	}
	if len(writers) != 8 {
		t.Errorf("%d resources with records, want 8", len(writers))
	}
	if want, got := wantTotals(all, psSub, ""), sumStates(t, s, psSub, ""); !slices.Equal(got, want) {
		t.Errorf("totals after concurrent writers:\n%v\nwant\n%v", got, want)
	}
}

// PolicyKeysMigration checks the migration that turns the keys of the
// records into ids (store.PolicyKeyID): old must write records, as they
// were stored before it, to a new store migrated up to it, and open it
// again with every migration. The reopened store lists the same records,
// finds them by their keys (the ids the database computed are those the
// store computes), and keeps their totals.
func PolicyKeysMigration(t *testing.T, old func(t *testing.T, records []*store.PolicyState) store.Store) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var records []*store.PolicyState
	for i := range 12 {
		rg, name := fmt.Sprintf("rg%d", i%3), fmt.Sprintf("w%02d", i)
		for _, a := range []string{"as1", "as2"} {
			records = append(records, policyState(rg, name, a, "", rollupOrder[rnd.IntN(len(rollupOrder))]))
		}
		for _, ref := range []string{"m1", "m2"} {
			records = append(records, policyState(rg, name, "set", ref, rollupOrder[rnd.IntN(len(rollupOrder))]))
		}
	}
	s := old(t, records)
	want := slices.Clone(records)
	sortStates(want)
	if diff := cmp.Diff(want, listStates(t, s, store.PolicyStateQuery{})); diff != "" {
		t.Fatalf("records after the migration (-want +got):\n%s", diff)
	}
	set, rg := records[2], psSub+"/resourcegroups/rg1"
	for _, q := range []store.PolicyStateQuery{
		{AssignmentKey: set.AssignmentKey}, {DefinitionKey: set.DefinitionKey}, {SetKey: set.SetKey},
		{SubscriptionKey: psSub, ResourceGroupKey: rg},
	} {
		match := func(p *store.PolicyState) bool {
			return (q.AssignmentKey == "" || p.AssignmentKey == q.AssignmentKey) && (q.DefinitionKey == "" || p.DefinitionKey == q.DefinitionKey) &&
				(q.SetKey == "" || p.SetKey == q.SetKey) && (q.ResourceGroupKey == "" || p.ResourceGroupKey == q.ResourceGroupKey)
		}
		wantKeys := stateKeys(slices.DeleteFunc(slices.Clone(want), func(p *store.PolicyState) bool { return !match(p) }))
		if got := stateKeys(listStates(t, s, q)); len(wantKeys) == 0 || !slices.Equal(got, wantKeys) {
			t.Errorf("ListPolicyStates(%+v) after the migration = %v, want %v", q, got, wantKeys)
		}
	}
	for _, g := range []string{"", rg} {
		if got, kept := sumStates(t, s, psSub, g), wantTotals(want, psSub, g); len(kept) == 0 || !slices.Equal(got, kept) {
			t.Errorf("totals of %q after the migration:\n%v\nwant\n%v", g, got, kept)
		}
	}
}

// PolicyKeyCollision: a key whose store.PolicyKeyID is held in
// policy_keys by another key (plant puts that row there, as a collision
// of the ids would) is refused with an error naming both keys, and the
// write leaves nothing behind; other keys are still written.
func PolicyKeyCollision(t *testing.T, s store.Store, plant func(t *testing.T, id int64, name string)) {
	p := policyState("rg1", "w1", "as1", "", "Compliant")
	plant(t, store.PolicyKeyID(p.DefinitionKey), "/providers/microsoft.authorization/policydefinitions/other")
	err := s.Write(t.Context(), func(tx store.Tx) error {
		return tx.ReplacePolicyStates(t.Context(), p.ResourceKey, []*store.PolicyState{p})
	})
	if err == nil || !strings.Contains(err.Error(), p.DefinitionKey) || !strings.Contains(err.Error(), "policydefinitions/other") {
		t.Fatalf("a record whose definition id is another key's: %v, want an error naming both keys", err)
	}
	if got := listStates(t, s, store.PolicyStateQuery{}); len(got) != 0 {
		t.Errorf("records after the refused write: %v", stateKeys(got))
	}
	q := policyState("rg1", "w1", "as2", "", "Compliant")
	putStates(t, s, nil, []*store.PolicyState{q})
	if got := stateKeys(listStates(t, s, store.PolicyStateQuery{})); !slices.Equal(got, []string{psKeyOf(q)}) {
		t.Errorf("records after a write of other keys: %v", got)
	}
}
