package expr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

func TestFuncTableShape(t *testing.T) {
	for _, tbl := range []map[string]*Func{funcTable, extraTable} {
		for k, f := range tbl {
			if k != strings.ToLower(f.Name) {
				t.Errorf("key %q does not match name %q", k, f.Name)
			}
			if (f.Call == nil) == (f.CallA == nil) {
				t.Errorf("%s: exactly one of Call and CallA must be set", f.Name)
			}
			if f.Max >= 0 && f.Max < f.Min {
				t.Errorf("%s: Max %d < Min %d", f.Name, f.Max, f.Min)
			}
		}
	}
	for k, f := range funcTable {
		if _, bad := disallowed[k]; bad {
			t.Errorf("%s is in funcTable but Azure Policy disallows it", f.Name)
		}
	}
	for _, special := range []string{"if", "and", "or", "coalesce", "field", "parameters", "current", "requestcontext", "resourcegroup", "subscription", "policy", "datetimeadd", "newguid"} {
		if _, ok := funcTable[special]; ok {
			t.Errorf("%s must not be in funcTable", special)
		}
	}
	for k := range extraTable {
		if _, ok := funcTable[k]; ok {
			t.Errorf("%s is in both tables", k)
		}
	}
	// The functions the built-in corpus uses (policy-corpus-stats.md),
	// minus the policy functions and special forms bound elsewhere.
	for _, name := range strings.Fields(`equals concat first base64 greaterOrEquals empty split length uniqueString
		padLeft last addDays contains toLower utcNow intersection take replace createObject int skip createArray
		union add string greater mul not tryGet array bool lessOrEquals trim false format ipRangeContains less max
		startsWith json guid substring min mod div`) {
		if _, ok := builtin(strings.ToLower(name)); !ok {
			t.Errorf("corpus function %s is missing", name)
		}
	}
}

func TestCallFunctionErrors(t *testing.T) {
	if _, err := CallFunction("noSuchFunction", nil, testNow); err == nil || !strings.Contains(err.Error(), "unknown template function 'noSuchFunction'") {
		t.Errorf("unknown function: %v", err)
	}
	if _, err := CallFunction("field", []value.Value{value.StringValue("name")}, testNow); err == nil {
		t.Error("field() must be left to the policy compiler")
	}
	_, err := CallFunction("SUBSTRING", []value.Value{value.StringValue("abc"), value.IntValue(5)}, testNow)
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Func != "substring" || !strings.Contains(ee.Msg, "startIndex 5 is beyond the string length 3") {
		t.Errorf("got %#v", err)
	}
	if got := err.Error(); got != "template function 'substring' failed: startIndex 5 is beyond the string length 3" {
		t.Errorf("message %q", got)
	}
	if _, err := CallFunction("toLower", nil, testNow); err == nil || !strings.Contains(err.Error(), "expects 1 argument, got 0") {
		t.Errorf("arity: %v", err)
	}
}

// TestExpressions runs functions through the parser and compiler, checking
// results, constant folding and Undefined (missing-field) arguments.
func TestExpressions(t *testing.T) {
	a := &Activation{Now: testNow}
	for _, c := range []struct {
		src, want, err string
	}{
		{src: "concat('a', toUpper('b'), string(add(1, 2)))", want: `"aB3"`},
		{src: "if(greaterOrEquals(length('ab'), 3), substring('ab', 0, 3), 'short')", want: `"short"`},
		{src: "createObject('k', createArray(1, 2)).k[1]", want: `2`},
		{src: "split('a/b/c', '/')[2]", want: `"c"`},
		{src: "json('{\"a\":{\"b\":true}}').a.b", want: `true`},
		{src: "PadLeft('7', 3, '0')", want: `"007"`},
		{src: "empty(json('{}').missing)", want: `true`},
		{src: "length(json('{}').missing)", want: `0`},
		{src: "contains(json('{}').missing, 'x')", want: `false`},
		{src: "coalesce(json('{}').missing, 'fallback')", want: `"fallback"`},
		{src: "equals(json('{}').missing, null())", want: `true`},
		{src: "tryGet(json('{}'), 'a')", want: `null`},
		{src: "not(equals(1, 2))", want: `true`},
		{src: "substring('ab', 0, 3)", err: "template function 'substring' failed"},
		{src: "toLower(json('{}').missing)", err: "argument 1 must be a string, got no value"},
		{src: "padLeft('x', 1000000000)", err: "limit of 131072"},
		{src: "range(0, 100000)", err: "exceeds maximum of 10000"},
		{src: "newGuid()", err: "not allowed in a policy rule"},
	} {
		got, err := evalExpr(t, c.src, a)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, %v; want error containing %q", c.src, got.JSON(), err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if want := mustJSON(t, c.want); !strictEqual(got, want) {
			t.Errorf("%s = %s, want %s", c.src, got.JSON(), c.want)
		}
	}
	// Constant calls fold at compile time.
	n, err := Parse("toLower(concat('A', 'B'))")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := IsConst(e); !ok || v.Str() != "ab" {
		t.Errorf("not folded: %T %v", e, v)
	}
}

// robustnessArgs are awkward argument values every function must survive.
var robustnessArgs = []value.Value{
	{}, value.NullValue(), value.BoolValue(true), value.IntValue(0), value.IntValue(-1),
	value.IntValue(1 << 62), value.FloatValue(1.5), value.FloatValue(1e300), value.StringValue(""),
	value.StringValue("a😀b"), value.StringValue("10.0.0.0/8"), value.StringValue("2024-01-01T00:00:00Z"),
	value.StringValue("{0}{1,5:N2}"), value.ArrayValue(nil), value.ArrayValue([]value.Value{value.IntValue(1), value.StringValue("a")}),
	value.ObjectValue(), value.ObjectValue(value.Member{Key: "a", Value: value.IntValue(1)}),
}

// TestFunctionsNeverPanic calls every function with every combination of
// up to three awkward arguments; results and errors are irrelevant.
func TestFunctionsNeverPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var names []string
	for _, tbl := range []map[string]*Func{funcTable, extraTable} {
		for _, f := range tbl {
			names = append(names, f.Name)
		}
	}
	names = append(names, "if", "and", "or", "coalesce")
	for _, name := range names {
		args := make([]value.Value, 0, 3)
		var rec func()
		rec = func() {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s(%v) panicked: %v", name, args, r)
					}
				}()
				_, _ = CallFunction(name, args, now)
			}()
			if len(args) == 3 {
				return
			}
			for _, v := range robustnessArgs {
				args = append(args, v)
				rec()
				args = args[:len(args)-1]
			}
		}
		rec()
	}
}
