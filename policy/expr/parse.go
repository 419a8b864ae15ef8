package expr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// MaxDepth bounds the nesting of calls, properties and indexes (Azure
// documents a limit of 64 nested function levels).
const MaxDepth = 64

// MaxLength is the longest expression accepted (Azure: 81920 characters).
const MaxLength = 81920

// SyntaxError is an expression parse error.
type SyntaxError struct {
	Expr   string // the whole expression text (without brackets)
	Offset int    // byte offset of the error in Expr
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid template expression at offset %d: %s", e.Offset, e.Msg)
}

// ParseString parses a JSON string value that is a template expression
// ("[concat(...)]"), stripping the brackets. Offsets in errors and nodes are
// relative to the text inside the brackets.
func ParseString(s string) (Node, error) {
	if !IsExpression(s) {
		return nil, &SyntaxError{Expr: s, Msg: "not a template expression (must start with '[' and end with ']')"}
	}
	return Parse(s[1 : len(s)-1])
}

// Parse parses expression text (without the surrounding brackets).
func Parse(src string) (Node, error) {
	if len(src) > MaxLength {
		return nil, &SyntaxError{Expr: src, Msg: fmt.Sprintf("expression longer than %d characters", MaxLength)}
	}
	p := &parser{src: src}
	p.skip()
	if p.pos >= len(p.src) {
		return nil, p.errf(p.pos, "empty expression")
	}
	n := p.expr(0)
	if p.err != nil {
		return nil, p.err
	}
	p.skip()
	if p.pos < len(p.src) {
		return nil, p.errf(p.pos, "unexpected %q after the end of the expression", p.src[p.pos:p.pos+1])
	}
	return n, nil
}

type parser struct {
	src string
	pos int
	err *SyntaxError
}

func (p *parser) errf(at int, format string, args ...any) *SyntaxError {
	if p.err == nil {
		p.err = &SyntaxError{Expr: p.src, Offset: at, Msg: fmt.Sprintf(format, args...)}
	}
	return p.err
}

func (p *parser) skip() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || ('0' <= c && c <= '9')
}

func (p *parser) expr(depth int) Node {
	if depth > MaxDepth {
		p.errf(p.pos, "expression nested deeper than %d levels", MaxDepth)
		return nil
	}
	n := p.primary(depth)
	if p.err != nil {
		return nil
	}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			return n
		}
		switch p.src[p.pos] {
		case '.':
			at := p.pos
			p.pos++
			p.skip()
			start := p.pos
			for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
				p.pos++
			}
			if start == p.pos {
				p.errf(p.pos, "expected a property name after '.'")
				return nil
			}
			n = &Prop{At: at, X: n, Name: p.src[start:p.pos]}
		case '[':
			at := p.pos
			p.pos++
			p.skip()
			idx := p.expr(depth + 1)
			if p.err != nil {
				return nil
			}
			p.skip()
			if p.pos >= len(p.src) || p.src[p.pos] != ']' {
				p.errf(p.pos, "expected ']' to close the index opened at offset %d", at)
				return nil
			}
			p.pos++
			n = &Index{At: at, X: n, Index: idx}
		default:
			return n
		}
		depth++
		if depth > MaxDepth {
			p.errf(p.pos, "expression nested deeper than %d levels", MaxDepth)
			return nil
		}
	}
}

func (p *parser) primary(depth int) Node {
	p.skip()
	if p.pos >= len(p.src) {
		p.errf(p.pos, "unexpected end of expression")
		return nil
	}
	at := p.pos
	c := p.src[p.pos]
	switch {
	case c == '\'':
		p.pos++
		var b strings.Builder
		for {
			if p.pos >= len(p.src) {
				p.errf(at, "unterminated string literal")
				return nil
			}
			ch := p.src[p.pos]
			if ch == '\'' {
				if p.pos+1 < len(p.src) && p.src[p.pos+1] == '\'' {
					b.WriteByte('\'')
					p.pos += 2
					continue
				}
				p.pos++
				break
			}
			b.WriteByte(ch)
			p.pos++
		}
		return &Lit{At: at, Value: value.StringValue(b.String())}
	case c == '-' || c == '+' || ('0' <= c && c <= '9'):
		p.pos++
		for p.pos < len(p.src) && '0' <= p.src[p.pos] && p.src[p.pos] <= '9' {
			p.pos++
		}
		isFloat := false
		if p.pos+1 < len(p.src) && p.src[p.pos] == '.' && '0' <= p.src[p.pos+1] && p.src[p.pos+1] <= '9' {
			isFloat = true
			p.pos++
			for p.pos < len(p.src) && '0' <= p.src[p.pos] && p.src[p.pos] <= '9' {
				p.pos++
			}
		}
		text := p.src[at:p.pos]
		if text == "-" || text == "+" {
			p.errf(at, "expected a number after %q", text)
			return nil
		}
		if isFloat {
			f, err := strconv.ParseFloat(text, 64)
			if err != nil {
				p.errf(at, "invalid number %q", text)
				return nil
			}
			return &Lit{At: at, Value: value.FloatValue(f)}
		}
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			p.errf(at, "integer %q out of range", text)
			return nil
		}
		return &Lit{At: at, Value: value.IntValue(i)}
	case isIdentStart(c):
		for p.pos < len(p.src) && (isIdentChar(p.src[p.pos]) || p.src[p.pos] == '.' && p.pos+1 < len(p.src) && isIdentStart(p.src[p.pos+1]) && p.nsCall()) {
			p.pos++
		}
		name := p.src[at:p.pos]
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != '(' {
			switch strings.ToLower(name) {
			case "true":
				return &Lit{At: at, Value: value.BoolValue(true)}
			case "false":
				return &Lit{At: at, Value: value.BoolValue(false)}
			case "null":
				return &Lit{At: at, Value: value.NullValue()}
			}
			p.errf(at, "expected '(' after function name %q", name)
			return nil
		}
		p.pos++ // (
		call := &Call{At: at, Name: name}
		p.skip()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			return call
		}
		for {
			arg := p.expr(depth + 1)
			if p.err != nil {
				return nil
			}
			call.Args = append(call.Args, arg)
			p.skip()
			if p.pos >= len(p.src) {
				p.errf(p.pos, "unexpected end of expression in the arguments of %s()", name)
				return nil
			}
			switch p.src[p.pos] {
			case ',':
				p.pos++
				continue
			case ')':
				p.pos++
				return call
			default:
				p.errf(p.pos, "expected ',' or ')' in the arguments of %s(), found %q", name, p.src[p.pos:p.pos+1])
				return nil
			}
		}
	default:
		p.errf(at, "unexpected %q", p.src[at:at+1])
		return nil
	}
}

// nsCall reports whether the '.' at p.pos is part of a namespaced function
// name (ns.fn(...)) rather than a property access: it is when the identifier
// after the dot is directly followed by '('.
func (p *parser) nsCall() bool {
	j := p.pos + 1
	for j < len(p.src) && isIdentChar(p.src[j]) {
		j++
	}
	return j < len(p.src) && p.src[j] == '('
}
