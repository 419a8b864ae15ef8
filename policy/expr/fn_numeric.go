package expr

import (
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Numeric functions. ARM's are integer functions (template-functions-
// numeric.md); integers are 64-bit here and overflow is an error. Floats
// are accepted too and computed in floating point.

func numArgs(fn string, args []value.Value) (a, b value.Value, err error) {
	for i := 0; i < 2; i++ {
		if !args[i].IsNumber() {
			return a, b, argTypeError(fn, i, "a number", args[i])
		}
	}
	return args[0], args[1], nil
}

func bothInt(a, b value.Value) bool { return a.Kind() == value.Int && b.Kind() == value.Int }

func floatResult(fn string, f float64) (value.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value.Value{}, failf(fn, "the result is not a finite number")
	}
	return value.FloatValue(f), nil
}

func fnAdd(args []value.Value) (value.Value, error) {
	const fn = "add"
	a, b, err := numArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if bothInt(a, b) {
		x, y := a.Int(), b.Int()
		s := x + y
		if (s > x) != (y > 0) {
			return value.Value{}, failf(fn, "integer overflow adding %d and %d", x, y)
		}
		return value.IntValue(s), nil
	}
	return floatResult(fn, a.Float()+b.Float())
}

func fnSub(args []value.Value) (value.Value, error) {
	const fn = "sub"
	a, b, err := numArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if bothInt(a, b) {
		x, y := a.Int(), b.Int()
		d := x - y
		if (d < x) != (y > 0) {
			return value.Value{}, failf(fn, "integer overflow subtracting %d from %d", y, x)
		}
		return value.IntValue(d), nil
	}
	return floatResult(fn, a.Float()-b.Float())
}

func fnMul(args []value.Value) (value.Value, error) {
	const fn = "mul"
	a, b, err := numArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if bothInt(a, b) {
		x, y := a.Int(), b.Int()
		switch {
		case x == 0 || y == 0:
			return value.IntValue(0), nil
		case x == 1:
			return b, nil
		case y == 1:
			return a, nil
		}
		hi, lo := bits.Mul64(uint64(abs64(x)), uint64(abs64(y)))
		neg := (x < 0) != (y < 0)
		if hi != 0 || lo > math.MaxInt64+1 || (lo == math.MaxInt64+1 && !neg) || x == math.MinInt64 || y == math.MinInt64 {
			return value.Value{}, failf(fn, "integer overflow multiplying %d by %d", x, y)
		}
		return value.IntValue(x * y), nil
	}
	return floatResult(fn, a.Float()*b.Float())
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// div truncates toward zero on integers; division by zero is an error.
func fnDiv(args []value.Value) (value.Value, error) {
	const fn = "div"
	a, b, err := numArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if b.Float() == 0 {
		return value.Value{}, failf(fn, "division by zero")
	}
	if bothInt(a, b) {
		if a.Int() == math.MinInt64 && b.Int() == -1 {
			return value.Value{}, failf(fn, "integer overflow dividing %d by -1", a.Int())
		}
		return value.IntValue(a.Int() / b.Int()), nil
	}
	return floatResult(fn, a.Float()/b.Float())
}

// mod is the remainder with the sign of the dividend (C#'s %).
func fnMod(args []value.Value) (value.Value, error) {
	const fn = "mod"
	a, b, err := numArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if b.Float() == 0 {
		return value.Value{}, failf(fn, "division by zero")
	}
	if bothInt(a, b) {
		if b.Int() == -1 {
			return value.IntValue(0), nil
		}
		return value.IntValue(a.Int() % b.Int()), nil
	}
	return floatResult(fn, math.Mod(a.Float(), b.Float()))
}

// int(valueToConvert): integers unchanged, floats truncated, strings
// parsed (a decimal string is truncated, as regorus does).
func fnInt(args []value.Value) (value.Value, error) {
	const fn = "int"
	v := args[0]
	switch v.Kind() {
	case value.Int:
		return v, nil
	case value.Float:
		return truncToInt(fn, v.Float())
	case value.String:
		s := strings.TrimSpace(v.Str())
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value.IntValue(i), nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && isPlainNumber(s) {
			return truncToInt(fn, f)
		}
		return value.Value{}, failf(fn, "the string '%s' is not a valid integer", v.Str())
	}
	return value.Value{}, argTypeError(fn, 0, "a string or a number", v)
}

// isPlainNumber rejects strconv's extra syntaxes (Inf, NaN, hex, '_').
func isPlainNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

func truncToInt(fn string, f float64) (value.Value, error) {
	if math.IsNaN(f) || f >= 9.223372036854775e18 || f < -9.223372036854775e18 {
		return value.Value{}, failf(fn, "the number %s is out of the integer range", strconv.FormatFloat(f, 'g', -1, 64))
	}
	return value.IntValue(int64(f)), nil
}

// float(value): numbers and numeric strings as a floating-point number.
func fnFloat(args []value.Value) (value.Value, error) {
	const fn = "float"
	v := args[0]
	switch v.Kind() {
	case value.Int, value.Float:
		return value.FloatValue(v.Float()), nil
	case value.String:
		s := strings.TrimSpace(v.Str())
		if f, err := strconv.ParseFloat(s, 64); err == nil && isPlainNumber(s) {
			return value.FloatValue(f), nil
		}
		return value.Value{}, failf(fn, "the string '%s' is not a valid number", v.Str())
	}
	return value.Value{}, argTypeError(fn, 0, "a string or a number", v)
}

// min / max over numbers given as arguments or as one array.
func fnMin(args []value.Value) (value.Value, error) { return minMax("min", args, false) }
func fnMax(args []value.Value) (value.Value, error) { return minMax("max", args, true) }

func minMax(fn string, args []value.Value, max bool) (value.Value, error) {
	vals := args
	if len(args) == 1 && args[0].Kind() == value.Array {
		vals = args[0].Elems()
		if len(vals) == 0 {
			return value.Value{}, failf(fn, "the array is empty")
		}
	}
	best := vals[0]
	for i, v := range vals {
		if !v.IsNumber() {
			if len(args) == 1 && args[0].Kind() == value.Array {
				return value.Value{}, failf(fn, "array element %d must be a number, got %s", i, describe(v))
			}
			return value.Value{}, argTypeError(fn, i, "a number or an array of numbers", v)
		}
		if i == 0 {
			continue
		}
		c := compareNumbers(v, best)
		if (max && c > 0) || (!max && c < 0) {
			best = v
		}
	}
	return best, nil
}

func compareNumbers(a, b value.Value) int {
	if bothInt(a, b) {
		switch x, y := a.Int(), b.Int(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch x, y := a.Float(), b.Float(); {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
