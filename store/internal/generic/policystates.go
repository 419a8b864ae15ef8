package generic

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

// PolicyStateCols are the columns of a policy_states row, in the order
// ListPolicyStates scans them (gen, the writer's generation, aside).
const PolicyStateCols = `resource_key, assignment_key, reference_key, subscription_key, resource_group_key,
	resource_type_key, definition_key, set_key, state, action, ts, body`

const policyStateNCols = 12

const scanTaskCols = `scan_id, task_id, scope, owner, lease_until, done, processed`

// maxRowsLog2: multi-row statements carry up to 1<<maxRowsLog2 rows; a
// batch is cut into statements of 256, 128, ..., 1 rows, so that a
// backend prepares at most maxRowsLog2+1 shapes of each.
const maxRowsLog2 = 8

// psStatements are the statements of compliance records and scan tasks.
type psStatements struct {
	// insert[i] inserts or replaces 1<<i records; deleteKeys[i] deletes
	// the records of 1<<i resources, deleteStale[i] those of another
	// generation than the last argument's.
	insert, deleteKeys, deleteStale  [maxRowsLog2 + 1]string
	deleteResource, deleteAssignment string
	insertScanTask, claimScanTask    string
	completeScanTask, scanTaskOwner  string
	scanProgress                     string
}

func renderPolicyStatements(d *Dialect) psStatements {
	r := d.Rebind
	var s psStatements
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for i := range s.insert {
		n := 1 << i
		s.insert[i] = r(`INSERT INTO policy_states (` + PolicyStateCols + `, gen) VALUES ` +
			strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + `
			ON CONFLICT (resource_key, assignment_key, reference_key) DO UPDATE SET
				subscription_key = excluded.subscription_key,
				resource_group_key = excluded.resource_group_key,
				resource_type_key = excluded.resource_type_key,
				definition_key = excluded.definition_key,
				set_key = excluded.set_key,
				state = excluded.state,
				action = excluded.action,
				ts = excluded.ts,
				body = excluded.body,
				gen = excluded.gen`)
		s.deleteKeys[i] = r(`DELETE FROM policy_states WHERE resource_key IN (` +
			strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `)`)
		s.deleteStale[i] = r(`DELETE FROM policy_states WHERE resource_key IN (` +
			strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `) AND gen <> ?`)
	}
	s.deleteResource = r(`DELETE FROM policy_states WHERE resource_key = ?`)
	s.deleteAssignment = r(`DELETE FROM policy_states WHERE assignment_key = ?`)
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
	for _, s := range states {
		if s.ResourceKey != resourceKey {
			return fmt.Errorf("%s: replace policy states of %q: a record of %q", t.D.Name, resourceKey, s.ResourceKey)
		}
	}
	return t.PutPolicyStatesBatch(ctx, states, []string{resourceKey})
}

// PutPolicyStatesBatch inserts or replaces states in multi-row
// statements, then deletes the other records of the resources of
// replace; with a Copier, when every record's resource is in replace (a
// scan's batch), it deletes the resources' records and bulk-loads states
// instead.
func (t *Tx) PutPolicyStatesBatch(ctx context.Context, states []*store.PolicyState, replace []string) error {
	const op = "put policy states"
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	type key struct{ r, a, ref string }
	seen := make(map[key]struct{}, len(states))
	for _, s := range states {
		if s.ResourceKey == "" || s.AssignmentKey == "" {
			return fmt.Errorf("%s: %s: a record without a resource or assignment key", t.D.Name, op)
		}
		k := key{s.ResourceKey, s.AssignmentKey, s.ReferenceKey}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%s: %s: record %v twice", t.D.Name, op, k)
		}
		seen[k] = struct{}{}
	}
	if c, ok := t.Q.(Copier); ok && len(states) >= copyMin && coveredBy(states, replace) {
		// Every record's resource is emptied first: no conflicts, so a
		// plain bulk load.
		if err := t.deleteResources(ctx, &t.D.s.ps.deleteKeys, replace, nil); err != nil {
			return t.D.Wrap(ctx, op, err)
		}
		rows := make([][]any, len(states))
		for j, s := range states {
			rows[j] = []any{s.ResourceKey, s.AssignmentKey, s.ReferenceKey, s.SubscriptionKey,
				s.ResourceGroupKey, s.ResourceTypeKey, s.DefinitionKey, s.SetKey,
				s.State, s.Action, t.D.Time(s.Timestamp), NZ(s.Body)}
		}
		if _, err := c.CopyFrom(ctx, "policy_states", policyStateColNames, rows); err != nil {
			return t.D.Wrap(ctx, op, err)
		}
		return nil
	}
	// The records are upserted in place under a new generation number,
	// then the replaced resources' records of another generation are
	// deleted: a rescan rewrites rows rather than deleting and inserting
	// them, and leaves the index entries of unchanged columns alone.
	gen := rand.Int64()
	const w = policyStateNCols + 1
	for len(states) > 0 {
		i := chunkLog2(len(states))
		n := 1 << i
		args := t.scratch(n * w)
		for j, s := range states[:n] {
			a := args[j*w : (j+1)*w]
			a[0], a[1], a[2], a[3] = s.ResourceKey, s.AssignmentKey, s.ReferenceKey, s.SubscriptionKey
			a[4], a[5], a[6], a[7] = s.ResourceGroupKey, s.ResourceTypeKey, s.DefinitionKey, s.SetKey
			a[8], a[9], a[10], a[11] = s.State, s.Action, t.D.Time(s.Timestamp), NZ(s.Body)
			a[12] = gen
		}
		if _, err := t.Q.Exec(ctx, t.D.s.ps.insert[i], args...); err != nil {
			return t.D.Wrap(ctx, op, err)
		}
		states = states[n:]
	}
	if err := t.deleteResources(ctx, &t.D.s.ps.deleteStale, replace, gen); err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	clear(t.args) // keep no bodies reachable
	return nil
}

// Copier is implemented by a Querier that bulk-loads rows into a table
// (PostgreSQL's COPY FROM STDIN); rows hold the Dialect's argument
// values, in the order of cols.
type Copier interface {
	CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) (int64, error)
}

// copyMin is the fewest records PutPolicyStatesBatch bulk-loads with a
// Copier; fewer go through the multi-row upsert.
const copyMin = 64

var policyStateColNames = strings.Split(strings.Join(strings.Fields(PolicyStateCols), ""), ",")

// coveredBy reports whether the resource of every state is in keys.
func coveredBy(states []*store.PolicyState, keys []string) bool {
	if len(keys) == 0 {
		return false
	}
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	for _, s := range states {
		if _, ok := set[s.ResourceKey]; !ok {
			return false
		}
	}
	return true
}

// deleteResources runs the statement of stmts for each chunk of keys,
// with extra as a last argument unless it is nil.
func (t *Tx) deleteResources(ctx context.Context, stmts *[maxRowsLog2 + 1]string, keys []string, extra any) error {
	for len(keys) > 0 {
		i := chunkLog2(len(keys))
		n := 1 << i
		args := t.scratch(n + 1)
		for j, k := range keys[:n] {
			args[j] = k
		}
		args[n] = extra
		if extra == nil {
			args = args[:n]
		}
		if _, err := t.Q.Exec(ctx, stmts[i], args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

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
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	if _, err := t.Q.Exec(ctx, t.D.s.ps.deleteResource, t.buf(resourceKey)...); err != nil {
		return t.D.Wrap(ctx, "delete policy states", err)
	}
	return nil
}

// DeletePolicyStatesOfAssignment deletes the records of one assignment
// and returns how many it deleted.
func (t *Tx) DeletePolicyStatesOfAssignment(ctx context.Context, assignmentKey string) (int, error) {
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	n, err := t.Q.Exec(ctx, t.D.s.ps.deleteAssignment, t.buf(assignmentKey)...)
	if err != nil {
		return 0, t.D.Wrap(ctx, "delete policy states of assignment", err)
	}
	return int(n), nil
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
	stop := q.MaxBytes > 0 && d.ByteLength == ""
	var out []*store.PolicyState
	size := 0
	for rows.Next() {
		var s store.PolicyState
		if err := rows.Scan(t.buf(&s.ResourceKey, &s.AssignmentKey, &s.ReferenceKey, &s.SubscriptionKey,
			&s.ResourceGroupKey, &s.ResourceTypeKey, &s.DefinitionKey, &s.SetKey, &s.State, &s.Action,
			d.timeDest(&s.Timestamp), &s.Body)...); err != nil {
			return nil, d.Wrap(ctx, op, err)
		}
		d.fixTime(&s.Timestamp)
		out = append(out, &s)
		if size += len(s.Body); stop && size >= q.MaxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, d.Wrap(ctx, op, err)
	}
	return out, nil
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
	dest := make([]any, len(groupBy)+2)
	for rows.Next() {
		c := &store.PolicyStateCount{Values: make(map[string]string, len(groupBy))}
		vals := make([]string, len(groupBy))
		for i := range groupBy {
			dest[i] = &vals[i]
		}
		dest[len(groupBy)], dest[len(groupBy)+1] = &c.Count, &c.Resources
		if err := rows.Scan(dest...); err != nil {
			return nil, d.Wrap(ctx, op, err)
		}
		for i, col := range groupBy {
			c.Values[col] = vals[i]
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
