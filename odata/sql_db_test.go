package odata_test

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
)

// columns maps the fixture's fields to the test table's columns.
var columns = map[string]string{
	"resourceId":                  "resource_id",
	"resourceType":                "resource_type",
	"resourceGroup":               "resource_group",
	"policyAssignmentId":          "policy_assignment_id",
	"policyDefinitionReferenceId": "ref_id",
	"policyDefinitionAction":      "action",
	"complianceState":             "compliance_state",
	"isCompliant":                 "is_compliant",
	"timestamp":                   "ts",
	"score":                       "score",
}

// querier runs a SELECT of names and returns them concatenated.
type querier func(where string, args []any) (string, error)

func TestToSQLSQLite(t *testing.T) {
	q, err := sqliteFixture()
	if err != nil {
		t.Fatal(err)
	}
	testToSQL(t, q)
}

var (
	sqliteOnce  sync.Once
	sqliteQuery querier
	sqliteErr   error
)

// sqliteFixture returns a querier over the fixture in an in-memory SQLite
// database, made once per process (the fuzz target queries it too).
func sqliteFixture() (querier, error) {
	sqliteOnce.Do(func() {
		db, err := sql.Open("sqlite", ":memory:")
		if err != nil {
			sqliteErr = err
			return
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`CREATE TABLE states (name TEXT PRIMARY KEY, resource_id TEXT, resource_type TEXT, resource_group TEXT,
		policy_assignment_id TEXT, ref_id TEXT, action TEXT, compliance_state TEXT, is_compliant BOOLEAN, ts INTEGER, score REAL)`); err != nil {
			sqliteErr = err
			return
		}
		for _, r := range fixture {
			if _, err := db.Exec(`INSERT INTO states VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rowArgs(r, sqliteArg)...); err != nil {
				sqliteErr = err
				return
			}
		}
		sqliteQuery = func(where string, args []any) (string, error) {
			conv := make([]any, len(args))
			for i, a := range args {
				conv[i] = sqliteArg(a)
			}
			rows, err := db.Query("SELECT name FROM states WHERE "+where+" ORDER BY name", conv...)
			if err != nil {
				return "", err
			}
			return collect(rows.Next, rows.Scan, rows.Err, rows.Close)
		}
	})
	return sqliteQuery, sqliteErr
}

func TestToSQLPostgres(t *testing.T) {
	url := pgtest.Server(t) // skips, saying why, without a server
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE states (name TEXT PRIMARY KEY, resource_id TEXT, resource_type TEXT, resource_group TEXT,
		policy_assignment_id TEXT, ref_id TEXT, action TEXT, compliance_state TEXT, is_compliant BOOLEAN, ts TIMESTAMPTZ, score DOUBLE PRECISION)`); err != nil {
		t.Fatal(err)
	}
	for _, r := range fixture {
		if _, err := conn.Exec(ctx, `INSERT INTO states VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, rowArgs(r, func(v any) any { return v })...); err != nil {
			t.Fatal(err)
		}
	}
	testToSQL(t, func(where string, args []any) (string, error) {
		rows, err := conn.Query(ctx, "SELECT name FROM states WHERE "+rebind(where)+" ORDER BY name", args...)
		if err != nil {
			return "", err
		}
		closeRows := func() error { rows.Close(); return nil }
		return collect(rows.Next, func(dst ...any) error { return rows.Scan(dst...) }, rows.Err, closeRows)
	})
}

func rowArgs(r odata.Row, conv func(any) any) []any {
	args := []any{r["name"]}
	for _, f := range []string{"resourceId", "resourceType", "resourceGroup", "policyAssignmentId", "policyDefinitionReferenceId",
		"policyDefinitionAction", "complianceState", "isCompliant", "timestamp", "score"} {
		args = append(args, conv(r[f]))
	}
	return args
}

// sqliteArg stores times as Unix microseconds, as mlgov's SQLite store
// does.
func sqliteArg(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UnixMicro()
	}
	return v
}

// rebind turns ? placeholders into PostgreSQL's $n (ToSQL never inlines a
// value, so every ? is a placeholder).
func rebind(s string) string {
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func collect(next func() bool, scan func(...any) error, errf func() error, closef func() error) (string, error) {
	defer closef()
	var b strings.Builder
	for next() {
		var name string
		if err := scan(&name); err != nil {
			return "", err
		}
		b.WriteString(name)
	}
	return b.String(), errf()
}

func testToSQL(t *testing.T, q querier) {
	rendered := 0
	for _, c := range filterCases {
		e, err := odata.ParseFilter(c.filter, stateFields)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", c.filter, err)
			continue
		}
		where, args, ok := odata.ToSQL(e, columns)
		if ok != c.sql {
			t.Errorf("ToSQL(%q) ok = %v, want %v (%q)", c.filter, ok, c.sql, where)
			continue
		}
		if !ok {
			continue
		}
		rendered++
		got, err := q(where, args)
		if err != nil {
			t.Errorf("%q as SQL %q %v: %v", c.filter, where, args, err)
			continue
		}
		if eval := names(t, e, fixture); got != eval || got != c.want {
			t.Errorf("%q as SQL %q %v selects %q; Eval selects %q, want %q", c.filter, where, args, got, eval, c.want)
		}
	}
	if rendered < 40 {
		t.Errorf("only %d filters rendered as SQL", rendered)
	}
}

func TestToSQLForms(t *testing.T) {
	for _, c := range []struct{ filter, where, args string }{
		{"ComplianceState eq 'NonCompliant'", "(compliance_state IS NOT NULL AND lower(compliance_state) = ?)", "[noncompliant]"},
		{"ComplianceState ne 'NonCompliant'", "(compliance_state IS NULL OR lower(compliance_state) <> ?)", "[noncompliant]"},
		{"ResourceGroup eq null", "resource_group IS NULL", "[]"},
		{"null ne ResourceGroup", "resource_group IS NOT NULL", "[]"},
		{"startswith(ResourceId, 'A_b%c\\')", `lower(resource_id) LIKE ? ESCAPE '\'`, `[a\_b\%c\\%]`},
		{"endswith(ResourceId, 'x')", `lower(resource_id) LIKE ? ESCAPE '\'`, `[%x]`},
		{"contains(ResourceId, 'x')", `lower(resource_id) LIKE ? ESCAPE '\'`, `[%x%]`},
		{"substringof('X_', ResourceId)", `lower(resource_id) LIKE ? ESCAPE '\'`, `[%x\_%]`},
		{"1 lt Score and not IsCompliant", "((score IS NOT NULL AND score > ?) AND NOT (is_compliant = ?))", "[1 true]"},
		{"Timestamp ge 2024-05-01T02:00:00+02:00", "(ts IS NOT NULL AND ts >= ?)", "[2024-05-01 00:00:00 +0000 UTC]"},
		{"false or true", "(1 = 0 OR 1 = 1)", "[]"},
	} {
		e, err := odata.ParseFilter(c.filter, stateFields)
		if err != nil {
			t.Fatal(err)
		}
		where, args, ok := odata.ToSQL(e, columns)
		if !ok || where != c.where || fmtArgs(args) != c.args {
			t.Errorf("ToSQL(%q) = %q %s %v, want %q %s", c.filter, where, fmtArgs(args), ok, c.where, c.args)
		}
	}
	// A field without a column is not rendered.
	e, _ := odata.ParseFilter("IsCompliant and Score gt 1", stateFields)
	if where, _, ok := odata.ToSQL(e, map[string]string{"isCompliant": "is_compliant"}); ok {
		t.Errorf("ToSQL without a score column = %q, ok", where)
	}
	if where, args, ok := odata.ToSQL(nil, columns); where != "" || args != nil || !ok {
		t.Errorf("ToSQL(nil) = %q %v %v", where, args, ok)
	}
}

func fmtArgs(args []any) string {
	var parts []string
	for _, a := range args {
		switch v := a.(type) {
		case time.Time:
			parts = append(parts, v.String())
		case string:
			parts = append(parts, v)
		case float64:
			parts = append(parts, strconv.FormatFloat(v, 'g', -1, 64))
		case bool:
			parts = append(parts, strconv.FormatBool(v))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}
