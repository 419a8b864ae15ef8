package expr

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

var arrayCases = []fnCase{
	// array / createArray / createObject / null
	{fn: "array", args: `[1]`, want: `[1]`},
	{fn: "array", args: `["efgh"]`, want: `["efgh"]`},
	{fn: "array", args: `[{"a": "b"}]`, want: `[{"a": "b"}]`},
	{fn: "array", args: `[[1, 2]]`, want: `[1, 2]`},
	{fn: "createArray", args: `["a", 1, ["x"], {"k": true}]`, want: `["a", 1, ["x"], {"k": true}]`},
	{fn: "createArray", args: `[]`, want: `[]`},
	{fn: "createObject", args: `["intProp", 1, "stringProp", "abc", "boolProp", true, "arrayProp", ["a"], "objectProp", {"key1": "value1"}]`,
		want: `{"intProp": 1, "stringProp": "abc", "boolProp": true, "arrayProp": ["a"], "objectProp": {"key1": "value1"}}`},
	{fn: "createObject", args: `["a", 1, "A", 2]`, want: `{"a": 2}`},
	{fn: "createObject", args: `["a"]`, err: "even number of arguments"},
	{fn: "createObject", args: `[true, 1]`, err: "argument 1 must be a string key"},
	{fn: "null", args: `[]`, want: `null`},

	// contains
	{fn: "contains", args: `["OneTwoThree", "e"]`, want: `true`},
	{fn: "contains", args: `["OneTwoThree", "z"]`, want: `false`},
	{fn: "contains", args: `["OneTwoThree", "one"]`, want: `false`},
	{fn: "contains", args: `["abc1", 1]`, want: `true`},
	{fn: "contains", args: `[{"one": "a", "two": "b"}, "ONE"]`, want: `true`},
	{fn: "contains", args: `[{"one": "a", "two": "b"}, "a"]`, want: `false`},
	{fn: "contains", args: `[["one", "two", "three"], "three"]`, want: `true`},
	{fn: "contains", args: `[["one", "two", "three"], "THREE"]`, want: `false`},
	{fn: "contains", args: `[[1, 2.0], 2]`, want: `true`},
	{fn: "contains", args: `[[[1]], [1]]`, want: `true`},
	{fn: "contains", args: `[null, "x"]`, want: `false`},
	{fn: "contains", args: `[1, 1]`, err: "argument 1 must be an array, an object or a string"},
	{fn: "contains", args: `["abc", ["a"]]`, err: "argument 2 must be a string or a number"},

	// empty / length
	{fn: "empty", args: `[[]]`, want: `true`},
	{fn: "empty", args: `[{}]`, want: `true`},
	{fn: "empty", args: `[""]`, want: `true`},
	{fn: "empty", args: `[null]`, want: `true`},
	{fn: "empty", args: `[" "]`, want: `false`},
	{fn: "empty", args: `[0]`, want: `false`},
	{fn: "length", args: `[["a", "b", "c"]]`, want: `3`},
	{fn: "length", args: `["One Two Three"]`, want: `13`},
	{fn: "length", args: `[{"a": 1, "b": 2, "c": 3, "d": 4}]`, want: `4`},
	{fn: "length", args: `["café😀"]`, want: `6`},
	{fn: "length", args: `[null]`, want: `0`},
	{fn: "length", args: `[5]`, err: "argument 1 must be an array, an object or a string"},

	// first / last
	{fn: "first", args: `[["one", "two", "three"]]`, want: `"one"`},
	{fn: "first", args: `["One Two Three"]`, want: `"O"`},
	{fn: "first", args: `[[]]`, want: `null`},
	{fn: "first", args: `[""]`, want: `""`},
	{fn: "last", args: `[["one", "two", "three"]]`, want: `"three"`},
	{fn: "last", args: `["One Two Three"]`, want: `"e"`},
	{fn: "last", args: `["a😀"]`, want: `"😀"`},
	{fn: "last", args: `[{}]`, err: "argument 1 must be an array or a string"},

	// skip / take
	{fn: "skip", args: `[["one", "two", "three"], 2]`, want: `["three"]`},
	{fn: "skip", args: `["one two three", 4]`, want: `"two three"`},
	{fn: "skip", args: `[[1, 2], -1]`, want: `[1, 2]`},
	{fn: "skip", args: `[[1, 2], 9]`, want: `[]`},
	{fn: "take", args: `[["one", "two", "three"], 2]`, want: `["one", "two"]`},
	{fn: "take", args: `["one two three", 2]`, want: `"on"`},
	{fn: "take", args: `["abc", -5]`, want: `""`},
	{fn: "take", args: `["abc", 10]`, want: `"abc"`},
	{fn: "take", args: `["abc", "1"]`, err: "argument 2 must be an integer"},
	{fn: "take", args: `[1, 1]`, err: "argument 1 must be an array or a string"},

	// range
	{fn: "range", args: `[1, 5]`, want: `[1, 2, 3, 4, 5]`},
	{fn: "range", args: `[0, 0]`, want: `[]`},
	{fn: "range", args: `[0, -1]`, err: "must not be negative"},
	{fn: "range", args: `[0, 10001]`, err: "exceeds maximum of 10000"},
	{fn: "range", args: `[2147483647, 1]`, err: "exceeds maximum of 2147483647"},

	// intersection / union
	{fn: "intersection", args: `[{"one": "a", "two": "b", "three": "c"}, {"one": "a", "two": "z", "three": "c"}]`, want: `{"one": "a", "three": "c"}`},
	{fn: "intersection", args: `[["one", "two", "three"], ["two", "three"]]`, want: `["two", "three"]`},
	{fn: "intersection", args: `[[1, 1, 2], [1, 2], [2, 1]]`, want: `[1, 2]`},
	{fn: "intersection", args: `[[1], {"a": 1}]`, err: "argument 2 must be an array like the first argument"},
	{fn: "intersection", args: `[[1]]`, err: "expects at least 2 arguments"},
	{fn: "union", args: `[{"one": "a", "two": "b", "three": "c1"}, {"three": "c2", "four": "d", "five": "e"}]`,
		want: `{"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"}`},
	{fn: "union", args: `[["one", "two", "three"], ["three", "four"]]`, want: `["one", "two", "three", "four"]`},
	{fn: "union", args: `[{"a": {"x": 1, "y": [1]}}, {"A": {"y": [2], "z": 3}}]`, want: `{"a": {"x": 1, "y": [2], "z": 3}}`},
	{fn: "union", args: `["a", "b"]`, err: "argument 1 must be an array or an object"},

	// items / objectKeys / shallowMerge / flatten
	{fn: "items", args: `[{"item002": {"enabled": false}, "item001": {"enabled": true}}]`,
		want: `[{"key": "item001", "value": {"enabled": true}}, {"key": "item002", "value": {"enabled": false}}]`},
	{fn: "items", args: `[[]]`, err: "argument 1 must be an object"},
	{fn: "objectKeys", args: `[{"b": 1, "a": 2}]`, want: `["b", "a"]`},
	{fn: "shallowMerge", args: `[[{"one": "a"}, {"two": "b"}, {"one": "c", "x": {"y": 1}}]]`, want: `{"one": "c", "two": "b", "x": {"y": 1}}`},
	{fn: "shallowMerge", args: `[[{"a": {"x": 1}}, {"a": {"y": 2}}]]`, want: `{"a": {"y": 2}}`},
	{fn: "shallowMerge", args: `[[1]]`, err: "element 0 of the array must be an object"},
	{fn: "flatten", args: `[[["one", "two"], ["three"], ["four", "five"]]]`, want: `["one", "two", "three", "four", "five"]`},
	{fn: "flatten", args: `[[[1], 2]]`, err: "element 1 of the array must be an array"},

	// tryGet / indexFromEnd / tryIndexFromEnd
	{fn: "tryGet", args: `[{"a": {"B": [10, 20]}}, "a", "b", 1]`, want: `20`},
	{fn: "tryGet", args: `[{"a": 1}, "missing"]`, want: `null`},
	{fn: "tryGet", args: `[[1], 3]`, want: `null`},
	{fn: "tryGet", args: `["text", "a"]`, want: `null`},
	{fn: "indexFromEnd", args: `[["a", "b", "c"], 1]`, want: `"c"`},
	{fn: "indexFromEnd", args: `["abc", 3]`, want: `"a"`},
	{fn: "indexFromEnd", args: `[["a"], 2]`, err: "reverse index 2 is out of range"},
	{fn: "indexFromEnd", args: `[["a"], 0]`, err: "reverse index 0 is out of range"},
	{fn: "tryIndexFromEnd", args: `[["a", "b"], 2]`, want: `"a"`},
	{fn: "tryIndexFromEnd", args: `[["a"], 2]`, want: `null`},
	{fn: "tryIndexFromEnd", args: `[5, 1]`, want: `null`},
}

func TestArrayFunctions(t *testing.T) { runFnCases(t, arrayCases) }

func TestArrayLimits(t *testing.T) {
	// split of a maximal string would exceed the array limit.
	big := strings.Repeat(",", maxStringLength)
	runFnCases(t, []fnCase{
		{name: "split past the array limit", fn: "split", args: `["` + big + `", ","]`, err: "limit of 131072"},
	})
}

// TestLargeInputsUseIndexes exercises the hashed paths used for large
// arrays and objects (valueSet, objBuilder) against the simple ones.
func TestLargeInputsUseIndexes(t *testing.T) {
	var parts []string
	for i := 0; i < 40; i++ {
		parts = append(parts, strconv.Itoa(i), `"`+strconv.Itoa(i)+`"`)
	}
	distinct := strings.Join(parts, ",")
	dups := `1.0,"1",[1],[1.0],{"a":1},{"A":1.0},{"a":1,"b":[2]},{"B":[2.0],"A":1},null,true,false,1.5,1.50`
	a := mustJSON(t, `[`+distinct+`,`+dups+`]`)
	got, err := fnUnion([]value.Value{a, a})
	if err != nil {
		t.Fatal(err)
	}
	want := mustJSON(t, `[`+distinct+`,[1],{"a":1},{"a":1,"b":[2]},null,true,false,1.5]`)
	if !strictEqual(got, want) {
		t.Fatalf("union:\n got %s\nwant %s", got.JSON(), want.JSON())
	}
	got, err = fnIntersection([]value.Value{a, mustJSON(t, `[{"b":[2],"a":1.0}, 39, "0", 1.5]`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := mustJSON(t, `["0", 39, {"a":1,"b":[2]}, 1.5]`); !strictEqual(got, want) {
		t.Fatalf("intersection: got %s, want %s", got.JSON(), want.JSON())
	}
	// createObject with many keys: later duplicates (any case) replace.
	var args []value.Value
	for i := 0; i < 40; i++ {
		args = append(args, value.StringValue("Key"+strconv.Itoa(i)), value.IntValue(int64(i)))
	}
	args = append(args, value.StringValue("KEY3"), value.IntValue(-3), value.StringValue("new"), value.IntValue(1))
	obj, err := fnCreateObject(args)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Len() != 41 || obj.Field("key3").Int() != -3 || obj.Field("NEW").Int() != 1 {
		t.Fatalf("createObject: %s", obj.JSON())
	}
	if k, _ := obj.MemberAt(3); k != "Key3" {
		t.Fatalf("createObject kept key %q, want the first spelling Key3", k)
	}
}
