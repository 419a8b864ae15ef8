package odata

import (
	"fmt"
	"strings"
	"time"
)

// Record is what a filter is evaluated against: Get returns the value of
// a canonical field (string, bool, float64 or another Go number,
// time.Time, or nil) and whether the record has it. Absent and nil are
// both null.
type Record interface {
	Get(field string) (any, bool)
}

// Row is a Record held in a map keyed by canonical field name; the rows
// Apply.Run returns are Rows.
type Row map[string]any

// Get implements Record.
func (r Row) Get(field string) (any, bool) {
	v, ok := r[field]
	return v, ok
}

// tri is a three-valued truth: OData functions of null are null, and
// "and", "or", "not" follow the same rules as SQL.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triNull
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// Eval reports whether rec satisfies e. A nil e (no filter) is satisfied
// by every record. The only error is a record whose value does not have
// its field's type.
func Eval(e Expr, rec Record) (bool, error) {
	if e == nil {
		return true, nil
	}
	t, err := evalCond(e, rec)
	return t == triTrue, err
}

func evalCond(e Expr, rec Record) (tri, error) {
	switch e := e.(type) {
	case *Logical:
		l, err := evalCond(e.L, rec)
		if err != nil {
			return triFalse, err
		}
		if e.Op == "and" && l == triFalse {
			return triFalse, nil
		}
		if e.Op == "or" && l == triTrue {
			return triTrue, nil
		}
		r, err := evalCond(e.R, rec)
		if err != nil {
			return triFalse, err
		}
		if e.Op == "and" {
			if r == triFalse {
				return triFalse, nil
			}
			if l == triTrue && r == triTrue {
				return triTrue, nil
			}
			return triNull, nil
		}
		if r == triTrue {
			return triTrue, nil
		}
		if l == triFalse && r == triFalse {
			return triFalse, nil
		}
		return triNull, nil
	case *Not:
		x, err := evalCond(e.X, rec)
		switch x {
		case triTrue:
			return triFalse, err
		case triFalse:
			return triTrue, err
		}
		return triNull, err
	case *Compare:
		l, err := evalValue(e.L, rec)
		if err != nil {
			return triFalse, err
		}
		r, err := evalValue(e.R, rec)
		if err != nil {
			return triFalse, err
		}
		return triOf(compareValues(e.Op, l, r)), nil
	}
	// A boolean operand: property, literal, startswith/endswith/contains/substringof.
	v, err := evalValue(e, rec)
	if err != nil {
		return triFalse, err
	}
	switch v := v.(type) {
	case bool:
		return triOf(v), nil
	case nil:
		return triNull, nil
	}
	return triFalse, fmt.Errorf("odata: %s is not a condition", e)
}

// evalValue evaluates an operand to nil, string, bool, float64 or
// time.Time.
func evalValue(e Expr, rec Record) (any, error) {
	switch e := e.(type) {
	case *Literal:
		return e.Value, nil
	case *Property:
		v, _ := rec.Get(e.Field.Name)
		return normalize(e.Field, v)
	case *Call:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			v, err := evalValue(a, rec)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, nil
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("odata: %s: argument %s is %T, not a string", e.Func, a, v)
			}
			args[i] = s
		}
		if want := functions[e.Func]; len(args) != want {
			return nil, fmt.Errorf("odata: %s takes %d argument(s), got %d", e.Func, want, len(args))
		}
		switch e.Func {
		case "tolower":
			return lowerASCII(args[0]), nil
		case "toupper":
			return upperASCII(args[0]), nil
		case "startswith":
			return len(args[0]) >= len(args[1]) && compareFold(args[0][:len(args[1])], args[1]) == 0, nil
		case "endswith":
			return len(args[0]) >= len(args[1]) && compareFold(args[0][len(args[0])-len(args[1]):], args[1]) == 0, nil
		case "contains":
			return strings.Contains(lowerASCII(args[0]), lowerASCII(args[1])), nil
		case "substringof":
			return strings.Contains(lowerASCII(args[1]), lowerASCII(args[0])), nil
		}
		return nil, fmt.Errorf("odata: unknown function %s", e.Func)
	}
	t, err := evalCond(e, rec)
	if err != nil || t == triNull {
		return nil, err
	}
	return t == triTrue, nil
}

// normalize checks a record's value against its field's type.
func normalize(f Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Number:
		if n, ok := toFloat(v); ok {
			return n, nil
		}
	case Time:
		if t, ok := v.(time.Time); ok {
			return t, nil
		}
		if t, ok := v.(*time.Time); ok {
			if t == nil {
				return nil, nil
			}
			return *t, nil
		}
	}
	return nil, fmt.Errorf("odata: field %s is a %s but the record holds a %T", f.Name, f.Type, v)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// compareValues applies a comparison operator. A comparison is never
// null: null eq null is true, null eq x false, null ne x true, and an
// ordering with a null operand false (OData 4.0 part 2, 5.1.1.1).
func compareValues(op string, l, r any) bool {
	if l == nil || r == nil {
		both := l == nil && r == nil
		switch op {
		case "eq":
			return both
		case "ne":
			return !both
		}
		return false
	}
	c, ok := order(l, r)
	if !ok {
		return op == "ne"
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// order compares two non-null values of the same type: strings ignoring
// ASCII case, false before true. ok is false for values of different
// types or NaN.
func order(l, r any) (int, bool) {
	switch l := l.(type) {
	case string:
		r, ok := r.(string)
		if !ok {
			return 0, false
		}
		return compareFold(l, r), true
	case float64:
		r, ok := r.(float64)
		if !ok || l != l || r != r {
			return 0, false
		}
		switch {
		case l < r:
			return -1, true
		case l > r:
			return 1, true
		}
		return 0, true
	case bool:
		r, ok := r.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case l == r:
			return 0, true
		case !l:
			return -1, true
		}
		return 1, true
	case time.Time:
		r, ok := r.(time.Time)
		if !ok {
			return 0, false
		}
		return l.Compare(r), true
	}
	return 0, false
}
