package expr

import (
	"strings"
	"testing"
)

var stringCases = []fnCase{
	// concat
	{fn: "concat", args: `["a", "b"]`, want: `"ab"`},
	{fn: "concat", args: `["prefix", "-", "x", ""]`, want: `"prefix-x"`},
	{fn: "concat", args: `["vm", 1]`, want: `"vm1"`},
	{fn: "concat", args: `["a", true]`, want: `"aTrue"`},
	{fn: "concat", args: `[null, "a"]`, want: `"a"`},
	{fn: "concat", args: `[null]`, want: `""`},
	{fn: "concat", args: `[[1, 2], [3], []]`, want: `[1, 2, 3]`},
	{fn: "concat", args: `[null, [1]]`, want: `[1]`},
	{fn: "concat", args: `[[1], "a"]`, err: "argument 2 must be an array"},
	{fn: "concat", args: `["a", [1]]`, err: "argument 2 must be a string"},
	{fn: "concat", args: `[{"a": 1}]`, err: "must be a string"},
	{fn: "concat", args: `[]`, want: `""`},

	// string
	{fn: "string", args: `["x"]`, want: `"x"`},
	{fn: "string", args: `[5]`, want: `"5"`},
	{fn: "string", args: `[1.5]`, want: `"1.5"`},
	{fn: "string", args: `[false]`, want: `"false"`},
	{fn: "string", args: `[null]`, want: `"null"`},
	{fn: "string", args: `[{"valueA": 10, "valueB": "Example Text"}]`, want: `"{\"valueA\":10,\"valueB\":\"Example Text\"}"`},
	{fn: "string", args: `[["a", "b", "c"]]`, want: `"[\"a\",\"b\",\"c\"]"`},

	// padLeft
	{fn: "padLeft", args: `["123", 10, "0"]`, want: `"0000000123"`},
	{fn: "padLeft", args: `[123, 5, "0"]`, want: `"00123"`},
	{fn: "padLeft", args: `["ab", 4]`, want: `"  ab"`},
	{fn: "padLeft", args: `["abcdef", 3, "x"]`, want: `"abcdef"`},
	{fn: "padLeft", args: `["é", 3, "ü"]`, want: `"üüé"`},
	{fn: "padLeft", args: `["a", 3, "xy"]`, err: "single character"},
	{fn: "padLeft", args: `["a", 200000, "0"]`, err: "limit of 131072"},
	{fn: "padLeft", args: `["a", "3"]`, err: "argument 2 must be an integer"},
	{fn: "padLeft", args: `[true, 3]`, err: "argument 1 must be a string or an integer"},

	// replace
	{fn: "replace", args: `["123-123-1234", "-", ""]`, want: `"1231231234"`},
	{fn: "replace", args: `["123-123-1234", "1234", "xxxx"]`, want: `"123-123-xxxx"`},
	{fn: "replace", args: `["aAa", "a", "b"]`, want: `"bAb"`},
	{fn: "replace", args: `["abc", "", "x"]`, err: "oldString must not be empty"},
	{fn: "replace", args: `[1, "a", "b"]`, err: "argument 1 must be a string"},

	// split
	{fn: "split", args: `["one,two,three", ","]`, want: `["one", "two", "three"]`},
	{fn: "split", args: `["one;two,three", [",", ";"]]`, want: `["one", "two", "three"]`},
	{fn: "split", args: `["a--b", ["-", "--"]]`, want: `["a", "", "b"]`},
	{fn: "split", args: `["a--b", ["--", "-"]]`, want: `["a", "b"]`},
	{fn: "split", args: `["abc", ["", ""]]`, want: `["abc"]`},
	{fn: "split", args: `["abc", [1]]`, err: "delimiter element 0 must be a string"},
	{fn: "split", args: `[null, ","]`, err: "argument 1 must be a string"},

	// startsWith / endsWith
	{fn: "startsWith", args: `["abcdef", "ab"]`, want: `true`},
	{fn: "startsWith", args: `["abcdef", "AB"]`, want: `true`},
	{fn: "startsWith", args: `["abcdef", "e"]`, want: `false`},
	{fn: "startsWith", args: `["Éa", "é"]`, want: `true`},
	{fn: "endsWith", args: `["abcdef", "EF"]`, want: `true`},
	{fn: "endsWith", args: `["abcdef", "e"]`, want: `false`},
	{fn: "endsWith", args: `["a", "ba"]`, want: `false`},
	{fn: "endsWith", args: `[1, "a"]`, err: "argument 1 must be a string"},

	// substring
	{fn: "substring", args: `["one two three", 4, 3]`, want: `"two"`},
	{fn: "substring", args: `["abc", 1]`, want: `"bc"`},
	{fn: "substring", args: `["abc"]`, want: `"abc"`},
	{fn: "substring", args: `["abc", 3, 0]`, want: `""`},
	{fn: "substring", args: `["añb", 1, 1]`, want: `"ñ"`},
	{fn: "substring", args: `["abc", 5]`, err: "startIndex 5 is beyond the string length 3"},
	{fn: "substring", args: `["1234567890", 0, 11]`, err: "must refer to a location within the string"},
	{fn: "substring", args: `["abc", -1]`, err: "must not be negative"},
	{fn: "substring", args: `["abc", 0, -1]`, err: "must not be negative"},

	// toLower / toUpper / trim
	{fn: "toLower", args: `["One Two Three"]`, want: `"one two three"`},
	{fn: "toLower", args: `["ÀB"]`, want: `"àb"`},
	{fn: "toUpper", args: `["One Two Three"]`, want: `"ONE TWO THREE"`},
	{fn: "toUpper", args: `[null]`, err: "argument 1 must be a string, got Null"},
	{fn: "trim", args: `["   one two three   "]`, want: `"one two three"`},
	{fn: "trim", args: `["\u00a0x\t"]`, want: `"x"`},

	// indexOf / lastIndexOf
	{fn: "indexOf", args: `["test", "t"]`, want: `0`},
	{fn: "lastIndexOf", args: `["test", "t"]`, want: `3`},
	{fn: "indexOf", args: `["abcdef", "CD"]`, want: `2`},
	{fn: "lastIndexOf", args: `["abcdef", "AB"]`, want: `0`},
	{fn: "indexOf", args: `["abcdef", "z"]`, want: `-1`},
	{fn: "indexOf", args: `["abc", ""]`, want: `0`},
	{fn: "lastIndexOf", args: `["abc", ""]`, want: `3`},
	{fn: "indexOf", args: `["😀Ab", "b"]`, want: `3`},
	{fn: "indexOf", args: `[["a", "b", "B"], "B"]`, want: `2`},
	{fn: "lastIndexOf", args: `[[1, 2, 1], 1]`, want: `2`},
	{fn: "indexOf", args: `[[{"a": 1}], {"A": 1}]`, want: `0`},
	{fn: "indexOf", args: `[1, "a"]`, err: "argument 1 must be a string or an array"},

	// join
	{fn: "join", args: `[["a", "b"], "-"]`, want: `"a-b"`},
	{fn: "join", args: `[[[1], {"a": 1}], ";"]`, want: `"[1];{\"a\":1}"`},
	{fn: "join", args: `["ab", ","]`, err: "argument 1 must be an array"},

	// guid: RFC 4122 v5 in ARM's namespace over the '-'-joined arguments;
	// expected values computed independently with Python's uuid.uuid5.
	{fn: "guid", args: `["a", "b", "c"]`, want: `"a98fa280-e03f-5afa-8d8e-92d0a9c201e8"`},
	{fn: "guid", args: `["test"]`, want: `"d6a5baf1-8b9b-542a-8525-2982f1f98a0c"`},
	{fn: "guid", args: `["café"]`, want: `"86ba058d-639a-59f3-a2b1-f136484f6284"`},
	{fn: "guid", args: `[""]`, want: `"e655a85f-3ab2-5e4a-9666-569aa72a5a10"`},
	{fn: "guid", args: `["a", 1]`, err: "argument 2 must be a string"},

	// uniqueString: vectors published with a re-implementation checked
	// against Bicep deployments (uniquestring.sh self-test).
	{fn: "uniqueString", args: `["test"]`, want: `"rbgf3xv4ufgzg"`},
	{fn: "uniqueString", args: `["hello", "world"]`, want: `"a7wkljktk6wne"`},
	{fn: "uniqueString", args: `["abc"]`, want: `"cgtzqvhu4i23s"`},
	{fn: "uniqueString", args: `["/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg"]`, want: `"bmg7c6xu4tw46"`},
	{fn: "uniqueString", args: `["foo", "bar", "baz"]`, want: `"xzi4ioaxtmth4"`},
	{fn: "uniqueString", args: `[null]`, err: "argument 1 must be a string"},
}

func TestStringFunctions(t *testing.T) { runFnCases(t, stringCases) }

func TestStringLimits(t *testing.T) {
	big := strings.Repeat("a", 100000)
	cases := []fnCase{
		{name: "concat past the limit", fn: "concat", args: `["` + big + `", "` + big + `"]`, err: "limit of 131072"},
		{name: "replace growth", fn: "replace", args: `["` + big + `", "a", "aa"]`, err: "limit of 131072"},
		{name: "join growth", fn: "join", args: `[["` + big + `", "` + big + `"], ""]`, err: "limit of 131072"},
	}
	runFnCases(t, cases)
}

func TestCompareStrings(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"A", "a", 1}, // documented: greater('A', 'a') is true
		{"a", "B", -1},
		{"B", "a", 1},
		{"abc", "ab", 1},
		{"1.10", "1.9", -1},
		{"2018-10-01", "2019-01-01", -1},
		{"Ab", "aC", -1},
	} {
		if got := compareStrings(c.a, c.b); got != c.want {
			t.Errorf("compareStrings(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareStrings(c.b, c.a); got != -c.want {
			t.Errorf("compareStrings(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
