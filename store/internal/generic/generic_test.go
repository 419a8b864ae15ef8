package generic

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/internal/sqlq"
)

var errNoRows = errors.New("no rows")

func testDialect(dollar bool, nextSeq string) *Dialect {
	return NewDialect(Dialect{
		Dialect:     sqlq.Dialect{Dollar: dollar, Time: func(t time.Time) any { return t.UnixMicro() }},
		Name:        "test",
		TimeType:    "INTEGER",
		NextSeq:     nextSeq,
		NoRows:      errNoRows,
		ErrReadOnly: errors.New("test: read-only"),
		Wrap: func(_ context.Context, op string, err error) error {
			return errors.Join(errors.New(op), err)
		},
	})
}

// TestNewDialect checks the rendering of the placeholders: every ? is
// numbered in order with Dollar, and the NextSeq expression takes no
// argument.
func TestNewDialect(t *testing.T) {
	pg := testDialect(true, "nextval('resource_seq')")
	for name, c := range map[string]struct{ got, want string }{
		"getResourceForUpdate": {pg.s.getResourceForUpdate, `SELECT ` + ResourceCols + ` FROM resources WHERE key = $1 FOR UPDATE`},
		"deleteObject":         {pg.s.deleteObject, `DELETE FROM objects WHERE kind = $1 AND key = $2`},
		"dueOperations":        {pg.s.dueOperations[1][1][strings.Index(pg.s.dueOperations[1][1], "WHERE"):], `WHERE status = 'InProgress' AND not_before <= $1 ORDER BY not_before, id LIMIT $2 FOR UPDATE SKIP LOCKED`},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", name, c.got, c.want)
		}
	}
	// The change is recorded in the statement of the write: the upsert
	// and the delete are data-modifying WITH clauses.
	if !strings.Contains(pg.s.upsertResourceNext, "$8, nextval('resource_seq'), $9, $10)") ||
		!strings.Contains(pg.s.upsertResourceNext, "INSERT INTO changes") ||
		!strings.Contains(pg.s.upsertResourceNext, "CAST($11 AS INTEGER)") ||
		!strings.HasSuffix(pg.s.upsertResourceNext, "SELECT id, seq FROM r") {
		t.Errorf("upsertResourceNext = %q", pg.s.upsertResourceNext)
	}
	if !strings.Contains(pg.s.deleteResource, "WHERE key = $1 RETURNING") ||
		!strings.Contains(pg.s.deleteResource, "SELECT nextval('resource_seq'), key, type_key, subscription_key, TRUE, CAST($2 AS INTEGER) FROM d") {
		t.Errorf("deleteResource = %q", pg.s.deleteResource)
	}
	lite := testDialect(false, "")
	if strings.Contains(lite.s.upsertResourceSeq, "$") || lite.s.upsertResourceNext != "" {
		t.Errorf("? dialect: upsertResourceSeq = %q, upsertResourceNext = %q", lite.s.upsertResourceSeq, lite.s.upsertResourceNext)
	}
	if n := strings.Count(lite.s.upsertResourceSeq, "?"); n != 11 {
		t.Errorf("upsertResourceSeq has %d placeholders, want 11", n)
	}
}

func TestMicroTime(t *testing.T) {
	var got time.Time
	want := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	if err := (microTime{&got}).Scan(want.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Scan = %v, want %v", got, want)
	}
	if err := (microTime{&got}).Scan("2026-03-01"); err == nil {
		t.Error("Scan(string): no error")
	}
}

// fakeQuerier records the statements run and answers QueryRow with row.
type fakeQuerier struct {
	texts []string
	args  [][]any
	row   Row
}

func (f *fakeQuerier) record(text string, args []any) {
	f.texts = append(f.texts, text)
	f.args = append(f.args, append([]any(nil), args...))
}

func (f *fakeQuerier) QueryRow(_ context.Context, text string, args ...any) Row {
	f.record(text, args)
	return f.row
}

func (f *fakeQuerier) Query(_ context.Context, text string, args ...any) (Rows, error) {
	f.record(text, args)
	return nil, errors.New("no query")
}

func (f *fakeQuerier) Exec(_ context.Context, text string, args ...any) (int64, error) {
	f.record(text, args)
	return 0, nil
}

type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }

// TestBufReuse checks that a Tx passes each statement its own arguments
// although they share one buffer, and that DueOperations binds a limit
// only when there is one.
func TestBufReuse(t *testing.T) {
	q := &fakeQuerier{row: rowFunc(func(dest ...any) error { return errNoRows })}
	tx := &Tx{D: testDialect(false, ""), Q: q, Writable: true}
	ctx := context.Background()
	if err := tx.DeleteObject(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteObject = %v, want ErrNotFound", err)
	}
	if _, err := tx.GetOperation(ctx, "op1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOperation = %v, want ErrNotFound", err)
	}
	tx.DueOperations(ctx, time.UnixMicro(7), 0)
	tx.DueOperations(ctx, time.UnixMicro(7), 5)
	want := [][]any{{"k", "a"}, {"op1"}, {int64(7)}, {int64(7), 5}}
	if len(q.args) != len(want) {
		t.Fatalf("%d statements, want %d", len(q.args), len(want))
	}
	for i := range want {
		if len(q.args[i]) != len(want[i]) {
			t.Errorf("statement %d args = %v, want %v", i, q.args[i], want[i])
			continue
		}
		for j := range want[i] {
			if q.args[i][j] != want[i][j] {
				t.Errorf("statement %d args = %v, want %v", i, q.args[i], want[i])
			}
		}
	}
}

func TestBufOverflow(t *testing.T) {
	tx := &Tx{}
	vals := make([]any, len(Buf{})+1)
	for i := range vals {
		vals[i] = i
	}
	got := tx.buf(vals...)
	if len(got) != len(vals) || got[len(vals)-1] != len(vals)-1 {
		t.Errorf("buf(%d values) = %v", len(vals), got)
	}
	if got := tx.buf(1, 2); len(got) != 2 || &got[0] != &tx.B[0] {
		t.Errorf("buf(1, 2) = %v, not in the buffer", got)
	}
}
