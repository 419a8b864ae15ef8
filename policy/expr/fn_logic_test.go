package expr

import "testing"

var logicCases = []fnCase{
	{fn: "bool", args: `["true"]`, want: `true`},
	{fn: "bool", args: `["FALSE"]`, want: `false`},
	{fn: "bool", args: `[1]`, want: `true`},
	{fn: "bool", args: `[0]`, want: `false`},
	{fn: "bool", args: `["yes"]`, err: "not a valid boolean"},
	{fn: "bool", args: `[[]]`, err: "argument 1 must be a boolean"},
	{fn: "true", args: `[]`, want: `true`},
	{fn: "false", args: `[]`, want: `false`},
	{fn: "not", args: `[false]`, want: `true`},
	{fn: "not", args: `["True"]`, want: `false`},
	{fn: "not", args: `[1]`, err: "expected a boolean"},
	{fn: "and", args: `[true, true]`, want: `true`},
	{fn: "and", args: `[true, false, "x"]`, want: `false`},
	{fn: "and", args: `[]`, want: `true`},
	{fn: "or", args: `[false, true]`, want: `true`},
	{fn: "or", args: `[false, "false"]`, want: `false`},
	{fn: "or", args: `[1]`, err: "expected a boolean"},
	{fn: "if", args: `[true, 1, 2]`, want: `1`},
	{fn: "if", args: `["false", 1, 2]`, want: `2`},
	{fn: "if", args: `[true, 1]`, err: "expects 3 arguments"},
	{fn: "coalesce", args: `[null, null, "x"]`, want: `"x"`},
	{fn: "coalesce", args: `[null]`, want: `null`},

	// equals: deep, case-sensitive on strings, numeric across int/float.
	{fn: "equals", args: `[1, 1]`, want: `true`},
	{fn: "equals", args: `[1, 1.0]`, want: `true`},
	{fn: "equals", args: `["a", "a"]`, want: `true`},
	{fn: "equals", args: `["a", "A"]`, want: `false`},
	{fn: "equals", args: `["1", 1]`, want: `false`},
	{fn: "equals", args: `[["a", "b"], ["a", "b"]]`, want: `true`},
	{fn: "equals", args: `[["a", "b"], ["b", "a"]]`, want: `false`},
	{fn: "equals", args: `[{"a": "b"}, {"A": "b"}]`, want: `true`},
	{fn: "equals", args: `[{"a": "b"}, {"a": "b", "c": 1}]`, want: `false`},
	{fn: "equals", args: `[null, null]`, want: `true`},
	{fn: "equals", args: `[null, ""]`, want: `false`},

	// ordering: numbers numerically; strings culture-like (doc example
	// greater('A', 'a') is true); mixed types are errors.
	{fn: "greater", args: `[1, 2]`, want: `false`},
	{fn: "greater", args: `["A", "a"]`, want: `true`},
	{fn: "greater", args: `[2.5, 2]`, want: `true`},
	{fn: "greaterOrEquals", args: `[1, 2]`, want: `false`},
	{fn: "greaterOrEquals", args: `["A", "a"]`, want: `true`},
	{fn: "greaterOrEquals", args: `["2018-10-01", "2018-10-01"]`, want: `true`},
	{fn: "less", args: `[1, 2]`, want: `true`},
	{fn: "less", args: `["A", "a"]`, want: `false`},
	{fn: "less", args: `["bend", "band"]`, want: `false`},
	{fn: "lessOrEquals", args: `[1, 2]`, want: `true`},
	{fn: "lessOrEquals", args: `["A", "a"]`, want: `false`},
	{fn: "less", args: `[1, "2"]`, err: "cannot compare Integer 1 with String '2'"},
	{fn: "less", args: `[true, 1]`, err: "argument 1 must be an integer or a string"},
	{fn: "greater", args: `[1, null]`, err: "argument 2 must be an integer or a string"},
}

func TestLogicFunctions(t *testing.T) { runFnCases(t, logicCases) }
