package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// Activation is the per-evaluation state read by compiled expressions. The
// policy evaluator fills it; expressions never modify it except through the
// documented count frames. It is not safe for concurrent use.
type Activation struct {
	// Resource is the resource the policy's if-condition evaluates; field()
	// always reads it.
	Resource value.Value
	// Target is what field conditions read: the Resource, or the related
	// resource while an existenceCondition is evaluated.
	Target value.Value
	// APIVersion selects api-version-specific alias paths ("" = default).
	APIVersion string
	// Params holds the values of the definition's parameters by slot.
	Params []value.Value
	// Frames is the stack of count iterations (innermost last).
	Frames []Frame
	// Context values for resourceGroup(), subscription(), requestContext()
	// and policy(); Undefined when the caller supplied none.
	ResourceGroup  value.Value
	Subscription   value.Value
	RequestContext value.Value
	Policy         value.Value
	// Now is the evaluation time for utcNow().
	Now time.Time

	// args is the scratch stack of evaluated function arguments (reused
	// between calls and evaluations; see Clear).
	args []value.Value
}

// Clear zeroes the activation's inputs and keeps its scratch memory (the
// count frames and function arguments) for the next evaluation.
func (a *Activation) Clear() {
	*a = Activation{Frames: a.Frames[:0], args: a.args[:0]}
}

// Frame is one iteration of a count expression: the current member of the
// counted array (field count) or of the value array (value count).
type Frame struct {
	Name  string      // value count name ("" for field counts)
	Alias string      // field count: the counted alias/path text, for current('alias')
	Value value.Value // the current member
}

// Evaluable is a compiled expression.
type Evaluable interface {
	Eval(a *Activation) (value.Value, error)
}

// Const is an Evaluable with a fixed value.
type Const struct{ V value.Value }

// Eval returns the constant.
func (c Const) Eval(*Activation) (value.Value, error) { return c.V, nil }

// IsConst reports whether e is a compile-time constant, and its value.
func IsConst(e Evaluable) (value.Value, bool) {
	if c, ok := e.(Const); ok {
		return c.V, true
	}
	return value.Value{}, false
}

// EvalError is a runtime error of an expression: a function that failed, a
// type mismatch, a missing property.
type EvalError struct {
	Func string // function name, if the error came from a function
	Msg  string
}

func (e *EvalError) Error() string {
	if e.Func != "" {
		return fmt.Sprintf("template function '%s' failed: %s", e.Func, e.Msg)
	}
	return e.Msg
}

// Errorf returns an *EvalError without a function name.
func Errorf(format string, args ...any) error {
	return &EvalError{Msg: fmt.Sprintf(format, args...)}
}

// Binder lets the policy compiler take over calls to policy functions
// (field, parameters, current, ...). Bind returns ok=false to leave the call
// to the built-in table. args are the already compiled arguments.
type Binder interface {
	Bind(call *Call, args []Evaluable) (e Evaluable, ok bool, err error)
}

// Warner is implemented by binders that collect non-fatal findings.
type Warner interface {
	Warn(offset int, msg string)
}

// CompileError is a compile-time error of an expression.
type CompileError struct {
	Offset int
	Msg    string
}

func (e *CompileError) Error() string { return e.Msg }

// Compile turns a parsed expression into an Evaluable, resolving every
// function at compile time and folding constant pure calls.
func Compile(n Node, b Binder) (Evaluable, error) {
	c := compiler{b: b}
	return c.compile(n)
}

type compiler struct{ b Binder }

func (c *compiler) compile(n Node) (Evaluable, error) {
	switch n := n.(type) {
	case *Lit:
		return Const{n.Value}, nil
	case *Prop:
		x, err := c.compile(n.X)
		if err != nil {
			return nil, err
		}
		e := &propNode{x: x, name: n.Name}
		return fold(e, x), nil
	case *Index:
		x, err := c.compile(n.X)
		if err != nil {
			return nil, err
		}
		i, err := c.compile(n.Index)
		if err != nil {
			return nil, err
		}
		e := &indexNode{x: x, i: i}
		return fold(e, x, i), nil
	case *Call:
		args := make([]Evaluable, len(n.Args))
		for i, a := range n.Args {
			e, err := c.compile(a)
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		if c.b != nil {
			e, ok, err := c.b.Bind(n, args)
			if err != nil {
				return nil, err
			}
			if ok {
				return e, nil
			}
		}
		lname := strings.ToLower(n.Name)
		switch lname {
		case "if":
			if len(args) != 3 {
				return nil, arityError(n, 3, 3)
			}
			return foldLazy(&ifNode{args[0], args[1], args[2]}, args...), nil
		case "and", "or":
			if len(args) < 1 {
				return nil, arityError(n, 1, -1)
			}
			return foldLazy(&logicNode{or: lname == "or", args: args}, args...), nil
		case "coalesce":
			if len(args) < 1 {
				return nil, arityError(n, 1, -1)
			}
			return foldLazy(&coalesceNode{args: args}, args...), nil
		}
		if why, bad := disallowed[lname]; bad {
			return nil, &CompileError{Offset: n.At, Msg: fmt.Sprintf("function '%s' is not allowed in a policy rule: %s", n.Name, why)}
		}
		f, ok := builtin(lname)
		if !ok {
			if xf, isExtra := extraTable[lname]; isExtra {
				if w, ok := c.b.(Warner); ok {
					w.Warn(n.At, fmt.Sprintf("function '%s' is not allowed by Azure Policy (only by ARM templates); mlgov evaluates it, Azure would reject the definition", xf.Name))
				}
				f, ok = xf, true
			}
		}
		if !ok {
			return nil, &CompileError{Offset: n.At, Msg: fmt.Sprintf("unknown template function '%s'", n.Name)}
		}
		if len(args) < f.Min || (f.Max >= 0 && len(args) > f.Max) {
			return nil, arityError(n, f.Min, f.Max)
		}
		e := &callNode{f: f, args: args}
		if f.Impure {
			return e, nil
		}
		if lname == "length" && len(args) == 1 {
			if c, ok := args[0].(Counter); ok {
				return &lengthNode{arg: c, call: e}, nil
			}
		}
		return fold(e, args...), nil
	}
	return nil, &CompileError{Msg: fmt.Sprintf("unsupported expression node %T", n)}
}

func arityError(n *Call, min, max int) error {
	var want string
	switch {
	case max < 0:
		want = fmt.Sprintf("at least %d", min)
	case min == max:
		want = fmt.Sprintf("%d", min)
	default:
		want = fmt.Sprintf("%d to %d", min, max)
	}
	s := "s"
	if want == "1" {
		s = ""
	}
	return &CompileError{Offset: n.At, Msg: fmt.Sprintf("template function '%s' expects %s argument%s, got %d", n.Name, want, s, len(n.Args))}
}

// fold evaluates e at compile time when all its inputs are constants and
// the evaluation succeeds (a failing constant call stays a runtime error).
func fold(e Evaluable, inputs ...Evaluable) Evaluable {
	for _, in := range inputs {
		if _, ok := in.(Const); !ok {
			return e
		}
	}
	v, err := e.Eval(&Activation{})
	if err != nil {
		return e
	}
	return Const{v}
}

// foldLazy folds special forms only when all arguments are constant.
func foldLazy(e Evaluable, inputs ...Evaluable) Evaluable { return fold(e, inputs...) }

type callNode struct {
	f    *Func
	args []Evaluable
}

func (n *callNode) Eval(a *Activation) (value.Value, error) {
	// The arguments go on the activation's scratch stack: nested calls
	// push above them and pop back before the next argument is appended,
	// and functions do not retain args (see Func).
	base := len(a.args)
	for _, e := range n.args {
		v, err := e.Eval(a)
		if err != nil {
			a.popArgs(base)
			return value.Value{}, err
		}
		a.args = append(a.args, v)
	}
	top := len(a.args)
	vals := a.args[base:top:top]
	var r value.Value
	var err error
	if n.f.CallA != nil {
		r, err = n.f.CallA(a, vals)
	} else {
		r, err = n.f.Call(vals)
	}
	a.popArgs(base)
	if err != nil {
		if _, ok := err.(*EvalError); !ok {
			err = &EvalError{Func: n.f.Name, Msg: err.Error()}
		} else if ee := err.(*EvalError); ee.Func == "" {
			err = &EvalError{Func: n.f.Name, Msg: ee.Msg}
		}
		return value.Value{}, err
	}
	return r, nil
}

// popArgs drops the arguments above base (clearing them, so that the
// stack does not keep values alive).
func (a *Activation) popArgs(base int) {
	clear(a.args[base:])
	a.args = a.args[:base]
}

// Counter is implemented by compiled expressions that can count the
// elements of the array they evaluate to without building it (the policy
// compiler's field() of an alias with [*]). ok is false when they cannot
// for this activation; then the caller evaluates them.
type Counter interface {
	Evaluable
	Count(a *Activation) (n int, ok bool, err error)
}

// lengthNode is length(x) for an x that can count its elements.
type lengthNode struct {
	arg  Counter
	call *callNode // length(x) the ordinary way
}

func (n *lengthNode) Eval(a *Activation) (value.Value, error) {
	c, ok, err := n.arg.Count(a)
	if err != nil {
		return value.Value{}, err
	}
	if ok {
		return value.IntValue(int64(c)), nil
	}
	return n.call.Eval(a)
}

type ifNode struct{ cond, then, els Evaluable }

func (n *ifNode) Eval(a *Activation) (value.Value, error) {
	c, err := n.cond.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	b, err := Truth("if", c)
	if err != nil {
		return value.Value{}, err
	}
	if b {
		return n.then.Eval(a)
	}
	return n.els.Eval(a)
}

type logicNode struct {
	or   bool
	args []Evaluable
}

func (n *logicNode) Eval(a *Activation) (value.Value, error) {
	name := "and"
	if n.or {
		name = "or"
	}
	for _, e := range n.args {
		v, err := e.Eval(a)
		if err != nil {
			return value.Value{}, err
		}
		b, err := Truth(name, v)
		if err != nil {
			return value.Value{}, err
		}
		if b == n.or {
			return value.BoolValue(n.or), nil
		}
	}
	return value.BoolValue(!n.or), nil
}

type coalesceNode struct{ args []Evaluable }

func (n *coalesceNode) Eval(a *Activation) (value.Value, error) {
	for _, e := range n.args {
		v, err := e.Eval(a)
		if err != nil {
			return value.Value{}, err
		}
		if !v.IsNullish() {
			return v, nil
		}
	}
	return value.NullValue(), nil
}

// Truth converts a value to a boolean for if/and/or/not: booleans, and the
// strings "true"/"false" (case-insensitive).
func Truth(fn string, v value.Value) (bool, error) {
	switch v.Kind() {
	case value.Bool:
		return v.Bool(), nil
	case value.String:
		if value.EqualFold(v.Str(), "true") {
			return true, nil
		}
		if value.EqualFold(v.Str(), "false") {
			return false, nil
		}
	}
	return false, &EvalError{Func: fn, Msg: fmt.Sprintf("expected a boolean, got %s", describe(v))}
}

func describe(v value.Value) string {
	switch v.Kind() {
	case value.String:
		s := v.Str()
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return fmt.Sprintf("String '%s'", s)
	case value.Undefined:
		return "no value"
	}
	j := v.JSON()
	if len(j) > 40 {
		j = j[:40] + "..."
	}
	return v.Kind().String() + " " + j
}

type propNode struct {
	x    Evaluable
	name string
}

func (n *propNode) Eval(a *Activation) (value.Value, error) {
	x, err := n.x.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	return Member(x, n.name)
}

type indexNode struct{ x, i Evaluable }

func (n *indexNode) Eval(a *Activation) (value.Value, error) {
	x, err := n.x.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	i, err := n.i.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	switch i.Kind() {
	case value.String:
		return Member(x, i.Str())
	case value.Int, value.Float:
		if x.Kind() != value.Array {
			return value.Value{}, Errorf("cannot index %s with an integer", describe(x))
		}
		k := i.Int()
		if k < 0 || k >= int64(x.Len()) {
			return value.Value{}, Errorf("index %d is out of range for an array of length %d", k, x.Len())
		}
		return x.Index(int(k)), nil
	}
	return value.Value{}, Errorf("invalid index %s", describe(i))
}

// Member accesses a property of an object (case-insensitive). A missing
// property, or a property of null/undefined, yields Undefined; accessing a
// property of a string, number, boolean or array is an error.
func Member(x value.Value, name string) (value.Value, error) {
	switch x.Kind() {
	case value.Object:
		v, _ := x.Get(name)
		return v, nil
	case value.Undefined, value.Null:
		return value.Value{}, nil
	}
	return value.Value{}, Errorf("cannot access property '%s' of %s", name, describe(x))
}

// disallowed lists ARM template functions Azure Policy does not allow.
var disallowed = map[string]string{
	"copyindex":  "not available in policy",
	"deployment": "not available in policy", "environment": "not available in policy",
	"extensionresourceid": "not available in policy", "lambda": "lambdas are not available in policy",
	"filter": "lambdas are not available in policy", "map": "lambdas are not available in policy",
	"reduce": "lambdas are not available in policy", "sort": "lambdas are not available in policy",
	"toobject": "lambdas are not available in policy", "listaccountsas": "list* functions are not available in policy",
	"listkeys": "list* functions are not available in policy", "listsecrets": "list* functions are not available in policy",
	"managementgroup": "not available in policy", "newguid": "not available in policy",
	"pickzones": "not available in policy", "providers": "not available in policy",
	"reference": "not available in policy", "references": "not available in policy",
	"resourceid": "not available in policy", "subscriptionresourceid": "not available in policy",
	"tenantresourceid": "not available in policy", "tenant": "not available in policy",
	"variables": "not available in policy",
}
