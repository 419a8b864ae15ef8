package generic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

// PolicyStateCols are the columns of a policy_states row, in the order
// ListPolicyStates scans them: the record's keys other than the
// resource's as their store.PolicyKeyID.
const PolicyStateCols = `resource_key, assignment_id, reference_id, subscription_id, resource_group_id,
	resource_type_id, definition_id, set_id, state, action, ts, body`

const policyStateNCols = 12

const scanTaskCols = `scan_id, task_id, scope, owner, lease_until, done, processed`

// maxRowsLog2: multi-row statements carry up to 1<<maxRowsLog2 rows; a
// batch is cut into statements of 256, 128, ..., 1 rows, so that a
// backend prepares at most maxRowsLog2+1 shapes of each.
const maxRowsLog2 = 8

// tallyCols are the columns of a record that its totals count, its keys
// as ids (tallyRow).
const tallyCols = `resource_key, subscription_id, resource_group_id, assignment_id, reference_id,
	definition_id, set_id, action, state`

const totalCols = `subscription_key, resource_group_key, level, assignment_key, reference_key,
	definition_key, set_key, action, state`

// psStatements are the statements of compliance records and scan tasks.
type psStatements struct {
	// insert[i] inserts 1<<i records; takeKeys[i] deletes the records of
	// 1<<i resources and returns their tallyCols; statesOf[i] returns the
	// distinct (resource, state) of the records of 1<<i resources;
	// takeAssignment[i] deletes an assignment's records of 1<<i resources
	// and returns their resource, subscription, group and state;
	// addTotals[i] adds 1<<i counts to the totals; keyNames[i]
	// returns the (id, name) of 1<<i policy_keys, insertKeys[i] inserts
	// 1<<i of them (those new: it returns their ids).
	insert, takeKeys, statesOf, takeAssignment, addTotals [maxRowsLog2 + 1]string
	// insertHistory[i] keeps 1<<i replaced records in the history.
	insertHistory        [maxRowsLog2 + 1]string
	keyNames, insertKeys [maxRowsLog2 + 1]string
	// lockKeys (with RowLocks) takes a transaction lock on each key of
	// its one array argument, in key order.
	lockKeys                        string
	assignmentResources             string
	deleteTotals, pruneHistory      string
	sumTotals, sumTotalsOfGroup     string
	insertScanTask, claimScanTask   string
	completeScanTask, scanTaskOwner string
	scanProgress                    string
}

func renderPolicyStatements(d *Dialect) psStatements {
	r := d.Rebind
	var s psStatements
	list := func(n int, item string) string { return strings.TrimSuffix(strings.Repeat(item+", ", n), ", ") }
	for i := range s.insert {
		n := 1 << i
		s.insert[i] = r(`INSERT INTO policy_states (` + PolicyStateCols + `) VALUES ` +
			list(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
		s.takeKeys[i] = r(`DELETE FROM policy_states WHERE resource_key IN (` + list(n, "?") + `) RETURNING ` + PolicyStateCols)
		s.insertHistory[i] = r(`INSERT INTO policy_state_history (` + PolicyStateCols + `) VALUES ` +
			list(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") + ` ON CONFLICT DO NOTHING`)
		s.statesOf[i] = r(`SELECT DISTINCT resource_key, state FROM policy_states WHERE resource_key IN (` + list(n, "?") + `)`)
		s.takeAssignment[i] = r(`DELETE FROM policy_states WHERE assignment_id = ? AND resource_key IN (` + list(n, "?") +
			`) RETURNING resource_key, subscription_id, resource_group_id, state`)
		s.addTotals[i] = r(`INSERT INTO policy_state_totals (` + totalCols + `, n) VALUES ` +
			list(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") + `
			ON CONFLICT (` + totalCols + `) DO UPDATE SET n = policy_state_totals.n + excluded.n`)
		s.keyNames[i] = r(`SELECT id, name FROM policy_keys WHERE id IN (` + list(n, "?") + `)`)
		s.insertKeys[i] = r(`INSERT INTO policy_keys (id, name) VALUES ` + list(n, "(?, ?)") +
			` ON CONFLICT (id) DO NOTHING RETURNING id`)
	}
	if d.RowLocks {
		s.lockKeys = r(`SELECT pg_advisory_xact_lock(7, hashtext(k)) FROM (SELECT k FROM unnest(?::text[]) AS u(k) ORDER BY k) AS keys`)
	}
	s.assignmentResources = r(`SELECT DISTINCT resource_key FROM policy_states WHERE assignment_id = ?`)
	s.deleteTotals = r(`DELETE FROM policy_state_totals WHERE assignment_key = ?`)
	s.pruneHistory = r(`DELETE FROM policy_state_history WHERE (resource_key, assignment_id, reference_id, ts) IN
		(SELECT resource_key, assignment_id, reference_id, ts FROM policy_state_history WHERE ts < ? ORDER BY ts LIMIT ?)`)
	sum := `SELECT level, assignment_key, reference_key, definition_key, set_key, action, state, SUM(n)
		FROM policy_state_totals WHERE subscription_key = ?`
	group := ` GROUP BY level, assignment_key, reference_key, definition_key, set_key, action, state
		HAVING SUM(n) <> 0 ORDER BY level, assignment_key, reference_key, definition_key, set_key, action, state`
	s.sumTotals = r(sum + group)
	s.sumTotalsOfGroup = r(sum + ` AND resource_group_key = ?` + group)
	s.insertScanTask = r(`INSERT INTO scan_tasks (` + scanTaskCols + `)
		VALUES (?, ?, ?, '', ?, FALSE, 0) ON CONFLICT (scan_id, task_id) DO NOTHING`)
	lock := ""
	if d.RowLocks {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// The earliest lease first: pending tasks have the zero time.
	s.claimScanTask = r(`UPDATE scan_tasks SET owner = ?, lease_until = ?
		WHERE (scan_id, task_id) = (SELECT scan_id, task_id FROM scan_tasks
			WHERE done = FALSE AND lease_until <= ? ORDER BY lease_until, scan_id, task_id LIMIT 1` + lock + `)
		RETURNING ` + scanTaskCols)
	s.completeScanTask = r(`UPDATE scan_tasks SET done = TRUE, processed = ?
		WHERE scan_id = ? AND task_id = ? AND owner = ?`)
	s.scanTaskOwner = r(`SELECT owner FROM scan_tasks WHERE scan_id = ? AND task_id = ?`)
	s.scanProgress = r(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN done THEN 1 ELSE 0 END), 0)
		FROM scan_tasks WHERE scan_id = ?`)
	return s
}

// scratch returns t's reusable argument slice of length n.
func (t *Tx) scratch(n int) []any {
	if cap(t.args) < n {
		t.args = make([]any, n)
	}
	return t.args[:n]
}

// ReplacePolicyStates makes the records of resourceKey exactly states.
func (t *Tx) ReplacePolicyStates(ctx context.Context, resourceKey string, states []*store.PolicyState) error {
	return t.PutPolicyStatesBatch(ctx, states, []string{resourceKey})
}

// PutPolicyStatesBatch deletes the records of the resources of replace,
// keeping what they were, inserts states (in multi-row statements, or
// bulk-loaded with a Copier), and adds the difference to the totals.
func (t *Tx) PutPolicyStatesBatch(ctx context.Context, states []*store.PolicyState, replace []string) error {
	const op = "put policy states"
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	replaced := make(map[string]bool, len(replace))
	for _, k := range replace {
		replaced[k] = true
	}
	type key struct{ r, a, ref string }
	seen := make(map[key]struct{}, len(states))
	for _, s := range states {
		if s.ResourceKey == "" || s.AssignmentKey == "" {
			return fmt.Errorf("%s: %s: a record without a resource or assignment key", t.D.Name, op)
		}
		if !replaced[s.ResourceKey] {
			return fmt.Errorf("%s: %s: a record of %q, which the call does not replace", t.D.Name, op, s.ResourceKey)
		}
		k := key{s.ResourceKey, s.AssignmentKey, s.ReferenceKey}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%s: %s: record %v twice", t.D.Name, op, k)
		}
		seen[k] = struct{}{}
	}
	if err := t.lockResources(ctx, replace); err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	if err := t.putKeys(ctx, states); err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	before, err := t.takeStates(ctx, replace)
	if err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	if err := t.keepHistory(ctx, before, states); err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	if c, ok := t.Q.(Copier); ok && len(states) >= copyMin {
		rows := make([][]any, len(states))
		for j, s := range states {
			rows[j] = make([]any, policyStateNCols)
			stateArgs(rows[j], s, t.D)
		}
		if _, err := c.CopyFrom(ctx, "policy_states", policyStateColNames, rows); err != nil {
			return t.D.Wrap(ctx, op, err)
		}
	} else if err := t.insertStates(ctx, &t.D.s.ps.insert, states); err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	acc := totals{}
	acc.add(before, -1)
	acc.add(states, +1)
	if err := t.addTotals(ctx, acc); err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	return nil
}

// insertStates inserts states with the multi-row statements stmts
// (insert or insertHistory).
func (t *Tx) insertStates(ctx context.Context, stmts *[maxRowsLog2 + 1]string, states []*store.PolicyState) error {
	const w = policyStateNCols
	for len(states) > 0 {
		i := chunkLog2(len(states))
		n := 1 << i
		args := t.scratch(n * w)
		for j, s := range states[:n] {
			stateArgs(args[j*w:(j+1)*w], s, t.D)
		}
		if _, err := t.Q.Exec(ctx, stmts[i], args...); err != nil {
			return err
		}
		states = states[n:]
	}
	clear(t.args) // keep no bodies reachable
	return nil
}

// stateArgs sets a, of length policyStateNCols, to the values of s's
// PolicyStateCols.
func stateArgs(a []any, s *store.PolicyState, d *Dialect) {
	a[0], a[1], a[2] = s.ResourceKey, store.PolicyKeyID(s.AssignmentKey), store.PolicyKeyID(s.ReferenceKey)
	a[3], a[4] = store.PolicyKeyID(s.SubscriptionKey), store.PolicyKeyID(s.ResourceGroupKey)
	a[5], a[6], a[7] = store.PolicyKeyID(s.ResourceTypeKey), store.PolicyKeyID(s.DefinitionKey), store.PolicyKeyID(s.SetKey)
	a[8], a[9], a[10], a[11] = s.State, s.Action, d.Time(s.Timestamp), NZ(s.Body)
}

// putKeys makes sure policy_keys has the keys the records of states name
// by id, and that no other key has the id of one of them (a collision of
// store.PolicyKeyID, refused). It inserts the keys it does not find, in id
// order (concurrent writers of PostgreSQL lock the new ids in one order).
func (t *Tx) putKeys(ctx context.Context, states []*store.PolicyState) error {
	want := map[int64]string{}
	for _, s := range states {
		for _, k := range [...]string{s.AssignmentKey, s.ReferenceKey, s.SubscriptionKey, s.ResourceGroupKey,
			s.ResourceTypeKey, s.DefinitionKey, s.SetKey} {
			if k == "" {
				continue
			}
			id := store.PolicyKeyID(k)
			if o, ok := want[id]; ok && o != k {
				return fmt.Errorf("keys %q and %q have the same id %d", o, k, id)
			}
			want[id] = k
		}
	}
	if len(want) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	check := func(found map[int64]string) error {
		for id, name := range found {
			if name != want[id] {
				return fmt.Errorf("keys %q and %q have the same id %d", name, want[id], id)
			}
		}
		return nil
	}
	found, err := t.keyNames(ctx, ids)
	if err != nil {
		return err
	}
	if err := check(found); err != nil {
		return err
	}
	missing := slices.DeleteFunc(ids, func(id int64) bool { _, ok := found[id]; return ok })
	var lost []int64
	for len(missing) > 0 {
		i := chunkLog2(len(missing))
		n := 1 << i
		args := t.scratch(2 * n)
		for j, id := range missing[:n] {
			args[2*j], args[2*j+1] = id, want[id]
		}
		rows, err := t.Q.Query(ctx, t.D.s.ps.insertKeys[i], args...)
		if err != nil {
			return err
		}
		inserted := map[int64]bool{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			inserted[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range missing[:n] {
			if !inserted[id] {
				lost = append(lost, id)
			}
		}
		missing = missing[n:]
	}
	if len(lost) == 0 {
		return nil
	}
	// Another transaction inserted these ids meanwhile (PostgreSQL).
	found, err = t.keyNames(ctx, lost)
	if err != nil {
		return err
	}
	return check(found)
}

// keyNames returns the names policy_keys holds for ids (those it has).
func (t *Tx) keyNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	err := eachChunk(ctx, t, ids, &t.D.s.ps.keyNames, nil, func(rows Rows) error {
		var id int64
		var name string
		err := rows.Scan(&id, &name)
		out[id] = name
		return err
	})
	return out, err
}

// tallyRow is a record's tallyCols as read.
type tallyRow struct {
	resource                           string
	sub, rg, assignment, ref, def, set int64
	action, state                      string
}

// scanTally scans a row of tallyCols.
func scanTally(rows Rows) (tallyRow, error) {
	var r tallyRow
	err := rows.Scan(&r.resource, &r.sub, &r.rg, &r.assignment, &r.ref, &r.def, &r.set, &r.action, &r.state)
	return r, err
}

// records returns rows as records with their keys.
func (t *Tx) records(ctx context.Context, rows []tallyRow) ([]*store.PolicyState, error) {
	ids := make([]int64, 0, 6*len(rows))
	for _, r := range rows {
		ids = append(ids, r.sub, r.rg, r.assignment, r.ref, r.def, r.set)
	}
	names, err := t.names(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*store.PolicyState, len(rows))
	for i, r := range rows {
		out[i] = &store.PolicyState{ResourceKey: r.resource, SubscriptionKey: names[r.sub], ResourceGroupKey: names[r.rg],
			AssignmentKey: names[r.assignment], ReferenceKey: names[r.ref], DefinitionKey: names[r.def], SetKey: names[r.set],
			Action: r.action, State: r.state}
	}
	return out, nil
}

// names returns the keys of ids: those this process knows the ids of
// (store.KnownPolicyKey), the others from policy_keys.
func (t *Tx) names(ctx context.Context, ids []int64) (map[int64]string, error) {
	names := map[int64]string{}
	var unknown []int64
	asked := map[int64]bool{}
	for _, id := range ids {
		if _, ok := names[id]; ok || asked[id] {
			continue
		}
		if k, ok := store.KnownPolicyKey(id); ok {
			names[id] = k
		} else {
			asked[id] = true
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return names, nil
	}
	found, err := t.keyNames(ctx, unknown)
	if err != nil {
		return nil, err
	}
	for _, id := range unknown {
		k, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("policy_keys has no key of id %d", id)
		}
		names[id] = k
	}
	return names, nil
}

// lockResources serialises, with RowLocks, the transactions that write
// the records of the same resources: a replica's delete sees the records
// the other inserted, instead of both inserting.
func (t *Tx) lockResources(ctx context.Context, keys []string) error {
	if t.D.s.ps.lockKeys == "" || len(keys) == 0 {
		return nil
	}
	_, err := t.Q.Exec(ctx, t.D.s.ps.lockKeys, keys)
	return err
}

// takeStates deletes the records of the resources of keys and returns
// them.
func (t *Tx) takeStates(ctx context.Context, keys []string) ([]*store.PolicyState, error) {
	var sc stateScanner
	err := eachChunk(ctx, t, keys, &t.D.s.ps.takeKeys, nil, func(rows Rows) error { return sc.scan(t, rows) })
	if err != nil {
		return nil, err
	}
	return sc.done(ctx, t)
}

// keepHistory moves to the history the records of before that states
// replace by one of another state, or by none.
func (t *Tx) keepHistory(ctx context.Context, before, states []*store.PolicyState) error {
	if len(before) == 0 {
		return nil
	}
	type key struct{ r, a, ref string }
	now := make(map[key]string, len(states))
	for _, s := range states {
		now[key{s.ResourceKey, s.AssignmentKey, s.ReferenceKey}] = s.State
	}
	var keep []*store.PolicyState
	for _, s := range before {
		if st, ok := now[key{s.ResourceKey, s.AssignmentKey, s.ReferenceKey}]; !ok || st != s.State {
			keep = append(keep, s)
		}
	}
	return t.insertStates(ctx, &t.D.s.ps.insertHistory, keep)
}

// stateScanner reads rows of PolicyStateCols into records, and then
// their keys from their ids.
type stateScanner struct {
	out  []*store.PolicyState
	ids  []int64
	size int // bytes of the bodies read
}

func (sc *stateScanner) scan(t *Tx, rows Rows) error {
	d := t.D
	var s store.PolicyState
	var a, ref, sub, rg, typ, def, set int64
	if err := rows.Scan(t.buf(&s.ResourceKey, &a, &ref, &sub, &rg, &typ, &def, &set, &s.State, &s.Action,
		d.timeDest(&s.Timestamp), &s.Body)...); err != nil {
		return err
	}
	d.fixTime(&s.Timestamp)
	sc.out = append(sc.out, &s)
	sc.ids = append(sc.ids, a, ref, sub, rg, typ, def, set)
	sc.size += len(s.Body)
	return nil
}

// done sets the records' keys and returns them (the rows are closed).
func (sc *stateScanner) done(ctx context.Context, t *Tx) ([]*store.PolicyState, error) {
	names, err := t.names(ctx, sc.ids)
	if err != nil {
		return nil, err
	}
	for i, s := range sc.out {
		k := sc.ids[7*i : 7*i+7]
		s.AssignmentKey, s.ReferenceKey, s.SubscriptionKey, s.ResourceGroupKey = names[k[0]], names[k[1]], names[k[2]], names[k[3]]
		s.ResourceTypeKey, s.DefinitionKey, s.SetKey = names[k[4]], names[k[5]], names[k[6]]
	}
	return sc.out, nil
}

// worse reports whether state rolls up before sofar, the worst state
// so far ("" when none yet): store.ComplianceRank.
func worse(state, sofar string) bool {
	return sofar == "" || store.ComplianceRank(state) < store.ComplianceRank(sofar)
}

// totalKey is a row of policy_state_totals.
type totalKey struct {
	sub, rg                           string
	level                             store.TotalLevel
	assignment, ref, def, set, action string
	state                             string
}

// totals are counts to add to policy_state_totals.
type totals map[totalKey]int

// add adds sign times the totals of records, at every level: each
// resource's records are rolled up together wherever they are in
// records. The per-assignment level is kept for initiatives only (records
// with a reference): an assignment of a single definition has one record
// per resource, so its level-1 counts are its level-0 counts, and
// SumPolicyStates derives them.
func (acc totals) add(records []*store.PolicyState, sign int) {
	byResource := make(map[string][]*store.PolicyState, len(records))
	for _, s := range records {
		byResource[s.ResourceKey] = append(byResource[s.ResourceKey], s)
	}
	worstOf := map[string]string{}
	for _, rs := range byResource {
		sub, rg := rs[0].SubscriptionKey, rs[0].ResourceGroupKey
		worst := ""
		clear(worstOf)
		for _, s := range rs {
			acc[totalKey{sub, rg, store.TotalRecords, s.AssignmentKey, s.ReferenceKey, s.DefinitionKey, s.SetKey, s.Action, s.State}] += sign
			if s.ReferenceKey == "" {
				// kept once at level 0
			} else if w, ok := worstOf[s.AssignmentKey]; !ok || worse(s.State, w) {
				worstOf[s.AssignmentKey] = s.State
			}
			if worse(s.State, worst) {
				worst = s.State
			}
		}
		for a, st := range worstOf {
			acc[totalKey{sub: sub, rg: rg, level: store.TotalAssignmentResources, assignment: a, state: st}] += sign
		}
		acc[totalKey{sub: sub, rg: rg, level: store.TotalResources, state: worst}] += sign
	}
}

// addTotals adds acc's non-zero counts to policy_state_totals, in key
// order (concurrent writers of PostgreSQL lock the rows in one order).
func (t *Tx) addTotals(ctx context.Context, acc totals) error {
	keys := make([]totalKey, 0, len(acc))
	for k, n := range acc {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b totalKey) int {
		return cmp.Or(cmp.Compare(a.sub, b.sub), cmp.Compare(a.rg, b.rg), cmp.Compare(a.level, b.level),
			cmp.Compare(a.assignment, b.assignment), cmp.Compare(a.ref, b.ref), cmp.Compare(a.def, b.def),
			cmp.Compare(a.set, b.set), cmp.Compare(a.action, b.action), cmp.Compare(a.state, b.state))
	})
	const w = 10
	for len(keys) > 0 {
		i := chunkLog2(len(keys))
		n := 1 << i
		args := t.scratch(n * w)
		for j, k := range keys[:n] {
			a := args[j*w : (j+1)*w]
			a[0], a[1], a[2], a[3], a[4] = k.sub, k.rg, int(k.level), k.assignment, k.ref
			a[5], a[6], a[7], a[8], a[9] = k.def, k.set, k.action, k.state, acc[k]
		}
		if _, err := t.Q.Exec(ctx, t.D.s.ps.addTotals[i], args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Copier is implemented by a Querier that bulk-loads rows into a table
// (PostgreSQL's COPY FROM STDIN); rows hold the Dialect's argument
// values, in the order of cols.
type Copier interface {
	CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) (int64, error)
}

// copyMin is the fewest records PutPolicyStatesBatch bulk-loads with a
// Copier; fewer go through the multi-row insert.
const copyMin = 64

var policyStateColNames = strings.Split(strings.Join(strings.Fields(PolicyStateCols), ""), ",")

// chunkLog2 returns the log2 of the largest power of two up to
// 1<<maxRowsLog2 that is at most n (n > 0).
func chunkLog2(n int) int {
	i := 0
	for i < maxRowsLog2 && 2<<i <= n {
		i++
	}
	return i
}

// DeletePolicyStates deletes the records of one resource.
func (t *Tx) DeletePolicyStates(ctx context.Context, resourceKey string) error {
	return t.PutPolicyStatesBatch(ctx, nil, []string{resourceKey})
}

// DeletePolicyStatesOfAssignment deletes the records of one assignment
// and returns how many it deleted. Finding them reads the whole table
// (there is no index by assignment): the governor deletes an assignment's
// records in the background. The assignment's own totals go; of the
// others, only the resources' roll-up (level 2) can change, which the
// states of their other records give.
func (t *Tx) DeletePolicyStatesOfAssignment(ctx context.Context, assignmentKey string) (int, error) {
	const op = "delete policy states of assignment"
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	id := store.PolicyKeyID(assignmentKey)
	var keys []string
	rows, err := t.Q.Query(ctx, t.D.s.ps.assignmentResources, t.buf(id)...)
	if err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return 0, t.D.Wrap(ctx, op, err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	slices.Sort(keys)
	if err := t.lockResources(ctx, keys); err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	type resource struct {
		sub, rg       int64
		deleted, left string // the worst state of its deleted and other records
	}
	of := make(map[string]*resource, len(keys))
	n := 0
	err = eachChunk(ctx, t, keys, &t.D.s.ps.takeAssignment, []any{id}, func(rows Rows) error {
		var k, state string
		var r resource
		if err := rows.Scan(&k, &r.sub, &r.rg, &state); err != nil {
			return err
		}
		n++
		if of[k] == nil {
			of[k] = &r
		}
		if worse(state, of[k].deleted) {
			of[k].deleted = state
		}
		return nil
	})
	if err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	err = eachChunk(ctx, t, keys, &t.D.s.ps.statesOf, nil, func(rows Rows) error {
		var k, state string
		if err := rows.Scan(&k, &state); err != nil {
			return err
		}
		if r := of[k]; r != nil && worse(state, r.left) {
			r.left = state
		}
		return nil
	})
	if err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	ids := make([]int64, 0, 2*len(of))
	for _, r := range of {
		ids = append(ids, r.sub, r.rg)
	}
	names, err := t.names(ctx, ids)
	if err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	acc := totals{}
	for _, r := range of {
		before := r.deleted
		if r.left != "" && worse(r.left, before) {
			before = r.left
		}
		if r.left == before {
			continue
		}
		k := totalKey{sub: names[r.sub], rg: names[r.rg], level: store.TotalResources, state: before}
		acc[k]--
		if r.left != "" {
			k.state = r.left
			acc[k]++
		}
	}
	if err := t.addTotals(ctx, acc); err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	// The assignment's own totals (levels 0 and 1) are zero now.
	if _, err := t.Q.Exec(ctx, t.D.s.ps.deleteTotals, t.buf(assignmentKey)...); err != nil {
		return 0, t.D.Wrap(ctx, op, err)
	}
	return n, nil
}

// eachChunk runs the statement of stmts for each chunk of keys, with
// first before the chunk's keys as arguments, and calls row for each row.
func eachChunk[K any](ctx context.Context, t *Tx, keys []K, stmts *[maxRowsLog2 + 1]string, first []any, row func(Rows) error) error {
	for len(keys) > 0 {
		i := chunkLog2(len(keys))
		n := 1 << i
		args := append(t.scratch(len(first) + n)[:0], first...)
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		rows, err := t.Q.Query(ctx, stmts[i], args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// SumPolicyStates returns the totals of a subscription or resource group.
func (t *Tx) SumPolicyStates(ctx context.Context, subscriptionKey, resourceGroupKey string) ([]*store.PolicyStateTotal, error) {
	const op = "sum policy states"
	text, args := t.D.s.ps.sumTotals, t.buf(subscriptionKey)
	if resourceGroupKey != "" {
		text, args = t.D.s.ps.sumTotalsOfGroup, t.buf(subscriptionKey, resourceGroupKey)
	}
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, t.D.Wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []*store.PolicyStateTotal
	for rows.Next() {
		var s store.PolicyStateTotal
		var level int
		if err := rows.Scan(&level, &s.AssignmentKey, &s.ReferenceKey, &s.DefinitionKey, &s.SetKey, &s.Action, &s.State, &s.Count); err != nil {
			return nil, t.D.Wrap(ctx, op, err)
		}
		s.Level = store.TotalLevel(level)
		out = append(out, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, t.D.Wrap(ctx, op, err)
	}
	return completeTotals(out), nil
}

// TotalPolicyStates works out the totals of the records q selects (its
// After, Limit and MaxBytes aside) as the store keeps them.
func (t *Tx) TotalPolicyStates(ctx context.Context, q store.PolicyStateQuery) ([]*store.PolicyStateTotal, error) {
	const op = "total policy states"
	d := t.D
	q.After, q.Limit, q.MaxBytes, q.History = nil, 0, 0, false
	text, args, err := sqlq.ListPolicyStates(d.Dialect, tallyCols, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", d.Name, op, err)
	}
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	var tallies []tallyRow
	for rows.Next() {
		r, err := scanTally(rows)
		if err != nil {
			rows.Close()
			return nil, d.Wrap(ctx, op, err)
		}
		tallies = append(tallies, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	records, err := t.records(ctx, tallies)
	if err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	// The totals of every subscription and resource group, summed.
	acc := totals{}
	acc.add(records, +1)
	sum := map[totalKey]int{}
	for k, n := range acc {
		k.sub, k.rg = "", ""
		sum[k] += n
	}
	out := make([]*store.PolicyStateTotal, 0, len(sum))
	for k, n := range sum {
		out = append(out, &store.PolicyStateTotal{Level: k.level, AssignmentKey: k.assignment, ReferenceKey: k.ref,
			DefinitionKey: k.def, SetKey: k.set, Action: k.action, State: k.state, Count: n})
	}
	return completeTotals(out), nil
}

// completeTotals adds to the kept totals what totals.add leaves out (the
// per-assignment level of single-definition assignments, which is their
// records by state) and orders them by level and keys.
func completeTotals(out []*store.PolicyStateTotal) []*store.PolicyStateTotal {
	perAssignment := map[[2]string]*store.PolicyStateTotal{}
	for _, s := range out {
		if s.Level != store.TotalRecords || s.ReferenceKey != "" {
			continue
		}
		k := [2]string{s.AssignmentKey, s.State}
		if d := perAssignment[k]; d != nil {
			d.Count += s.Count
		} else {
			perAssignment[k] = &store.PolicyStateTotal{Level: store.TotalAssignmentResources, AssignmentKey: s.AssignmentKey, State: s.State, Count: s.Count}
		}
	}
	for _, d := range perAssignment {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *store.PolicyStateTotal) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.AssignmentKey, b.AssignmentKey), cmp.Compare(a.ReferenceKey, b.ReferenceKey),
			cmp.Compare(a.DefinitionKey, b.DefinitionKey), cmp.Compare(a.SetKey, b.SetKey), cmp.Compare(a.Action, b.Action), cmp.Compare(a.State, b.State))
	})
	return out
}

// ListPolicyStates returns the records q selects, ordered by key.
func (t *Tx) ListPolicyStates(ctx context.Context, q store.PolicyStateQuery) ([]*store.PolicyState, error) {
	const op = "list policy states"
	d := t.D
	text, args, err := sqlq.ListPolicyStates(d.Dialect, PolicyStateCols, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", d.Name, op, err)
	}
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	defer rows.Close()
	stop := q.MaxBytes > 0 && (d.ByteLength == "" || q.History)
	var sc stateScanner
	for rows.Next() {
		if err := sc.scan(t, rows); err != nil {
			return nil, d.Wrap(ctx, op, err)
		}
		if stop && sc.size >= q.MaxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	rows.Close()
	out, err := sc.done(ctx, t)
	if err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	return out, nil
}

// PrunePolicyStateHistory deletes up to limit earlier records older than
// before, oldest first, and returns how many it deleted.
func (t *Tx) PrunePolicyStateHistory(ctx context.Context, before time.Time, limit int) (int, error) {
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	n, err := t.Q.Exec(ctx, t.D.s.ps.pruneHistory, t.buf(t.D.Time(before), limit)...)
	if err != nil {
		return 0, t.D.Wrap(ctx, "prune policy state history", err)
	}
	return int(n), nil
}

// CountPolicyStates counts the records q selects grouped by groupBy.
func (t *Tx) CountPolicyStates(ctx context.Context, q store.PolicyStateQuery, groupBy []string) ([]*store.PolicyStateCount, error) {
	const op = "count policy states"
	d := t.D
	text, args, err := sqlq.CountPolicyStates(d.Dialect, q, groupBy)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	if d.CountSetup != "" {
		if _, err := t.Q.Exec(ctx, d.CountSetup); err != nil {
			return nil, d.Wrap(ctx, op, err)
		}
	}
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []*store.PolicyStateCount
	dest := make([]any, len(groupBy)+3)
	for rows.Next() {
		c := &store.PolicyStateCount{Values: make(map[string]string, len(groupBy))}
		vals := make([]string, len(groupBy))
		for i := range groupBy {
			dest[i] = &vals[i]
		}
		var first *string // NULL: no record
		dest[len(groupBy)], dest[len(groupBy)+1], dest[len(groupBy)+2] = &c.Count, &c.Resources, &first
		if err := rows.Scan(dest...); err != nil {
			return nil, d.Wrap(ctx, op, err)
		}
		for i, col := range groupBy {
			c.Values[col] = vals[i]
		}
		if first != nil {
			c.FirstResourceKey = *first
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	return out, nil
}

// CreateScanTasks inserts pending tasks; store.ErrConflict if one exists.
func (t *Tx) CreateScanTasks(ctx context.Context, tasks []*store.ScanTask) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	for _, k := range tasks {
		if k.ScanID == "" || k.TaskID == "" {
			return fmt.Errorf("%s: create scan tasks: empty scan or task ID", t.D.Name)
		}
		n, err := t.Q.Exec(ctx, t.D.s.ps.insertScanTask, t.buf(k.ScanID, k.TaskID, k.Scope, t.D.Time(time.Time{}))...)
		if err != nil {
			return t.D.Wrap(ctx, "create scan tasks", err)
		}
		if n == 0 {
			return fmt.Errorf("scan task %q/%q: %w", k.ScanID, k.TaskID, store.ErrConflict)
		}
	}
	return nil
}

// ClaimScanTask leases a pending or expired task to owner;
// store.ErrNotFound when there is none.
func (t *Tx) ClaimScanTask(ctx context.Context, owner string, now, leaseUntil time.Time) (*store.ScanTask, error) {
	d := t.D
	if !t.Writable {
		return nil, d.ErrReadOnly
	}
	if owner == "" {
		return nil, fmt.Errorf("%s: claim scan task: empty owner", d.Name)
	}
	var k store.ScanTask
	row := t.Q.QueryRow(ctx, d.s.ps.claimScanTask, t.buf(owner, d.Time(leaseUntil), d.Time(now))...)
	err := row.Scan(t.buf(&k.ScanID, &k.TaskID, &k.Scope, &k.Owner, d.timeDest(&k.LeaseUntil), &k.Done, &k.Processed)...)
	if errors.Is(err, d.NoRows) {
		return nil, fmt.Errorf("scan task: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, d.Wrap(ctx, "claim scan task", err)
	}
	d.fixTime(&k.LeaseUntil)
	return &k, nil
}

// CompleteScanTask marks a task owner holds done.
func (t *Tx) CompleteScanTask(ctx context.Context, scanID, taskID, owner string, processed int) error {
	const op = "complete scan task"
	d := t.D
	if !t.Writable {
		return d.ErrReadOnly
	}
	n, err := t.Q.Exec(ctx, d.s.ps.completeScanTask, t.buf(processed, scanID, taskID, owner)...)
	if err != nil {
		return d.Wrap(ctx, op, err)
	}
	if n > 0 {
		return nil
	}
	var holder string
	err = t.Q.QueryRow(ctx, d.s.ps.scanTaskOwner, t.buf(scanID, taskID)...).Scan(t.buf(&holder)...)
	if errors.Is(err, d.NoRows) {
		return fmt.Errorf("scan task %q/%q: %w", scanID, taskID, store.ErrNotFound)
	}
	if err != nil {
		return d.Wrap(ctx, op, err)
	}
	return fmt.Errorf("scan task %q/%q held by %q, not %q: %w", scanID, taskID, holder, owner, store.ErrConflict)
}

// ScanProgress returns how many of the scan's tasks are done, of how
// many; store.ErrNotFound if it has none.
func (t *Tx) ScanProgress(ctx context.Context, scanID string) (done, total int, err error) {
	row := t.Q.QueryRow(ctx, t.D.s.ps.scanProgress, t.buf(scanID)...)
	if err := row.Scan(t.buf(&total, &done)...); err != nil {
		return 0, 0, t.D.Wrap(ctx, "scan progress", err)
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("scan %q: %w", scanID, store.ErrNotFound)
	}
	return done, total, nil
}
