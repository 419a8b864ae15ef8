package value

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
)

// Kind is the JSON type of a Value, plus Undefined for "not present".
type Kind uint8

// The kinds of values. Undefined is the zero Value: the result of looking up
// something that is not there. It is distinct from an explicit JSON null.
const (
	Undefined Kind = iota
	Null
	Bool
	Int
	Float
	String
	Array
	Object
)

var kindNames = [...]string{"Undefined", "Null", "Boolean", "Integer", "Float", "String", "Array", "Object"}

// String returns the ARM name of the kind (as used in ARM error messages).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is an immutable JSON value. Objects keep member order; member keys
// are compared ASCII-case-insensitively by Get. The zero Value is Undefined.
//
// For objects, list holds keys and values interleaved: list[2i] is the key
// (a String value) and list[2i+1] its value. For arrays, list holds the
// elements. Values are passed by value; copying one is cheap (56 bytes) and
// never copies its elements.
type Value struct {
	kind Kind
	// flags holds facts known about a String without looking at it
	// (strASCII); zero means nothing is known.
	flags uint8
	n     uint64 // Bool: 0/1; Int: int64 bits; Float: float64 bits
	// s is the String's text; for a Float decoded from JSON, the number's
	// literal ("0.1", "1e-400", "123456789012345678901"), which encoding
	// writes back unchanged ("" for computed floats).
	s    string
	list []Value
}

// strASCII: the string is known to hold only ASCII bytes (set by the
// decoder, which sees every byte anyway). Get uses it to skip the members
// whose key cannot match without reading them.
const strASCII uint8 = 1

// Constructors.

// NullValue returns JSON null.
func NullValue() Value { return Value{kind: Null} }

// BoolValue returns a JSON boolean.
func BoolValue(b bool) Value {
	if b {
		return Value{kind: Bool, n: 1}
	}
	return Value{kind: Bool}
}

// IntValue returns an integer.
func IntValue(i int64) Value { return Value{kind: Int, n: uint64(i)} }

// FloatValue returns a floating-point number.
func FloatValue(f float64) Value { return Value{kind: Float, n: math.Float64bits(f)} }

// StringValue returns a string.
func StringValue(s string) Value { return Value{kind: String, s: s} }

// ArrayValue returns an array holding elems (not copied: callers must not
// modify elems afterwards).
func ArrayValue(elems []Value) Value {
	if elems == nil {
		elems = []Value{}
	}
	return Value{kind: Array, list: elems}
}

// Member is one key/value pair of an object.
type Member struct {
	Key   string
	Value Value
}

// ObjectValue returns an object with the given members, in order.
func ObjectValue(members ...Member) Value {
	l := make([]Value, 0, 2*len(members))
	for _, m := range members {
		l = append(l, StringValue(m.Key), m.Value)
	}
	return Value{kind: Object, list: l}
}

// ObjectBuilder builds an object member by member with one allocation.
type ObjectBuilder struct{ l []Value }

// NewObjectBuilder returns a builder with room for n members.
func NewObjectBuilder(n int) ObjectBuilder { return ObjectBuilder{l: make([]Value, 0, 2*n)} }

// Add appends a member (keys are not checked for duplicates).
func (b *ObjectBuilder) Add(key string, v Value) {
	b.l = append(b.l, Value{kind: String, s: key}, v)
}

// Object returns the object built so far; the builder must not be used
// afterwards.
func (b *ObjectBuilder) Object() Value { return objectFromList(b.l) }

// objectFromList wraps an interleaved key/value list.
func objectFromList(l []Value) Value {
	if l == nil {
		l = []Value{}
	}
	return Value{kind: Object, list: l}
}

// Accessors.

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsUndefined reports whether v is the zero (absent) value.
func (v Value) IsUndefined() bool { return v.kind == Undefined }

// IsNullish reports whether v is null or undefined.
func (v Value) IsNullish() bool { return v.kind <= Null }

// Bool returns the boolean (false for other kinds).
func (v Value) Bool() bool { return v.kind == Bool && v.n != 0 }

// Int returns the integer value; floats are truncated.
func (v Value) Int() int64 {
	switch v.kind {
	case Int:
		return int64(v.n)
	case Float:
		return int64(math.Float64frombits(v.n))
	}
	return 0
}

// Float returns the numeric value as float64.
func (v Value) Float() float64 {
	switch v.kind {
	case Int:
		return float64(int64(v.n))
	case Float:
		return math.Float64frombits(v.n)
	}
	return 0
}

// IsNumber reports whether v is an Int or a Float.
func (v Value) IsNumber() bool { return v.kind == Int || v.kind == Float }

// Str returns the string ("" for other kinds).
func (v Value) Str() string {
	if v.kind == String {
		return v.s
	}
	return ""
}

// Len returns the number of elements of an array, members of an object or
// bytes of a string; 0 otherwise.
func (v Value) Len() int {
	switch v.kind {
	case Array:
		return len(v.list)
	case Object:
		return len(v.list) / 2
	case String:
		return len(v.s)
	}
	return 0
}

// Index returns array element i (Undefined if out of range or not an array).
func (v Value) Index(i int) Value {
	if v.kind != Array || i < 0 || i >= len(v.list) {
		return Value{}
	}
	return v.list[i]
}

// Elems returns the array elements (nil for non-arrays). Callers must not
// modify the returned slice.
func (v Value) Elems() []Value {
	if v.kind != Array {
		return nil
	}
	return v.list
}

// MemberAt returns the i-th member of an object.
func (v Value) MemberAt(i int) (key string, val Value) {
	return v.list[2*i].s, v.list[2*i+1]
}

// Members returns the object's members as a new slice (allocates).
func (v Value) Members() []Member {
	if v.kind != Object {
		return nil
	}
	out := make([]Member, 0, len(v.list)/2)
	for i := 0; i+1 < len(v.list); i += 2 {
		out = append(out, Member{Key: v.list[i].s, Value: v.list[i+1]})
	}
	return out
}

// Get returns the member named key, matched case-insensitively (ASCII
// folding, with Unicode simple folding for non-ASCII keys). When several
// members match, the last one wins (as in ARM's JSON handling).
func (v Value) Get(key string) (Value, bool) {
	if v.kind != Object {
		return Value{}, false
	}
	l := v.list
	// keyASCII: 0 not yet known, 1 ASCII, 2 not ASCII. An ASCII member key
	// of another length can only match a non-ASCII key (folding changes
	// the length of non-ASCII text only).
	keyASCII := 0
	for i := len(l) - 2; i >= 0; i -= 2 {
		k := &l[i]
		if len(k.s) != len(key) {
			if k.flags&strASCII != 0 {
				if keyASCII == 0 {
					keyASCII = 2
					if isASCII(key) {
						keyASCII = 1
					}
				}
				if keyASCII == 1 {
					continue
				}
			}
		} else if len(key) > 0 {
			// Two ASCII first bytes that differ other than in case (bit
			// 0x20) cannot fold to the same letter.
			if a, b := k.s[0], key[0]; a|b < utf8.RuneSelf && a|0x20 != b|0x20 {
				continue
			}
		}
		if EqualFold(k.s, key) {
			return l[i+1], true
		}
	}
	return Value{}, false
}

// GetExact returns the member named exactly key (case-sensitive).
func (v Value) GetExact(key string) (Value, bool) {
	if v.kind != Object {
		return Value{}, false
	}
	l := v.list
	for i := len(l) - 2; i >= 0; i -= 2 {
		if l[i].s == key {
			return l[i+1], true
		}
	}
	return Value{}, false
}

// Field is Get without the found flag (Undefined when absent).
func (v Value) Field(key string) Value {
	r, _ := v.Get(key)
	return r
}

// EqualFold reports whether a and b are equal under full Unicode case
// folding (.NET's InvariantCultureIgnoreCase as Azure uses it: "ß" equals
// "ss", "ﬃ" equals "ffi"), with an allocation-free ASCII fast path.
//
// The fast path compares the common prefix byte by byte (8 bytes at a time
// while they are identical). Two ASCII bytes that differ after ASCII
// lower-casing, behind a prefix that folds identically, decide "not equal";
// so does an ASCII tail of the longer string (folding changes the length of
// non-ASCII text only). Anything else falls back to comparing the folded
// strings.
func EqualFold(a, b string) bool {
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	i := 0
	for i+8 <= n && load64(a, i) == load64(b, i) {
		i += 8
	}
	for ; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca >= utf8.RuneSelf || cb >= utf8.RuneSelf {
			return Fold(a) == Fold(b)
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	if len(a) == len(b) {
		return true
	}
	rest := a[n:]
	if len(b) > n {
		rest = b[n:]
	}
	if isASCII(rest) {
		return false
	}
	return Fold(a) == Fold(b)
}

// load64 reads 8 bytes of s at i as a little-endian word.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Fold returns the full Unicode case folding of s (ASCII: lower case).
func Fold(s string) string {
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			if 'A' <= s[i] && s[i] <= 'Z' {
				return strings.ToLower(s)
			}
		}
		return s
	}
	return cases.Fold().String(s)
}

// IsASCII reports whether s has only ASCII bytes.
func IsASCII(s string) bool { return isASCII(s) }

func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// With returns a copy of object v with member key set to val (replacing a
// case-insensitive match in place, else appended). v itself is unchanged.
// A non-object v is treated as an empty object.
func (v Value) With(key string, val Value) Value {
	var l []Value
	if v.kind == Object {
		l = make([]Value, len(v.list), len(v.list)+2)
		copy(l, v.list)
		for i := len(l) - 2; i >= 0; i -= 2 {
			if EqualFold(l[i].s, key) {
				l[i+1] = val
				return objectFromList(l)
			}
		}
	}
	l = append(l, StringValue(key), val)
	return objectFromList(l)
}

// Without returns a copy of object v without members matching key.
func (v Value) Without(key string) Value {
	if v.kind != Object {
		return v
	}
	l := make([]Value, 0, len(v.list))
	for i := 0; i+1 < len(v.list); i += 2 {
		if !EqualFold(v.list[i].s, key) {
			l = append(l, v.list[i], v.list[i+1])
		}
	}
	return objectFromList(l)
}
