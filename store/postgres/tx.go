package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/generic"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

// dialect renders the shared statements (store/internal/generic) for
// PostgreSQL: numbered placeholders, TIMESTAMPTZ, row locks, the
// resource_seq sequence.
var dialectConfig = generic.Dialect{
	Dialect: sqlq.Dialect{
		Dollar:          true,
		Time:            func(t time.Time) any { return encTime(t) },
		ByteLength:      "octet_length",
		CountBySubquery: true,
	},
	Name:        "postgres",
	TimeType:    "TIMESTAMPTZ",
	CountSetup:  "SET LOCAL work_mem = '64MB'",
	RowLocks:    true,
	NextSeq:     "nextval('resource_seq')",
	NoRows:      pgx.ErrNoRows,
	ErrReadOnly: errReadOnly,
	Wrap:        wrapErr,
}

// dialect is rendered on first use, not at start: the CLI starts faster.
var dialect = sync.OnceValue(func() *generic.Dialect { return generic.NewDialect(dialectConfig) })

// errReadOnly is returned by the write methods of a Read transaction.
var errReadOnly = errors.New("postgres: write in a read-only transaction")

// encTime is what TIMESTAMPTZ keeps of t: UTC, microseconds.
func encTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// tx is a pgx transaction: the statements are generic.Tx's, run through
// the Querier methods below; AppendEvents pipelines its inserts, and
// PutPolicyStatesBatch bulk-loads a scan's records with COPY (CopyFrom).
type tx struct {
	generic.Tx
	tx  pgx.Tx
	buf generic.Buf
}

func newTx(ptx pgx.Tx, writable bool) *tx {
	t := &tx{tx: ptx}
	t.Tx = generic.Tx{D: dialect(), Q: t, Writable: writable, B: &t.buf}
	return t
}

var _ store.Tx = (*tx)(nil)

// QueryRow implements generic.Querier.
func (t *tx) QueryRow(ctx context.Context, text string, args ...any) generic.Row {
	return t.tx.QueryRow(ctx, text, args...)
}

// Query implements generic.Querier.
func (t *tx) Query(ctx context.Context, text string, args ...any) (generic.Rows, error) {
	return t.tx.Query(ctx, text, args...)
}

// Exec implements generic.Querier.
func (t *tx) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, text, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// CopyFrom implements generic.Copier with COPY FROM STDIN.
func (t *tx) CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) (int64, error) {
	return t.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
}

// AppendEvents inserts the events in order (one pipelined batch) and sets
// their Seq. An event whose ID exists already fails with
// store.ErrConflict without aborting the transaction; the events before it
// stay appended unless fn returns the error.
func (t *tx) AppendEvents(ctx context.Context, evs ...*store.Event) error {
	if len(evs) < 2 || !t.Writable {
		return t.Tx.AppendEvents(ctx, evs...)
	}
	var b pgx.Batch
	for _, e := range evs {
		text, args := dialect().InsertEvent(e)
		b.Queue(text, args...)
	}
	br := t.tx.SendBatch(ctx, &b)
	for _, e := range evs {
		if err := t.ScanEventSeq(ctx, e, br.QueryRow()); err != nil {
			br.Close()
			return err
		}
	}
	if err := br.Close(); err != nil {
		return wrapErr(ctx, "append events", err)
	}
	return nil
}
