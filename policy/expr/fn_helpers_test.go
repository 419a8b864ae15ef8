package expr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// fnCase is one function call: args is a JSON array of arguments; want is
// the expected result as JSON (integers and floats are told apart), or err
// a substring of the expected error message.
type fnCase struct {
	name string // optional label; defaults to fn(args)
	fn   string
	args string
	want string
	err  string
}

func (c fnCase) label() string {
	if c.name != "" {
		return c.name
	}
	return c.fn + c.args
}

var testNow = time.Date(2024, 3, 5, 17, 53, 18, 123456700, time.UTC)

func mustJSON(t testing.TB, s string) value.Value {
	t.Helper()
	v, err := value.ParseString(s)
	if err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

func runFnCases(t *testing.T, cases []fnCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.label(), func(t *testing.T) {
			args := mustJSON(t, c.args)
			if args.Kind() != value.Array {
				t.Fatalf("args must be a JSON array: %s", c.args)
			}
			got, err := CallFunction(c.fn, args.Elems(), testNow)
			if c.err != "" {
				if err == nil {
					t.Fatalf("got %s, want an error containing %q", got.JSON(), c.err)
				}
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Errorf("error %v is a %T, want *EvalError", err, err)
				}
				if !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %q does not contain %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := mustJSON(t, c.want)
			if !strictEqual(got, want) {
				t.Fatalf("got %s (%s), want %s (%s)", got.JSON(), got.Kind(), want.JSON(), want.Kind())
			}
		})
	}
}

// evalExpr parses, compiles (without a binder) and evaluates expression
// text against an activation.
func evalExpr(t testing.TB, src string, a *Activation) (value.Value, error) {
	t.Helper()
	n, err := Parse(src)
	if err != nil {
		return value.Value{}, err
	}
	e, err := Compile(n, nil)
	if err != nil {
		return value.Value{}, err
	}
	return e.Eval(a)
}
