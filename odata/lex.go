package odata

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tTime
	tLParen
	tRParen
	tComma
	tSlash
)

type token struct {
	kind tokKind
	pos  int    // offset in the parser's src
	text string // source text (identifiers: as written)
	str  string // tString: the unescaped value
	num  float64
	tm   time.Time
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return "'" + clip(t.str, 40) + "'"
	case tLParen, tRParen, tComma, tSlash:
		return "'" + t.text + "'"
	}
	return "'" + clip(t.text, 40) + "'"
}

// lexer scans src from pos; errors carry positions relative to base.
type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// next returns the next token or a message and the offset it applies to.
func (l *lexer) next() (token, int, string) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, 0, ""
	}
	c := l.src[l.pos]
	switch {
	case c == '(':
		l.pos++
		return token{kind: tLParen, pos: start, text: "("}, 0, ""
	case c == ')':
		l.pos++
		return token{kind: tRParen, pos: start, text: ")"}, 0, ""
	case c == ',':
		l.pos++
		return token{kind: tComma, pos: start, text: ","}, 0, ""
	case c == '/':
		l.pos++
		return token{kind: tSlash, pos: start, text: "/"}, 0, ""
	case c == '\'':
		s, ok := l.quoted()
		if !ok {
			return token{}, start, "unterminated string literal (a quote inside a string is written '')"
		}
		return token{kind: tString, pos: start, text: l.src[start:l.pos], str: s}, 0, ""
	case isDigit(c) || (c == '-' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1])):
		return l.number()
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		text := l.src[start:l.pos]
		// datetime'...' and datetimeoffset'...' literals.
		if l.pos < len(l.src) && l.src[l.pos] == '\'' {
			lt := lowerASCII(text)
			if lt != "datetime" && lt != "datetimeoffset" {
				return token{}, start, fmt.Sprintf("unexpected quote after '%s'", clip(text, 40))
			}
			q := l.pos
			s, ok := l.quoted()
			if !ok {
				return token{}, q, "unterminated datetime literal"
			}
			tm, ok := parseTime(s)
			if !ok {
				return token{}, q + 1, fmt.Sprintf("'%s' is not an ISO 8601 date-time such as 2024-05-01T12:00:00Z", clip(s, 60))
			}
			return token{kind: tTime, pos: start, text: l.src[start:l.pos], tm: tm}, 0, ""
		}
		return token{kind: tIdent, pos: start, text: text}, 0, ""
	}
	return token{}, start, fmt.Sprintf("unexpected character %q", rune(c))
}

// quoted reads a single-quoted string at l.pos (” is a quote).
func (l *lexer) quoted() (string, bool) {
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		l.pos++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if l.pos < len(l.src) && l.src[l.pos] == '\'' {
			b.WriteByte('\'')
			l.pos++
			continue
		}
		return b.String(), true
	}
	return "", false
}

// number reads a number, or a date-time (2024-05-01T12:00:00Z) or date
// (2024-05-01) written without quotes.
func (l *lexer) number() (token, int, string) {
	start := l.pos
	if l.src[l.pos] == '-' {
		l.pos++
	}
	d := l.pos
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
	if l.pos-d == 4 && d == start && l.pos+1 < len(l.src) && l.src[l.pos] == '-' && isDigit(l.src[l.pos+1]) {
		for l.pos < len(l.src) && (isIdentChar(l.src[l.pos]) || strings.IndexByte(":.+-", l.src[l.pos]) >= 0) {
			l.pos++
		}
		text := l.src[start:l.pos]
		tm, ok := parseTime(text)
		if !ok {
			return token{}, start, fmt.Sprintf("'%s' is not an ISO 8601 date-time such as 2024-05-01T12:00:00Z", clip(text, 60))
		}
		return token{kind: tTime, pos: start, text: text, tm: tm}, 0, ""
	}
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		f := l.pos
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos == f {
			return token{}, start, "a number needs digits after the decimal point"
		}
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '+' || l.src[l.pos] == '-') {
			l.pos++
		}
		e := l.pos
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos == e {
			return token{}, start, "a number needs digits in its exponent"
		}
	}
	if l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		return token{}, start, fmt.Sprintf("'%s' is not a number", clip(l.src[start:l.pos], 40))
	}
	text := l.src[start:l.pos]
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) {
		return token{}, start, fmt.Sprintf("'%s' is not a number in range", clip(text, 40))
	}
	return token{kind: tNumber, pos: start, text: text, num: v}, 0, ""
}

// parseTime accepts an RFC 3339 date-time (seconds and offset optional
// fractions) or a date, which means midnight UTC.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
