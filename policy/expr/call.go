package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// CallFunction calls the template function name (matched
// case-insensitively) with already evaluated arguments, for test runners
// and tools that work on function calls rather than expressions. Besides
// funcTable it supports the special forms if, and, or and coalesce
// (evaluated eagerly) and the functions of extraTable (ARM functions that
// policy rules may not use). now is the time utcNow() reports. Policy
// functions (field, parameters, ...) and unknown names are errors.
func CallFunction(name string, args []value.Value, now time.Time) (value.Value, error) {
	lname := strings.ToLower(name)
	switch lname {
	case "if":
		return callIf(args)
	case "and":
		return callLogic("and", false, args)
	case "or":
		return callLogic("or", true, args)
	case "coalesce":
		return callCoalesce(args)
	}
	f, ok := funcTable[lname]
	if !ok {
		f, ok = extraTable[lname]
	}
	if !ok {
		return value.Value{}, &EvalError{Msg: fmt.Sprintf("unknown template function '%s'", name)}
	}
	if len(args) < f.Min || (f.Max >= 0 && len(args) > f.Max) {
		var want string
		switch {
		case f.Max < 0:
			want = fmt.Sprintf("at least %d", f.Min)
		case f.Min == f.Max:
			want = fmt.Sprint(f.Min)
		default:
			want = fmt.Sprintf("%d to %d", f.Min, f.Max)
		}
		plural := "s"
		if want == "1" {
			plural = ""
		}
		return value.Value{}, &EvalError{Func: f.Name, Msg: fmt.Sprintf("expects %s argument%s, got %d", want, plural, len(args))}
	}
	var (
		r   value.Value
		err error
	)
	if f.CallA != nil {
		r, err = f.CallA(&Activation{Now: now}, args)
	} else {
		r, err = f.Call(args)
	}
	if err != nil {
		if ee, ok := err.(*EvalError); ok {
			if ee.Func == "" {
				err = &EvalError{Func: f.Name, Msg: ee.Msg}
			}
		} else {
			err = &EvalError{Func: f.Name, Msg: err.Error()}
		}
		return value.Value{}, err
	}
	return r, nil
}
