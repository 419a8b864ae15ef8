package odata

import (
	"fmt"
	"strings"
)

// Type is the type of a property.
type Type int

// Property types. Values of a String property are string, of a Bool
// property bool, of a Number property float64 (other Go integer and float
// types are accepted and converted), of a Time property time.Time; any
// property may be absent or nil (null).
const (
	String Type = iota + 1
	Bool
	Number
	Time
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Bool:
		return "bool"
	case Number:
		return "number"
	case Time:
		return "datetime"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Field is a property a query may name: its canonical name (the name
// results and Record.Get use) and its type.
type Field struct {
	Name string
	Type Type
}

// Fields is the set of properties a query may name. Names are looked up
// ignoring ASCII case and come back canonical.
type Fields struct {
	list  []Field
	index map[string]int // ASCII-lowered name -> position in list
}

// NewFields returns the set of the given fields, in that order (the order
// error messages list them in). It panics on an empty name, an invalid
// type or two names that differ only in case: the set is the caller's
// constant.
func NewFields(fields ...Field) *Fields {
	fs := &Fields{index: make(map[string]int, len(fields))}
	for _, f := range fields {
		fs.add(f)
	}
	return fs
}

func (fs *Fields) add(f Field) {
	if f.Name == "" || f.Type < String || f.Type > Time {
		panic(fmt.Sprintf("odata: invalid field %q of type %v", f.Name, f.Type))
	}
	k := lowerASCII(f.Name)
	if _, dup := fs.index[k]; dup {
		panic(fmt.Sprintf("odata: field %q given twice", f.Name))
	}
	fs.index[k] = len(fs.list)
	fs.list = append(fs.list, f)
}

// Lookup returns the field named name, ignoring ASCII case.
func (fs *Fields) Lookup(name string) (Field, bool) {
	if fs == nil {
		return Field{}, false
	}
	i, ok := fs.index[lowerASCII(name)]
	if !ok {
		return Field{}, false
	}
	return fs.list[i], true
}

// List returns the fields in their order.
func (fs *Fields) List() []Field {
	if fs == nil {
		return nil
	}
	return append([]Field(nil), fs.list...)
}

// names lists the canonical names for error messages.
func (fs *Fields) names() string {
	if fs == nil || len(fs.list) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for i, f := range fs.list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
	}
	return b.String()
}

// Error is a query-parameter error: the parameter ("$filter", "$apply",
// "$orderby", "$select"), the byte offset in its value (0-based) and what
// is wrong. Property is set, as written, when the error is an unknown
// property (a caller may explain why it lacks it).
type Error struct {
	Param    string
	Pos      int
	Msg      string
	Property string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: at %d: %s", e.Param, e.Pos, e.Msg)
}

// MaxLen is the longest parameter value accepted, in bytes.
const MaxLen = 8 << 10

// MaxDepth is the deepest nesting accepted: parentheses, not and function
// calls count one level each. A chain of and/or is not nesting (an
// or-chain is how OData 4.0 writes "in"); its length is bounded by MaxLen.
const MaxDepth = 32

// lowerASCII lowers ASCII letters only: the case folding of this package
// (see the package documentation).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// compareFold compares a and b as lowerASCII(a) and lowerASCII(b) would,
// without allocating.
func compareFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func upperASCII(s string) string {
	b := []byte(s)
	for j, c := range b {
		if 'a' <= c && c <= 'z' {
			b[j] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
