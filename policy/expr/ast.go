package expr

import (
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Node is a parsed template-expression tree node. The set of node types is
// closed: *Lit, *Call, *Prop and *Index.
type Node interface {
	// Pos is the byte offset of the node in the expression text (after '[').
	Pos() int
	// String renders the node back as expression text.
	String() string
	node()
}

// Lit is a string or integer literal.
type Lit struct {
	At    int
	Value value.Value
}

// Call is a function call name(args...). Name keeps its spelling; function
// names are matched case-insensitively.
type Call struct {
	At   int
	Name string
	Args []Node
}

// Prop is a property access X.Name.
type Prop struct {
	At   int
	X    Node
	Name string
}

// Index is an index access X[Index] (array index or object key).
type Index struct {
	At    int
	X     Node
	Index Node
}

func (n *Lit) Pos() int   { return n.At }
func (n *Call) Pos() int  { return n.At }
func (n *Prop) Pos() int  { return n.At }
func (n *Index) Pos() int { return n.At }

func (*Lit) node()   {}
func (*Call) node()  {}
func (*Prop) node()  {}
func (*Index) node() {}

func (n *Lit) String() string {
	if n.Value.Kind() == value.String {
		return "'" + strings.ReplaceAll(n.Value.Str(), "'", "''") + "'"
	}
	if n.Value.Kind() == value.Int {
		return strconv.FormatInt(n.Value.Int(), 10)
	}
	return n.Value.JSON()
}

func (n *Call) String() string {
	var b strings.Builder
	b.WriteString(n.Name)
	b.WriteByte('(')
	for i, a := range n.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}

func (n *Prop) String() string  { return n.X.String() + "." + n.Name }
func (n *Index) String() string { return n.X.String() + "[" + n.Index.String() + "]" }

// IsExpression reports whether a JSON string is a template expression: it
// starts with '[' and ends with ']' and does not start with "[[".
func IsExpression(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && s[1] != '['
}

// Literal returns the literal text of a JSON string that is not an
// expression: a leading "[[" is unescaped to "[".
func Literal(s string) string {
	if strings.HasPrefix(s, "[[") {
		return s[1:]
	}
	return s
}
