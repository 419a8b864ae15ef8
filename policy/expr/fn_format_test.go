package expr

import "testing"

var formatCases = []fnCase{
	{fn: "format", args: `["{0}, {1}. Formatted number: {2:N0}", "Hello", "User", 8175133]`, want: `"Hello, User. Formatted number: 8,175,133"`},
	{fn: "format", args: `["{0}/{1}/web", "a", "b"]`, want: `"a/b/web"`},
	{fn: "format", args: `["{{{0}}}", 1]`, want: `"{1}"`},
	{fn: "format", args: `["{0} {1} {2}", true, null, 1.5]`, want: `"True  1.5"`},
	{fn: "format", args: `["{0}", [1, {"a": "b"}]]`, want: `"[1,{\"a\":\"b\"}]"`},
	{fn: "format", args: `["{0}|{0,5}|{0,-5}|", "ab"]`, want: `"ab|   ab|ab   |"`},
	{fn: "format", args: `["{ 0 }", 1]`, err: "invalid placeholder"},
	{fn: "format", args: `["{0 }", 1]`, want: `"1"`},
	{fn: "format", args: `["{0:D3}", 7]`, want: `"007"`},
	{fn: "format", args: `["{0:D3}", -7]`, want: `"-007"`},
	{fn: "format", args: `["{0:D}", 1.5]`, err: "for a floating-point number"},
	{fn: "format", args: `["{0:X}", -1]`, want: `"FFFFFFFFFFFFFFFF"`},
	{fn: "format", args: `["{0:N2}", 1234.5]`, want: `"1,234.50"`},
	{fn: "format", args: `["{0:N2}", -1234567.125]`, want: `"-1,234,567.13"`},
	{fn: "format", args: `["{0:F2}", 0.125]`, want: `"0.13"`},
	{fn: "format", args: `["{0:F2}", 2.675]`, want: `"2.67"`},
	{fn: "format", args: `["{0:F0}", 2.5]`, want: `"3"`},
	{fn: "format", args: `["{0:F1}", 3]`, want: `"3.0"`},
	{fn: "format", args: `["{0:P0}", 0.5]`, want: `"50 %"`},
	{fn: "format", args: `["{0:E2}", 1234.5]`, want: `"1.23E+003"`},
	{fn: "format", args: `["{0:e}", 0.00012]`, want: `"1.200000e-004"`},
	{fn: "format", args: `["{0:C}", 1234.5]`, want: `"¤1,234.50"`},
	{fn: "format", args: `["{0:G}", 1e20]`, want: `"1E+20"`},
	{fn: "format", args: `["{0}", 0.00001]`, want: `"1E-05"`},
	{fn: "format", args: `["{0}", 123456789012345.0]`, want: `"123456789012345"`},
	{fn: "format", args: `["{0:000.00}", 3.14159]`, want: `"003.14"`},
	{fn: "format", args: `["{0:#,##0}", 1234567]`, want: `"1,234,567"`},
	{fn: "format", args: `["{0:#.##}", 0.5]`, want: `".5"`},
	{fn: "format", args: `["{0:0.#}", -2.25]`, want: `"-2.3"`},
	{fn: "format", args: `["{0:0%}", 0.25]`, want: `"25%"`},
	{fn: "format", args: `["{0:'n='0}", 5]`, want: `"n=5"`},
	{fn: "format", args: `["{0:0;(0)}", -5]`, want: `"(5)"`},
	{fn: "format", args: `["{0:yyyy}", "text ignores the specifier"]`, want: `"text ignores the specifier"`},
	{fn: "format", args: `["{1}", "a"]`, err: "placeholder {1} references argument index 1"},
	{fn: "format", args: `["{0,200000}", "a"]`, err: "exceeds the string limit"},
	{fn: "format", args: `["{0:N200}", 1]`, err: "too large"},
	{fn: "format", args: `["{0:{}", 1]`, err: "invalid format specifier"},
	{fn: "format", args: `["{", 1]`, err: "unmatched opening brace"},
	{fn: "format", args: `[1]`, err: "argument 1 must be a string"},
}

func TestFormatFunction(t *testing.T) { runFnCases(t, formatCases) }

func TestDotnetDouble(t *testing.T) {
	for f, want := range map[float64]string{
		3.14: "3.14", 42: "42", -0.5: "-0.5", 1e15: "1E+15", 1e14: "100000000000000",
		0.0001: "0.0001", 1.5e-7: "1.5E-07", 1.7976931348623157e308: "1.7976931348623157E+308",
	} {
		if got := dotnetDouble(f); got != want {
			t.Errorf("dotnetDouble(%v) = %q, want %q", f, got, want)
		}
	}
}
