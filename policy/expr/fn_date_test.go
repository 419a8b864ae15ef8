package expr

import (
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// testNow is 2024-03-05T17:53:18.1234567Z.
var dateCases = []fnCase{
	// utcNow: policy default yyyy-MM-ddTHH:mm:ss.fffffffZ; .NET formats.
	{fn: "utcNow", args: `[]`, want: `"2024-03-05T17:53:18.1234567Z"`},
	{fn: "utcNow", args: `["d"]`, want: `"03/05/2024"`},
	{fn: "utcNow", args: `["M d"]`, want: `"3 5"`},
	{fn: "utcNow", args: `["u"]`, want: `"2024-03-05 17:53:18Z"`},
	{fn: "utcNow", args: `["yyyyMMddTHHmmssZ"]`, want: `"20240305T175318Z"`},
	{fn: "utcNow", args: `["yyyy-MM-dd'T'HH:mm:ss.FFFK"]`, want: `"2024-03-05T17:53:18.123Z"`},
	{fn: "utcNow", args: `["hh:mm tt, ddd dd MMM yy"]`, want: `"05:53 PM, Tue 05 Mar 24"`},
	{fn: "utcNow", args: `["%d"]`, want: `"5"`},
	{fn: "utcNow", args: `["\\d\\a\\y d"]`, want: `"day 5"`},
	{fn: "utcNow", args: `["q"]`, err: "unrecognised standard format specifier 'q'"},
	{fn: "utcNow", args: `["ffffffff"]`, err: "at most 7"},
	{fn: "utcNow", args: `["'open"]`, err: "unterminated quoted text"},

	// addDays: yyyy-MM-ddTHH:mm:ss.FFFFFFFZ in UTC.
	{fn: "addDays", args: `["2024-01-15T12:00:00Z", 1]`, want: `"2024-01-16T12:00:00Z"`},
	{fn: "addDays", args: `["2024-02-28", 1]`, want: `"2024-02-29T00:00:00Z"`},
	{fn: "addDays", args: `["2024-01-15T12:00:00.5+02:00", -1]`, want: `"2024-01-14T10:00:00.5Z"`},
	{fn: "addDays", args: `["2024-01-15T00:00:00Z", 0.5]`, want: `"2024-01-15T12:00:00Z"`},
	{fn: "addDays", args: `["2024-13-01", 1]`, err: "not a valid ISO 8601 date-time"},
	{fn: "addDays", args: `["2024-02-30T00:00:00Z", 1]`, err: "not a valid ISO 8601 date-time"},
	{fn: "addDays", args: `["9999-12-31T00:00:00Z", 1]`, err: "outside the years 1 to 9999"},
	{fn: "addDays", args: `["2024-01-01", "1"]`, err: "argument 2 must be a number of days"},

	// dateTimeAdd (ARM; CallFunction only): P1Y = 365 days, P1M = 30 days
	// (documented examples).
	{fn: "dateTimeAdd", args: `["2023-01-01 00:00:00Z", "P1Y"]`, want: `"2024-01-01T00:00:00Z"`},
	{fn: "dateTimeAdd", args: `["2024-01-01 00:00:00Z", "P1Y"]`, want: `"2024-12-31T00:00:00Z"`},
	{fn: "dateTimeAdd", args: `["2023-02-01 00:00:00Z", "P1M"]`, want: `"2023-03-03T00:00:00Z"`},
	{fn: "dateTimeAdd", args: `["2024-02-01 00:00:00Z", "P1M"]`, want: `"2024-03-02T00:00:00Z"`},
	{fn: "dateTimeAdd", args: `["2020-04-07 14:53:14Z", "-P9D"]`, want: `"2020-03-29T14:53:14Z"`},
	{fn: "dateTimeAdd", args: `["2020-04-07T14:53:14Z", "PT1H", "M/d/yyyy h:mm:ss tt"]`, want: `"4/7/2020 3:53:14 PM"`},
	{fn: "dateTimeAdd", args: `["4/7/2020 2:53:14 PM", "PT1H"]`, want: `"2020-04-07T15:53:14Z"`},
	{fn: "dateTimeAdd", args: `["20240115T120000Z", "PT0.25S"]`, want: `"2024-01-15T12:00:00.25Z"`},
	{fn: "dateTimeAdd", args: `["2024-01-15T12:00:00.100Z", "PT1S"]`, want: `"2024-01-15T12:00:01.100Z"`},
	{fn: "dateTimeAdd", args: `["2024-01-15T12:00:00-08:00", "P1D", "o"]`, want: `"2024-01-16T12:00:00.0000000-08:00"`},
	{fn: "dateTimeAdd", args: `["2024-01-15", "P"]`, err: "not a valid ISO 8601 duration"},
	{fn: "dateTimeAdd", args: `["2024-01-15", "PT"]`, err: "not a valid ISO 8601 duration"},
	{fn: "dateTimeAdd", args: `["2024-01-15", "P1H"]`, err: "not a valid ISO 8601 duration"},
	{fn: "dateTimeAdd", args: `["2024-01-15", "P99999999Y"]`, err: "out of the supported date range"},

	{fn: "dateTimeFromEpoch", args: `[1683040573]`, want: `"2023-05-02T15:16:13Z"`},
	{fn: "dateTimeFromEpoch", args: `[1e20]`, err: "argument 1 must be an integer"},
	{fn: "dateTimeFromEpoch", args: `[99999999999999]`, err: "out of the supported date range"},
	{fn: "dateTimeToEpoch", args: `["2023-05-02T15:16:13Z"]`, want: `1683040573`},
	{fn: "dateTimeToEpoch", args: `["2023-05-02T17:16:13+0200"]`, want: `1683040573`},
	{fn: "dateTimeToEpoch", args: `["2023-05-02T15:16:13.999Z"]`, want: `1683040573`},
	{fn: "dateTimeToEpoch", args: `["2023-05-02T15:16:13Zjunk"]`, err: "not a valid ISO 8601 date-time"},
}

func TestDateFunctions(t *testing.T) { runFnCases(t, dateCases) }

func TestUtcNowUsesActivationTime(t *testing.T) {
	a := &Activation{Now: time.Date(2030, 6, 1, 8, 0, 0, 0, time.FixedZone("x", 3600))}
	got, err := evalExpr(t, "utcNow('s')", a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Str() != "2030-06-01T07:00:00" {
		t.Fatalf("got %s", got.JSON())
	}
	// Without an evaluation time utcNow fails instead of inventing one.
	if _, err := evalExpr(t, "utcNow()", &Activation{}); err == nil || !strings.Contains(err.Error(), "evaluation time is not set") {
		t.Fatalf("got error %v", err)
	}
	// Impure: never folded at compile time.
	n, err := Parse("utcNow()")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := IsConst(e); ok {
		t.Fatal("utcNow() was folded to a constant")
	}
}

// The ARM-only functions of extraTable compile (eval.go reports a warning
// through the binder) and evaluate like any other function.
func TestExtraFunctionsCompile(t *testing.T) {
	for src, want := range map[string]string{
		"dateTimeAdd('2020-01-01', 'P1D')":      "2020-01-02T00:00:00Z",
		"string(dateTimeToEpoch('1970-01-02'))": "86400",
		"dateTimeFromEpoch(86400)":              "1970-01-02T00:00:00Z",
	} {
		got, err := evalExpr(t, src, &Activation{})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got.Str() != want {
			t.Errorf("%s = %s, want %q", src, got.JSON(), want)
		}
	}
	if _, err := CallFunction("dateTimeAdd", []value.Value{value.StringValue("2020-01-01"), value.StringValue("P1D")}, testNow); err != nil {
		t.Errorf("CallFunction(dateTimeAdd): %v", err)
	}
}
