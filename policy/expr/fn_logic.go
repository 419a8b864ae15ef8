package expr

import (
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Logical and comparison functions. Sources: template-functions-logical.md,
// template-functions-comparison.md. if, and, or and coalesce are special
// forms compiled lazily by eval.go; the eager versions below serve
// CallFunction only.

// bool(arg): booleans unchanged; "true"/"false" (any case) and "1"/"0";
// numbers are true when non-zero.
func fnBool(args []value.Value) (value.Value, error) {
	const fn = "bool"
	v := args[0]
	switch v.Kind() {
	case value.Bool:
		return v, nil
	case value.String:
		switch s := strings.TrimSpace(v.Str()); {
		case value.EqualFold(s, "true"), s == "1":
			return value.BoolValue(true), nil
		case value.EqualFold(s, "false"), s == "0":
			return value.BoolValue(false), nil
		}
		return value.Value{}, failf(fn, "the string '%s' is not a valid boolean", v.Str())
	case value.Int, value.Float:
		return value.BoolValue(v.Float() != 0), nil
	}
	return value.Value{}, argTypeError(fn, 0, "a boolean, a string or a number", v)
}

func fnTrue([]value.Value) (value.Value, error)  { return value.BoolValue(true), nil }
func fnFalse([]value.Value) (value.Value, error) { return value.BoolValue(false), nil }

// not(arg) negates a boolean (or "true"/"false").
func fnNot(args []value.Value) (value.Value, error) {
	b, err := Truth("not", args[0])
	if err != nil {
		return value.Value{}, err
	}
	return value.BoolValue(!b), nil
}

// equals(arg1, arg2) is deep equality. ARM's equals is case-SENSITIVE for
// strings: Bicep compiles its case-sensitive `==` operator to equals() and
// its case-insensitive `=~` to equals(toLower(a), toLower(b))
// (bicep/operators-comparison.md); the ARM comparison docs only show equal
// values. Numbers compare numerically (1 equals 1.0); object keys compare
// case-insensitively; a missing value equals null.
func fnEquals(args []value.Value) (value.Value, error) {
	a, b := args[0], args[1]
	if a.Kind() == value.String && b.Kind() == value.String {
		return value.BoolValue(a.Str() == b.Str()), nil
	}
	return value.BoolValue(equalValues(a, b)), nil
}

// order compares two numbers or two strings for greater/less. Strings use
// compareStrings (culture-like: documented greater('A', 'a') is true).
func order(fn string, args []value.Value) (int, error) {
	a, b := args[0], args[1]
	switch {
	case a.IsNumber() && b.IsNumber():
		return compareNumbers(a, b), nil
	case a.Kind() == value.String && b.Kind() == value.String:
		return compareStrings(a.Str(), b.Str()), nil
	}
	if !a.IsNumber() && a.Kind() != value.String {
		return 0, argTypeError(fn, 0, "an integer or a string", a)
	}
	if !b.IsNumber() && b.Kind() != value.String {
		return 0, argTypeError(fn, 1, "an integer or a string", b)
	}
	return 0, failf(fn, "cannot compare %s with %s", describe(a), describe(b))
}

func fnGreater(args []value.Value) (value.Value, error) {
	c, err := order("greater", args)
	return value.BoolValue(c > 0), err
}

func fnGreaterOrEquals(args []value.Value) (value.Value, error) {
	c, err := order("greaterOrEquals", args)
	return value.BoolValue(c >= 0), err
}

func fnLess(args []value.Value) (value.Value, error) {
	c, err := order("less", args)
	return value.BoolValue(c < 0), err
}

func fnLessOrEquals(args []value.Value) (value.Value, error) {
	c, err := order("lessOrEquals", args)
	return value.BoolValue(c <= 0), err
}

// Eager special forms for CallFunction.

func callIf(args []value.Value) (value.Value, error) {
	if len(args) != 3 {
		return value.Value{}, failf("if", "expects 3 arguments, got %d", len(args))
	}
	b, err := Truth("if", args[0])
	if err != nil {
		return value.Value{}, err
	}
	if b {
		return args[1], nil
	}
	return args[2], nil
}

// callLogic is and/or over evaluated arguments. With no arguments it
// returns the identity (and → true, or → false), the same as an empty
// allOf/anyOf; compiled expressions still require at least one argument.
func callLogic(name string, or bool, args []value.Value) (value.Value, error) {
	for _, a := range args {
		b, err := Truth(name, a)
		if err != nil {
			return value.Value{}, err
		}
		if b == or {
			return value.BoolValue(or), nil
		}
	}
	return value.BoolValue(!or), nil
}

func callCoalesce(args []value.Value) (value.Value, error) {
	for _, a := range args {
		if !a.IsNullish() {
			return a, nil
		}
	}
	return value.NullValue(), nil
}
