package odata

import (
	"fmt"
	"strings"
)

// ParseFilter parses an OData v4 $filter expression over fields. An empty
// (or blank) filter is a nil Expr, which Eval treats as true. Errors are
// *Error with Param "$filter".
func ParseFilter(s string, fields *Fields) (Expr, error) {
	if len(s) > MaxLen {
		return nil, &Error{Param: "$filter", Pos: MaxLen, Msg: fmt.Sprintf("the value is %d bytes long; at most %d are accepted", len(s), MaxLen)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := newParser("$filter", s, 0, fields)
	e, err := p.condition()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf(p.tok.pos, "unexpected %s after a complete expression (expected 'and', 'or' or the end)", p.tok.describe())
	}
	return e, nil
}

type parser struct {
	param  string
	src    string
	base   int // offset of src in the parameter value
	fields *Fields
	lex    lexer
	tok    token
	err    *Error
	depth  int
}

func newParser(param, src string, base int, fields *Fields) *parser {
	p := &parser{param: param, src: src, base: base, fields: fields, lex: lexer{src: src}}
	p.advance()
	return p
}

func (p *parser) errf(pos int, format string, args ...any) *Error {
	return &Error{Param: p.param, Pos: p.base + pos, Msg: fmt.Sprintf(format, args...)}
}

// unknown is the error of the identifier t, which is not in fields.
func (p *parser) unknown(t token, fields *Fields) *Error {
	e := p.errf(t.pos, "unknown property '%s'. Properties: %s", clip(t.text, 60), fields.names())
	e.Property = t.text
	return e
}

// advance reads the next token; a lexical error is kept and reported by
// the next call that looks at the token.
func (p *parser) advance() {
	if p.err != nil {
		return
	}
	t, at, msg := p.lex.next()
	if msg != "" {
		p.err = p.errf(at, "%s", msg)
		p.tok = token{kind: tEOF, pos: at}
		return
	}
	p.tok = t
}

// keyword reports whether the current token is the identifier kw (ASCII
// case ignored).
func (p *parser) keyword(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errf(pos, "the expression is nested more than %d levels deep", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// condition parses an expression that must be boolean.
func (p *parser) condition() (Expr, error) {
	at := p.tok.pos
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if !isBoolean(e) {
		return nil, p.errf(at, "'%s' is a %s, not a condition (compare it, e.g. %s eq '...')", clip(e.String(), 60), typeOf(e), clip(e.String(), 60))
	}
	return e, nil
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		at := p.tok.pos
		p.advance()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		if err := p.bothBoolean("or", l, r); err != nil {
			return nil, err
		}
		l = &Logical{At: at, Op: "or", L: l, R: r}
	}
	return l, p.lexErr()
}

func (p *parser) and() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		at := p.tok.pos
		p.advance()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		if err := p.bothBoolean("and", l, r); err != nil {
			return nil, err
		}
		l = &Logical{At: at, Op: "and", L: l, R: r}
	}
	return l, p.lexErr()
}

func (p *parser) lexErr() error {
	if p.err != nil {
		return p.err
	}
	return nil
}

func (p *parser) bothBoolean(op string, l, r Expr) error {
	for _, e := range []Expr{l, r} {
		if !isBoolean(e) {
			return p.errf(start(e), "'%s' is a %s; '%s' joins conditions", clip(e.String(), 60), typeOf(e), op)
		}
	}
	return nil
}

func (p *parser) unary() (Expr, error) {
	if p.keyword("not") {
		at := p.tok.pos
		if err := p.enter(at); err != nil {
			return nil, err
		}
		defer p.leave()
		p.advance()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if !isBoolean(x) {
			return nil, p.errf(start(x), "'%s' is a %s; 'not' takes a condition", clip(x.String(), 60), typeOf(x))
		}
		return &Not{At: at, X: x}, nil
	}
	return p.comparison()
}

var compareOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true}

func (p *parser) comparison() (Expr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tIdent {
		return l, p.lexErr()
	}
	op := lowerASCII(p.tok.text)
	switch {
	case op == "in":
		return nil, p.errf(p.tok.pos, "the 'in' operator is not part of OData 4.0: write (%s eq 'a' or %s eq 'b')", clip(l.String(), 40), clip(l.String(), 40))
	case op == "has" || op == "add" || op == "sub" || op == "mul" || op == "div" || op == "mod":
		return nil, p.errf(p.tok.pos, "the '%s' operator is not supported; operators: eq, ne, gt, ge, lt, le, and, or, not", op)
	case op == "and" || op == "or":
		return l, nil
	case !compareOps[op]:
		return nil, p.errf(p.tok.pos, "unexpected '%s': expected an operator (eq, ne, gt, ge, lt, le, and, or)", clip(p.tok.text, 40))
	}
	at := p.tok.pos
	p.advance()
	rt := p.tok
	r, err := p.operand()
	if e, ok := err.(*Error); ok && e.Property != "" && e.Pos == p.base+rt.pos {
		if _, prop := l.(*Property); prop { // name eq x: a value meant
			e.Msg += fmt.Sprintf("; a string value is written in single quotes: '%s'", clip(rt.text, 40))
		}
	}
	if err != nil {
		return nil, err
	}
	c := &Compare{At: at, Op: op, L: l, R: r}
	if err := p.checkCompare(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCompare checks the operand types of c; a string literal compared
// with a datetime is read as a date-time.
func (p *parser) checkCompare(c *Compare) error {
	for _, e := range []Expr{c.L, c.R} {
		switch e.(type) {
		case *Logical, *Not, *Compare:
			return p.errf(start(e), "'%s' is a condition; '%s' compares a property or a function with a value", clip(e.String(), 60), c.Op)
		}
		if call, ok := e.(*Call); ok && typeOf(call) == Bool {
			return p.errf(start(e), "'%s' is a condition; '%s' compares a property or a function with a value", clip(e.String(), 60), c.Op)
		}
	}
	p.coerceTime(c.L, c.R)
	p.coerceTime(c.R, c.L)
	lt, rt := typeOf(c.L), typeOf(c.R)
	if lt == 0 || rt == 0 {
		if c.Op != "eq" && c.Op != "ne" {
			return p.errf(c.At, "null can only be compared with eq or ne")
		}
		return nil
	}
	if lt != rt {
		return p.errf(start(c.R), "'%s' is a %s but '%s' is a %s", clip(c.L.String(), 60), lt, clip(c.R.String(), 60), rt)
	}
	if lt == Bool && c.Op != "eq" && c.Op != "ne" {
		return p.errf(c.At, "booleans can only be compared with eq or ne")
	}
	return nil
}

// coerceTime turns a string literal compared with a datetime operand into
// a datetime literal, when it is one ('2024-05-01T00:00:00Z').
func (p *parser) coerceTime(other, e Expr) {
	lit, ok := e.(*Literal)
	if !ok || lit.Type != String || typeOf(other) != Time {
		return
	}
	if t, ok := parseTime(lit.Value.(string)); ok {
		lit.Type, lit.Value = Time, t
	}
}

// functions are the functions and their numbers of arguments:
// substringof(needle, haystack) is OData 2's contains(haystack, needle),
// which ARM's $filter still uses.
var functions = map[string]int{"startswith": 2, "endswith": 2, "contains": 2, "substringof": 2, "tolower": 1, "toupper": 1}

func (p *parser) operand() (Expr, error) {
	if err := p.lexErr(); err != nil {
		return nil, err
	}
	t := p.tok
	switch t.kind {
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		p.advance()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.errf(p.tok.pos, "expected ')' to close the '(' at %d, found %s", p.base+t.pos, p.tok.describe())
		}
		p.advance()
		return e, nil
	case tString:
		p.advance()
		return &Literal{At: t.pos, Type: String, Value: t.str}, nil
	case tNumber:
		p.advance()
		return &Literal{At: t.pos, Type: Number, Value: t.num}, nil
	case tTime:
		p.advance()
		return &Literal{At: t.pos, Type: Time, Value: t.tm}, nil
	case tIdent:
		switch lowerASCII(t.text) {
		case "true", "false":
			p.advance()
			return &Literal{At: t.pos, Type: Bool, Value: lowerASCII(t.text) == "true"}, nil
		case "null":
			p.advance()
			return &Literal{At: t.pos}, nil
		}
		p.advance()
		if p.tok.kind == tLParen {
			return p.call(t)
		}
		if err := p.lexErr(); err != nil {
			return nil, err
		}
		f, ok := p.fields.Lookup(t.text)
		if !ok {
			return nil, p.unknown(t, p.fields)
		}
		return &Property{At: t.pos, Field: f}, nil
	case tEOF:
		return nil, p.errf(t.pos, "expected a property, a value or '(', found the end")
	}
	return nil, p.errf(t.pos, "expected a property, a value or '(', found %s", t.describe())
}

func (p *parser) call(name token) (Expr, error) {
	fn := lowerASCII(name.text)
	n, ok := functions[fn]
	if !ok {
		return nil, p.errf(name.pos, "unknown function '%s'. Functions: contains, endswith, startswith, substringof, tolower, toupper", clip(name.text, 40))
	}
	if err := p.enter(name.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	p.advance() // (
	c := &Call{At: name.pos, Func: fn}
	for {
		if p.tok.kind == tRParen && len(c.Args) == 0 {
			break
		}
		a, err := p.or()
		if err != nil {
			return nil, err
		}
		if t := typeOf(a); isBoolean(a) || (t != String && t != 0) {
			return nil, p.errf(start(a), "%s takes strings; '%s' is a %s", fn, clip(a.String(), 60), t)
		}
		c.Args = append(c.Args, a)
		if p.tok.kind != tComma {
			break
		}
		p.advance()
	}
	if err := p.lexErr(); err != nil {
		return nil, err
	}
	if p.tok.kind != tRParen {
		return nil, p.errf(p.tok.pos, "expected ',' or ')' in the arguments of %s, found %s", fn, p.tok.describe())
	}
	p.advance()
	if len(c.Args) != n {
		return nil, p.errf(name.pos, "%s takes %d argument(s), got %d", fn, n, len(c.Args))
	}
	return c, nil
}

// start is the offset where e's text begins (Compare and Logical nodes are
// positioned at their operator).
func start(e Expr) int {
	for {
		switch x := e.(type) {
		case *Compare:
			e = x.L
		case *Logical:
			e = x.L
		default:
			return e.Pos()
		}
	}
}
