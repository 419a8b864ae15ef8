package expr

import "testing"

var numericCases = []fnCase{
	{fn: "add", args: `[5, 3]`, want: `8`},
	{fn: "add", args: `[1.5, 1]`, want: `2.5`},
	{fn: "add", args: `[9223372036854775807, 1]`, err: "integer overflow"},
	{fn: "add", args: `["1", 1]`, err: "argument 1 must be a number"},
	{fn: "sub", args: `[7, 3]`, want: `4`},
	{fn: "sub", args: `[-9223372036854775808, 1]`, err: "integer overflow"},
	{fn: "mul", args: `[5, 3]`, want: `15`},
	{fn: "mul", args: `[-4, 3]`, want: `-12`},
	{fn: "mul", args: `[-9223372036854775808, 1]`, want: `-9223372036854775808`},
	{fn: "mul", args: `[4294967296, 4294967296]`, err: "integer overflow"},
	{fn: "mul", args: `[2, 0.25]`, want: `0.5`},
	{fn: "div", args: `[8, 3]`, want: `2`},
	{fn: "div", args: `[-8, 3]`, want: `-2`},
	{fn: "div", args: `[1, 0]`, err: "division by zero"},
	{fn: "div", args: `[1.0, 4]`, want: `0.25`},
	{fn: "mod", args: `[7, 3]`, want: `1`},
	{fn: "mod", args: `[-7, 3]`, want: `-1`},
	{fn: "mod", args: `[7, 0]`, err: "division by zero"},
	{fn: "mod", args: `[-9223372036854775808, -1]`, want: `0`},

	{fn: "int", args: `["4"]`, want: `4`},
	{fn: "int", args: `[" -12 "]`, want: `-12`},
	{fn: "int", args: `[4.7]`, want: `4`},
	{fn: "int", args: `["2.5"]`, want: `2`},
	{fn: "int", args: `["Infinity"]`, err: "not a valid integer"},
	{fn: "int", args: `["0x10"]`, err: "not a valid integer"},
	{fn: "int", args: `[1e300]`, err: "out of the integer range"},
	{fn: "int", args: `[true]`, err: "argument 1 must be a string or a number"},
	{fn: "float", args: `["3.5"]`, want: `3.5`},
	{fn: "float", args: `[3]`, want: `3.0`},
	{fn: "float", args: `["NaN"]`, err: "not a valid number"},

	{fn: "max", args: `[[0, 3, 2, 5, 4]]`, want: `5`},
	{fn: "max", args: `[0, 3, 2, 5, 4]`, want: `5`},
	{fn: "max", args: `[1, 2.5]`, want: `2.5`},
	{fn: "min", args: `[[0, 3, 2, 5, 4]]`, want: `0`},
	{fn: "min", args: `[7]`, want: `7`},
	{fn: "min", args: `[[]]`, err: "the array is empty"},
	{fn: "min", args: `[["a"]]`, err: "array element 0 must be a number"},
	{fn: "max", args: `[1, "2"]`, err: "argument 2 must be a number"},
}

func TestNumericFunctions(t *testing.T) { runFnCases(t, numericCases) }
