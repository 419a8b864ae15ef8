package expr

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/value"
)

// Limits enforced by the functions so that no expression can build
// unbounded values (Azure rejects template values past these sizes too).
const (
	// maxStringLength is the longest string a function may produce, in
	// UTF-16 code units (the unit ARM's .NET strings are measured in).
	maxStringLength = 131072
	// maxArrayLength is the largest array a function may produce.
	maxArrayLength = 131072
	// maxRangeCount is range()'s documented count limit.
	maxRangeCount = 10000
	// maxFormatWidth is .NET's limit on the alignment and index components
	// of a composite-format placeholder.
	maxFormatWidth = 1000000
)

// failf returns an *EvalError attributed to function fn.
func failf(fn, format string, args ...any) error {
	return &EvalError{Func: fn, Msg: fmt.Sprintf(format, args...)}
}

// argTypeError reports an argument of the wrong type. i is zero-based.
func argTypeError(fn string, i int, want string, got value.Value) error {
	return &EvalError{Func: fn, Msg: fmt.Sprintf("argument %d must be %s, got %s", i+1, want, describe(got))}
}

// kindOf is v.Kind() with Undefined folded into Null: a missing field
// behaves like JSON null in every function.
func kindOf(v value.Value) value.Kind {
	if k := v.Kind(); k != value.Undefined {
		return k
	}
	return value.Null
}

// nullish returns JSON null for an Undefined value and v otherwise.
func nullish(v value.Value) value.Value {
	if v.Kind() == value.Undefined {
		return value.NullValue()
	}
	return v
}

// strArg returns argument i as a string or a type error.
func strArg(fn string, args []value.Value, i int) (string, error) {
	v := args[i]
	if v.Kind() != value.String {
		return "", argTypeError(fn, i, "a string", v)
	}
	return v.Str(), nil
}

// intArg returns argument i as an integer. Floats with an integral value
// are accepted (JSON numbers such as 2.0); other floats are an error.
func intArg(fn string, args []value.Value, i int) (int64, error) {
	v := args[i]
	switch v.Kind() {
	case value.Int:
		return v.Int(), nil
	case value.Float:
		f := v.Float()
		if f == math.Trunc(f) && f >= -9.2e18 && f <= 9.2e18 {
			return int64(f), nil
		}
	}
	return 0, argTypeError(fn, i, "an integer", v)
}

// checkString fails when s is longer than maxStringLength UTF-16 units.
func checkString(fn, s string) error {
	if len(s) <= maxStringLength {
		return nil
	}
	if n := utf16Len(s); n > maxStringLength {
		return failf(fn, "the result would be %d characters long, more than the limit of %d", n, maxStringLength)
	}
	return nil
}

// checkArrayLen fails when an array result would exceed maxArrayLength.
func checkArrayLen(fn string, n int) error {
	if n > maxArrayLength {
		return failf(fn, "the result would have %d elements, more than the limit of %d", n, maxArrayLength)
	}
	return nil
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// utf16Len is the length of s in UTF-16 code units (ARM's string length).
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// utf16Slice returns the UTF-16 code units [start, end) of s as a string.
// Callers guarantee 0 <= start <= end <= utf16Len(s).
func utf16Slice(s string, start, end int) string {
	if isASCII(s) {
		return s[start:end]
	}
	u := utf16.Encode([]rune(s))
	return string(utf16.Decode(u[start:end]))
}

// foldRunes returns s as runes mapped to lower case (simple case mapping),
// which keeps one rune per input rune.
func foldRunes(s string) []rune {
	rs := []rune(s)
	for i, r := range rs {
		rs[i] = unicode.ToLower(unicode.ToUpper(r))
	}
	return rs
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldString maps every rune of s to its simple lower-case fold, keeping
// one rune per input rune (so rune indexes carry over).
func foldString(s string) string {
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			if 'A' <= s[i] && s[i] <= 'Z' {
				b := []byte(s)
				for j := i; j < len(b); j++ {
					b[j] = asciiLower(b[j])
				}
				return string(b)
			}
		}
		return s
	}
	return string(foldRunes(s))
}

// indexFold returns the UTF-16 index of the first (or last) occurrence of
// needle in hay, compared case-insensitively, or -1. An empty needle is
// found at 0 (first) or at the end (last), as in .NET 5+.
func indexFold(hay, needle string, last bool) int {
	fh, fn := foldString(hay), foldString(needle)
	var at int
	if last {
		at = strings.LastIndex(fh, fn)
	} else {
		at = strings.Index(fh, fn)
	}
	if at < 0 {
		return -1
	}
	if isASCII(hay) {
		return at
	}
	// at is a byte offset in the folded string; count the runes before it
	// and convert that rune count to UTF-16 units of the original.
	runes := utf8.RuneCountInString(fh[:at])
	n := 0
	for _, r := range hay {
		if runes == 0 {
			break
		}
		runes--
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

// hasPrefixFold and hasSuffixFold compare case-insensitively.
func hasPrefixFold(s, prefix string) bool {
	if isASCII(s) && isASCII(prefix) {
		return len(prefix) <= len(s) && asciiEqualFold(s[:len(prefix)], prefix)
	}
	a, b := foldRunes(s), foldRunes(prefix)
	if len(b) > len(a) {
		return false
	}
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasSuffixFold(s, suffix string) bool {
	if isASCII(s) && isASCII(suffix) {
		return len(suffix) <= len(s) && asciiEqualFold(s[len(s)-len(suffix):], suffix)
	}
	a, b := foldRunes(s), foldRunes(suffix)
	if len(b) > len(a) {
		return false
	}
	off := len(a) - len(b)
	for i := range b {
		if a[off+i] != b[i] {
			return false
		}
	}
	return true
}

// compareStrings orders strings the way ARM's comparison functions do. ARM
// compares strings with .NET's culture-aware comparison (documented example:
// greater('A', 'a') is true), which we approximate: characters compare
// case-insensitively by code point first; when the strings are equal apart
// from case, the first case difference decides, lower case sorting first.
func compareStrings(a, b string) int {
	tie := 0
	ia, ib := 0, 0
	for ia < len(a) && ib < len(b) {
		ra, sa := rune(a[ia]), 1
		if ra >= utf8.RuneSelf {
			ra, sa = utf8.DecodeRuneInString(a[ia:])
		}
		rb, sb := rune(b[ib]), 1
		if rb >= utf8.RuneSelf {
			rb, sb = utf8.DecodeRuneInString(b[ib:])
		}
		ia += sa
		ib += sb
		if ra == rb {
			continue
		}
		la, lb := unicode.ToLower(ra), unicode.ToLower(rb)
		if la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		if tie == 0 {
			if unicode.IsLower(ra) {
				tie = -1
			} else {
				tie = 1
			}
		}
	}
	switch {
	case ia < len(a):
		return 1
	case ib < len(b):
		return -1
	}
	return tie
}

// equalValues is ARM's deep equality: same JSON types, numbers compared
// numerically, strings case-sensitively, object keys case-insensitively.
// A missing value equals null.
func equalValues(a, b value.Value) bool {
	return value.Equal(nullish(a), nullish(b))
}

// canonKey returns a string that is equal for two values exactly when
// equalValues reports them equal; used to deduplicate large arrays.
func canonKey(v value.Value) string {
	var b strings.Builder
	writeCanon(&b, v)
	return b.String()
}

func writeCanon(b *strings.Builder, v value.Value) {
	switch kindOf(v) {
	case value.Null:
		b.WriteByte('n')
	case value.Bool:
		if v.Bool() {
			b.WriteByte('t')
		} else {
			b.WriteByte('f')
		}
	case value.Int, value.Float:
		f := v.Float()
		switch {
		case v.Kind() == value.Int && (v.Int() >= 1<<53 || v.Int() <= -(1<<53)):
			b.WriteByte('I')
			b.WriteString(strconv.FormatInt(v.Int(), 10))
		case f == math.Trunc(f) && math.Abs(f) < 1<<53:
			b.WriteByte('i')
			b.WriteString(strconv.FormatInt(int64(f), 10))
		default:
			b.WriteByte('d')
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case value.String:
		b.WriteString(value.StringValue(v.Str()).JSON())
	case value.Array:
		b.WriteByte('[')
		for _, e := range v.Elems() {
			writeCanon(b, e)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case value.Object:
		ms := v.Members()
		// Keys compare case-insensitively; the last duplicate wins (Get).
		seen := make(map[string]int, len(ms))
		keys := make([]string, 0, len(ms))
		vals := make([]value.Value, 0, len(ms))
		for _, m := range ms {
			k := strings.ToLower(m.Key)
			if j, ok := seen[k]; ok {
				vals[j] = m.Value
				continue
			}
			seen[k] = len(keys)
			keys = append(keys, k)
			vals = append(vals, m.Value)
		}
		idx := make([]int, len(keys))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(x, y int) int { return strings.Compare(keys[x], keys[y]) })
		b.WriteByte('{')
		for _, i := range idx {
			b.WriteString(value.StringValue(keys[i]).JSON())
			b.WriteByte(':')
			writeCanon(b, vals[i])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	}
}

// valueSet tracks values seen so far, deduplicating by equalValues.
// Small sets compare directly; larger ones switch to canonical keys.
type valueSet struct {
	list []value.Value
	keys map[string]struct{}
}

// add inserts v and reports whether it was new.
func (s *valueSet) add(v value.Value) bool {
	if s.keys == nil && len(s.list) < 16 {
		for _, e := range s.list {
			if equalValues(e, v) {
				return false
			}
		}
		s.list = append(s.list, v)
		return true
	}
	if s.keys == nil {
		s.keys = make(map[string]struct{}, 2*len(s.list))
		for _, e := range s.list {
			s.keys[canonKey(e)] = struct{}{}
		}
		s.list = nil
	}
	k := canonKey(v)
	if _, ok := s.keys[k]; ok {
		return false
	}
	s.keys[k] = struct{}{}
	return true
}

// has reports whether v was added.
func (s *valueSet) has(v value.Value) bool {
	if s.keys == nil {
		for _, e := range s.list {
			if equalValues(e, v) {
				return true
			}
		}
		return false
	}
	_, ok := s.keys[canonKey(v)]
	return ok
}

// jsonSizeExceeds reports whether the JSON encoding of v would be longer
// than limit bytes, without building it (values may share structure).
func jsonSizeExceeds(v value.Value, limit int) bool {
	n := 0
	var walk func(v value.Value) bool
	walk = func(v value.Value) bool {
		switch v.Kind() {
		case value.String:
			n += len(v.Str()) + 2
		case value.Array:
			n += 2
			for _, e := range v.Elems() {
				n++
				if n > limit || !walk(e) {
					return false
				}
			}
		case value.Object:
			n += 2
			for i := 0; i < v.Len(); i++ {
				k, e := v.MemberAt(i)
				n += len(k) + 4
				if n > limit || !walk(e) {
					return false
				}
			}
		default:
			n += 24
		}
		return n <= limit
	}
	return !walk(v)
}

// toJSONString serializes v compactly, failing past the string limit.
func toJSONString(fn string, v value.Value) (string, error) {
	if jsonSizeExceeds(v, 4*maxStringLength) {
		return "", failf(fn, "the value is too large to convert to a string (limit %d characters)", maxStringLength)
	}
	s := string(value.AppendJSONByValue(nil, v)) // floats by value, as before literals were kept
	if err := checkString(fn, s); err != nil {
		return "", err
	}
	return s, nil
}

// objBuilder accumulates object members with case-insensitive keys: set
// replaces the value of an existing key (keeping its position and
// spelling) or appends. Large objects get a map index.
type objBuilder struct {
	ms  []value.Member
	idx map[string]int
}

func (o *objBuilder) find(key string) int {
	if o.idx == nil {
		if len(o.ms) < 16 {
			for i := range o.ms {
				if value.EqualFold(o.ms[i].Key, key) {
					return i
				}
			}
			return -1
		}
		o.idx = make(map[string]int, 2*len(o.ms))
		for i, m := range o.ms {
			o.idx[foldString(m.Key)] = i
		}
	}
	if i, ok := o.idx[foldString(key)]; ok {
		return i
	}
	return -1
}

// get returns the current value of key.
func (o *objBuilder) get(key string) (value.Value, bool) {
	if i := o.find(key); i >= 0 {
		return o.ms[i].Value, true
	}
	return value.Value{}, false
}

func (o *objBuilder) set(key string, v value.Value) {
	if i := o.find(key); i >= 0 {
		o.ms[i].Value = v
		return
	}
	if o.idx != nil {
		o.idx[foldString(key)] = len(o.ms)
	}
	o.ms = append(o.ms, value.Member{Key: key, Value: v})
}

func (o *objBuilder) value() value.Value { return value.ObjectValue(o.ms...) }
