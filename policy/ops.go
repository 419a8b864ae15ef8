package policy

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// opKind enumerates the condition operators.
type opKind uint8

const (
	opEquals opKind = iota + 1
	opNotEquals
	opLike
	opNotLike
	opMatch
	opNotMatch
	opMatchInsensitively
	opNotMatchInsensitively
	opContains
	opNotContains
	opIn
	opNotIn
	opContainsKey
	opNotContainsKey
	opLess
	opLessOrEquals
	opGreater
	opGreaterOrEquals
	opExists
)

// opNames are the operator keys (matched case-insensitively) and the names
// shown in evaluation details.
var opNames = [...]string{
	opEquals: "Equals", opNotEquals: "NotEquals", opLike: "Like", opNotLike: "NotLike",
	opMatch: "Match", opNotMatch: "NotMatch", opMatchInsensitively: "MatchInsensitively",
	opNotMatchInsensitively: "NotMatchInsensitively", opContains: "Contains", opNotContains: "NotContains",
	opIn: "In", opNotIn: "NotIn", opContainsKey: "ContainsKey", opNotContainsKey: "NotContainsKey",
	opLess: "Less", opLessOrEquals: "LessOrEquals", opGreater: "Greater", opGreaterOrEquals: "GreaterOrEquals",
	opExists: "Exists",
}

func lookupOp(key string) (opKind, bool) {
	for i, n := range opNames {
		if n != "" && strings.EqualFold(n, key) {
			return opKind(i), true
		}
	}
	return 0, false
}

// negated reports whether the operator is the negation of a base operator,
// and returns the base.
func (k opKind) base() (opKind, bool) {
	switch k {
	case opNotEquals:
		return opEquals, true
	case opNotLike:
		return opLike, true
	case opNotMatch:
		return opMatch, true
	case opNotMatchInsensitively:
		return opMatchInsensitively, true
	case opNotContains:
		return opContains, true
	case opNotIn:
		return opIn, true
	case opNotContainsKey:
		return opContainsKey, true
	}
	return k, false
}

// operator is a compiled operator: the base test, whether it is negated,
// and (for constant operands) a precompiled matcher.
type operator struct {
	kind    opKind
	base    opKind
	negate  bool
	pattern *pattern // like/match with a constant operand
}

// test applies the operator to one subject value. Missing (undefined or
// null) subjects make every positive operator false and every negated one
// true; exists tests presence.
func (o *operator) test(subj, operand value.Value) (bool, error) {
	if o.kind == opExists {
		want, err := existsOperand(operand)
		if err != nil {
			return false, err
		}
		return present(subj) == want, nil
	}
	if !present(subj) {
		if o.base == opEquals {
			// A missing field reads as null, and null equals null and "";
			// an undefined value (the missing property of an array member)
			// equals only null.
			var eq bool
			if subj.Kind() == value.Null {
				eq = !present(operand) || (operand.Kind() == value.String && operand.Str() == "")
			} else {
				eq = operand.Kind() == value.Null
			}
			return eq != o.negate, nil
		}
		return o.negate, nil
	}
	r, err := o.testBase(subj, operand)
	if err != nil {
		return false, err
	}
	return r != o.negate, nil
}

func present(v value.Value) bool { return v.Kind() > value.Null }

func existsOperand(v value.Value) (bool, error) {
	b, err := expr.Truth("exists", v)
	if err != nil {
		return false, expr.Errorf("the operand of 'exists' must be true or false, got %s", v.JSON())
	}
	return b, nil
}

func (o *operator) testBase(subj, operand value.Value) (bool, error) {
	switch o.base {
	case opEquals:
		return looseEqual(subj, operand), nil
	case opIn:
		if operand.Kind() != value.Array {
			if operand.IsNullish() {
				return false, nil
			}
			return false, expr.Errorf("the operand of '%s' must be an array, got %s", opNames[o.kind], operand.Kind())
		}
		for _, e := range operand.Elems() {
			if looseEqual(subj, e) {
				return true, nil
			}
		}
		return false, nil
	case opLike, opMatch, opMatchInsensitively:
		s, ok := scalarString(subj)
		if !ok {
			return false, nil
		}
		p := o.pattern
		if p == nil {
			ps, ok := scalarString(operand)
			if !ok {
				return false, expr.Errorf("the operand of '%s' must be a string, got %s", opNames[o.kind], operand.Kind())
			}
			p = compilePattern(o.base, ps)
		}
		return p.match(s), nil
	case opContains:
		switch subj.Kind() {
		case value.String:
			t, ok := scalarString(operand)
			if !ok {
				return false, nil
			}
			return containsFold(subj.Str(), t), nil
		case value.Array:
			for _, e := range subj.Elems() {
				if looseEqual(e, operand) {
					return true, nil
				}
			}
			return false, nil
		case value.Object:
			t, ok := scalarString(operand)
			if !ok {
				return false, nil
			}
			_, has := subj.Get(t)
			return has, nil
		default:
			s, _ := scalarString(subj)
			t, ok := scalarString(operand)
			return ok && containsFold(s, t), nil
		}
	case opContainsKey:
		if subj.Kind() != value.Object {
			return false, nil
		}
		t, ok := scalarString(operand)
		if !ok {
			return false, nil
		}
		_, has := subj.Get(t)
		return has, nil
	case opLess, opLessOrEquals, opGreater, opGreaterOrEquals:
		if !present(operand) {
			return false, nil
		}
		c, err := compareOrdered(subj, operand, opNames[o.kind])
		if err != nil {
			return false, err
		}
		switch o.base {
		case opLess:
			return c < 0, nil
		case opLessOrEquals:
			return c <= 0, nil
		case opGreater:
			return c > 0, nil
		default:
			return c >= 0, nil
		}
	}
	return false, nil
}

// looseEqual implements the equality of conditions: strings compare
// case-insensitively; a boolean equals the strings "true"/"false"; a number
// equals a string holding the same number; numbers compare numerically;
// arrays and objects compare deeply with the same rules.
func looseEqual(a, b value.Value) bool {
	ak, bk := a.Kind(), b.Kind()
	if ak <= value.Null || bk <= value.Null {
		return ak <= value.Null && bk <= value.Null
	}
	if a.IsNumber() && b.IsNumber() {
		if ak == value.Int && bk == value.Int {
			return a.Int() == b.Int()
		}
		return a.Float() == b.Float()
	}
	if ak == value.String && bk == value.String {
		return value.EqualFold(a.Str(), b.Str())
	}
	if ak == value.String || bk == value.String {
		s, o := a, b
		if bk == value.String {
			s, o = b, a
		}
		switch o.Kind() {
		case value.Bool:
			if o.Bool() {
				return value.EqualFold(s.Str(), "true")
			}
			return value.EqualFold(s.Str(), "false")
		case value.Int, value.Float:
			f, err := strconv.ParseFloat(strings.TrimSpace(s.Str()), 64)
			return err == nil && f == o.Float()
		}
		return false
	}
	if ak != bk {
		return false
	}
	switch ak {
	case value.Bool:
		return a.Bool() == b.Bool()
	case value.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i, e := range a.Elems() {
			if !looseEqual(e, b.Index(i)) {
				return false
			}
		}
		return true
	case value.Object:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			k, v := a.MemberAt(i)
			w, ok := b.Get(k)
			if !ok || !looseEqual(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// scalarString gives the string form of a scalar (strings as is, booleans
// "true"/"false", numbers in canonical form); false for other kinds.
func scalarString(v value.Value) (string, bool) {
	switch v.Kind() {
	case value.String:
		return v.Str(), true
	case value.Bool:
		if v.Bool() {
			return "true", true
		}
		return "false", true
	case value.Int:
		return strconv.FormatInt(v.Int(), 10), true
	case value.Float:
		return string(value.AppendFloat(nil, v.Float())), true
	}
	return "", false
}

// containsFold reports whether t is a case-insensitive substring of s.
func containsFold(s, t string) bool {
	if len(t) == 0 {
		return true
	}
	if len(t) > len(s) {
		return false
	}
	if isASCII(s) && isASCII(t) {
		for i := 0; i+len(t) <= len(s); i++ {
			if value.EqualFold(s[i:i+len(t)], t) {
				return true
			}
		}
		return false
	}
	return strings.Contains(value.Fold(s), value.Fold(t))
}

func isASCII(s string) bool { return value.IsASCII(s) }

// compareOrdered compares two values for less/greater: numbers
// numerically; strings that both parse as ISO 8601 date-times
// chronologically; other strings case-insensitively (ordinal on the
// lower-cased forms). Anything else is a type mismatch error, as in Azure.
func compareOrdered(a, b value.Value, op string) (int, error) {
	if a.IsNumber() && b.IsNumber() {
		x, y := a.Float(), b.Float()
		if a.Kind() == value.Int && b.Kind() == value.Int {
			x, y := a.Int(), b.Int()
			switch {
			case x < y:
				return -1, nil
			case x > y:
				return 1, nil
			}
			return 0, nil
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	}
	if a.Kind() == value.String && b.Kind() == value.String {
		if ta, ok := parseDateTime(a.Str()); ok {
			if tb, ok := parseDateTime(b.Str()); ok {
				return ta.Compare(tb), nil
			}
		}
		return compareFold(a.Str(), b.Str()), nil
	}
	// A number against a numeric string compares numerically.
	if a.IsNumber() && b.Kind() == value.String {
		if f, err := strconv.ParseFloat(b.Str(), 64); err == nil {
			return compareOrdered(a, value.FloatValue(f), op)
		}
	}
	if b.IsNumber() && a.Kind() == value.String {
		if f, err := strconv.ParseFloat(a.Str(), 64); err == nil {
			return compareOrdered(value.FloatValue(f), b, op)
		}
	}
	return 0, expr.Errorf("cannot compare %s with %s using '%s'", a.Kind(), b.Kind(), op)
}

func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca >= utf8.RuneSelf || cb >= utf8.RuneSelf {
			return strings.Compare(value.Fold(a[i:]), value.Fold(b[i:]))
		}
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

// parseDateTime recognises ISO 8601 date-times (with a date part of the
// form yyyy-mm-dd) as Azure's date comparisons do.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// pattern is a precompiled like/match pattern.
type pattern struct {
	kind  opKind // opLike, opMatch, opMatchInsensitively
	text  string
	parts []string // like without '?': literal parts between '*' (folded)
	glob  []rune   // like with '?': the folded pattern
	runes []rune   // match: pattern runes (folded for matchInsensitively)
}

func compilePattern(kind opKind, text string) *pattern {
	p := &pattern{kind: kind, text: text}
	switch kind {
	case opLike:
		if strings.ContainsRune(text, '?') {
			p.glob = []rune(value.Fold(text))
		} else {
			p.parts = strings.Split(value.Fold(text), "*")
		}
	case opMatchInsensitively:
		p.runes = []rune(value.Fold(text))
	default:
		p.runes = []rune(text)
	}
	return p
}

// globMatch matches s against a pattern where '*' is any run of characters
// and '?' exactly one character (both sides already folded).
func globMatch(pat, s []rune) bool {
	px, sx := 0, 0
	star, mark := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pat) && (pat[px] == '?' || (pat[px] != '*' && pat[px] == s[sx])):
			px++
			sx++
		case px < len(pat) && pat[px] == '*':
			star, mark = px, sx
			px++
		case star >= 0:
			px = star + 1
			mark++
			sx = mark
		default:
			return false
		}
	}
	for px < len(pat) && pat[px] == '*' {
		px++
	}
	return px == len(pat)
}

func (p *pattern) match(s string) bool {
	if p.kind == opLike {
		if p.glob != nil {
			return globMatch(p.glob, []rune(value.Fold(s)))
		}
		return likeMatch(p.parts, s)
	}
	if p.kind == opMatchInsensitively && !isASCII(s) {
		s = value.Fold(s)
	}
	i := 0
	for _, r := range s {
		if i >= len(p.runes) {
			return false
		}
		pr := p.runes[i]
		i++
		switch pr {
		case '#':
			if r < '0' || r > '9' {
				return false
			}
		case '?':
			if !unicode.IsLetter(r) {
				return false
			}
		case '.':
		default:
			if p.kind == opMatchInsensitively {
				if r != pr && unicode.ToLower(r) != unicode.ToLower(pr) && unicode.ToUpper(r) != unicode.ToUpper(pr) {
					return false
				}
			} else if r != pr {
				return false
			}
		}
	}
	return i == len(p.runes)
}

// likeMatch matches s against '*'-separated literal parts, case-insensitively.
func likeMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return value.EqualFold(s, parts[0])
	}
	if isASCII(s) {
		// The folded subject would be s in lower case: match without
		// building it (parts are folded; non-ASCII parts cannot match).
		return likeMatchASCII(parts, s)
	}
	// Work on the folded subject only when folding changes it.
	if hasUpper(s) {
		s = value.Fold(s)
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}

// likeMatchASCII is likeMatch for an ASCII subject, comparing ASCII
// letters case-insensitively instead of lower-casing the subject.
func likeMatchASCII(parts []string, s string) bool {
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !asciiEqualFold(s[:len(first)], first) || !asciiEqualFold(s[len(s)-len(last):], last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, part := range parts[1 : len(parts)-1] {
		i := indexASCIIFold(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}

// indexASCIIFold is strings.Index(lower(s), sub) for an ASCII s and a
// lower-case sub.
func indexASCIIFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
