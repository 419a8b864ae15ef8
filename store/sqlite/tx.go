package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/generic"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

// dialect renders the shared statements (store/internal/generic) for
// SQLite: ? placeholders, times as integer microseconds, no row locks
// (one write connection serialises all Write transactions), resource_seq
// allocated by PutResource below.
var dialectConfig = generic.Dialect{
	Dialect:     sqlq.Dialect{Time: func(t time.Time) any { return encTime(t) }},
	Name:        "sqlite",
	MicroTime:   true,
	TimeType:    "INTEGER",
	NoRows:      sql.ErrNoRows,
	ErrReadOnly: errReadOnly,
	Wrap:        wrapErr,
}

// dialect is rendered on first use, not at start: the CLI starts faster.
var dialect = sync.OnceValue(func() *generic.Dialect { return generic.NewDialect(dialectConfig) })

// errReadOnly is returned by the write methods of a Read transaction.
var errReadOnly = errors.New("sqlite: write in a read-only transaction")

// encTime stores t as microseconds since the Unix epoch (UTC; anything
// finer than a microsecond is truncated).
func encTime(t time.Time) int64 { return t.UnixMicro() }

// tx is a transaction on a held connection: a Read's, or a Write's
// savepoint in the group transaction. The statements are generic.Tx's,
// run through the Querier methods below on the connection's prepared
// statements; the resource methods add the write connection's resource
// cache, the keys written and the in-memory sequence.
type tx struct {
	generic.Tx
	c *conn
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

// newReadTx returns a Read's transaction on c.
func newReadTx(c *conn) *tx {
	t := &tx{c: c}
	t.Tx = generic.Tx{D: dialect(), Q: t, B: &c.buf}
	return t
}

// newWriteTx returns a Write's transaction on the write connection c, in
// the group transaction b.
func newWriteTx(c *conn, cache *resCache, b *batch, seq *int64) *tx {
	t := &tx{c: c, detached: true, cache: cache, batch: b, seq: seq}
	t.Tx = generic.Tx{D: dialect(), Q: t, Writable: true, B: &c.buf}
	return t
}

var _ store.Tx = (*tx)(nil)

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

// QueryRow implements generic.Querier.
func (t *tx) QueryRow(ctx context.Context, text string, args ...any) generic.Row {
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return errRow{err}
	}
	return s.QueryRowContext(ctx, args...)
}

// Query implements generic.Querier.
func (t *tx) Query(ctx context.Context, text string, args ...any) (generic.Rows, error) {
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return nil, err
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// Exec implements generic.Querier.
func (t *tx) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return 0, err
	}
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// errRow is a single-row result whose statement failed to prepare.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// sqlRows is *sql.Rows as a generic.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// GetResource reads one resource, from the write connection's cache when
// it holds it. forUpdate needs no lock: the one write connection
// serialises all Write transactions.
func (t *tx) GetResource(ctx context.Context, key string, forUpdate bool) (*store.Resource, error) {
	if t.cache != nil {
		if r := t.cache.get(key); r != nil {
			return r, nil
		}
	}
	r, err := t.Tx.GetResource(ctx, key, forUpdate)
	if err != nil {
		return nil, err
	}
	if t.cache != nil {
		t.cache.put(r)
	}
	return r, nil
}

// PutResource inserts or replaces r and sets r.Seq. The ID of an existing
// resource keeps the casing first written; r.ID is set to the stored ID.
func (t *tx) PutResource(ctx context.Context, r *store.Resource) error {
	if err := t.CheckPutResource(r); err != nil {
		return err
	}
	if t.cache != nil {
		t.cache.drop(r.Key)
	}
	t.wrote(r.Key)
	seq, err := t.nextSeq(ctx)
	if err != nil {
		return wrapErr(ctx, "put resource", err)
	}
	return t.PutResourceSeq(ctx, r, seq)
}

// nextSeq allocates the next resource sequence number (a resource write's
// Seq and its change's).
func (t *tx) nextSeq(ctx context.Context) (int64, error) {
	if t.seq != nil {
		// Exclusive mode: the counter lives in memory; the number of the
		// last write is kept by its change (and runFn gives back the
		// numbers of a Write that rolls back, so that the feed sees no
		// gap).
		*t.seq++
		return *t.seq, nil
	}
	// Shared mode: the number after the newest change, which has the
	// last number committed (PruneChanges leaves it alone) or taken
	// earlier in this transaction; the write lock the transaction holds
	// keeps other processes out until it ends. Reading it costs less than
	// advancing a counter row.
	ctx = t.qctx(ctx)
	s, err := t.c.stmt(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM changes`)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = s.QueryRowContext(ctx).Scan(&seq)
	return seq, err
}

// DeleteResource removes one resource and records the change, with a new
// sequence number; store.ErrNotFound if absent.
func (t *tx) DeleteResource(ctx context.Context, key string) error {
	if !t.Writable {
		return t.Tx.DeleteResource(ctx, key) // the read-only error
	}
	if t.cache != nil {
		t.cache.drop(key)
	}
	t.wrote(key)
	return t.DeleteResourceSeq(ctx, key, t.nextSeq)
}
