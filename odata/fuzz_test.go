package odata_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/odata"
)

var fuzzColumns = map[string]string{
	"resourceId": "resource_id", "resourceType": "resource_type", "resourceGroup": "resource_group",
	"complianceState": "compliance_state", "isCompliant": "is_compliant", "timestamp": "ts", "score": "score",
}

// FuzzParseFilter: no input panics any parser; an accepted filter's
// canonical form parses to itself, evaluates without error on the fixture
// and renders as SQL with one argument per placeholder that selects in
// SQLite the fixture rows Eval selects.
func FuzzParseFilter(f *testing.F) {
	for _, c := range filterCases {
		f.Add(c.filter)
	}
	for _, s := range []string{
		"", "(", ")", "'", "''", "not", "not not IsCompliant", "startswith(", "tolower(tolower(ResourceId)) eq 'a'",
		"Timestamp ge 2024-05-01T00:00:00.123456789+14:00", "Score eq -0", "Score eq 1e308", "datetime'", "2024-",
		"groupby((ResourceId), aggregate($count as N))/filter(N gt 1)", "ResourceId desc, Score", "\x00", "é eq 'é'",
		strings.Repeat("(", 40), strings.Repeat("not ", 40) + "IsCompliant",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := odata.ParseFilter(s, stateFields)
		checkErr(t, "$filter", s, err)
		if err == nil && e != nil {
			e2, err := odata.ParseFilter(e.String(), stateFields)
			if err != nil {
				t.Fatalf("canonical form %q of %q: %v", e, s, err)
			}
			if e2.String() != e.String() {
				t.Fatalf("canonical form %q reparses as %q", e, e2)
			}
			for _, r := range fixture {
				if _, err := odata.Eval(e, r); err != nil {
					t.Fatalf("Eval(%q): %v", e, err)
				}
			}
			if where, args, ok := odata.ToSQL(e, fuzzColumns); ok && strings.Count(where, "?") != len(args) {
				t.Fatalf("ToSQL(%q) = %q with %d args", e, where, len(args))
			}
			// SQLite selects what Eval selects.
			if where, args, ok := odata.ToSQL(e, columns); ok {
				q, err := sqliteFixture()
				if err != nil {
					t.Fatal(err)
				}
				got, err := q(where, args)
				if err != nil {
					t.Fatalf("%q as SQL %q %v: %v", e, where, args, err)
				}
				if want := names(t, e, fixture); got != want {
					t.Fatalf("%q as SQL %q %v selects %q; Eval selects %q", e, where, args, got, want)
				}
			}
		}
		a, err := odata.ParseApply(s, stateFields)
		checkErr(t, "$apply", s, err)
		if err == nil && a != nil {
			if _, err := a.Run(odata.Records(fixture)); err != nil {
				t.Fatalf("Run(%q): %v", s, err)
			}
		}
		_, err = odata.ParseOrderBy(s, stateFields)
		checkErr(t, "$orderby", s, err)
		_, err = odata.ParseSelect(s, stateFields)
		checkErr(t, "$select", s, err)
	})
}

func checkErr(t *testing.T, param, s string, err error) {
	if err == nil {
		return
	}
	var oe *odata.Error
	if !errors.As(err, &oe) {
		t.Fatalf("%s %q: error %T %v is not *odata.Error", param, s, err, err)
	}
	if oe.Param != param || oe.Pos < 0 || oe.Pos > len(s) || oe.Msg == "" {
		t.Fatalf("%s %q: bad error %+v", param, s, oe)
	}
}
