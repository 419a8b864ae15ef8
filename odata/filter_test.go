package odata_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/odata"
)

// filterCases are filters with the fixture records they select; the
// ToSQL tests (sql_db_test.go) run the same table against databases.
var filterCases = []struct {
	filter string
	want   string // names of the selected fixture records, in order
	sql    bool   // whether ToSQL renders it
}{
	{"ComplianceState eq 'NonCompliant'", "acf", true},
	{"complianceState eq 'noncompliant'", "acf", true},
	{"COMPLIANCESTATE EQ 'NonCompliant'", "acf", true},
	{"ComplianceState ne 'NonCompliant'", "bde", true},
	{"IsCompliant eq false and PolicyDefinitionAction eq 'deny'", "acf", true},
	{"IsCompliant eq true", "be", true},
	{"IsCompliant ne true", "acdf", true},
	{"IsCompliant", "be", true},
	{"not IsCompliant", "acf", true},
	{"IsCompliant eq null", "d", true},
	{"IsCompliant ne null", "abcef", true},
	{"PolicyAssignmentId eq '" + strings.ToLower(pa1) + "' and (resourceType eq 'Microsoft.Storage/storageAccounts' or resourceType eq 'Microsoft.KeyVault/vaults')", "bef", true},
	{"ResourceType eq 'Microsoft.Compute/virtualMachines' and startswith(ResourceId, '" + sub + "/resourcegroups/RG1')", "a", true},
	{"startswith(ResourceId, '" + sub + "/resourceGroups/rg1/')", "ab", true},
	{"endswith(resourceId, 'sa_1')", "b", true},
	{"endswith(resourceId, 'a_1')", "b", true},
	{"contains(resourceId, '_')", "b", true},
	{"contains(resourceId, '%')", "c", true},
	{"contains(resourceId, '\\')", "f", true},
	{"contains(resourceId, 'it''s')", "e", true},
	{"contains(tolower(resourceId), 'keyvault')", "ef", true},
	{"substringof('KeyVault', resourceId)", "ef", true},
	{"SubstringOf('_', ResourceId)", "b", true},
	{"substringof('%', resourceId)", "c", true},
	{"substringof('it''s', tolower(resourceId))", "e", true},
	{"substringof('RG', resourceGroup)", "abcef", true},
	{"not substringof('rg3', resourceGroup)", "abc", true},
	{"substringof('', resourceGroup)", "abcef", true},
	{"tolower(PolicyDefinitionAction) eq 'deny'", "acf", true},
	{"toupper(PolicyDefinitionAction) eq 'DENY'", "acf", true},
	{"'deny' eq PolicyDefinitionAction", "acf", true},
	{"not (ComplianceState eq 'NonCompliant')", "bde", true},
	{"not startswith(ResourceGroup, 'rg')", "", true},
	{"not startswith(ResourceGroup, 'rg3')", "abc", true},
	{"ResourceGroup eq null", "d", true},
	{"ResourceGroup ne null", "abcef", true},
	{"null eq ResourceGroup", "d", true},
	{"ResourceGroup ne 'rg1'", "cdef", true},
	{"not (ResourceGroup eq 'rg1')", "cdef", true},
	{"PolicyDefinitionReferenceId eq ''", "d", true},
	{"PolicyDefinitionReferenceId eq 'ref1'", "acf", true},
	{"startswith(ResourceGroup, 'rg') or IsCompliant eq null", "abcdef", true},
	{"not (startswith(ResourceGroup, 'rg') and IsCompliant)", "acf", true},
	{"not (startswith(ResourceGroup, 'zz') or IsCompliant)", "acf", true},
	{"Timestamp ge 2024-05-01T11:00:00Z", "bce", true},
	{"Timestamp gt 2024-05-01T11:00:00Z", "ce", true},
	{"Timestamp lt 2024-05-01T11:00:00Z", "ad", true},
	{"Timestamp le datetime'2024-05-01T11:00:00Z'", "abd", true},
	{"Timestamp ge '2024-05-02T00:00:00.5Z' and Timestamp lt 2024-05-03", "c", true},
	{"Timestamp gt 2024-05-01T12:00:00+02:00", "bce", true},
	{"Timestamp eq null", "f", true},
	{"Timestamp ge 2024-05-02T00:00:00.5000001Z", "e", true},
	{"Timestamp gt 2024-05-02T00:00:00.4999999Z", "ce", true},
	{"Timestamp le 2024-05-02T00:00:00.5000001Z", "abcd", true},
	{"Timestamp lt 2024-05-02T00:00:00.5000001Z", "abcd", true},
	{"Timestamp eq 2024-05-02T00:00:00.5000001Z", "", true},
	{"Timestamp ne 2024-05-02T00:00:00.5000001Z", "abcdef", true},
	{"Timestamp ne 2024-05-03T00:00:00Z", "abcdf", true},
	{"Score gt 1.5", "bf", true},
	{"Score ge 1.5", "abf", true},
	{"Score lt 0", "c", true},
	{"Score le -3", "c", true},
	{"Score eq 1e2", "f", true},
	{"Score ne 2", "acdef", true},
	{"Score eq null or Score eq 0", "de", true},
	{"true", "abcdef", true},
	{"false or ComplianceState eq 'Exempt'", "d", true},
	// Not rendered as SQL: evaluated in memory.
	{"ResourceGroup gt 'rg1'", "cef", false},
	{"ResourceGroup eq resourceGroup", "abcdef", false},
	{"'a' eq 'A'", "abcdef", false},
	{"startswith('" + sub + "/resourceGroups/rg1/x', ResourceGroup)", "", false},
	{"substringof(ResourceGroup, 'x-RG1-x')", "ab", false},
	{"substringof('ü', resourceGroup)", "", false},
	{"ResourceGroup eq 'rg1' or ComplianceState eq 'Ünknown'", "ab", false},
	{"contains(resourceId, '\x00')", "", false}, // found by FuzzParseFilter: SQLite's LIKE stops at NUL
	{"ResourceGroup eq 'rg1\x00'", "", false},
}

func names(t *testing.T, e odata.Expr, rows []odata.Row) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		ok, err := odata.Eval(e, r)
		if err != nil {
			t.Fatalf("Eval(%s, %s): %v", e, r["name"], err)
		}
		if ok {
			b.WriteString(r["name"].(string))
		}
	}
	return b.String()
}

func TestEval(t *testing.T) {
	for _, c := range filterCases {
		e, err := odata.ParseFilter(c.filter, stateFields)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", c.filter, err)
			continue
		}
		if got := names(t, e, fixture); got != c.want {
			t.Errorf("%q (%s) selects %q, want %q", c.filter, e, got, c.want)
		}
		// The canonical form parses to the same tree.
		e2, err := odata.ParseFilter(e.String(), stateFields)
		if err != nil {
			t.Errorf("reparse of %q: %v", e, err)
		} else if e2.String() != e.String() {
			t.Errorf("canonical form %q reparses as %q", e, e2)
		}
	}
}

func TestParseFilterCanonical(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"complianceState eq 'NonCompliant'", "complianceState eq 'NonCompliant'"},
		{"  ISCOMPLIANT  eq  FALSE ", "isCompliant eq false"},
		{"a eq 1 or b eq 2 and c eq 3", ""}, // unknown fields: see errors
		{"ResourceId eq 'x' or ResourceId eq 'y' and IsCompliant", "(resourceId eq 'x' or (resourceId eq 'y' and isCompliant))"},
		{"(ResourceId eq 'x' or ResourceId eq 'y') and not IsCompliant", "((resourceId eq 'x' or resourceId eq 'y') and not isCompliant)"},
		{"StartsWith(ResourceId, 'a''b')", "startswith(resourceId, 'a''b')"},
		{"SUBSTRINGOF('a''b', ResourceId)", "substringof('a''b', resourceId)"},
		{"Timestamp ge datetime'2024-05-01T12:00:00+02:00'", "timestamp ge 2024-05-01T10:00:00Z"},
		{"Timestamp ge '2024-05-01'", "timestamp ge 2024-05-01T00:00:00Z"},
		{"Score gt -1.25e1", "score gt -12.5"},
		{"ResourceGroup eq null", "resourceGroup eq null"},
		{"", "<nil>"},
		{"   ", "<nil>"},
	} {
		if c.want == "" {
			continue
		}
		e, err := odata.ParseFilter(c.in, stateFields)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", c.in, err)
			continue
		}
		got := "<nil>"
		if e != nil {
			got = e.String()
		}
		if got != c.want {
			t.Errorf("ParseFilter(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	all := "Properties: resourceId, resourceType, resourceGroup, policyAssignmentId, policyDefinitionReferenceId, policyDefinitionAction, complianceState, isCompliant, timestamp, score"
	for _, c := range []struct{ in, want string }{
		{"IsCompliant eq false and Complianc eq 'x'", "$filter: at 25: unknown property 'Complianc'. " + all},
		{"ComplianceState eq 'NonCompliant", "$filter: at 19: unterminated string literal (a quote inside a string is written '')"},
		{"ComplianceState eq", "$filter: at 18: expected a property, a value or '(', found the end"},
		{"ComplianceState", "$filter: at 0: 'complianceState' is a string, not a condition (compare it, e.g. complianceState eq '...')"},
		{"ComplianceState eq 'a' ComplianceState", "$filter: at 23: unexpected 'ComplianceState' after a complete expression (expected 'and', 'or' or the end)"},
		{"ComplianceState like 'a'", "$filter: at 16: unexpected 'like': expected an operator (eq, ne, gt, ge, lt, le, and, or)"},
		{"ComplianceState in ('a', 'b')", "$filter: at 16: the 'in' operator is not part of OData 4.0: write (complianceState eq 'a' or complianceState eq 'b')"},
		{"Score add 1 eq 2", "$filter: at 6: the 'add' operator is not supported; operators: eq, ne, gt, ge, lt, le, and, or, not"},
		{"length(ResourceId) eq 3", "$filter: at 0: unknown function 'length'. Functions: contains, endswith, startswith, substringof, tolower, toupper"},
		{"substringof('a')", "$filter: at 0: substringof takes 2 argument(s), got 1"},
		{"substringof(1, ResourceId)", "$filter: at 12: substringof takes strings; '1' is a number"},
		{"ComplianceState eq NonCompliant", "$filter: at 19: unknown property 'NonCompliant'. " + all + "; a string value is written in single quotes: 'NonCompliant'"},
		{"'x' eq Foo", "$filter: at 7: unknown property 'Foo'. " + all},
		{"startswith(ResourceId)", "$filter: at 0: startswith takes 2 argument(s), got 1"},
		{"startswith(ResourceId, 'a', 'b')", "$filter: at 0: startswith takes 2 argument(s), got 3"},
		{"startswith(Score, 'a')", "$filter: at 11: startswith takes strings; 'score' is a number"},
		{"startswith(ResourceId, 'a'", "$filter: at 26: expected ',' or ')' in the arguments of startswith, found end of input"},
		{"tolower() eq 'a'", "$filter: at 0: tolower takes 1 argument(s), got 0"},
		{"IsCompliant eq 'true'", "$filter: at 15: 'isCompliant' is a bool but ''true'' is a string"},
		{"Score eq '1'", "$filter: at 9: 'score' is a number but ''1'' is a string"},
		{"Timestamp gt 'yesterday'", "$filter: at 13: 'timestamp' is a datetime but ''yesterday'' is a string"},
		{"Timestamp gt 2024-13-01T00:00:00Z", "$filter: at 13: '2024-13-01T00:00:00Z' is not an ISO 8601 date-time such as 2024-05-01T12:00:00Z"},
		{"Timestamp gt datetime'soon'", "$filter: at 22: 'soon' is not an ISO 8601 date-time such as 2024-05-01T12:00:00Z"},
		{"IsCompliant gt false", "$filter: at 12: booleans can only be compared with eq or ne"},
		{"Score gt null", "$filter: at 6: null can only be compared with eq or ne"},
		{"(IsCompliant eq true) eq true", "$filter: at 1: 'isCompliant eq true' is a condition; 'eq' compares a property or a function with a value"},
		{"startswith(ResourceId, 'a') eq true", "$filter: at 0: 'startswith(resourceId, 'a')' is a condition; 'eq' compares a property or a function with a value"},
		{"IsCompliant and Score", "$filter: at 16: 'score' is a number; 'and' joins conditions"},
		{"not Score", "$filter: at 4: 'score' is a number; 'not' takes a condition"},
		{"(IsCompliant", "$filter: at 12: expected ')' to close the '(' at 0, found end of input"},
		{"IsCompliant)", "$filter: at 11: unexpected ')' after a complete expression (expected 'and', 'or' or the end)"},
		{"IsCompliant eq true;", "$filter: at 19: unexpected character ';'"},
		{"Score eq 1.", "$filter: at 9: a number needs digits after the decimal point"},
		{"Score eq 1e", "$filter: at 9: a number needs digits in its exponent"},
		{"Score eq 1e999", "$filter: at 9: '1e999' is not a number in range"},
		{"Score eq 12abc", "$filter: at 9: '12abc' is not a number"},
		{"ResourceId eq x'ab'", "$filter: at 14: unexpected quote after 'x'"},
		{"$count eq 1", "$filter: at 0: unknown property '$count'. " + all},
		{strings.Repeat("(", 33) + "IsCompliant" + strings.Repeat(")", 33), "$filter: at 32: the expression is nested more than 32 levels deep"},
		{strings.Repeat("not ", 40) + "IsCompliant", "$filter: at 128: the expression is nested more than 32 levels deep"},
		{"ResourceId eq '" + strings.Repeat("x", odata.MaxLen) + "'", "$filter: at 8192: the value is 8208 bytes long; at most 8192 are accepted"},
	} {
		_, err := odata.ParseFilter(c.in, stateFields)
		var oe *odata.Error
		if !errors.As(err, &oe) {
			t.Errorf("ParseFilter(%q) = %v, want *odata.Error %q", clipTest(c.in), err, c.want)
			continue
		}
		if oe.Error() != c.want {
			t.Errorf("ParseFilter(%q):\n got %s\nwant %s", clipTest(c.in), oe, c.want)
		}
		if oe.Param != "$filter" || oe.Pos < 0 || oe.Pos > len(c.in) {
			t.Errorf("ParseFilter(%q): bad Param/Pos %q %d", clipTest(c.in), oe.Param, oe.Pos)
		}
	}
	// 32 levels are accepted.
	deep := strings.Repeat("(", 32) + "IsCompliant" + strings.Repeat(")", 32)
	if _, err := odata.ParseFilter(deep, stateFields); err != nil {
		t.Errorf("32 levels: %v", err)
	}
	// A long or-chain (no 'in' operator) is not nesting.
	chain := strings.Repeat("ResourceType eq 'a' or ", 200) + "IsCompliant"
	if _, err := odata.ParseFilter(chain, stateFields); err != nil {
		t.Errorf("or-chain of 200: %v", err)
	}
}

// Error.Property names the unknown property, and only that.
func TestErrorProperty(t *testing.T) {
	for _, c := range []struct {
		param, in, want string
		parse           func(string, *odata.Fields) error
	}{
		{"$filter", "IsCompliant or (Complianc eq 'x')", "Complianc", func(s string, f *odata.Fields) error { _, err := odata.ParseFilter(s, f); return err }},
		{"$filter", "ResourceId eq x", "x", func(s string, f *odata.Fields) error { _, err := odata.ParseFilter(s, f); return err }},
		{"$filter", "length(ResourceId) eq 1", "", func(s string, f *odata.Fields) error { _, err := odata.ParseFilter(s, f); return err }},
		{"$filter", "ResourceId gt", "", func(s string, f *odata.Fields) error { _, err := odata.ParseFilter(s, f); return err }},
		{"$apply", "groupby((Resource))", "Resource", func(s string, f *odata.Fields) error { _, err := odata.ParseApply(s, f); return err }},
		{"$orderby", "Scores desc", "Scores", func(s string, f *odata.Fields) error { _, err := odata.ParseOrderBy(s, f); return err }},
	} {
		var oe *odata.Error
		if err := c.parse(c.in, stateFields); !errors.As(err, &oe) || oe.Param != c.param || oe.Property != c.want {
			t.Errorf("%s %q: error %#v, want Property %q", c.param, c.in, err, c.want)
		}
	}
}

func clipTest(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// badRecord holds a value of the wrong type.
type badRecord struct{}

func (badRecord) Get(f string) (any, bool) {
	if f == "score" {
		return "ten", true
	}
	return nil, false
}

func TestEvalErrors(t *testing.T) {
	e, err := odata.ParseFilter("Score gt 1", stateFields)
	if err != nil {
		t.Fatal(err)
	}
	_, err = odata.Eval(e, badRecord{})
	if err == nil || err.Error() != "odata: field score is a number but the record holds a string" {
		t.Errorf("Eval with a string score: %v", err)
	}
	if ok, err := odata.Eval(nil, badRecord{}); !ok || err != nil {
		t.Errorf("Eval(nil) = %v, %v; want true", ok, err)
	}
	// Integer types count as numbers.
	if ok, err := odata.Eval(e, odata.Row{"score": int64(2)}); !ok || err != nil {
		t.Errorf("Eval with int64 2 = %v, %v; want true", ok, err)
	}
}

func TestFieldsLookup(t *testing.T) {
	f, ok := stateFields.Lookup("POLICYassignmentID")
	if !ok || f.Name != "policyAssignmentId" || f.Type != odata.String {
		t.Errorf("Lookup = %v, %v", f, ok)
	}
	if _, ok := stateFields.Lookup("policyAssignment"); ok {
		t.Error("prefix found")
	}
	if got := len(stateFields.List()); got != 10 {
		t.Errorf("List has %d fields", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewFields with a duplicate did not panic")
		}
	}()
	odata.NewFields(odata.Field{Name: "a", Type: odata.String}, odata.Field{Name: "A", Type: odata.Bool})
}

var _ = slices.Contains[[]string]

// Trees built by hand rather than parsed are refused, not a panic.
func TestHandBuiltTrees(t *testing.T) {
	bad := []odata.Expr{
		&odata.Call{Func: "tolower"},
		&odata.Compare{Op: "eq", L: &odata.Call{Func: "toupper"}, R: &odata.Literal{Type: odata.String, Value: "x"}},
		&odata.Call{Func: "startswith", Args: []odata.Expr{&odata.Literal{Type: odata.String, Value: "x"}}},
	}
	for _, e := range bad {
		if _, err := odata.Eval(e, fixture[0]); err == nil {
			t.Errorf("Eval(%s): no error", e)
		}
		if where, _, ok := odata.ToSQL(e, columns); ok {
			t.Errorf("ToSQL(%s) = %q", e, where)
		}
	}
}
