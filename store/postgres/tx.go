package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

var dialect = sqlq.Dialect{Dollar: true, Time: func(t time.Time) any { return encTime(t) }, ByteLength: "octet_length"}

// errReadOnly is returned by the write methods of a Read transaction.
var errReadOnly = errors.New("postgres: write in a read-only transaction")

// encTime is what TIMESTAMPTZ keeps of t: UTC, microseconds.
func encTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nz keeps NOT NULL body columns NOT NULL: pgx encodes a nil []byte as
// NULL.
func nz(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

type tx struct {
	tx       pgx.Tx
	writable bool
}

var _ store.Tx = (*tx)(nil)

const resourceCols = `key, id, parent_key, type_key, subscription_key, resource_group_key, body, etag, seq, created_at, updated_at`

func scanResource(row pgx.Row) (*store.Resource, error) {
	var r store.Resource
	if err := row.Scan(&r.Key, &r.ID, &r.ParentKey, &r.TypeKey, &r.SubscriptionKey, &r.ResourceGroupKey,
		&r.Body, &r.ETag, &r.Seq, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, nil
}

// GetResource reads one resource; with forUpdate inside Write it locks
// the row until the transaction ends (forUpdate is ignored in Read).
func (t *tx) GetResource(ctx context.Context, key string, forUpdate bool) (*store.Resource, error) {
	q := `SELECT ` + resourceCols + ` FROM resources WHERE key = $1`
	if forUpdate && t.writable {
		q += ` FOR UPDATE`
	}
	r, err := scanResource(t.tx.QueryRow(ctx, q, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "get resource", err)
	}
	return r, nil
}

// PutResource inserts or replaces r and sets r.Seq from resource_seq. The
// ID of an existing resource keeps the casing first written; r.ID is set
// to the stored ID.
func (t *tx) PutResource(ctx context.Context, r *store.Resource) error {
	if !t.writable {
		return errReadOnly
	}
	if r.Key == "" || !utf8.ValidString(r.Key) {
		return fmt.Errorf("postgres: put resource: key %q: want a non-empty UTF-8 string", r.Key)
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO resources (`+resourceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nextval('resource_seq'), $9, $10)
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
		RETURNING id, seq`,
		r.Key, r.ID, r.ParentKey, r.TypeKey, r.SubscriptionKey, r.ResourceGroupKey,
		nz(r.Body), r.ETag, encTime(r.CreatedAt), encTime(r.UpdatedAt)).Scan(&r.ID, &r.Seq)
	if err != nil {
		return wrapErr(ctx, "put resource", err)
	}
	return nil
}

func (t *tx) DeleteResource(ctx context.Context, key string) error {
	if !t.writable {
		return errReadOnly
	}
	tag, err := t.tx.Exec(ctx, `DELETE FROM resources WHERE key = $1`, key)
	if err != nil {
		return wrapErr(ctx, "delete resource", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("resource %q: %w", key, store.ErrNotFound)
	}
	return nil
}

func (t *tx) ListResources(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	text, args := sqlq.ListResources(dialect, resourceCols, q)
	rows, err := t.tx.Query(ctx, text, args...)
	if err != nil {
		return nil, wrapErr(ctx, "list resources", err)
	}
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() { // q.MaxBytes: the query is cut (sqlq.ListResources)
		r, err := scanResource(rows)
		if err != nil {
			return nil, wrapErr(ctx, "list resources", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "list resources", err)
	}
	return out, nil
}

const insertEvent = `INSERT INTO events
	(id, subscription_key, ts, resource_group, resource_key, correlation_id, operation_id, body)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (id) DO NOTHING
	RETURNING seq`

func eventArgs(e *store.Event) []any {
	return []any{e.ID, e.SubscriptionKey, encTime(e.Timestamp), e.ResourceGroup, e.ResourceKey,
		e.CorrelationID, e.OperationID, nz(e.Body)}
}

// AppendEvents inserts the events in order (one pipelined batch) and sets
// their Seq. An event whose ID exists already fails with
// store.ErrConflict without aborting the transaction; the events before it
// stay appended unless fn returns the error.
func (t *tx) AppendEvents(ctx context.Context, evs ...*store.Event) error {
	if !t.writable {
		return errReadOnly
	}
	switch len(evs) {
	case 0:
		return nil
	case 1:
		return t.scanEventSeq(ctx, evs[0], t.tx.QueryRow(ctx, insertEvent, eventArgs(evs[0])...))
	}
	var b pgx.Batch
	for _, e := range evs {
		b.Queue(insertEvent, eventArgs(e)...)
	}
	br := t.tx.SendBatch(ctx, &b)
	for _, e := range evs {
		if err := t.scanEventSeq(ctx, e, br.QueryRow()); err != nil {
			br.Close()
			return err
		}
	}
	if err := br.Close(); err != nil {
		return wrapErr(ctx, "append events", err)
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
	tag, err := t.tx.Exec(ctx, `DELETE FROM events WHERE seq IN
		(SELECT seq FROM events WHERE ts < $1 ORDER BY ts, seq LIMIT $2)`, before, limit)
	if err != nil {
		return 0, wrapErr(ctx, "prune events", err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) scanEventSeq(ctx context.Context, e *store.Event, row pgx.Row) error {
	err := row.Scan(&e.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("event %q: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return wrapErr(ctx, "append events", err)
	}
	return nil
}

func (t *tx) ListEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	var c sqlq.EventCursor
	if q.AfterSeq > 0 {
		var ts time.Time
		err := t.tx.QueryRow(ctx, `SELECT ts FROM events WHERE seq = $1`, q.AfterSeq).Scan(&ts)
		switch {
		case err == nil:
			c = sqlq.EventCursor{Seq: q.AfterSeq, TS: ts, Found: true}
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, wrapErr(ctx, "list events", err)
		}
	}
	text, args := sqlq.ListEvents(dialect, `SELECT seq, id, subscription_key, ts, resource_group, resource_key,
		correlation_id, operation_id, body FROM events`, q, c)
	rows, err := t.tx.Query(ctx, text, args...)
	if err != nil {
		return nil, wrapErr(ctx, "list events", err)
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(&e.Seq, &e.ID, &e.SubscriptionKey, &e.Timestamp, &e.ResourceGroup, &e.ResourceKey,
			&e.CorrelationID, &e.OperationID, &e.Body); err != nil {
			return nil, wrapErr(ctx, "list events", err)
		}
		e.Timestamp = e.Timestamp.UTC()
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "list events", err)
	}
	return out, nil
}

const operationCols = `id, resource_key, status, body, not_before, updated_at`

func scanOperation(row pgx.Row) (*store.Operation, error) {
	var op store.Operation
	if err := row.Scan(&op.ID, &op.ResourceKey, &op.Status, &op.Body, &op.NotBefore, &op.UpdatedAt); err != nil {
		return nil, err
	}
	op.NotBefore, op.UpdatedAt = op.NotBefore.UTC(), op.UpdatedAt.UTC()
	return &op, nil
}

func (t *tx) PutOperation(ctx context.Context, op *store.Operation) error {
	if !t.writable {
		return errReadOnly
	}
	if op.ID == "" {
		return errors.New("postgres: put operation: empty ID")
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO operations (`+operationCols+`)
		VALUES ($1, $2, $3, $4, $5, $6)
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
	op, err := scanOperation(t.tx.QueryRow(ctx, `SELECT `+operationCols+` FROM operations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("operation %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "get operation", err)
	}
	return op, nil
}

// DueOperations returns the operations with Status "InProgress" and
// NotBefore <= now, earliest first (ties by ID); limit <= 0 means no cap.
// Inside Write the returned rows are locked (FOR UPDATE SKIP LOCKED):
// concurrent workers each get different operations.
func (t *tx) DueOperations(ctx context.Context, now time.Time, limit int) ([]*store.Operation, error) {
	text := `SELECT ` + operationCols + ` FROM operations
		WHERE status = 'InProgress' AND not_before <= $1 ORDER BY not_before, id`
	args := []any{encTime(now)}
	if limit > 0 {
		text += ` LIMIT $2`
		args = append(args, limit)
	}
	if t.writable {
		text += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := t.tx.Query(ctx, text, args...)
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
	err := t.tx.QueryRow(ctx, `SELECT body, updated_at FROM objects WHERE kind = $1 AND key = $2`, kind, key).
		Scan(&o.Body, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("object %s %q: %w", kind, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "get object", err)
	}
	o.UpdatedAt = o.UpdatedAt.UTC()
	return &o, nil
}

func (t *tx) PutObject(ctx context.Context, o *store.Object) error {
	if !t.writable {
		return errReadOnly
	}
	if o.Kind == "" || o.Key == "" {
		return errors.New("postgres: put object: empty kind or key")
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO objects (kind, key, body, updated_at) VALUES ($1, $2, $3, $4)
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
	tag, err := t.tx.Exec(ctx, `DELETE FROM objects WHERE kind = $1 AND key = $2`, kind, key)
	if err != nil {
		return wrapErr(ctx, "delete object", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("object %s %q: %w", kind, key, store.ErrNotFound)
	}
	return nil
}

// ListObjects returns the objects of kind ordered by key.
func (t *tx) ListObjects(ctx context.Context, kind string) ([]*store.Object, error) {
	rows, err := t.tx.Query(ctx, `SELECT key, body, updated_at FROM objects WHERE kind = $1 ORDER BY key`, kind)
	if err != nil {
		return nil, wrapErr(ctx, "list objects", err)
	}
	defer rows.Close()
	var out []*store.Object
	for rows.Next() {
		o := store.Object{Kind: kind}
		if err := rows.Scan(&o.Key, &o.Body, &o.UpdatedAt); err != nil {
			return nil, wrapErr(ctx, "list objects", err)
		}
		o.UpdatedAt = o.UpdatedAt.UTC()
		out = append(out, &o)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(ctx, "list objects", err)
	}
	return out, nil
}
