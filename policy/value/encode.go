package value

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the compact JSON encoding of v to b. Undefined encodes
// as null. Non-finite floats encode as null (JSON has no NaN/Inf). A
// decoded float is written as its literal, exactly as it was read.
func AppendJSON(b []byte, v Value) []byte { return appendJSON(b, v, true) }

// AppendJSONByValue is AppendJSON with every float written from its value
// (AppendFloat: "1.50" and "1.5" both as 1.5, "1e3" as 1000), as the
// template functions that serialize values (string(), json()) write them.
func AppendJSONByValue(b []byte, v Value) []byte { return appendJSON(b, v, false) }

func appendJSON(b []byte, v Value, literal bool) []byte {
	switch v.kind {
	case Undefined, Null:
		return append(b, "null"...)
	case Bool:
		if v.n != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case Int:
		return strconv.AppendInt(b, int64(v.n), 10)
	case Float:
		if literal && v.s != "" {
			return append(b, v.s...) // the decoded literal
		}
		return AppendFloat(b, math.Float64frombits(v.n))
	case String:
		return AppendQuoted(b, v.s)
	case Array:
		b = append(b, '[')
		for i, e := range v.list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, literal)
		}
		return append(b, ']')
	case Object:
		b = append(b, '{')
		for i := 0; i+1 < len(v.list); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendQuoted(b, v.list[i].s)
			b = append(b, ':')
			b = appendJSON(b, v.list[i+1], literal)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// AppendFloat formats f the way JSON serializers do: integral values keep no
// fraction only when they are integral and small ("1" stays "1"); NaN and
// infinities become null.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s as a JSON string literal.
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// JSON returns the compact JSON encoding of v.
func (v Value) JSON() string { return string(AppendJSON(nil, v)) }

// String renders v for messages: strings unquoted, everything else as JSON.
func (v Value) String() string {
	if v.kind == String {
		return v.s
	}
	if v.kind == Undefined {
		return "<undefined>"
	}
	return v.JSON()
}

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return AppendJSON(nil, v), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	p, err := Parse(b)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Equal reports deep equality: same kinds (Int and Float compare
// numerically), strings case-sensitively, objects by member set regardless
// of order (keys compared case-insensitively), arrays element-wise.
func Equal(a, b Value) bool {
	if a.IsNumber() && b.IsNumber() {
		if a.kind == Int && b.kind == Int {
			return a.n == b.n
		}
		return a.Float() == b.Float()
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case Undefined, Null:
		return true
	case Bool:
		return a.n == b.n
	case String:
		return a.s == b.s
	case Array:
		if len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !Equal(a.list[i], b.list[i]) {
				return false
			}
		}
		return true
	case Object:
		if len(a.list) != len(b.list) {
			return false
		}
		for i := 0; i+1 < len(a.list); i += 2 {
			bv, ok := b.Get(a.list[i].s)
			if !ok || !Equal(a.list[i+1], bv) {
				return false
			}
		}
		return true
	}
	return false
}

// FromGo converts a value produced by encoding/json (or YAML decoders:
// map[string]any, map[any]any, []any, string, bool, float64, int, int64,
// uint64, json.Number, nil) into a Value. Map keys are sorted for
// determinism.
func FromGo(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return NullValue(), nil
	case Value:
		return t, nil
	case bool:
		return BoolValue(t), nil
	case string:
		return StringValue(t), nil
	case int:
		return IntValue(int64(t)), nil
	case int64:
		return IntValue(t), nil
	case int32:
		return IntValue(int64(t)), nil
	case uint64:
		if t > math.MaxInt64 {
			return FloatValue(float64(t)), nil
		}
		return IntValue(int64(t)), nil
	case uint:
		return IntValue(int64(t)), nil
	case float32:
		return fromFloat(float64(t)), nil
	case float64:
		return fromFloat(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return IntValue(i), nil
		}
		f, err := t.Float64()
		if err != nil {
			return Value{}, fmt.Errorf("invalid number %q", string(t))
		}
		return FloatValue(f), nil
	case []any:
		l := make([]Value, len(t))
		for i, e := range t {
			v, err := FromGo(e)
			if err != nil {
				return Value{}, err
			}
			l[i] = v
		}
		return ArrayValue(l), nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ms := make([]Member, 0, len(keys))
		for _, k := range keys {
			v, err := FromGo(t[k])
			if err != nil {
				return Value{}, err
			}
			ms = append(ms, Member{k, v})
		}
		return ObjectValue(ms...), nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[fmt.Sprint(k)] = v
		}
		return FromGo(m)
	}
	return Value{}, fmt.Errorf("cannot convert %T to a JSON value", x)
}

// fromFloat keeps integral float64 values (as YAML/encoding/json produce
// them for integers) as Int.
func fromFloat(f float64) Value {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return IntValue(int64(f))
	}
	return FloatValue(f)
}

// ToGo converts v to the encoding/json representation (map[string]any,
// []any, string, bool, float64/int64, nil).
func (v Value) ToGo() any {
	switch v.kind {
	case Bool:
		return v.Bool()
	case Int:
		return v.Int()
	case Float:
		return v.Float()
	case String:
		return v.s
	case Array:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			out[i] = e.ToGo()
		}
		return out
	case Object:
		out := make(map[string]any, len(v.list)/2)
		for i := 0; i+1 < len(v.list); i += 2 {
			out[v.list[i].s] = v.list[i+1].ToGo()
		}
		return out
	}
	return nil
}
