package expr

import "github.com/mlgov/mlgov/policy/value"

// Func describes a built-in template function. Call receives the evaluated
// arguments (never more than Max, never fewer than Min; Max < 0 means
// variadic) and returns a result or an error (which becomes an *EvalError
// naming the function). Functions must not retain or modify args.
type Func struct {
	Name   string // canonical spelling, e.g. "padLeft"
	Min    int
	Max    int
	Impure bool // depends on the activation or time; never constant-folded
	Call   func(args []value.Value) (value.Value, error)
	// CallA, when set, is used instead of Call and also sees the activation
	// (utcNow, ...).
	CallA func(a *Activation, args []value.Value) (value.Value, error)
}

// builtin returns the function for a lower-cased name.
func builtin(lname string) (*Func, bool) {
	f, ok := funcTable[lname]
	return f, ok
}

// Builtins returns the canonical names of all built-in functions (for docs
// and `mlgov` help output).
func Builtins() []string {
	out := make([]string, 0, len(funcTable))
	for _, f := range funcTable {
		out = append(out, f.Name)
	}
	return out
}
