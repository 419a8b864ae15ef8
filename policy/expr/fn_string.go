package expr

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/value"
)

// String functions. ARM strings are .NET strings: lengths and indexes are
// counted in UTF-16 code units. Sources: template-functions-string.md.

// concat(arg1, arg2, ...) joins strings, or arrays (not a mix). The first
// non-null argument decides which; null arguments count as "" or [].
// In string mode numbers and booleans are converted the way ARM converts
// them (concat('vm', copyIndex()) is the classic ARM idiom).
func fnConcat(args []value.Value) (value.Value, error) {
	const fn = "concat"
	mode := value.Null
	for _, a := range args {
		if k := kindOf(a); k != value.Null {
			mode = k
			break
		}
	}
	switch mode {
	case value.Null:
		return value.StringValue(""), nil
	case value.Array:
		n := 0
		for i, a := range args {
			switch kindOf(a) {
			case value.Array:
				n += a.Len()
			case value.Null:
			default:
				return value.Value{}, argTypeError(fn, i, "an array (arrays and strings can't be mixed)", a)
			}
		}
		if err := checkArrayLen(fn, n); err != nil {
			return value.Value{}, err
		}
		out := make([]value.Value, 0, n)
		for _, a := range args {
			out = append(out, a.Elems()...)
		}
		return value.ArrayValue(out), nil
	}
	// String mode: strings, with numbers and booleans converted.
	if len(args) == 2 && args[0].Kind() == value.String && args[1].Kind() == value.String {
		s := args[0].Str() + args[1].Str()
		if err := checkString(fn, s); err != nil {
			return value.Value{}, err
		}
		return value.StringValue(s), nil
	}
	n := 0
	for i, a := range args {
		switch kindOf(a) {
		case value.String:
			n += len(a.Str())
		case value.Null:
		case value.Int, value.Float, value.Bool:
			n += 24
		default:
			return value.Value{}, argTypeError(fn, i, "a string (arrays and strings can't be mixed)", a)
		}
	}
	if n > 4*maxStringLength {
		return value.Value{}, failf(fn, "the result would be longer than the limit of %d characters", maxStringLength)
	}
	buf := make([]byte, 0, n)
	for _, a := range args {
		switch kindOf(a) {
		case value.String:
			buf = append(buf, a.Str()...)
		case value.Int, value.Float:
			buf = appendScalarString(buf, a)
		case value.Bool:
			// .NET's JToken.ToString() of a boolean.
			if a.Bool() {
				buf = append(buf, "True"...)
			} else {
				buf = append(buf, "False"...)
			}
		}
	}
	s := string(buf)
	if err := checkString(fn, s); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(s), nil
}

// appendScalarString appends the string() form of a number or boolean.
func appendScalarString(b []byte, v value.Value) []byte {
	switch v.Kind() {
	case value.Int:
		return strconv.AppendInt(b, v.Int(), 10)
	case value.Float:
		return value.AppendFloat(b, v.Float())
	case value.Bool:
		return strconv.AppendBool(b, v.Bool())
	case value.Null, value.Undefined:
		return append(b, "null"...)
	case value.String:
		return append(b, v.Str()...)
	}
	return value.AppendJSON(b, v)
}

// string(valueToConvert): strings unchanged, other values as compact JSON
// (documented: objects and arrays become their JSON text); null → "null".
func fnString(args []value.Value) (value.Value, error) {
	v := args[0]
	switch kindOf(v) {
	case value.String:
		return v, nil
	case value.Int, value.Float, value.Bool, value.Null:
		return value.StringValue(string(appendScalarString(nil, v))), nil
	}
	s, err := toJSONString("string", v)
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(s), nil
}

// padLeft(valueToPad, totalLength, paddingCharacter=' ').
func fnPadLeft(args []value.Value) (value.Value, error) {
	const fn = "padLeft"
	var s string
	switch v := args[0]; v.Kind() {
	case value.String:
		s = v.Str()
	case value.Int:
		s = strconv.FormatInt(v.Int(), 10)
	default:
		return value.Value{}, argTypeError(fn, 0, "a string or an integer", v)
	}
	total, err := intArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	pad := " "
	if len(args) > 2 {
		p, err := strArg(fn, args, 2)
		if err != nil {
			return value.Value{}, err
		}
		if utf8.RuneCountInString(p) != 1 {
			return value.Value{}, failf(fn, "paddingCharacter must be a single character, got '%s'", p)
		}
		pad = p
	}
	if total > maxStringLength {
		return value.Value{}, failf(fn, "totalLength %d is more than the limit of %d characters", total, maxStringLength)
	}
	n := utf16Len(s)
	if int64(n) >= total {
		return value.StringValue(s), nil
	}
	count := int(total) - n
	if pad[0] < utf8.RuneSelf {
		buf := make([]byte, count+len(s))
		for i := 0; i < count; i++ {
			buf[i] = pad[0]
		}
		copy(buf[count:], s)
		return value.StringValue(string(buf)), nil
	}
	return value.StringValue(strings.Repeat(pad, count) + s), nil
}

// replace(originalString, oldString, newString): ordinal, all occurrences.
func fnReplace(args []value.Value) (value.Value, error) {
	const fn = "replace"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	old, err := strArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	repl, err := strArg(fn, args, 2)
	if err != nil {
		return value.Value{}, err
	}
	if old == "" {
		return value.Value{}, failf(fn, "oldString must not be empty")
	}
	if len(repl) > len(old) {
		n := strings.Count(s, old)
		if grow := n * (len(repl) - len(old)); len(s)+grow > 4*maxStringLength {
			return value.Value{}, failf(fn, "the result would be longer than the limit of %d characters", maxStringLength)
		}
	}
	r := strings.ReplaceAll(s, old, repl)
	if err := checkString(fn, r); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(r), nil
}

// split(inputString, delimiter): delimiter is a string or an array of
// strings; like .NET String.Split(string[], None): empty delimiters are
// ignored and, at each position, the first delimiter of the list that
// matches is used.
func fnSplit(args []value.Value) (value.Value, error) {
	const fn = "split"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	var delims []string
	switch d := args[1]; d.Kind() {
	case value.String:
		if d.Str() != "" {
			delims = []string{d.Str()}
		}
	case value.Array:
		for i, e := range d.Elems() {
			if e.Kind() != value.String {
				return value.Value{}, failf(fn, "delimiter element %d must be a string, got %s", i, describe(e))
			}
			if e.Str() != "" {
				delims = append(delims, e.Str())
			}
		}
	default:
		return value.Value{}, argTypeError(fn, 1, "a string or an array of strings", d)
	}
	if len(delims) == 0 {
		return value.ArrayValue([]value.Value{value.StringValue(s)}), nil
	}
	var out []value.Value
	if len(delims) == 1 {
		n := strings.Count(s, delims[0]) + 1
		if err := checkArrayLen(fn, n); err != nil {
			return value.Value{}, err
		}
		out = make([]value.Value, 0, n)
		for _, p := range strings.Split(s, delims[0]) {
			out = append(out, value.StringValue(p))
		}
		return value.ArrayValue(out), nil
	}
	start := 0
	for i := 0; i < len(s); {
		matched := ""
		for _, d := range delims {
			if strings.HasPrefix(s[i:], d) {
				matched = d
				break
			}
		}
		if matched == "" {
			i++
			continue
		}
		out = append(out, value.StringValue(s[start:i]))
		if err := checkArrayLen(fn, len(out)+1); err != nil {
			return value.Value{}, err
		}
		i += len(matched)
		start = i
	}
	out = append(out, value.StringValue(s[start:]))
	return value.ArrayValue(out), nil
}

// startsWith / endsWith: case-insensitive (documented).
func fnStartsWith(args []value.Value) (value.Value, error) {
	s, err := strArg("startsWith", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	p, err := strArg("startsWith", args, 1)
	if err != nil {
		return value.Value{}, err
	}
	return value.BoolValue(hasPrefixFold(s, p)), nil
}

func fnEndsWith(args []value.Value) (value.Value, error) {
	s, err := strArg("endsWith", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	p, err := strArg("endsWith", args, 1)
	if err != nil {
		return value.Value{}, err
	}
	return value.BoolValue(hasSuffixFold(s, p)), nil
}

// substring(stringToParse, startIndex=0, length=rest). Fails when the
// range is outside the string (documented).
func fnSubstring(args []value.Value) (value.Value, error) {
	const fn = "substring"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	n := int64(utf16Len(s))
	var start int64
	if len(args) > 1 {
		if start, err = intArg(fn, args, 1); err != nil {
			return value.Value{}, err
		}
	}
	if start < 0 {
		return value.Value{}, failf(fn, "startIndex %d must not be negative", start)
	}
	if start > n {
		return value.Value{}, failf(fn, "startIndex %d is beyond the string length %d", start, n)
	}
	length := n - start
	if len(args) > 2 {
		if length, err = intArg(fn, args, 2); err != nil {
			return value.Value{}, err
		}
		if length < 0 {
			return value.Value{}, failf(fn, "length %d must not be negative", length)
		}
		if length > n-start {
			return value.Value{}, failf(fn, "the index and length parameters must refer to a location within the string: startIndex %d, length %d, string length %d", start, length, n)
		}
	}
	return value.StringValue(utf16Slice(s, int(start), int(start+length))), nil
}

func fnToLower(args []value.Value) (value.Value, error) {
	s, err := strArg("toLower", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			if 'A' <= s[i] && s[i] <= 'Z' {
				b := []byte(s)
				for j := i; j < len(b); j++ {
					b[j] = asciiLower(b[j])
				}
				return value.StringValue(string(b)), nil
			}
		}
		return args[0], nil
	}
	return value.StringValue(strings.ToLower(s)), nil
}

func fnToUpper(args []value.Value) (value.Value, error) {
	s, err := strArg("toUpper", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(strings.ToUpper(s)), nil
}

// trim removes leading and trailing white space (.NET char.IsWhiteSpace).
func fnTrim(args []value.Value) (value.Value, error) {
	s, err := strArg("trim", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	t := strings.TrimSpace(s)
	if len(t) == len(s) {
		return args[0], nil
	}
	return value.StringValue(t), nil
}

// indexOf / lastIndexOf: on strings, case-insensitive (documented) with a
// UTF-16 index; on arrays, the index of an equal element (strings compared
// case-sensitively).
func fnIndexOf(args []value.Value) (value.Value, error) {
	return indexOfImpl("indexOf", args, false)
}

func fnLastIndexOf(args []value.Value) (value.Value, error) {
	return indexOfImpl("lastIndexOf", args, true)
}

func indexOfImpl(fn string, args []value.Value, last bool) (value.Value, error) {
	switch c := args[0]; kindOf(c) {
	case value.String:
		needle, err := strArg(fn, args, 1)
		if err != nil {
			return value.Value{}, err
		}
		return value.IntValue(int64(indexFold(c.Str(), needle, last))), nil
	case value.Array:
		el := c.Elems()
		if last {
			for i := len(el) - 1; i >= 0; i-- {
				if equalValues(el[i], args[1]) {
					return value.IntValue(int64(i)), nil
				}
			}
		} else {
			for i, e := range el {
				if equalValues(e, args[1]) {
					return value.IntValue(int64(i)), nil
				}
			}
		}
		return value.IntValue(-1), nil
	default:
		return value.Value{}, argTypeError(fn, 0, "a string or an array", c)
	}
}

// join(inputArray, delimiter): the elements' string() forms joined with
// delimiter (strings as they are, numbers, true/false, null as "null",
// arrays and objects as JSON).
func fnJoin(args []value.Value) (value.Value, error) {
	const fn = "join"
	a := args[0]
	if kindOf(a) != value.Array {
		return value.Value{}, argTypeError(fn, 0, "an array", a)
	}
	d, err := strArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	var b []byte
	for i, e := range a.Elems() {
		if i > 0 {
			b = append(b, d...)
		}
		switch kindOf(e) {
		case value.Array, value.Object:
			s, err := toJSONString(fn, e)
			if err != nil {
				return value.Value{}, err
			}
			b = append(b, s...)
		default:
			b = appendScalarString(b, e)
		}
		if len(b) > 4*maxStringLength {
			return value.Value{}, failf(fn, "the result would be longer than the limit of %d characters", maxStringLength)
		}
	}
	s := string(b)
	if err := checkString(fn, s); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(s), nil
}
