package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

var dialect = sqlq.Dialect{Time: func(t time.Time) any { return encTime(t) }}

// errReadOnly is returned by the write methods of a Read transaction.
var errReadOnly = errors.New("sqlite: write in a read-only transaction")

// encTime stores t as microseconds since the Unix epoch (UTC; anything
// finer than a microsecond is truncated).
func encTime(t time.Time) int64 { return t.UnixMicro() }

func decTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nz keeps NOT NULL body columns NOT NULL: database/sql binds a nil
// []byte as NULL.
func nz(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// tx is a transaction on a held connection: a Read's, or a Write's
// savepoint in the group transaction.
type tx struct {
	c        *conn
	writable bool
	// detached: statements ignore the caller's cancellation. A write
	// statement interrupted by a canceled context makes SQLite roll back
	// the whole transaction, that is every Write of the group; Write
	// checks the context before and after fn instead.
	detached bool
	// cache is the write connection's resource cache (nil in a Read).
	cache *resCache
	// batch is the group transaction of a Write (nil in a Read).
	batch *batch
	// seq is the resource sequence counter held in memory (exclusive
	// mode; nil otherwise, and in a Read).
	seq *int64
}

// wrote records a resource key written, for the committed-resource cache.
func (t *tx) wrote(key string) {
	if t.batch.keys == nil {
		t.batch.keys = make(map[string]struct{})
	}
	t.batch.keys[key] = struct{}{}
}

func (t *tx) qctx(ctx context.Context) context.Context {
	if t.detached {
		return context.Background()
	}
	return ctx
}

func (t *tx) queryRow(ctx context.Context, text string, args ...any) row {
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return row{err: err}
	}
	return row{r: s.QueryRowContext(ctx, args...)}
}

func (t *tx) query(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (t *tx) exec(ctx context.Context, text string, args ...any) (sql.Result, error) {
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

var _ store.Tx = (*tx)(nil)

type scanner interface{ Scan(dest ...any) error }

const resourceCols = `key, id, parent_key, type_key, subscription_key, resource_group_key, body, etag, seq, created_at, updated_at`

func scanResource(s scanner) (*store.Resource, error) {
	var r store.Resource
	var created, updated int64
	if err := s.Scan(&r.Key, &r.ID, &r.ParentKey, &r.TypeKey, &r.SubscriptionKey, &r.ResourceGroupKey,
		&r.Body, &r.ETag, &r.Seq, &created, &updated); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = decTime(created), decTime(updated)
	return &r, nil
}

func (t *tx) GetResource(ctx context.Context, key string, forUpdate bool) (*store.Resource, error) {
	// forUpdate needs no lock: the one write connection serialises all
	// Write transactions.
	if t.cache != nil {
		if r := t.cache.get(key); r != nil {
			return r, nil
		}
	}
	r, err := scanResource(t.queryRow(ctx, `SELECT `+resourceCols+` FROM resources WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "get resource", err)
	}
	if t.cache != nil {
		t.cache.put(r)
	}
	return r, nil
}

// PutResource inserts or replaces r and sets r.Seq. The ID of an existing
// resource keeps the casing first written; r.ID is set to the stored ID.
func (t *tx) PutResource(ctx context.Context, r *store.Resource) error {
	if !t.writable {
		return errReadOnly
	}
	if r.Key == "" || !utf8.ValidString(r.Key) {
		return fmt.Errorf("sqlite: put resource: key %q: want a non-empty UTF-8 string", r.Key)
	}
	if t.cache != nil {
		t.cache.drop(r.Key)
	}
	t.wrote(r.Key)
	var seq int64
	if t.seq != nil {
		// Exclusive mode: the counter lives in memory and the group
		// transaction stores it once, before its COMMIT.
		*t.seq++
		seq = *t.seq
		t.batch.seq = seq
	} else if err := t.queryRow(ctx,
		`UPDATE counters SET value = value + 1 WHERE name = 'resource_seq' RETURNING value`).Scan(&seq); err != nil {
		return wrapErr(ctx, "put resource", err)
	}
	// A replace whose key columns are unchanged (the usual case: they are
	// derived from the key) updates the row alone, so that SQLite does not
	// rewrite the entries of the parent, type, subscription and resource
	// group indexes; anything else goes through the upsert below.
	var id string
	err := t.queryRow(ctx, `UPDATE resources SET body = ?, etag = ?, seq = ?, created_at = ?, updated_at = ?
		WHERE key = ? AND parent_key = ? AND type_key = ? AND subscription_key = ? AND resource_group_key = ?
		RETURNING id`,
		nz(r.Body), r.ETag, seq, encTime(r.CreatedAt), encTime(r.UpdatedAt),
		r.Key, r.ParentKey, r.TypeKey, r.SubscriptionKey, r.ResourceGroupKey).Scan(&id)
	if err == nil {
		r.ID, r.Seq = id, seq
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return wrapErr(ctx, "put resource", err)
	}
	err = t.queryRow(ctx, `INSERT INTO resources (`+resourceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
		RETURNING id`,
		r.Key, r.ID, r.ParentKey, r.TypeKey, r.SubscriptionKey, r.ResourceGroupKey,
		nz(r.Body), r.ETag, seq, encTime(r.CreatedAt), encTime(r.UpdatedAt)).Scan(&id)
	if err != nil {
		return wrapErr(ctx, "put resource", err)
	}
	r.ID, r.Seq = id, seq
	return nil
}

func (t *tx) DeleteResource(ctx context.Context, key string) error {
	if !t.writable {
		return errReadOnly
	}
	if t.cache != nil {
		t.cache.drop(key)
	}
	t.wrote(key)
	res, err := t.exec(ctx, `DELETE FROM resources WHERE key = ?`, key)
	if err != nil {
		return wrapErr(ctx, "delete resource", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrapErr(ctx, "delete resource", err)
	} else if n == 0 {
		return fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	return nil
}

func (t *tx) ListResources(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	text, args := sqlq.ListResources(dialect, resourceCols, q)
	rows, err := t.query(ctx, text, args...)
	if err != nil {
		return nil, wrapErr(ctx, "list resources", err)
	}
	defer rows.Close()
	var out []*store.Resource
	size := 0
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, wrapErr(ctx, "list resources", err)
		}
		out = append(out, r)
		// q.MaxBytes: the query is not cut (see sqlq.Dialect.ByteLength);
		// rows after this one are never stepped, so never read.
		if size += len(r.Body); q.MaxBytes > 0 && size >= q.MaxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "list resources", err)
	}
	return out, nil
}

// AppendEvents inserts the events in order and sets their Seq. An event
// whose ID exists already fails with store.ErrConflict; the events before
// it stay appended unless fn returns the error.
func (t *tx) AppendEvents(ctx context.Context, evs ...*store.Event) error {
	if !t.writable {
		return errReadOnly
	}
	for _, e := range evs {
		err := t.queryRow(ctx, `INSERT INTO events
			(id, subscription_key, ts, resource_group, resource_key, correlation_id, operation_id, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING
			RETURNING seq`,
			e.ID, e.SubscriptionKey, encTime(e.Timestamp), e.ResourceGroup, e.ResourceKey,
			e.CorrelationID, e.OperationID, nz(e.Body)).Scan(&e.Seq)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("event %q: %w", e.ID, store.ErrConflict)
		}
		if err != nil {
			return wrapErr(ctx, "append events", err)
		}
	}
	return nil
}

func (t *tx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	res, err := t.exec(ctx, `DELETE FROM events WHERE seq IN
		(SELECT seq FROM events WHERE ts < ? ORDER BY ts, seq LIMIT ?)`, encTime(before), limit)
	if err != nil {
		return 0, wrapErr(ctx, "prune events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrapErr(ctx, "prune events", err)
	}
	return int(n), nil
}

func (t *tx) ListEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	var c sqlq.EventCursor
	if q.AfterSeq > 0 {
		var ts int64
		err := t.queryRow(ctx, `SELECT ts FROM events WHERE seq = ?`, q.AfterSeq).Scan(&ts)
		switch {
		case err == nil:
			c = sqlq.EventCursor{Seq: q.AfterSeq, TS: decTime(ts), Found: true}
		case !errors.Is(err, sql.ErrNoRows):
			return nil, wrapErr(ctx, "list events", err)
		}
	}
	text, args := sqlq.ListEvents(dialect, `SELECT seq, id, subscription_key, ts, resource_group, resource_key,
		correlation_id, operation_id, body FROM events`, q, c)
	rows, err := t.query(ctx, text, args...)
	if err != nil {
		return nil, wrapErr(ctx, "list events", err)
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		var ts int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.SubscriptionKey, &ts, &e.ResourceGroup, &e.ResourceKey,
			&e.CorrelationID, &e.OperationID, &e.Body); err != nil {
			return nil, wrapErr(ctx, "list events", err)
		}
		e.Timestamp = decTime(ts)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "list events", err)
	}
	return out, nil
}

const operationCols = `id, resource_key, status, body, not_before, updated_at`

func scanOperation(s scanner) (*store.Operation, error) {
	var op store.Operation
	var notBefore, updated int64
	if err := s.Scan(&op.ID, &op.ResourceKey, &op.Status, &op.Body, &notBefore, &updated); err != nil {
		return nil, err
	}
	op.NotBefore, op.UpdatedAt = decTime(notBefore), decTime(updated)
	return &op, nil
}

func (t *tx) PutOperation(ctx context.Context, op *store.Operation) error {
	if !t.writable {
		return errReadOnly
	}
	if op.ID == "" {
		return errors.New("sqlite: put operation: empty ID")
	}
	_, err := t.exec(ctx, `INSERT INTO operations (`+operationCols+`)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			resource_key = excluded.resource_key,
			status = excluded.status,
			body = excluded.body,
			not_before = excluded.not_before,
			updated_at = excluded.updated_at`,
		op.ID, op.ResourceKey, op.Status, nz(op.Body), encTime(op.NotBefore), encTime(op.UpdatedAt))
	if err != nil {
		return wrapErr(ctx, "put operation", err)
	}
	return nil
}

func (t *tx) GetOperation(ctx context.Context, id string) (*store.Operation, error) {
	op, err := scanOperation(t.queryRow(ctx, `SELECT `+operationCols+` FROM operations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("operation %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "get operation", err)
	}
	return op, nil
}

// DueOperations returns the operations with Status "InProgress" and
// NotBefore <= now, earliest first (ties by ID); limit <= 0 means no cap.
func (t *tx) DueOperations(ctx context.Context, now time.Time, limit int) ([]*store.Operation, error) {
	text := `SELECT ` + operationCols + ` FROM operations
		WHERE status = 'InProgress' AND not_before <= ? ORDER BY not_before, id`
	args := []any{encTime(now)}
	if limit > 0 {
		text += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.query(ctx, text, args...)
	if err != nil {
		return nil, wrapErr(ctx, "due operations", err)
	}
	defer rows.Close()
	var out []*store.Operation
	for rows.Next() {
		op, err := scanOperation(rows)
		if err != nil {
			return nil, wrapErr(ctx, "due operations", err)
		}
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "due operations", err)
	}
	return out, nil
}

func (t *tx) GetObject(ctx context.Context, kind, key string) (*store.Object, error) {
	o := store.Object{Kind: kind, Key: key}
	var updated int64
	err := t.queryRow(ctx, `SELECT body, updated_at FROM objects WHERE kind = ? AND key = ?`, kind, key).
		Scan(&o.Body, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("object %s %q: %w", kind, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "get object", err)
	}
	o.UpdatedAt = decTime(updated)
	return &o, nil
}

func (t *tx) PutObject(ctx context.Context, o *store.Object) error {
	if !t.writable {
		return errReadOnly
	}
	if o.Kind == "" || o.Key == "" {
		return errors.New("sqlite: put object: empty kind or key")
	}
	_, err := t.exec(ctx, `INSERT INTO objects (kind, key, body, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
		o.Kind, o.Key, nz(o.Body), encTime(o.UpdatedAt))
	if err != nil {
		return wrapErr(ctx, "put object", err)
	}
	return nil
}

func (t *tx) DeleteObject(ctx context.Context, kind, key string) error {
	if !t.writable {
		return errReadOnly
	}
	res, err := t.exec(ctx, `DELETE FROM objects WHERE kind = ? AND key = ?`, kind, key)
	if err != nil {
		return wrapErr(ctx, "delete object", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrapErr(ctx, "delete object", err)
	} else if n == 0 {
		return fmt.Errorf("object %s %q: %w", kind, key, store.ErrNotFound)
	}
	return nil
}

// ListObjects returns the objects of kind ordered by key.
func (t *tx) ListObjects(ctx context.Context, kind string) ([]*store.Object, error) {
	rows, err := t.query(ctx, `SELECT key, body, updated_at FROM objects WHERE kind = ? ORDER BY key`, kind)
	if err != nil {
		return nil, wrapErr(ctx, "list objects", err)
	}
	defer rows.Close()
	var out []*store.Object
	for rows.Next() {
		o := store.Object{Kind: kind}
		var updated int64
		if err := rows.Scan(&o.Key, &o.Body, &updated); err != nil {
			return nil, wrapErr(ctx, "list objects", err)
		}
		o.UpdatedAt = decTime(updated)
		out = append(out, &o)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "list objects", err)
	}
	return out, nil
}
