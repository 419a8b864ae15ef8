package govern

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// Live compliance: the records of a written resource are re-evaluated from
// the change feed (within a second of the commit, on every replica); a
// changed assignment, exemption or definition re-evaluates its scope with a
// scan; scans (on demand: triggerEvaluation; periodic: RunScans' interval)
// are split into tasks, one per resource group and one for the
// subscription's own resources, that the replicas claim with leases.

// reevaluateBatch is how many written resources the feed's follower
// evaluates at a time (it yields to requests between).
const reevaluateBatch = 10

// scanBatch is how many resources a scan evaluates per write transaction.
const scanBatch = 500

// parents caches resource group and subscription bodies during a scan.
type parents struct {
	ctx   context.Context
	st    store.Store
	cache map[string]value.Value
}

func (p *parents) get(key string) value.Value {
	if key == "" {
		return value.Value{}
	}
	if v, ok := p.cache[key]; ok {
		return v
	}
	var v value.Value
	if rs, err := store.GetResources(p.ctx, p.st, key); err == nil && rs[0] != nil {
		v, _ = value.Parse(rs[0].Body)
	}
	p.cache[key] = v
	return v
}

// of returns the resource group and subscription of a resource body.
func (p *parents) of(id *arm.ID) (rg, sub value.Value) {
	sub = p.get(arm.KeyOf("/subscriptions/" + id.SubscriptionID))
	if id.ResourceGroup != "" && !id.IsResourceGroup() {
		rg = p.get(arm.KeyOf("/subscriptions/" + id.SubscriptionID + "/resourceGroups/" + id.ResourceGroup))
	}
	return rg, sub
}

// evaluateStored evaluates stored resources into rows; resources that do
// not parse have no records.
func (g *Governor) evaluateStored(s *snapshot, p *parents, objs []value.Value, now time.Time, lookup policy.Lookup) []*store.PolicyState {
	var rows []*store.PolicyState
	for _, obj := range objs {
		id, err := arm.ParseID(obj.Field("id").Str())
		if err != nil {
			continue
		}
		rg, sub := p.of(id)
		states := g.evaluate(s, obj, rg, sub, now, lookup, false)
		if len(states) == 0 {
			continue
		}
		// The keys and body of the resource, once for all its rows.
		rr := resourceRowOf(&states[0])
		for i := range states {
			rows = append(rows, storedAs(&states[i], rr))
		}
	}
	return rows
}

func parseAll(rs []*store.Resource) []value.Value {
	out := make([]value.Value, 0, len(rs))
	for _, r := range rs {
		if v, err := value.Parse(r.Body); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// memLookup answers existence checks within one resource group from the
// resources a scan holds in memory, and the others from the store.
type memLookup struct {
	rg     string                   // the resource group (lower-cased name)
	byType map[string][]value.Value // lower-cased type → resources of the group
	store  policy.Lookup
}

// Related implements policy.Lookup.
func (l *memLookup) Related(q *policy.RelatedQuery) ([]value.Value, error) {
	if q.SubscriptionScope || (q.ResourceGroup != "" && strings.ToLower(q.ResourceGroup) != l.rg) {
		return l.store.Related(q)
	}
	var out []value.Value
	for _, v := range l.byType[strings.ToLower(q.Type)] {
		if q.Matches(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// Reevaluate works out and stores the compliance records of the resources
// of keys; those that no longer exist lose theirs.
func (g *Governor) Reevaluate(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	s, err := g.current(ctx)
	if err != nil {
		return err
	}
	rs, err := store.GetResources(ctx, g.st, keys...)
	if err != nil {
		return err
	}
	p := &parents{ctx: ctx, st: g.st, cache: map[string]value.Value{}}
	var present []*store.Resource
	for _, r := range rs {
		if r != nil {
			present = append(present, r)
		}
	}
	start := time.Now()
	rows := g.evaluateStored(s, p, parseAll(present), g.now(), storeLookup{ctx: ctx, st: g.st})
	g.yield(ctx, time.Since(start))
	if err := g.writeRows(ctx, rows, keys); err != nil {
		return err
	}
	if fn := g.onCompliance.Load(); fn != nil {
		(*fn)(keys)
	}
	return nil
}

// maxRowsBusy and maxRowsIdle bound the records one write transaction
// holds: while requests write, a millisecond or two of writing, after
// which compliance yields; else more, for fewer commits.
const (
	maxRowsBusy = 100
	maxRowsIdle = 1000
)

// complianceYield is how many times as long as a piece of compliance
// work took (evaluating written resources, writing records) compliance
// then waits while requests write: it takes at most a quarter of the
// time, in short slices, and leaves the processors to the requests.
// Under a write load whose records it cannot keep up with, compliance
// lags (the feed holds the backlog; a scan catches up with what the
// feed's retention lets go); with no request writing it runs flat out.
const complianceYield = 3

// requestsWriting reports whether a request's write committed in the
// last second.
func (g *Governor) requestsWriting() bool {
	return time.Since(time.Unix(0, g.lastRequest.Load())) < time.Second
}

// maxYield bounds one wait of yield, so that a piece of work slowed by a
// loaded machine does not hold compliance back for long.
const maxYield = 100 * time.Millisecond

// yield waits complianceYield times took (at most maxYield) while
// requests write.
func (g *Governor) yield(ctx context.Context, took time.Duration) {
	if !g.requestsWriting() {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(min(complianceYield*took, maxYield)):
	}
}

// writeRows replaces the records of the resources of keys with rows (each
// resource's rows together), in transactions of at most maxRowsBusy or
// maxRowsIdle records (and at least one resource), yielding to requests
// after each.
func (g *Governor) writeRows(ctx context.Context, rows []*store.PolicyState, keys []string) error {
	byKey := make(map[string][]*store.PolicyState, len(keys))
	for _, r := range rows {
		byKey[r.ResourceKey] = append(byKey[r.ResourceKey], r)
	}
	var chunkRows []*store.PolicyState
	var chunkKeys []string
	flush := func() error {
		if len(chunkKeys) == 0 {
			return nil
		}
		start := time.Now()
		err := g.cs.Write(ctx, func(tx store.Tx) error { return tx.PutPolicyStatesBatch(ctx, chunkRows, chunkKeys) })
		chunkRows, chunkKeys = nil, nil
		g.yield(ctx, time.Since(start))
		return err
	}
	for _, k := range keys {
		rs := byKey[k]
		limit := maxRowsIdle
		if g.requestsWriting() {
			limit = maxRowsBusy
		}
		if len(chunkKeys) > 0 && len(chunkRows)+len(rs) > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		chunkRows = append(chunkRows, rs...)
		chunkKeys = append(chunkKeys, k)
	}
	return flush()
}

// scanScope evaluates every resource of a scan task's scope: a resource
// group (itself and everything in it) or, for "/subscriptions/{s}", the
// subscription and its resources outside resource groups. A resource
// group's resources are read once and held while it is evaluated, and its
// existence checks answered from them. It hands each batch's records to
// write (which replaces the records of the batch's resources) and stops
// when write fails; it returns how many resources it evaluated.
func (g *Governor) scanScope(ctx context.Context, scope string, write func(rows []*store.PolicyState, keys []string) error) (int, error) {
	s, err := g.current(ctx)
	if err != nil {
		return 0, err
	}
	p := &parents{ctx: ctx, st: g.st, cache: map[string]value.Value{}}
	now := g.now()
	id, err := arm.ParseID(scope)
	if err != nil {
		return 0, fmt.Errorf("scan scope %q: %w", scope, err)
	}
	var all []*store.Resource
	self, err := store.GetResources(ctx, g.st, id.Key())
	if err != nil {
		return 0, err
	}
	if self[0] != nil {
		all = append(all, self[0])
	}
	q := store.ListQuery{KeyPrefix: id.Key() + "/", Limit: 1000}
	subLevel := id.IsSubscription()
	if subLevel {
		q = store.ListQuery{ParentKey: id.Key(), Limit: 1000}
	}
	for r, err := range store.ListAll(ctx, g.st, q) {
		if err != nil {
			return 0, err
		}
		if !subLevel || r.TypeKey != arm.KeyOf(typeResourceGroup) { // resource groups are their own tasks
			all = append(all, r)
		}
	}
	objs := parseAll(all)
	var lookup policy.Lookup = storeLookup{ctx: ctx, st: g.st}
	if !subLevel {
		ml := &memLookup{rg: strings.ToLower(id.ResourceGroup), byType: map[string][]value.Value{}, store: lookup}
		for _, v := range objs {
			t := strings.ToLower(v.Field("type").Str())
			ml.byType[t] = append(ml.byType[t], v)
		}
		lookup = ml
	}
	for i := 0; i < len(objs); i += scanBatch {
		batch := objs[i:min(i+scanBatch, len(objs))]
		keys := make([]string, len(batch))
		for j, v := range batch {
			keys[j] = arm.KeyOf(v.Field("id").Str())
		}
		if err := write(g.evaluateStored(s, p, batch, now, lookup), keys); err != nil {
			return i, err
		}
	}
	return len(objs), nil
}

const typeResourceGroup = "Microsoft.Resources/resourceGroups"

// StartScan creates the tasks of a scan of scope (a subscription or a
// resource group id): one per resource group and one for the
// subscription's own resources. A scan with the same id that exists
// already is left as it is (ErrConflict from the store is not an error):
// so a second trigger while one runs, or a periodic scan started by
// several replicas, is one scan.
func (g *Governor) StartScan(ctx context.Context, scanID, scope string) error {
	id, err := arm.ParseID(scope)
	if err != nil {
		return err
	}
	var tasks []*store.ScanTask
	add := func(s string) {
		tasks = append(tasks, &store.ScanTask{ScanID: scanID, TaskID: fmt.Sprintf("%04d", len(tasks)), Scope: s})
	}
	addSubscription := func(id *arm.ID) error {
		add(id.String())
		for r, err := range store.ListAll(ctx, g.st, store.ListQuery{ParentKey: id.Key(), TypeKey: arm.KeyOf(typeResourceGroup), Limit: 1000}) {
			if err != nil {
				return err
			}
			add(r.ID)
		}
		return nil
	}
	switch mg := id.ManagementGroup(); {
	case mg != "":
		// A group's scan is the scans of the subscriptions below it.
		var t *arm.Tree
		if g.tree != nil {
			t = g.tree()
		}
		_, subs := t.Below(mg)
		for _, s := range subs {
			if err := addSubscription(&arm.ID{SubscriptionID: s}); err != nil {
				return err
			}
		}
		if len(tasks) == 0 {
			return nil
		}
	case id.IsSubscription():
		if err := addSubscription(id); err != nil {
			return err
		}
	default:
		add(id.String())
	}
	err = g.cs.Write(ctx, func(tx store.Tx) error { return tx.CreateScanTasks(ctx, tasks) })
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// ScanProgress reports how many tasks of a scan are done, of how many.
func (g *Governor) ScanProgress(ctx context.Context, scanID string) (done, total int, err error) {
	err = g.cs.Read(ctx, func(tx store.Tx) error {
		var err error
		done, total, err = tx.ScanProgress(ctx, scanID)
		return err
	})
	return done, total, err
}

// scanLease is how long a claimed task is a replica's before another may
// take it over.
const scanLease = 2 * time.Minute

// workers runs this replica's scan tasks until none is left: evaluators
// (one fewer than there are processors, at least one) claim tasks and
// evaluate them, each under its own owner name, and one writer writes
// their records and completes the tasks in turn. The store has one writer
// (SQLite), and writing is most of a scan: the writer has a processor to
// itself while the evaluators work ahead of it, at most scanAhead
// batches.
func (g *Governor) workers(ctx context.Context, owner string, log *slog.Logger) {
	writes := make(chan scanWrite, scanAhead)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for w := range writes {
			if w.task.failed.Load() {
				continue
			}
			if w.complete {
				t := w.task.t
				err := g.cs.Write(ctx, func(tx store.Tx) error { return tx.CompleteScanTask(ctx, t.ScanID, t.TaskID, t.Owner, w.task.n) })
				if err != nil {
					log.Warn("completing a compliance scan task", "scan", t.ScanID, "scope", t.Scope, "error", err)
				}
				continue
			}
			if err := g.writeRows(ctx, w.rows, w.keys); err != nil {
				w.task.failed.Store(true)
				log.Warn("compliance scan task failed; it is retried when its lease ends", "scan", w.task.t.ScanID, "scope", w.task.t.Scope, "error", err)
			} else if fn := g.onCompliance.Load(); fn != nil {
				(*fn)(w.keys) // a scan's records too (an exemption's, an assignment's)
			}
		}
	}()
	n := max(1, runtime.GOMAXPROCS(0)-1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { g.work(ctx, fmt.Sprintf("%s/%d", owner, i), writes, log) })
	}
	wg.Wait()
	close(writes)
	<-done
}

// scanAhead is how many batches of records evaluators may have ready
// before the writer.
const scanAhead = 4

// scanTask is a claimed task while its records are written.
type scanTask struct {
	t      *store.ScanTask
	n      int         // resources evaluated
	failed atomic.Bool // a write failed: the task is left to its lease
}

// scanWrite is the writer's work: a batch of a task's records, or, after
// the last, the task's completion.
type scanWrite struct {
	task     *scanTask
	rows     []*store.PolicyState
	keys     []string
	complete bool
}

// work claims tasks and evaluates them until none is left, handing their
// records to the writer.
func (g *Governor) work(ctx context.Context, owner string, writes chan<- scanWrite, log *slog.Logger) {
	for ctx.Err() == nil {
		var t *store.ScanTask
		now := g.now()
		err := g.cs.Write(ctx, func(tx store.Tx) error {
			var err error
			t, err = tx.ClaimScanTask(ctx, owner, now, now.Add(scanLease))
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			log.Warn("claiming a compliance scan task", "error", err)
			return
		}
		task := &scanTask{t: t}
		n, err := g.scanScope(ctx, t.Scope, func(rows []*store.PolicyState, keys []string) error {
			if task.failed.Load() {
				return errScanWrite
			}
			writes <- scanWrite{task: task, rows: rows, keys: keys}
			return nil
		})
		if err != nil {
			if !errors.Is(err, errScanWrite) {
				log.Warn("compliance scan task failed; it is retried when its lease ends", "scan", t.ScanID, "scope", t.Scope, "error", err)
			}
			continue
		}
		task.n = n
		writes <- scanWrite{task: task, complete: true}
	}
}

// errScanWrite stops the evaluation of a task whose records the writer
// failed to write (it has logged why).
var errScanWrite = errors.New("a write of the task's records failed")

// RunScans runs this replica's share of the scans: it claims tasks when
// woken (a scan started here) and every poll (another replica's), and
// starts a full scan of every subscription every interval (0: never).
func (g *Governor) RunScans(ctx context.Context, owner string, interval, poll time.Duration, log *slog.Logger) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var next time.Time
	if interval > 0 {
		next = g.now()
	}
	var full []string // the periodic scan's, until it is done
	for {
		if interval > 0 && !g.now().Before(next) {
			bucket := g.now().Truncate(interval).UTC().Format("20060102T150405")
			ids, err := g.startFullScan(ctx, "periodic-"+bucket)
			if err != nil {
				log.Warn("starting the periodic compliance scan", "error", err)
			}
			full = ids
			next = g.now().Truncate(interval).Add(interval)
		}
		g.startDue(ctx, log)
		g.workers(ctx, owner, log)
		if len(full) > 0 && g.scansDone(ctx, full) {
			// The totals after the full scan, for the trend (stamped to
			// the minute: replicas finishing together record one).
			full = nil
			if _, err := g.RecordSnapshots(ctx, g.now().Truncate(time.Minute)); err != nil && ctx.Err() == nil {
				log.Warn("recording the compliance snapshots after the full scan", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-g.wake:
		}
	}
}

// scansDone reports whether every scan of ids is done.
func (g *Governor) scansDone(ctx context.Context, ids []string) bool {
	for _, id := range ids {
		done, total, err := g.ScanProgress(ctx, id)
		if err != nil || done < total {
			return false
		}
	}
	return true
}

// startFullScan starts a scan of every subscription and returns the ids
// of its scans (one per subscription).
func (g *Governor) startFullScan(ctx context.Context, scanID string) ([]string, error) {
	var subs []string
	if err := g.st.Read(ctx, func(tx store.Tx) error {
		rs, err := tx.ListResources(ctx, store.ListQuery{TypeKey: arm.KeyOf("Microsoft.Resources/subscriptions")})
		for _, r := range rs {
			subs = append(subs, r.ID)
		}
		return err
	}); err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range subs {
		id := scanID + "-" + strings.ToLower(strings.TrimPrefix(s, "/subscriptions/"))
		if err := g.StartScan(ctx, id, s); err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	g.Wake()
	return ids, nil
}

// scanDebounce is how long the policy changes of a scope are gathered
// into one scan: it starts once the second of the changes is over.
const scanDebounce = time.Second

// pending is a scan waiting for its second of changes to end.
type pending struct {
	scope string
	due   time.Time
}

// pendingScan records a scan to start when due.
func (g *Governor) pendingScan(id, scope string, due time.Time) {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if g.pending == nil {
		g.pending = map[string]pending{}
	}
	g.pending[id] = pending{scope: scope, due: due}
}

// startDue starts the pending scans whose time has come.
func (g *Governor) startDue(ctx context.Context, log *slog.Logger) {
	now := g.now()
	g.pmu.Lock()
	var due []string
	for id, p := range g.pending {
		if !now.Before(p.due) {
			due = append(due, id)
		}
	}
	g.pmu.Unlock()
	for _, id := range due {
		g.pmu.Lock()
		p := g.pending[id]
		delete(g.pending, id)
		g.pmu.Unlock()
		if err := g.StartScan(ctx, id, p.scope); err != nil {
			log.Warn("re-evaluating the scope of a changed policy resource", "scope", p.scope, "error", err)
		}
	}
}

// Wake makes RunScans look for tasks now.
func (g *Governor) Wake() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Follow consumes the change feed: the records of written resources are
// re-evaluated; a changed policy resource invalidates the snapshot (the
// writes of other replicas) and re-evaluates its scope. Once the feed is
// Ready the snapshot is rebuilt, so that a policy change committed
// between the caller's Refresh and the feed's start (which the feed does
// not deliver) is not missed.
//
// The scan of a policy change is named after the change's own Seq and
// scope, never after the batch it came in: every replica follows the same
// changes in batches of its own, and they must all name it alike so that
// it is one scan (StartScan leaves an existing one alone), not one per
// replica.
func (g *Governor) Follow(f *feed.Feed, log *slog.Logger) (unsubscribe func()) {
	stop := make(chan struct{})
	go func() {
		select {
		case <-f.Ready():
			g.Invalidate()
		case <-stop:
		}
	}()
	unsub := f.Subscribe(func(ctx context.Context, batch []*store.Change) {
		var keys []string
		seen := map[string]bool{}
		var scans []struct{ id, scope string }
		for _, c := range batch {
			if c.Filler() {
				continue
			}
			if policyTypes[c.TypeKey] {
				if c.Deleted && c.TypeKey == arm.KeyOf(TypeAssignment) {
					_ = g.cs.Write(ctx, func(tx store.Tx) error {
						_, err := tx.DeletePolicyStatesOfAssignment(ctx, c.Key)
						return err
					})
				}
				s := scopeOfPolicy(c)
				// One scan per scope and second of changes (the
				// change's own time, so every replica names it alike):
				// a burst of assignments is one scan, not hundreds.
				bucket := c.Time.Truncate(scanDebounce)
				scans = append(scans, struct{ id, scope string }{
					"change-" + strings.ToLower(s) + "-" + strconv.FormatInt(bucket.UnixMilli(), 10), s})
				g.pendingScan(scans[len(scans)-1].id, s, bucket.Add(scanDebounce))
				continue
			}
			if !seen[c.Key] {
				seen[c.Key] = true
				keys = append(keys, c.Key)
			}
			// An extension resource (a diagnostic setting, a security
			// assessment and its sub-assessments) is what the existence
			// checks of the resource it extends look at: that resource
			// is evaluated again too.
			if t := extendedKey(c.Key); t != "" && !seen[t] {
				seen[t] = true
				keys = append(keys, t)
			}
		}
		if len(scans) > 0 {
			g.Invalidate()
			g.Wake()
		}
		for i := 0; i < len(keys); i += reevaluateBatch {
			if err := g.Reevaluate(ctx, keys[i:min(i+reevaluateBatch, len(keys))]); err != nil {
				log.Warn("re-evaluating the compliance of written resources", "error", err)
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(stop) })
		unsub()
	}
}

// extendedKey is the key of the resource an extension resource (or a
// child of one) extends; "" for other keys.
func extendedKey(key string) string {
	id, err := arm.ParseID(key)
	if err != nil || !id.IsExtension() {
		return ""
	}
	i := len(id.Parts) - 1
	for i > 0 && id.Parts[i].Namespace == "" {
		i--
	}
	return (&arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:i]}).Key()
}

// scopeOfPolicy is the scope a changed policy resource re-evaluates: an
// assignment's or exemption's scope (narrowed to a resource group at
// most: scans run per resource group), the subscription of a definition.
func scopeOfPolicy(c *store.Change) string {
	id, err := arm.ParseID(c.Key)
	if err != nil {
		return "/subscriptions/" + strings.TrimPrefix(c.SubscriptionKey, "/subscriptions/")
	}
	if mg := id.ManagementGroup(); mg != "" {
		return arm.ManagementGroupID(mg) // the subscriptions below it
	}
	if id.ResourceGroup != "" && c.TypeKey != arm.KeyOf(TypeDefinition) && c.TypeKey != arm.KeyOf(TypeSetDefinition) {
		return (&arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}).String()
	}
	return (&arm.ID{SubscriptionID: id.SubscriptionID}).String()
}

// Scan evaluates every resource of scope (a subscription or resource
// group id) now, on this goroutine (taking part in the tasks with any
// other replica), and returns when the scan is done.
func (g *Governor) Scan(ctx context.Context, scope string, log *slog.Logger) error {
	scanID := g.newID()
	if err := g.StartScan(ctx, scanID, scope); err != nil {
		return err
	}
	for {
		g.workers(ctx, "scan-"+scanID, log)
		done, total, err := g.ScanProgress(ctx, scanID)
		if err != nil {
			return err
		}
		if done >= total {
			return nil
		}
		select { // tasks another replica holds
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TreeChanged re-evaluates, soon, the subscriptions that the new
// management-group hierarchy puts under other groups (a subscription
// moved, a group moved): the assignments they inherit changed. It also
// makes a write prepared before its lock be prepared again (the
// snapshot itself stays: it reads the tree in force when it decides).
func (g *Governor) TreeChanged(old, new *arm.Tree) {
	_, subs := new.Below(new.Root())
	_, was := old.Below(old.Root())
	subs = append(subs, was...)
	now := g.now()
	bucket := now.Truncate(scanDebounce)
	seen := map[string]bool{}
	for _, s := range subs {
		k := "/subscriptions/" + arm.KeyOf(s)
		if seen[k] || slices.Equal(old.Above(k), new.Above(k)) {
			continue
		}
		seen[k] = true
		scope := "/subscriptions/" + s
		g.pendingScan("move-"+strings.ToLower(scope)+"-"+strconv.FormatInt(bucket.UnixMilli(), 10), scope, bucket.Add(scanDebounce))
	}
	g.moves.Add(1)
	if len(seen) > 0 {
		g.Wake()
	}
}
