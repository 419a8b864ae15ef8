package odata

import (
	"strconv"
	"strings"
	"time"
)

// Expr is a node of a parsed $filter expression: *Logical, *Not,
// *Compare, *Call, *Property or *Literal. String renders it in a
// canonical OData form (canonical property names, lower-case keywords,
// parenthesised and/or).
type Expr interface {
	// Pos is the node's byte offset in the parameter value: where a
	// Compare or Logical has its operator, where other nodes begin.
	Pos() int
	String() string
	expr()
}

// Logical is "L and R" or "L or R" (Op is "and" or "or").
type Logical struct {
	At   int
	Op   string
	L, R Expr
}

// Not is "not X".
type Not struct {
	At int
	X  Expr
}

// Compare is "L op R", Op one of eq, ne, gt, ge, lt, le.
type Compare struct {
	At   int
	Op   string
	L, R Expr
}

// Call is a function call: startswith, endswith, contains, substringof
// (two string arguments, a boolean result), tolower, toupper (one string
// argument, a string result).
type Call struct {
	At   int
	Func string
	Args []Expr
}

// Property names a field (canonical name and type).
type Property struct {
	At    int
	Field Field
}

// Literal is a constant: Value is a string, bool, float64, time.Time (UTC)
// or nil (null, Type 0).
type Literal struct {
	At    int
	Type  Type
	Value any
}

func (e *Logical) Pos() int  { return e.At }
func (e *Not) Pos() int      { return e.At }
func (e *Compare) Pos() int  { return e.At }
func (e *Call) Pos() int     { return e.At }
func (e *Property) Pos() int { return e.At }
func (e *Literal) Pos() int  { return e.At }

func (*Logical) expr()  {}
func (*Not) expr()      {}
func (*Compare) expr()  {}
func (*Call) expr()     {}
func (*Property) expr() {}
func (*Literal) expr()  {}

func (e *Logical) String() string {
	return "(" + e.L.String() + " " + e.Op + " " + e.R.String() + ")"
}
func (e *Not) String() string     { return "not " + e.X.String() }
func (e *Compare) String() string { return e.L.String() + " " + e.Op + " " + e.R.String() }
func (e *Call) String() string {
	var b strings.Builder
	b.WriteString(e.Func)
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}
func (e *Property) String() string { return e.Field.Name }
func (e *Literal) String() string {
	switch v := e.Value.(type) {
	case nil:
		return "null"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return "?"
}

// typeOf is the type of an operand; 0 for null.
func typeOf(e Expr) Type {
	switch e := e.(type) {
	case *Property:
		return e.Field.Type
	case *Literal:
		return e.Type
	case *Call:
		if e.Func == "tolower" || e.Func == "toupper" {
			return String
		}
		return Bool
	}
	return Bool
}

// isBoolean reports whether e can stand where a condition is expected.
func isBoolean(e Expr) bool {
	switch e := e.(type) {
	case *Logical, *Not, *Compare:
		return true
	case *Call:
		return typeOf(e) == Bool
	case *Property:
		return e.Field.Type == Bool
	case *Literal:
		return e.Type == Bool
	}
	return false
}
