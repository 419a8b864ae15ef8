package odata

import (
	"strings"
	"time"
)

// ToSQL renders e as a WHERE condition over columns (canonical field name
// → column expression, inserted as given: the caller's constant, never
// user input) with '?' placeholders and their arguments. Values are never
// inlined, so every '?' in where is a placeholder. ok is false when a part
// of e cannot be rendered: a property without a column, a comparison of
// two properties or two literals, an ordering (gt, ge, lt, le) of strings,
// a string literal with non-ASCII characters (SQLite's lower() folds ASCII
// only, PostgreSQL's more) or NUL, a function whose first argument is not a
// column or whose second is not a string literal (substringof: the other
// way round). The caller then evaluates e in memory with Eval. A nil e
// renders as "" with ok true.
//
// The SQL selects the same rows as Eval: comparisons are two-valued
// ("col IS NOT NULL AND ..."), functions of a NULL column are NULL and
// and/or/not are SQL's, like Eval's; strings compare as lower(col) = ?
// with the literal lowered; startswith, endswith, contains and
// substringof are lower(col) LIKE ? ESCAPE '\' with %, _ and \ escaped.
// Arguments are string, bool, float64 and time.Time (UTC, whole
// microseconds: stored times have microsecond precision, and a finer
// literal is rendered to select what it selects among those): a backend
// that stores times otherwise (SQLite as Unix microseconds) converts the
// time.Time arguments, and number columns should be floating point
// (PostgreSQL types a parameter after its column). SQLite and PostgreSQL
// accept the SQL.
func ToSQL(e Expr, columns map[string]string) (where string, args []any, ok bool) {
	if e == nil {
		return "", nil, true
	}
	r := sqlRenderer{columns: columns}
	if !r.cond(e) {
		return "", nil, false
	}
	return r.b.String(), r.args, true
}

type sqlRenderer struct {
	columns map[string]string
	b       strings.Builder
	args    []any
}

func (r *sqlRenderer) arg(v any) {
	r.b.WriteByte('?')
	r.args = append(r.args, v)
}

func (r *sqlRenderer) cond(e Expr) bool {
	switch e := e.(type) {
	case *Logical:
		r.b.WriteByte('(')
		if !r.cond(e.L) {
			return false
		}
		r.b.WriteString(map[string]string{"and": " AND ", "or": " OR "}[e.Op])
		if !r.cond(e.R) {
			return false
		}
		r.b.WriteByte(')')
		return true
	case *Not:
		r.b.WriteString("NOT (")
		if !r.cond(e.X) {
			return false
		}
		r.b.WriteByte(')')
		return true
	case *Compare:
		return r.compare(e)
	case *Call:
		return r.like(e)
	case *Property:
		col, ok := r.columns[e.Field.Name]
		if !ok || e.Field.Type != Bool {
			return false
		}
		r.b.WriteString(col + " = ")
		r.arg(true)
		return true
	case *Literal:
		if b, ok := e.Value.(bool); ok {
			if b {
				r.b.WriteString("1 = 1")
			} else {
				r.b.WriteString("1 = 0")
			}
			return true
		}
	}
	return false
}

// column returns the column of a property operand, looking through
// tolower and toupper (string comparisons ignore case anyway).
func (r *sqlRenderer) column(e Expr) (string, Field, bool) {
	for {
		switch x := e.(type) {
		case *Property:
			col, ok := r.columns[x.Field.Name]
			return col, x.Field, ok
		case *Call:
			if (x.Func != "tolower" && x.Func != "toupper") || len(x.Args) != 1 {
				return "", Field{}, false
			}
			e = x.Args[0]
		default:
			return "", Field{}, false
		}
	}
}

var mirrored = map[string]string{"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}

var sqlOps = map[string]string{"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

func (r *sqlRenderer) compare(c *Compare) bool {
	op, left, right := c.Op, c.L, c.R
	if _, isLit := left.(*Literal); isLit {
		op, left, right = mirrored[op], right, left
	}
	col, f, ok := r.column(left)
	lit, isLit := right.(*Literal)
	if !ok || !isLit {
		return false
	}
	if lit.Value == nil {
		r.b.WriteString(col)
		if op == "eq" {
			r.b.WriteString(" IS NULL")
		} else {
			r.b.WriteString(" IS NOT NULL")
		}
		return true
	}
	bare := col
	var v any
	switch val := lit.Value.(type) {
	case string:
		if f.Type != String || !sqlText(val) || (op != "eq" && op != "ne") {
			return false
		}
		col, v = "lower("+col+")", lowerASCII(val)
	case float64:
		if f.Type != Number || val != val {
			return false
		}
		v = val
	case bool:
		if f.Type != Bool {
			return false
		}
		v = val
	case time.Time:
		if f.Type != Time {
			return false
		}
		v = val.UTC()
		if floor := val.Truncate(time.Microsecond); !floor.Equal(val) {
			// Stored times have microseconds (SQLite's integers,
			// PostgreSQL's timestamptz): no stored time equals a finer
			// literal, and the orderings compare with the microsecond
			// below it.
			switch op {
			case "eq":
				r.b.WriteString("1 = 0")
				return true
			case "ne":
				r.b.WriteString("1 = 1")
				return true
			case "gt", "ge":
				op = "gt"
			default:
				op = "le"
			}
			v = floor.UTC()
		}
	default:
		return false
	}
	if op == "ne" {
		r.b.WriteString("(" + bare + " IS NULL OR " + col + " <> ")
	} else {
		r.b.WriteString("(" + bare + " IS NOT NULL AND " + col + " " + sqlOps[op] + " ")
	}
	r.arg(v)
	r.b.WriteByte(')')
	return true
}

func (r *sqlRenderer) like(c *Call) bool {
	if len(c.Args) != 2 {
		return false
	}
	subject, pattern := c.Args[0], c.Args[1]
	if c.Func == "substringof" {
		subject, pattern = pattern, subject
	}
	col, f, ok := r.column(subject)
	lit, isLit := pattern.(*Literal)
	if !ok || !isLit || f.Type != String {
		return false
	}
	s, isStr := lit.Value.(string)
	if !isStr || !sqlText(s) {
		return false
	}
	pat := likeEscaper.Replace(lowerASCII(s))
	switch c.Func {
	case "startswith":
		pat += "%"
	case "endswith":
		pat = "%" + pat
	case "contains", "substringof":
		pat = "%" + pat + "%"
	default:
		return false
	}
	r.b.WriteString("lower(" + col + ") LIKE ")
	r.arg(pat)
	r.b.WriteString(` ESCAPE '\'`)
	return true
}

// sqlText reports whether a string literal can be a SQL argument that
// compares as Eval does: ASCII (lower() folds alike in both databases)
// without NUL (PostgreSQL refuses it in text, SQLite's LIKE stops at it).
func sqlText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
