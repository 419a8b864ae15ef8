package generic

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

// Row is the result of a single-row query (*sql.Row, pgx.Row).
type Row interface {
	Scan(dest ...any) error
}

// Rows is the result set of a query; Close is idempotent.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements in a backend's transaction. Exec returns the
// number of rows affected. A Querier is done with args when a call
// returns, and a Row or Rows with dest when Scan returns: Tx passes both
// in its reused Buf (database/sql and pgx convert them during the call;
// a pgx.Batch, which keeps them, gets slices of its own).
type Querier interface {
	QueryRow(ctx context.Context, text string, args ...any) Row
	Query(ctx context.Context, text string, args ...any) (Rows, error)
	Exec(ctx context.Context, text string, args ...any) (int64, error)
}

// Dialect is what the shared statements need to know about a backend.
// Build one with NewDialect, once per backend.
type Dialect struct {
	// Dialect gives the placeholder style, the encoding of time
	// arguments and the byte-length function (see sqlq.Dialect).
	sqlq.Dialect
	// Name prefixes the backend's own error messages ("sqlite").
	Name string
	// MicroTime: timestamps are stored as microseconds since the Unix
	// epoch in integer columns and scanned through an sql.Scanner
	// (SQLite); otherwise they are scanned as time.Time (TIMESTAMPTZ).
	MicroTime bool
	// RowLocks: GetResource with forUpdate adds FOR UPDATE, and
	// DueOperations FOR UPDATE SKIP LOCKED, inside a writable
	// transaction (PostgreSQL). Without it (SQLite) the backend
	// serialises writers itself.
	RowLocks bool
	// NextSeq is the SQL expression that allocates a resource sequence
	// number inside the upsert (PostgreSQL: nextval('resource_seq')).
	// Empty: the backend allocates it and calls Tx.PutResourceSeq.
	NextSeq string
	// CountSetup, when set, runs before CountPolicyStates's query, in its
	// transaction (PostgreSQL: SET LOCAL work_mem, so that the grouping
	// does not spill to disk).
	CountSetup string
	// TimeType is the SQL type of the timestamp columns, for the casts of
	// time arguments whose type the database cannot infer.
	TimeType string
	// NoRows is the driver's error for a single-row query that found
	// no row (sql.ErrNoRows, pgx.ErrNoRows).
	NoRows error
	// ErrReadOnly is returned by the write methods of a read-only
	// transaction.
	ErrReadOnly error
	// Wrap annotates a driver error with the operation, making the
	// backend's sentinels and context errors visible to errors.Is.
	Wrap func(ctx context.Context, op string, err error) error

	s statements
}

// statements are the dialect's rendering of the shared SQL.
type statements struct {
	getResource, getResourceForUpdate  string
	updateResource, upsertResourceSeq  string
	upsertResourceNext, deleteResource string
	insertEvent, pruneEvents, eventTS  string
	eventsAfter, lastEventSeq          string
	putSnapshot, listSnapshots         string
	pruneSnapshots                     string
	putOperation, getOperation         string
	dueOperations                      [2][2]string // [limit][lock]
	ps                                 psStatements
	getObject, putObject, deleteObject string
	listObjects                        string
	deleteResourceRow, insertChange    string
	changes                            [2]string // [limit]
	lastChangeSeq, pruneChanges        string
	fillChanges                        string
}

// ResourceCols are the columns of a resource row, in scanResource's order.
const ResourceCols = `key, id, parent_key, type_key, subscription_key, resource_group_key, body, etag, seq, created_at, updated_at`

const changeCols = `seq, key, type_key, subscription_key, deleted, ts`

const operationCols = `id, resource_key, status, body, not_before, updated_at`

const eventSelect = `SELECT seq, id, subscription_key, ts, resource_group, resource_key,
		correlation_id, operation_id, body FROM events`

const resourceUpsert = `INSERT INTO resources (` + ResourceCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, %s, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			parent_key = excluded.parent_key,
			type_key = excluded.type_key,
			subscription_key = excluded.subscription_key,
			resource_group_key = excluded.resource_group_key,
			body = excluded.body,
			etag = excluded.etag,
			seq = excluded.seq,
			created_at = excluded.created_at,
			updated_at = excluded.updated_at
		RETURNING %s`

// NewDialect renders the shared statements for d and returns it.
func NewDialect(d Dialect) *Dialect {
	if d.TimeType == "" {
		panic("generic: NewDialect: no TimeType")
	}
	r := d.Rebind
	s := &d.s
	s.getResource = r(`SELECT ` + ResourceCols + ` FROM resources WHERE key = ?`)
	s.getResourceForUpdate = s.getResource + ` FOR UPDATE`
	s.updateResource = r(`UPDATE resources SET body = ?, etag = ?, seq = ?, created_at = ?, updated_at = ?
		WHERE key = ? AND parent_key = ? AND type_key = ? AND subscription_key = ? AND resource_group_key = ?
		RETURNING id`)
	s.upsertResourceSeq = r(fmt.Sprintf(resourceUpsert, "?", "id"))
	if d.NextSeq != "" {
		// The change is recorded in the same statement, like a trigger:
		// no extra round trip.
		s.upsertResourceNext = r(`WITH r AS (` + fmt.Sprintf(resourceUpsert, d.NextSeq, "id, seq, key, type_key, subscription_key") + `),
			c AS (INSERT INTO changes (` + changeCols + `)
				SELECT seq, key, type_key, subscription_key, FALSE, CAST(? AS ` + d.TimeType + `) FROM r)
			SELECT id, seq FROM r`)
		s.deleteResource = r(`WITH d AS (DELETE FROM resources WHERE key = ? RETURNING key, type_key, subscription_key)
			INSERT INTO changes (` + changeCols + `)
			SELECT ` + d.NextSeq + `, key, type_key, subscription_key, TRUE, CAST(? AS ` + d.TimeType + `) FROM d`)
	}
	s.deleteResourceRow = r(`DELETE FROM resources WHERE key = ? RETURNING type_key, subscription_key`)
	s.insertChange = r(`INSERT INTO changes (` + changeCols + `) VALUES (?, ?, ?, ?, ?, ?)`)
	s.changes[0] = r(`SELECT ` + changeCols + ` FROM changes WHERE seq > ? ORDER BY seq`)
	s.changes[1] = r(`SELECT ` + changeCols + ` FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`)
	s.lastChangeSeq = `SELECT COALESCE(MAX(seq), 0) FROM changes`
	s.pruneChanges = r(`DELETE FROM changes WHERE seq IN
		(SELECT seq FROM changes WHERE ts < ? AND seq < (SELECT MAX(seq) FROM changes) ORDER BY seq LIMIT ?)`)
	// WHERE TRUE: SQLite reads ON after INSERT ... SELECT ... FROM g as a
	// join constraint otherwise.
	s.fillChanges = r(`WITH RECURSIVE g(n) AS (SELECT CAST(? AS BIGINT) UNION ALL SELECT n + 1 FROM g WHERE n < CAST(? AS BIGINT))
		INSERT INTO changes (` + changeCols + `)
		SELECT n, '', '', '', FALSE, CAST(? AS ` + d.TimeType + `) FROM g WHERE TRUE
		ON CONFLICT (seq) DO NOTHING`)
	s.insertEvent = r(`INSERT INTO events
			(id, subscription_key, ts, resource_group, resource_key, correlation_id, operation_id, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING
			RETURNING seq`)
	s.pruneEvents = r(`DELETE FROM events WHERE seq IN
		(SELECT seq FROM events WHERE ts < ? ORDER BY ts, seq LIMIT ?)`)
	s.eventTS = r(`SELECT ts FROM events WHERE seq = ?`)
	s.eventsAfter = r(eventSelect + ` WHERE seq > ? ORDER BY seq LIMIT ?`)
	s.lastEventSeq = `SELECT COALESCE(MAX(seq), 0) FROM events`
	s.putSnapshot = r(`INSERT INTO compliance_snapshots (scope_key, ts, body) VALUES (?, ?, ?)
		ON CONFLICT (scope_key, ts) DO UPDATE SET body = excluded.body`)
	s.listSnapshots = r(`SELECT ts, body FROM compliance_snapshots
		WHERE scope_key = ? AND ts > ? AND ts <= ? ORDER BY ts LIMIT ?`)
	s.pruneSnapshots = r(`DELETE FROM compliance_snapshots WHERE (scope_key, ts) IN
		(SELECT scope_key, ts FROM compliance_snapshots WHERE ts < ? ORDER BY ts LIMIT ?)`)
	s.putOperation = r(`INSERT INTO operations (` + operationCols + `)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			resource_key = excluded.resource_key,
			status = excluded.status,
			body = excluded.body,
			not_before = excluded.not_before,
			updated_at = excluded.updated_at`)
	s.getOperation = r(`SELECT ` + operationCols + ` FROM operations WHERE id = ?`)
	due := `SELECT ` + operationCols + ` FROM operations
		WHERE status = 'InProgress' AND not_before <= ? ORDER BY not_before, id`
	for limit, tail := range []string{"", ` LIMIT ?`} {
		s.dueOperations[limit][0] = r(due + tail)
		s.dueOperations[limit][1] = r(due+tail) + ` FOR UPDATE SKIP LOCKED`
	}
	s.getObject = r(`SELECT body, updated_at FROM objects WHERE kind = ? AND key = ?`)
	s.putObject = r(`INSERT INTO objects (kind, key, body, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`)
	s.deleteObject = r(`DELETE FROM objects WHERE kind = ? AND key = ?`)
	s.listObjects = r(`SELECT key, body, updated_at FROM objects WHERE kind = ? ORDER BY key`)
	s.ps = renderPolicyStatements(&d)
	return &d
}

// InsertEvent returns the statement that appends e and returns its seq
// (no row when its ID exists already), with its arguments in a new slice.
func (d *Dialect) InsertEvent(e *store.Event) (string, []any) {
	return d.s.insertEvent, d.eventArgs(make([]any, 0, 8), e)
}

// eventArgs appends InsertEvent's arguments for e to dst.
func (d *Dialect) eventArgs(dst []any, e *store.Event) []any {
	return append(dst, e.ID, e.SubscriptionKey, d.Time(e.Timestamp), e.ResourceGroup, e.ResourceKey,
		e.CorrelationID, e.OperationID, NZ(e.Body))
}

// NZ keeps NOT NULL body columns NOT NULL: database/sql and pgx bind a
// nil []byte as NULL.
func NZ(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// timeDest returns the scan destination of a timestamp column read into
// *t; fixTime completes it after the scan.
func (d *Dialect) timeDest(t *time.Time) any {
	if d.MicroTime {
		return microTime{t}
	}
	return t
}

// fixTime normalises a scanned timestamp to UTC (a MicroTime one is
// already).
func (d *Dialect) fixTime(t *time.Time) {
	if !d.MicroTime {
		*t = t.UTC()
	}
}

// microTime scans an integer count of microseconds since the Unix epoch
// into a UTC time (sql.Scanner).
type microTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (m microTime) Scan(src any) error {
	us, ok := src.(int64)
	if !ok {
		return fmt.Errorf("timestamp: got %T, want int64 microseconds", src)
	}
	*m.t = time.UnixMicro(us).UTC()
	return nil
}

// Buf holds the arguments, then the scan destinations, of one statement
// at a time. Arguments and destinations passed through Querier's
// interface methods escape, so a slice made for each call would be
// allocated on the heap; one Buf per connection (or transaction) is
// allocated once. It keeps the last statement's values reachable until
// the next statement overwrites them.
type Buf [12]any

// Tx implements store.Tx with the shared statements. A backend embeds it
// in its transaction type, with Q usually that type itself. A Tx is used
// by one goroutine at a time.
type Tx struct {
	D        *Dialect
	Q        Querier
	Writable bool
	// B is the statement buffer, used by one Tx at a time (nil: the Tx
	// allocates one on first use).
	B *Buf
	// args holds the arguments of the multi-row statements.
	args []any
}

// buf returns vals in t's statement buffer (in a new slice if they do not
// fit). The slice is valid until the next call: a Querier consumes the
// arguments before it returns, and Scan the destinations before it
// returns.
func (t *Tx) buf(vals ...any) []any {
	if t.B == nil {
		t.B = new(Buf)
	}
	if len(vals) > len(t.B) {
		return append([]any(nil), vals...)
	}
	return t.B[:copy(t.B[:], vals)]
}

var _ store.Tx = (*Tx)(nil)

func (t *Tx) scanResource(row Row) (*store.Resource, error) {
	var r store.Resource
	d := t.D
	if err := row.Scan(t.buf(&r.Key, &r.ID, &r.ParentKey, &r.TypeKey, &r.SubscriptionKey, &r.ResourceGroupKey,
		&r.Body, &r.ETag, &r.Seq, d.timeDest(&r.CreatedAt), d.timeDest(&r.UpdatedAt))...); err != nil {
		return nil, err
	}
	d.fixTime(&r.CreatedAt)
	d.fixTime(&r.UpdatedAt)
	return &r, nil
}

// GetResource reads one resource; with forUpdate inside a writable
// transaction and Dialect.RowLocks it locks the row until the
// transaction ends.
func (t *Tx) GetResource(ctx context.Context, key string, forUpdate bool) (*store.Resource, error) {
	text := t.D.s.getResource
	if forUpdate && t.Writable && t.D.RowLocks {
		text = t.D.s.getResourceForUpdate
	}
	r, err := t.scanResource(t.Q.QueryRow(ctx, text, t.buf(key)...))
	if errors.Is(err, t.D.NoRows) {
		return nil, fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, t.D.Wrap(ctx, "get resource", err)
	}
	return r, nil
}

// CheckPutResource returns the error PutResource fails with before
// writing anything: a read-only transaction, or a key that is empty or
// not UTF-8.
func (t *Tx) CheckPutResource(r *store.Resource) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	if r.Key == "" || !utf8.ValidString(r.Key) {
		return fmt.Errorf("%s: put resource: key %q: want a non-empty UTF-8 string", t.D.Name, r.Key)
	}
	return nil
}

// PutResource inserts or replaces r, sets r.Seq from Dialect.NextSeq and
// records the change in the same statement. The ID of an existing
// resource keeps the casing first written; r.ID is set to the stored ID.
func (t *Tx) PutResource(ctx context.Context, r *store.Resource) error {
	if err := t.CheckPutResource(r); err != nil {
		return err
	}
	if t.D.NextSeq == "" {
		return fmt.Errorf("%s: put resource: the dialect allocates no sequence numbers", t.D.Name)
	}
	row := t.Q.QueryRow(ctx, t.D.s.upsertResourceNext, t.buf(
		r.Key, r.ID, r.ParentKey, r.TypeKey, r.SubscriptionKey, r.ResourceGroupKey,
		NZ(r.Body), r.ETag, t.D.Time(r.CreatedAt), t.D.Time(r.UpdatedAt), t.D.Time(time.Now()))...)
	err := row.Scan(t.buf(&r.ID, &r.Seq)...)
	if err != nil {
		return t.D.Wrap(ctx, "put resource", err)
	}
	return nil
}

// PutResourceSeq inserts or replaces r with the sequence number seq,
// allocated by the caller, records the change and sets r.ID and r.Seq;
// the caller has called CheckPutResource.
//
// A replace whose key columns are unchanged (the usual case: they are
// derived from the key) updates the row alone, so that SQLite does not
// rewrite the entries of the parent, type, subscription and resource
// group indexes; anything else goes through the upsert.
func (t *Tx) PutResourceSeq(ctx context.Context, r *store.Resource, seq int64) error {
	var id string
	row := t.Q.QueryRow(ctx, t.D.s.updateResource, t.buf(
		NZ(r.Body), r.ETag, seq, t.D.Time(r.CreatedAt), t.D.Time(r.UpdatedAt),
		r.Key, r.ParentKey, r.TypeKey, r.SubscriptionKey, r.ResourceGroupKey)...)
	err := row.Scan(t.buf(&id)...)
	if err == nil {
		r.ID, r.Seq = id, seq
		return t.insertChange(ctx, "put resource", seq, r.Key, r.TypeKey, r.SubscriptionKey, false)
	}
	if !errors.Is(err, t.D.NoRows) {
		return t.D.Wrap(ctx, "put resource", err)
	}
	row = t.Q.QueryRow(ctx, t.D.s.upsertResourceSeq, t.buf(
		r.Key, r.ID, r.ParentKey, r.TypeKey, r.SubscriptionKey, r.ResourceGroupKey,
		NZ(r.Body), r.ETag, seq, t.D.Time(r.CreatedAt), t.D.Time(r.UpdatedAt))...)
	err = row.Scan(t.buf(&id)...)
	if err != nil {
		return t.D.Wrap(ctx, "put resource", err)
	}
	r.ID, r.Seq = id, seq
	return t.insertChange(ctx, "put resource", seq, r.Key, r.TypeKey, r.SubscriptionKey, false)
}

// insertChange records a change with the sequence number seq.
func (t *Tx) insertChange(ctx context.Context, op string, seq int64, key, typeKey, subKey string, deleted bool) error {
	_, err := t.Q.Exec(ctx, t.D.s.insertChange, t.buf(seq, key, typeKey, subKey, deleted, t.D.Time(time.Now()))...)
	if err != nil {
		return t.D.Wrap(ctx, op, err)
	}
	return nil
}

// DeleteResource removes one resource and records the change, with a
// number from Dialect.NextSeq, in the same statement; store.ErrNotFound
// if absent.
func (t *Tx) DeleteResource(ctx context.Context, key string) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	if t.D.NextSeq == "" {
		return fmt.Errorf("%s: delete resource: the dialect allocates no sequence numbers", t.D.Name)
	}
	n, err := t.Q.Exec(ctx, t.D.s.deleteResource, t.buf(key, t.D.Time(time.Now()))...)
	if err != nil {
		return t.D.Wrap(ctx, "delete resource", err)
	}
	if n == 0 {
		return fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	return nil
}

// DeleteResourceSeq removes one resource and records the change with a
// sequence number from next, which it calls only once the resource is
// deleted (a missing resource takes no number); store.ErrNotFound if
// absent.
func (t *Tx) DeleteResourceSeq(ctx context.Context, key string, next func(context.Context) (int64, error)) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	var typeKey, subKey string
	row := t.Q.QueryRow(ctx, t.D.s.deleteResourceRow, t.buf(key)...)
	err := row.Scan(t.buf(&typeKey, &subKey)...)
	if errors.Is(err, t.D.NoRows) {
		return fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return t.D.Wrap(ctx, "delete resource", err)
	}
	seq, err := next(ctx)
	if err != nil {
		return t.D.Wrap(ctx, "delete resource", err)
	}
	return t.insertChange(ctx, "delete resource", seq, key, typeKey, subKey, true)
}

// Changes returns up to limit changes after afterSeq, ordered by Seq
// (limit <= 0: all of them).
func (t *Tx) Changes(ctx context.Context, afterSeq int64, limit int) ([]*store.Change, error) {
	d := t.D
	text, args := d.s.changes[0], t.buf(afterSeq)
	if limit > 0 {
		text, args = d.s.changes[1], t.buf(afterSeq, limit)
	}
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, d.Wrap(ctx, "changes", err)
	}
	defer rows.Close()
	var out []*store.Change
	for rows.Next() {
		var c store.Change
		if err := rows.Scan(t.buf(&c.Seq, &c.Key, &c.TypeKey, &c.SubscriptionKey, &c.Deleted, d.timeDest(&c.Time))...); err != nil {
			return nil, d.Wrap(ctx, "changes", err)
		}
		d.fixTime(&c.Time)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, d.Wrap(ctx, "changes", err)
	}
	return out, nil
}

// LastChangeSeq returns the highest change Seq (0 if there is none).
func (t *Tx) LastChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	row := t.Q.QueryRow(ctx, t.D.s.lastChangeSeq)
	if err := row.Scan(t.buf(&seq)...); err != nil {
		return 0, t.D.Wrap(ctx, "last change seq", err)
	}
	return seq, nil
}

// PruneChanges deletes up to limit changes older than before, lowest Seq
// first, but never the newest, and returns how many it deleted.
func (t *Tx) PruneChanges(ctx context.Context, before time.Time, limit int) (int, error) {
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	n, err := t.Q.Exec(ctx, t.D.s.pruneChanges, t.buf(t.D.Time(before), limit)...)
	if err != nil {
		return 0, t.D.Wrap(ctx, "prune changes", err)
	}
	return int(n), nil
}

// FillChanges records fillers at the numbers from from to to that have no
// change and returns how many it recorded.
func (t *Tx) FillChanges(ctx context.Context, from, to int64) (int, error) {
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	if from < 1 || to < from || to-from >= store.MaxFillChanges {
		return 0, fmt.Errorf("%s: fill changes %d to %d: want 1 <= from <= to < from+%d", t.D.Name, from, to, store.MaxFillChanges)
	}
	n, err := t.Q.Exec(ctx, t.D.s.fillChanges, t.buf(from, to, t.D.Time(time.Now()))...)
	if err != nil {
		return 0, t.D.Wrap(ctx, "fill changes", err)
	}
	return int(n), nil
}

// ListResources returns the resources q selects, ordered by key.
func (t *Tx) ListResources(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	text, args := sqlq.ListResources(t.D.Dialect, ResourceCols, q)
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, t.D.Wrap(ctx, "list resources", err)
	}
	defer rows.Close()
	// q.MaxBytes: with a ByteLength the query is cut (sqlq.ListResources);
	// without, rows after the one at which the bodies reach MaxBytes are
	// never stepped, so never read.
	stop := q.MaxBytes > 0 && t.D.ByteLength == ""
	var out []*store.Resource
	size := 0
	for rows.Next() {
		r, err := t.scanResource(rows)
		if err != nil {
			return nil, t.D.Wrap(ctx, "list resources", err)
		}
		out = append(out, r)
		if size += len(r.Body); stop && size >= q.MaxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, t.D.Wrap(ctx, "list resources", err)
	}
	return out, nil
}

// AppendEvents inserts the events in order and sets their Seq. An event
// whose ID exists already fails with store.ErrConflict; the events before
// it stay appended unless fn returns the error.
func (t *Tx) AppendEvents(ctx context.Context, evs ...*store.Event) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	for _, e := range evs {
		if t.B == nil {
			t.B = new(Buf)
		}
		row := t.Q.QueryRow(ctx, t.D.s.insertEvent, t.D.eventArgs(t.B[:0], e)...)
		if err := t.ScanEventSeq(ctx, e, row); err != nil {
			return err
		}
	}
	return nil
}

// ScanEventSeq reads the seq that InsertEvent's statement returns into
// e.Seq; no row is a conflict.
func (t *Tx) ScanEventSeq(ctx context.Context, e *store.Event, row Row) error {
	err := row.Scan(t.buf(&e.Seq)...)
	if errors.Is(err, t.D.NoRows) {
		return fmt.Errorf("event %q: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return t.D.Wrap(ctx, "append events", err)
	}
	return nil
}

// PruneEvents deletes up to limit events older than before, oldest
// first, and returns how many it deleted.
func (t *Tx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	n, err := t.Q.Exec(ctx, t.D.s.pruneEvents, t.buf(t.D.Time(before), limit)...)
	if err != nil {
		return 0, t.D.Wrap(ctx, "prune events", err)
	}
	return int(n), nil
}

// EventsAfter returns up to limit events with Seq above afterSeq, by Seq.
func (t *Tx) EventsAfter(ctx context.Context, afterSeq int64, limit int) ([]*store.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.Q.Query(ctx, t.D.s.eventsAfter, t.buf(afterSeq, limit)...)
	if err != nil {
		return nil, t.D.Wrap(ctx, "events after", err)
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(t.buf(&e.Seq, &e.ID, &e.SubscriptionKey, t.D.timeDest(&e.Timestamp), &e.ResourceGroup, &e.ResourceKey,
			&e.CorrelationID, &e.OperationID, &e.Body)...); err != nil {
			return nil, t.D.Wrap(ctx, "events after", err)
		}
		t.D.fixTime(&e.Timestamp)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, t.D.Wrap(ctx, "events after", err)
	}
	return out, nil
}

// LastEventSeq returns the highest event Seq (0: none).
func (t *Tx) LastEventSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := t.Q.QueryRow(ctx, t.D.s.lastEventSeq).Scan(t.buf(&n)...); err != nil {
		return 0, t.D.Wrap(ctx, "last event seq", err)
	}
	return n, nil
}

// PutComplianceSnapshots inserts or replaces the snapshots.
func (t *Tx) PutComplianceSnapshots(ctx context.Context, snaps []*store.ComplianceSnapshot) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	for _, s := range snaps {
		if s.ScopeKey == "" {
			return fmt.Errorf("%s: put compliance snapshots: empty scope", t.D.Name)
		}
		if _, err := t.Q.Exec(ctx, t.D.s.putSnapshot, t.buf(s.ScopeKey, t.D.Time(s.Time), NZ(s.Body))...); err != nil {
			return t.D.Wrap(ctx, "put compliance snapshots", err)
		}
	}
	return nil
}

// ListComplianceSnapshots returns up to limit snapshots of scopeKey in
// (after, to], by time.
func (t *Tx) ListComplianceSnapshots(ctx context.Context, scopeKey string, after, to time.Time, limit int) ([]*store.ComplianceSnapshot, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.Q.Query(ctx, t.D.s.listSnapshots, t.buf(scopeKey, t.D.Time(after), t.D.Time(to), limit)...)
	if err != nil {
		return nil, t.D.Wrap(ctx, "list compliance snapshots", err)
	}
	defer rows.Close()
	var out []*store.ComplianceSnapshot
	for rows.Next() {
		s := store.ComplianceSnapshot{ScopeKey: scopeKey}
		if err := rows.Scan(t.buf(t.D.timeDest(&s.Time), &s.Body)...); err != nil {
			return nil, t.D.Wrap(ctx, "list compliance snapshots", err)
		}
		t.D.fixTime(&s.Time)
		out = append(out, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, t.D.Wrap(ctx, "list compliance snapshots", err)
	}
	return out, nil
}

// PruneComplianceSnapshots deletes up to limit snapshots older than
// before, oldest first.
func (t *Tx) PruneComplianceSnapshots(ctx context.Context, before time.Time, limit int) (int, error) {
	if !t.Writable {
		return 0, t.D.ErrReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	n, err := t.Q.Exec(ctx, t.D.s.pruneSnapshots, t.buf(t.D.Time(before), limit)...)
	if err != nil {
		return 0, t.D.Wrap(ctx, "prune compliance snapshots", err)
	}
	return int(n), nil
}

// ListEvents returns the events q selects, ordered by (Timestamp, Seq).
func (t *Tx) ListEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	d := t.D
	var c sqlq.EventCursor
	if q.AfterSeq > 0 {
		var ts time.Time
		row := t.Q.QueryRow(ctx, d.s.eventTS, t.buf(q.AfterSeq)...)
		err := row.Scan(t.buf(d.timeDest(&ts))...)
		switch {
		case err == nil:
			d.fixTime(&ts)
			c = sqlq.EventCursor{Seq: q.AfterSeq, TS: ts, Found: true}
		case !errors.Is(err, d.NoRows):
			return nil, d.Wrap(ctx, "list events", err)
		}
	}
	text, args := sqlq.ListEvents(d.Dialect, eventSelect, q, c)
	rows, err := t.Q.Query(ctx, text, args...)
	if err != nil {
		return nil, d.Wrap(ctx, "list events", err)
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(t.buf(&e.Seq, &e.ID, &e.SubscriptionKey, d.timeDest(&e.Timestamp), &e.ResourceGroup, &e.ResourceKey,
			&e.CorrelationID, &e.OperationID, &e.Body)...); err != nil {
			return nil, d.Wrap(ctx, "list events", err)
		}
		d.fixTime(&e.Timestamp)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, d.Wrap(ctx, "list events", err)
	}
	return out, nil
}

func (t *Tx) scanOperation(row Row) (*store.Operation, error) {
	var op store.Operation
	d := t.D
	if err := row.Scan(t.buf(&op.ID, &op.ResourceKey, &op.Status, &op.Body,
		d.timeDest(&op.NotBefore), d.timeDest(&op.UpdatedAt))...); err != nil {
		return nil, err
	}
	d.fixTime(&op.NotBefore)
	d.fixTime(&op.UpdatedAt)
	return &op, nil
}

// PutOperation inserts or replaces op.
func (t *Tx) PutOperation(ctx context.Context, op *store.Operation) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	if op.ID == "" {
		return fmt.Errorf("%s: put operation: empty ID", t.D.Name)
	}
	_, err := t.Q.Exec(ctx, t.D.s.putOperation, t.buf(
		op.ID, op.ResourceKey, op.Status, NZ(op.Body), t.D.Time(op.NotBefore), t.D.Time(op.UpdatedAt))...)
	if err != nil {
		return t.D.Wrap(ctx, "put operation", err)
	}
	return nil
}

// GetOperation reads one operation; store.ErrNotFound if absent.
func (t *Tx) GetOperation(ctx context.Context, id string) (*store.Operation, error) {
	op, err := t.scanOperation(t.Q.QueryRow(ctx, t.D.s.getOperation, t.buf(id)...))
	if errors.Is(err, t.D.NoRows) {
		return nil, fmt.Errorf("operation %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, t.D.Wrap(ctx, "get operation", err)
	}
	return op, nil
}

// DueOperations returns the operations with Status "InProgress" and
// NotBefore <= now, earliest first (ties by ID); limit <= 0 means no cap.
// With Dialect.RowLocks, inside a writable transaction the returned rows
// are locked (FOR UPDATE SKIP LOCKED): concurrent workers each get
// different operations.
func (t *Tx) DueOperations(ctx context.Context, now time.Time, limit int) ([]*store.Operation, error) {
	hasLimit, lock := 0, 0
	args := t.buf(t.D.Time(now))
	if limit > 0 {
		hasLimit = 1
		args = t.B[:2]
		args[1] = limit
	}
	if t.Writable && t.D.RowLocks {
		lock = 1
	}
	rows, err := t.Q.Query(ctx, t.D.s.dueOperations[hasLimit][lock], args...)
	if err != nil {
		return nil, t.D.Wrap(ctx, "due operations", err)
	}
	defer rows.Close()
	var out []*store.Operation
	for rows.Next() {
		op, err := t.scanOperation(rows)
		if err != nil {
			return nil, t.D.Wrap(ctx, "due operations", err)
		}
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, t.D.Wrap(ctx, "due operations", err)
	}
	return out, nil
}

// GetObject reads one object; store.ErrNotFound if absent.
func (t *Tx) GetObject(ctx context.Context, kind, key string) (*store.Object, error) {
	o := store.Object{Kind: kind, Key: key}
	row := t.Q.QueryRow(ctx, t.D.s.getObject, t.buf(kind, key)...)
	err := row.Scan(t.buf(&o.Body, t.D.timeDest(&o.UpdatedAt))...)
	if errors.Is(err, t.D.NoRows) {
		return nil, fmt.Errorf("object %s %q: %w", kind, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, t.D.Wrap(ctx, "get object", err)
	}
	t.D.fixTime(&o.UpdatedAt)
	return &o, nil
}

// PutObject inserts or replaces o.
func (t *Tx) PutObject(ctx context.Context, o *store.Object) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	if o.Kind == "" || o.Key == "" {
		return fmt.Errorf("%s: put object: empty kind or key", t.D.Name)
	}
	_, err := t.Q.Exec(ctx, t.D.s.putObject, t.buf(o.Kind, o.Key, NZ(o.Body), t.D.Time(o.UpdatedAt))...)
	if err != nil {
		return t.D.Wrap(ctx, "put object", err)
	}
	return nil
}

// DeleteObject removes one object; store.ErrNotFound if absent.
func (t *Tx) DeleteObject(ctx context.Context, kind, key string) error {
	if !t.Writable {
		return t.D.ErrReadOnly
	}
	n, err := t.Q.Exec(ctx, t.D.s.deleteObject, t.buf(kind, key)...)
	if err != nil {
		return t.D.Wrap(ctx, "delete object", err)
	}
	if n == 0 {
		return fmt.Errorf("object %s %q: %w", kind, key, store.ErrNotFound)
	}
	return nil
}

// ListObjects returns the objects of kind ordered by key.
func (t *Tx) ListObjects(ctx context.Context, kind string) ([]*store.Object, error) {
	rows, err := t.Q.Query(ctx, t.D.s.listObjects, t.buf(kind)...)
	if err != nil {
		return nil, t.D.Wrap(ctx, "list objects", err)
	}
	defer rows.Close()
	var out []*store.Object
	for rows.Next() {
		o := store.Object{Kind: kind}
		if err := rows.Scan(t.buf(&o.Key, &o.Body, t.D.timeDest(&o.UpdatedAt))...); err != nil {
			return nil, t.D.Wrap(ctx, "list objects", err)
		}
		t.D.fixTime(&o.UpdatedAt)
		out = append(out, &o)
	}
	if err := rows.Err(); err != nil {
		return nil, t.D.Wrap(ctx, "list objects", err)
	}
	return out, nil
}
