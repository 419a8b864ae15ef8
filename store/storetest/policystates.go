package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/store"
)

const psSub = "/subscriptions/00000000-0000-0000-0000-000000000001"

// policyState builds the record of resource name (a workspace in rg),
// assignment a and reference ref.
func policyState(rg, name, a, ref, state string) *store.PolicyState {
	rgKey := psSub + "/resourcegroups/" + rg
	key := rgKey + "/providers/microsoft.machinelearningservices/workspaces/" + name
	aKey := psSub + "/providers/microsoft.authorization/policyassignments/" + a
	s := &store.PolicyState{
		ResourceKey: key, AssignmentKey: aKey, ReferenceKey: ref,
		SubscriptionKey: psSub, ResourceGroupKey: rgKey,
		ResourceTypeKey: "microsoft.machinelearningservices/workspaces",
		DefinitionKey:   "/providers/microsoft.authorization/policydefinitions/def-" + a + ref,
		State:           state, Action: "audit", Timestamp: base,
	}
	if ref != "" {
		s.SetKey = "/providers/microsoft.authorization/policysetdefinitions/set-" + a
	}
	s.Body = fmt.Appendf(nil, `{"resourceId":%q,"policyAssignmentId":%q,"policyDefinitionReferenceId":%q,"complianceState":%q}`,
		key, aKey, ref, state)
	return s
}

func psKeyOf(s *store.PolicyState) string {
	return s.ResourceKey + "|" + s.AssignmentKey + "|" + s.ReferenceKey
}

func cursor(p *store.PolicyState) *store.PolicyStateKey {
	return &store.PolicyStateKey{ResourceKey: p.ResourceKey, AssignmentKey: p.AssignmentKey, ReferenceKey: p.ReferenceKey}
}

// sortStates sorts ss in the order the store lists records.
func sortStates(ss []*store.PolicyState) {
	slices.SortFunc(ss, func(a, b *store.PolicyState) int {
		return store.ComparePolicyStateKeys(*cursor(a), *cursor(b))
	})
}

func listStates(t *testing.T, s store.Store, q store.PolicyStateQuery) []*store.PolicyState {
	t.Helper()
	var out []*store.PolicyState
	read(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.ListPolicyStates(t.Context(), q)
		return err
	})
	return out
}

func stateKeys(ss []*store.PolicyState) []string {
	var ks []string
	for _, s := range ss {
		ks = append(ks, psKeyOf(s))
	}
	return ks
}

// putStates writes ss with PutPolicyStatesBatch, replacing the resources
// of replace or, when it is nil, those of ss.
func putStates(t *testing.T, s store.Store, replace []string, ss []*store.PolicyState) {
	t.Helper()
	if replace == nil {
		for _, p := range ss {
			if !slices.Contains(replace, p.ResourceKey) {
				replace = append(replace, p.ResourceKey)
			}
		}
	}
	write(t, s, func(tx store.Tx) error { return tx.PutPolicyStatesBatch(t.Context(), ss, replace) })
}

// testPolicyStatesReplace: ReplacePolicyStates makes a resource's records
// exactly the given ones, leaves other resources alone, returns bodies and
// timestamps as written; DeletePolicyStates and the read-only checks.
func testPolicyStatesReplace(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	a1 := policyState("rg1", "a", "as1", "", "Compliant")
	a2 := policyState("rg1", "a", "as2", "r1", "NonCompliant")
	a3 := policyState("rg1", "a", "as2", "r2", "Exempt")
	b1 := policyState("rg1", "b", "as1", "", "NonCompliant")
	a2.Timestamp = base.Add(time.Minute)
	write(t, s, func(tx store.Tx) error {
		if err := tx.ReplacePolicyStates(ctx, a1.ResourceKey, []*store.PolicyState{a1, a2, a3}); err != nil {
			return err
		}
		return tx.ReplacePolicyStates(ctx, b1.ResourceKey, []*store.PolicyState{b1})
	})
	got := listStates(t, s, store.PolicyStateQuery{})
	want := []*store.PolicyState{a1, a2, a3, b1}
	sortStates(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ListPolicyStates after the first replace (-want +got):\n%s", diff)
	}

	// a2 changes, a3 goes, a4 comes.
	a2n := policyState("rg1", "a", "as2", "r1", "Compliant")
	a4 := policyState("rg1", "a", "as3", "", "Error")
	write(t, s, func(tx store.Tx) error {
		return tx.ReplacePolicyStates(ctx, a1.ResourceKey, []*store.PolicyState{a4, a2n})
	})
	got = listStates(t, s, store.PolicyStateQuery{ResourceKey: a1.ResourceKey})
	want = []*store.PolicyState{a2n, a4}
	sortStates(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListPolicyStates after the second replace (-want +got):\n%s", diff)
	}
	if got := listStates(t, s, store.PolicyStateQuery{ResourceKey: b1.ResourceKey}); len(got) != 1 {
		t.Errorf("the other resource has %d records, want 1", len(got))
	}

	// A record of another resource is refused, and nothing is written.
	err := s.Write(ctx, func(tx store.Tx) error {
		return tx.ReplacePolicyStates(ctx, a1.ResourceKey, []*store.PolicyState{b1})
	})
	if err == nil {
		t.Error("ReplacePolicyStates with a record of another resource succeeded")
	}
	// A key twice in one batch is refused.
	err = s.Write(ctx, func(tx store.Tx) error {
		return tx.PutPolicyStatesBatch(ctx, []*store.PolicyState{a1, policyState("rg1", "a", "as1", "", "Error")}, nil)
	})
	if err == nil {
		t.Error("PutPolicyStatesBatch with a key twice succeeded")
	}

	// Replacing with nothing deletes; DeletePolicyStates too.
	write(t, s, func(tx store.Tx) error {
		if err := tx.ReplacePolicyStates(ctx, a1.ResourceKey, nil); err != nil {
			return err
		}
		return tx.DeletePolicyStates(ctx, b1.ResourceKey)
	})
	if got := listStates(t, s, store.PolicyStateQuery{}); len(got) != 0 {
		t.Errorf("%d records left, want none", len(got))
	}

	// Rolled back with the Write.
	err = s.Write(ctx, func(tx store.Tx) error {
		if err := tx.ReplacePolicyStates(ctx, a1.ResourceKey, []*store.PolicyState{a1}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write = %v, want errBoom", err)
	}
	if got := listStates(t, s, store.PolicyStateQuery{}); len(got) != 0 {
		t.Errorf("%d records after a rolled-back Write, want none", len(got))
	}

	writes := map[string]func(tx store.Tx) error{
		"ReplacePolicyStates":  func(tx store.Tx) error { return tx.ReplacePolicyStates(ctx, a1.ResourceKey, []*store.PolicyState{a1}) },
		"PutPolicyStatesBatch": func(tx store.Tx) error { return tx.PutPolicyStatesBatch(ctx, []*store.PolicyState{a1}, nil) },
		"DeletePolicyStates":   func(tx store.Tx) error { return tx.DeletePolicyStates(ctx, a1.ResourceKey) },
		"DeletePolicyStatesOfAssignment": func(tx store.Tx) error {
			_, err := tx.DeletePolicyStatesOfAssignment(ctx, a1.AssignmentKey)
			return err
		},
		"CreateScanTasks": func(tx store.Tx) error {
			return tx.CreateScanTasks(ctx, []*store.ScanTask{{ScanID: "s", TaskID: "t"}})
		},
		"ClaimScanTask": func(tx store.Tx) error {
			_, err := tx.ClaimScanTask(ctx, "o", base, base.Add(time.Minute))
			if errors.Is(err, store.ErrNotFound) {
				return nil // the store looked: a write in a read transaction
			}
			return err
		},
		"CompleteScanTask": func(tx store.Tx) error { return tx.CompleteScanTask(ctx, "s", "t", "o", 1) },
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
}

// psFixture writes 4 resources (rg1: a, b, c; rg2: d) x assignments
// as1 (single) and as2 (references r1, r2): 12 records with varied
// states, timestamps and body sizes, and returns them in key order.
func psFixture(t *testing.T, s store.Store) []*store.PolicyState {
	t.Helper()
	var all []*store.PolicyState
	states := []string{"Compliant", "NonCompliant", "Exempt", "Unknown"}
	i := 0
	for _, r := range [][2]string{{"rg1", "a"}, {"rg1", "b"}, {"rg1", "c"}, {"rg2", "d"}} {
		for _, ar := range [][2]string{{"as1", ""}, {"as2", "r1"}, {"as2", "r2"}} {
			p := policyState(r[0], r[1], ar[0], ar[1], states[i%len(states)])
			p.Timestamp = base.Add(time.Duration(i) * time.Second)
			if ar[0] == "as2" {
				p.Action = "deny"
			}
			all = append(all, p)
			i++
		}
	}
	sortStates(all)
	// Reversed, in two batches of whole resources: the store orders.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	putStates(t, s, nil, rev[:6])
	putStates(t, s, nil, rev[6:])
	return all
}

// testPolicyStatesList: the filters, Where with placeholders (after the
// filters' own arguments, a time argument included), paging by the
// (resource, assignment, reference) cursor, Limit and MaxBytes.
func testPolicyStatesList(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	all := psFixture(t, s)
	pick := func(f func(p *store.PolicyState) bool) []string {
		var ks []string
		for _, p := range all {
			if f(p) {
				ks = append(ks, psKeyOf(p))
			}
		}
		return ks
	}
	rg1 := psSub + "/resourcegroups/rg1"
	as2 := all[1].AssignmentKey
	if !strings.HasSuffix(as2, "/as2") {
		t.Fatalf("fixture: all[1] is %s", psKeyOf(all[1]))
	}
	// A cursor naming no record: the records after where it would be.
	missing := store.PolicyStateKey{ResourceKey: all[4].ResourceKey, AssignmentKey: all[4].AssignmentKey, ReferenceKey: "r1x"}
	for _, tc := range []struct {
		name string
		q    store.PolicyStateQuery
		want []string
	}{
		{"all", store.PolicyStateQuery{}, stateKeys(all)},
		{"subscription", store.PolicyStateQuery{SubscriptionKey: psSub}, stateKeys(all)},
		{"resource group", store.PolicyStateQuery{ResourceGroupKey: rg1}, pick(func(p *store.PolicyState) bool { return p.ResourceGroupKey == rg1 })},
		{"resource", store.PolicyStateQuery{ResourceKey: all[3].ResourceKey}, stateKeys(all[3:6])},
		{"prefix", store.PolicyStateQuery{KeyPrefix: psSub + "/resourcegroups/rg2/"}, stateKeys(all[9:])},
		{"assignment", store.PolicyStateQuery{AssignmentKey: as2}, pick(func(p *store.PolicyState) bool { return p.AssignmentKey == as2 })},
		{"definition", store.PolicyStateQuery{DefinitionKey: all[0].DefinitionKey}, pick(func(p *store.PolicyState) bool { return p.DefinitionKey == all[0].DefinitionKey })},
		{"set", store.PolicyStateQuery{SetKey: all[1].SetKey, ResourceGroupKey: rg1}, pick(func(p *store.PolicyState) bool { return p.SetKey == all[1].SetKey && p.ResourceGroupKey == rg1 })},
		{"where", store.PolicyStateQuery{Where: "state = ? AND action <> ?", Args: []any{"NonCompliant", "deny"}},
			pick(func(p *store.PolicyState) bool { return p.State == "NonCompliant" && p.Action != "deny" })},
		{"where after filters", store.PolicyStateQuery{KeyPrefix: rg1 + "/", AssignmentKey: as2, Where: "(state = ? OR state = ?) AND reference_key = ?", Args: []any{"Compliant", "Exempt", "r2"}},
			pick(func(p *store.PolicyState) bool {
				return p.ResourceGroupKey == rg1 && p.AssignmentKey == as2 && (p.State == "Compliant" || p.State == "Exempt") && p.ReferenceKey == "r2"
			})},
		{"where time", store.PolicyStateQuery{Where: "ts >= ? AND ts < ?", Args: []any{base.Add(4 * time.Second), base.Add(7 * time.Second)}},
			pick(func(p *store.PolicyState) bool {
				return !p.Timestamp.Before(base.Add(4*time.Second)) && p.Timestamp.Before(base.Add(7*time.Second))
			})},
		{"after", store.PolicyStateQuery{After: cursor(all[4])}, stateKeys(all[5:])},
		{"after limit", store.PolicyStateQuery{After: cursor(all[4]), Limit: 2}, stateKeys(all[5:7])},
		{"after a missing key", store.PolicyStateQuery{After: &missing}, pick(func(p *store.PolicyState) bool { return store.ComparePolicyStateKeys(*cursor(p), missing) > 0 })},
		{"max bytes 1", store.PolicyStateQuery{MaxBytes: 1}, stateKeys(all[:1])},
		{"max bytes", store.PolicyStateQuery{MaxBytes: len(all[0].Body) + len(all[1].Body), Where: "1 = ?", Args: []any{1}}, stateKeys(all[:2])},
		{"max bytes + 1", store.PolicyStateQuery{MaxBytes: len(all[0].Body) + len(all[1].Body) + 1}, stateKeys(all[:3])},
		{"max bytes after limit", store.PolicyStateQuery{MaxBytes: 1 << 20, Limit: 4, After: cursor(all[0])}, stateKeys(all[1:5])},
	} {
		got := stateKeys(listStates(t, s, tc.q))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: ListPolicyStates = %v, want %v", tc.name, got, tc.want)
		}
		if len(tc.want) == 0 {
			t.Errorf("%s: the fixture selects nothing", tc.name)
		}
	}

	// Under a resource group: its own record and its resources', in key
	// order; not those of the groups whose names extend its name.
	own := policyState("rg1", "x", "as1", "", "Compliant")
	own.ResourceKey = rg1
	sibling := policyState("rg1-x", "a", "as1", "", "Compliant")
	longer := policyState("rg10", "a", "as1", "", "Compliant")
	putStates(t, s, nil, []*store.PolicyState{own, sibling, longer})
	want := append([]string{psKeyOf(own)}, pick(func(p *store.PolicyState) bool { return p.ResourceGroupKey == rg1 })...)
	if got := stateKeys(listStates(t, s, store.PolicyStateQuery{Under: rg1})); !slices.Equal(got, want) {
		t.Errorf("Under %s: ListPolicyStates = %v, want %v", rg1, got, want)
	}
	if got := stateKeys(listStates(t, s, store.PolicyStateQuery{Under: rg1, After: cursor(own), Limit: 2})); !slices.Equal(got, want[1:3]) {
		t.Errorf("Under %s after its own record: %v, want %v", rg1, got, want[1:3])
	}
	write(t, s, func(tx store.Tx) error {
		return tx.PutPolicyStatesBatch(t.Context(), nil, []string{own.ResourceKey, sibling.ResourceKey, longer.ResourceKey})
	})

	// Paging through everything, 5 at a time.
	var paged []*store.PolicyState
	var after *store.PolicyStateKey
	for range 10 {
		page := listStates(t, s, store.PolicyStateQuery{After: after, Limit: 5})
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		l := page[len(page)-1]
		after = cursor(l)
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("paging (-want +got):\n%s", diff)
	}

	// A Where whose placeholders do not match its arguments fails.
	err := s.Read(t.Context(), func(tx store.Tx) error {
		_, err := tx.ListPolicyStates(t.Context(), store.PolicyStateQuery{Where: "state = ?"})
		return err
	})
	if err == nil {
		t.Error("ListPolicyStates with a placeholder and no argument succeeded")
	}
}

func countStates(t *testing.T, s store.Store, q store.PolicyStateQuery, groupBy ...string) []string {
	t.Helper()
	return countGroups(t, s, q, groupBy, false)
}

// countGroups is CountPolicyStates as "values=records/resources", with
// "@first resource key" when withFirst.
func countGroups(t *testing.T, s store.Store, q store.PolicyStateQuery, groupBy []string, withFirst bool) []string {
	t.Helper()
	var out []string
	read(t, s, func(tx store.Tx) error {
		cs, err := tx.CountPolicyStates(t.Context(), q, groupBy)
		for _, c := range cs {
			if len(c.Values) != len(groupBy) {
				return fmt.Errorf("values %v, want one for each of %v", c.Values, groupBy)
			}
			vals := make([]string, len(groupBy))
			for i, col := range groupBy {
				vals[i] = c.Values[col]
			}
			if withFirst {
				out = append(out, fmt.Sprintf("%s=%d/%d@%s", strings.Join(vals, ","), c.Count, c.Resources, c.FirstResourceKey))
			} else {
				out = append(out, fmt.Sprintf("%s=%d/%d", strings.Join(vals, ","), c.Count, c.Resources))
			}
		}
		return err
	})
	return out
}

// testPolicyStatesCount: counts and distinct resources, without and with
// groupBy, with filters and Where; unknown columns are refused.
func testPolicyStatesCount(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	all := psFixture(t, s)
	as1, as2 := all[0].AssignmentKey, all[1].AssignmentKey
	// expected: counted in Go
	count := func(filter func(p *store.PolicyState) bool, key func(p *store.PolicyState) string) []string {
		n := map[string]int{}
		res := map[string]map[string]bool{}
		first := map[string]string{}
		for _, p := range all {
			if !filter(p) {
				continue
			}
			k := key(p)
			n[k]++
			if f, ok := first[k]; !ok || p.ResourceKey < f {
				first[k] = p.ResourceKey
			}
			if res[k] == nil {
				res[k] = map[string]bool{}
			}
			res[k][p.ResourceKey] = true
		}
		var out []string
		for k := range n {
			out = append(out, fmt.Sprintf("%s=%d/%d@%s", k, n[k], len(res[k]), first[k]))
		}
		slices.Sort(out)
		return out
	}
	every := func(*store.PolicyState) bool { return true }
	for _, tc := range []struct {
		name    string
		q       store.PolicyStateQuery
		groupBy []string
		want    []string
	}{
		{"total", store.PolicyStateQuery{}, nil, count(every, func(*store.PolicyState) string { return "" })},
		{"total of none", store.PolicyStateQuery{AssignmentKey: "nope"}, nil, []string{"=0/0@"}},
		{"by state", store.PolicyStateQuery{}, []string{"state"}, count(every, func(p *store.PolicyState) string { return p.State })},
		{"by assignment, state", store.PolicyStateQuery{}, []string{"assignment_key", "state"},
			count(every, func(p *store.PolicyState) string { return p.AssignmentKey + "," + p.State })},
		{"by reference in a resource group", store.PolicyStateQuery{ResourceGroupKey: psSub + "/resourcegroups/rg1"}, []string{"reference_key"},
			count(func(p *store.PolicyState) bool { return p.ResourceGroupKey == psSub+"/resourcegroups/rg1" },
				func(p *store.PolicyState) string { return p.ReferenceKey })},
		{"by resource where", store.PolicyStateQuery{Where: "state <> ? AND action = ?", Args: []any{"Compliant", "deny"}}, []string{"resource_key"},
			count(func(p *store.PolicyState) bool { return p.State != "Compliant" && p.Action == "deny" },
				func(p *store.PolicyState) string { return p.ResourceKey })},
		{"by definition, set, action, type", store.PolicyStateQuery{AssignmentKey: as2}, []string{"definition_key", "set_key", "action", "resource_type_key"},
			count(func(p *store.PolicyState) bool { return p.AssignmentKey == as2 },
				func(p *store.PolicyState) string {
					return p.DefinitionKey + "," + p.SetKey + "," + p.Action + "," + p.ResourceTypeKey
				})},
		{"by subscription, resource group", store.PolicyStateQuery{AssignmentKey: as1}, []string{"subscription_key", "resource_group_key"},
			count(func(p *store.PolicyState) bool { return p.AssignmentKey == as1 },
				func(p *store.PolicyState) string { return p.SubscriptionKey + "," + p.ResourceGroupKey })},
		// Grouped by the resource's own columns (counted per resource
		// first): with a condition on a record's column and on a key.
		{"by type, non-compliant", store.PolicyStateQuery{Where: "state = ?", Args: []any{"NonCompliant"}}, []string{"resource_type_key"},
			count(func(p *store.PolicyState) bool { return p.State == "NonCompliant" }, func(p *store.PolicyState) string { return p.ResourceTypeKey })},
		{"by type", store.PolicyStateQuery{KeyPrefix: psSub + "/"}, []string{"resource_type_key"},
			count(func(p *store.PolicyState) bool { return strings.HasPrefix(p.ResourceKey, psSub+"/") }, func(p *store.PolicyState) string { return p.ResourceTypeKey })},
		{"by resource group, of an assignment by condition", store.PolicyStateQuery{Where: "assignment_key = ? AND state <> ?", Args: []any{as2, "Compliant"}}, []string{"resource_group_key"},
			count(func(p *store.PolicyState) bool { return p.AssignmentKey == as2 && p.State != "Compliant" }, func(p *store.PolicyState) string { return p.ResourceGroupKey })},
		{"by type of none", store.PolicyStateQuery{AssignmentKey: "nope"}, []string{"resource_type_key"}, nil},
		{"by type, of assignments", store.PolicyStateQuery{AssignmentKeys: []string{as2, "nope"}}, []string{"resource_type_key"},
			count(func(p *store.PolicyState) bool { return p.AssignmentKey == as2 }, func(p *store.PolicyState) string { return p.ResourceTypeKey })},
		{"of no assignment", store.PolicyStateQuery{AssignmentKeys: []string{}}, []string{"state"}, nil},
	} {
		got := countGroups(t, s, tc.q, tc.groupBy, true)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: CountPolicyStates = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, groupBy := range [][]string{{"body"}, {"ts"}, {"state; DROP TABLE policy_states"}, {"state", "state"}} {
		err := s.Read(t.Context(), func(tx store.Tx) error {
			_, err := tx.CountPolicyStates(t.Context(), store.PolicyStateQuery{}, groupBy)
			return err
		})
		if err == nil {
			t.Errorf("CountPolicyStates grouped by %q succeeded", groupBy)
		}
	}
}

// testPolicyStatesBulk: PutPolicyStatesBatch over several statement sizes,
// replacing resources' records, and DeletePolicyStatesOfAssignment.
func testPolicyStatesBulk(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	const resources, perResource = 300, 3 // 900 records: 256*3 + 128 + 4
	var first []*store.PolicyState
	var keys []string
	for i := range resources {
		for j := range perResource {
			first = append(first, policyState("rg1", fmt.Sprintf("w%03d", i), fmt.Sprintf("as%d", j), "", "Compliant"))
		}
		keys = append(keys, first[len(first)-1].ResourceKey)
	}
	putStates(t, s, keys, first)
	if got := countStates(t, s, store.PolicyStateQuery{}); !slices.Equal(got, []string{fmt.Sprintf("=%d/%d", resources*perResource, resources)}) {
		t.Fatalf("after the first batch: %v", got)
	}
	// The second scan: every resource replaced; its records are only
	// assignments as1 and as3 now, the even ones NonCompliant.
	var second []*store.PolicyState
	for i := range resources {
		for _, a := range []string{"as1", "as3"} {
			st := "Compliant"
			if i%2 == 0 {
				st = "NonCompliant"
			}
			second = append(second, policyState("rg1", fmt.Sprintf("w%03d", i), a, "", st))
		}
	}
	putStates(t, s, keys, second)
	got := listStates(t, s, store.PolicyStateQuery{})
	want := slices.Clone(second)
	sortStates(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after the second batch (-want +got):\n%s", diff)
	}
	// Two resources replaced again, one with a record more, the other
	// with one changed; a record of a resource the call does not
	// replace is refused.
	extra := policyState("rg1", "w000", "as9", "", "Unknown")
	upd := policyState("rg1", "w001", "as1", "", "Error")
	putStates(t, s, nil, []*store.PolicyState{second[0], second[1], extra, upd, second[3]})
	err := s.Write(ctx, func(tx store.Tx) error {
		return tx.PutPolicyStatesBatch(ctx, []*store.PolicyState{extra}, []string{upd.ResourceKey})
	})
	if err == nil {
		t.Error("PutPolicyStatesBatch with a record of a resource it does not replace succeeded")
	}
	if got := countStates(t, s, store.PolicyStateQuery{}, "state"); !slices.Equal(got, []string{
		"Compliant=299/150", "Error=1/1", "NonCompliant=300/150", "Unknown=1/1"}) {
		t.Errorf("counts after the single puts: %v", got)
	}
	var n int
	write(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.DeletePolicyStatesOfAssignment(ctx, second[0].AssignmentKey)
		return err
	})
	if n != resources {
		t.Errorf("DeletePolicyStatesOfAssignment = %d, want %d", n, resources)
	}
	if got := countStates(t, s, store.PolicyStateQuery{}, "assignment_key"); len(got) != 2 {
		t.Errorf("assignments left: %v, want as3 and as9", got)
	}
}

// testScanTasks: creating, claiming (pending first, then expired
// leases), completing by the owner only, progress.
func testScanTasks(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	tasks := []*store.ScanTask{
		{ScanID: "scan1", TaskID: "t1", Scope: psSub + "/resourcegroups/rg1/"},
		{ScanID: "scan1", TaskID: "t2", Scope: psSub + "/resourcegroups/rg2/"},
		{ScanID: "scan1", TaskID: "t3", Scope: psSub + "/resourcegroups/rg3/"},
	}
	write(t, s, func(tx store.Tx) error { return tx.CreateScanTasks(ctx, tasks) })
	err := s.Write(ctx, func(tx store.Tx) error {
		return tx.CreateScanTasks(ctx, []*store.ScanTask{{ScanID: "scan1", TaskID: "t2"}})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateScanTasks of an existing task: %v, want ErrConflict", err)
	}
	claim := func(owner string, now time.Time) (*store.ScanTask, error) {
		var k *store.ScanTask
		err := s.Write(ctx, func(tx store.Tx) error {
			var err error
			k, err = tx.ClaimScanTask(ctx, owner, now, now.Add(time.Minute))
			return err
		})
		return k, err
	}
	complete := func(id, owner string, n int) error {
		return s.Write(ctx, func(tx store.Tx) error { return tx.CompleteScanTask(ctx, "scan1", id, owner, n) })
	}
	progress := func() string {
		var done, total int
		read(t, s, func(tx store.Tx) error {
			var err error
			done, total, err = tx.ScanProgress(ctx, "scan1")
			return err
		})
		return fmt.Sprintf("%d/%d", done, total)
	}
	if p := progress(); p != "0/3" {
		t.Errorf("progress = %s, want 0/3", p)
	}
	for i, owner := range []string{"a", "b", "c"} {
		k, err := claim(owner, base)
		if err != nil {
			t.Fatalf("claim %s: %v", owner, err)
		}
		want := &store.ScanTask{ScanID: "scan1", TaskID: tasks[i].TaskID, Scope: tasks[i].Scope, Owner: owner, LeaseUntil: base.Add(time.Minute)}
		if diff := cmp.Diff(want, k); diff != "" {
			t.Errorf("claim %s (-want +got):\n%s", owner, diff)
		}
	}
	_, err = claim("d", base.Add(30*time.Second))
	wantNotFound(t, "claim with every lease running", err)

	if err := complete("t2", "a", 5); !errors.Is(err, store.ErrConflict) {
		t.Errorf("complete t2 by a: %v, want ErrConflict", err)
	}
	wantNotFound(t, "complete t9", complete("t9", "a", 5))
	if err := complete("t2", "b", 5); err != nil {
		t.Errorf("complete t2 by b: %v", err)
	}
	if p := progress(); p != "1/3" {
		t.Errorf("progress = %s, want 1/3", p)
	}
	// The leases of t1 and t3 end at base+1m: e takes t1 over (the
	// earliest lease, then the ID), and a can no longer complete it.
	k, err := claim("e", base.Add(time.Minute))
	if err != nil || k.TaskID != "t1" || k.Owner != "e" || !k.LeaseUntil.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("claim after the lease: %+v, %v; want t1 for e", k, err)
	}
	if err := complete("t1", "a", 1); !errors.Is(err, store.ErrConflict) {
		t.Errorf("complete t1 by its former owner: %v, want ErrConflict", err)
	}
	// c's lease on t3 ended too, but c was not overtaken: it completes.
	for _, c := range [][2]string{{"t1", "e"}, {"t3", "c"}} {
		if err := complete(c[0], c[1], 7); err != nil {
			t.Errorf("complete %s by %s: %v", c[0], c[1], err)
		}
	}
	if p := progress(); p != "3/3" {
		t.Errorf("progress = %s, want 3/3", p)
	}
	// Done tasks are never claimed, whatever the time.
	_, err = claim("f", base.Add(time.Hour))
	wantNotFound(t, "claim with every task done", err)
	err = s.Read(ctx, func(tx store.Tx) error {
		_, _, err := tx.ScanProgress(ctx, "nope")
		return err
	})
	wantNotFound(t, "ScanProgress of an unknown scan", err)
}

func testScanTasksConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ScanTasksConcurrent(t, s, s)
}

// ScanTasksConcurrent has claimers on s1 and s2 (two stores on one
// database, or the same store twice) claim the tasks of a scan at once:
// no task may be claimed twice while its lease lasts, and every task is
// claimed.
func ScanTasksConcurrent(t *testing.T, s1, s2 store.Store) {
	ctx := t.Context()
	const n = 60
	var tasks []*store.ScanTask
	for i := range n {
		tasks = append(tasks, &store.ScanTask{ScanID: "cc", TaskID: fmt.Sprintf("t%03d", i), Scope: "/"})
	}
	write(t, s1, func(tx store.Tx) error { return tx.CreateScanTasks(ctx, tasks) })
	var mu sync.Mutex
	claimed := map[string][]string{}
	claimAll := func(s store.Store, owner string) error {
		for {
			var k *store.ScanTask
			err := s.Write(ctx, func(tx store.Tx) error {
				var err error
				k, err = tx.ClaimScanTask(ctx, owner, base, base.Add(time.Hour))
				return err
			})
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			claimed[k.TaskID] = append(claimed[k.TaskID], owner)
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for i := range 6 {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			if err := claimAll(s, fmt.Sprintf("o%d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// A claimer may stop early (a task it skipped as locked was taken by
	// then); the leftovers, if any, go to a last claimer.
	if err := claimAll(s1, "last"); err != nil {
		t.Fatal(err)
	}
	if len(claimed) != n {
		t.Errorf("%d tasks claimed, want %d", len(claimed), n)
	}
	for id, owners := range claimed {
		if len(owners) != 1 {
			t.Errorf("task %s claimed by %v", id, owners)
		}
	}
}
