package expr

import (
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

// benchCalls are common calls taken from the test tables.
var benchCalls = []struct {
	table  []fnCase
	label  string
	allocs float64 // allocation budget per call
}{
	{stringCases, `concat["a", "b"]`, 1},
	{stringCases, `toLower["One Two Three"]`, 2},
	{logicCases, `equals["a", "a"]`, 0},
	{logicCases, `equals[{"a": "b"}, {"A": "b"}]`, 0},
	{stringCases, `padLeft["123", 10, "0"]`, 2},
	{stringCases, `startsWith["abcdef", "AB"]`, 0},
	{stringCases, `split["one,two,three", ","]`, 3},
}

func benchCase(tb testing.TB, table []fnCase, label string) (*Func, []value.Value) {
	tb.Helper()
	for _, c := range table {
		if c.label() == label {
			f, ok := builtin(lowerASCII(c.fn))
			if !ok {
				tb.Fatalf("no function %s", c.fn)
			}
			return f, mustJSON(tb, c.args).Elems()
		}
	}
	tb.Fatalf("no case %s", label)
	return nil, nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = asciiLower(b[i])
	}
	return string(b)
}

func BenchmarkFunctions(b *testing.B) {
	for _, bc := range benchCalls {
		f, args := benchCase(b, bc.table, bc.label)
		b.Run(bc.label, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Call(args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompiledCall measures a call whose argument is not constant
// (read from the activation), so nothing is folded.
func BenchmarkCompiledCall(b *testing.B) {
	e := &callNode{f: funcTable["tolower"], args: []Evaluable{paramNode{}}}
	a := &Activation{Params: []value.Value{value.StringValue("Microsoft.MachineLearningServices/workspaces")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(a); err != nil {
			b.Fatal(err)
		}
	}
}

type paramNode struct{}

func (paramNode) Eval(a *Activation) (value.Value, error) { return a.Params[0], nil }

func TestAllocationBudgets(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocation counts")
	}
	for _, bc := range benchCalls {
		f, args := benchCase(t, bc.table, bc.label)
		n := testing.AllocsPerRun(100, func() {
			if _, err := f.Call(args); err != nil {
				t.Fatal(err)
			}
		})
		if n > bc.allocs {
			t.Errorf("%s: %.1f allocations per call, budget %.0f", bc.label, n, bc.allocs)
		}
	}
}
