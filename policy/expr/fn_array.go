package expr

import (
	"slices"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Array and object functions. Sources: template-functions-array.md,
// template-functions-object.md.

// array(convertToArray): an array is returned as is, anything else is
// wrapped in a one-element array.
func fnArray(args []value.Value) (value.Value, error) {
	if args[0].Kind() == value.Array {
		return args[0], nil
	}
	return value.ArrayValue([]value.Value{nullish(args[0])}), nil
}

// createArray(arg1, ...); no arguments gives [].
func fnCreateArray(args []value.Value) (value.Value, error) {
	out := make([]value.Value, len(args))
	for i, a := range args {
		out[i] = nullish(a)
	}
	return value.ArrayValue(out), nil
}

// createObject(key1, value1, ...): keys must be strings (documented type);
// a later duplicate key (compared case-insensitively) replaces the earlier.
func fnCreateObject(args []value.Value) (value.Value, error) {
	const fn = "createObject"
	if len(args)%2 != 0 {
		return value.Value{}, failf(fn, "expected an even number of arguments (key/value pairs), got %d", len(args))
	}
	var o objBuilder
	for i := 0; i < len(args); i += 2 {
		k := args[i]
		if k.Kind() != value.String {
			return value.Value{}, argTypeError(fn, i, "a string key", k)
		}
		o.set(k.Str(), nullish(args[i+1]))
	}
	return o.value(), nil
}

// null() returns JSON null.
func fnNull([]value.Value) (value.Value, error) { return value.NullValue(), nil }

// contains(container, itemToFind): substring (case-sensitive) of a string,
// equal element of an array, key (case-insensitive) of an object. A null
// container contains nothing.
func fnContains(args []value.Value) (value.Value, error) {
	const fn = "contains"
	c, item := args[0], args[1]
	switch kindOf(c) {
	case value.Null:
		return value.BoolValue(false), nil
	case value.String:
		s, ok := scalarText(item)
		if !ok {
			return value.Value{}, argTypeError(fn, 1, "a string or a number", item)
		}
		return value.BoolValue(strings.Contains(c.Str(), s)), nil
	case value.Array:
		for _, e := range c.Elems() {
			if equalValues(e, item) {
				return value.BoolValue(true), nil
			}
		}
		return value.BoolValue(false), nil
	case value.Object:
		k, ok := scalarText(item)
		if !ok {
			return value.Value{}, argTypeError(fn, 1, "a string key", item)
		}
		_, found := c.Get(k)
		return value.BoolValue(found), nil
	}
	return value.Value{}, argTypeError(fn, 0, "an array, an object or a string", c)
}

// scalarText converts a string, integer or boolean to text for contains.
func scalarText(v value.Value) (string, bool) {
	switch v.Kind() {
	case value.String:
		return v.Str(), true
	case value.Int, value.Float:
		return string(appendScalarString(nil, v)), true
	case value.Bool:
		if v.Bool() {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// empty(itemToTest): true for "", [], {} and null; numbers and booleans
// are never empty.
func fnEmpty(args []value.Value) (value.Value, error) {
	v := args[0]
	switch kindOf(v) {
	case value.Null:
		return value.BoolValue(true), nil
	case value.String, value.Array, value.Object:
		return value.BoolValue(v.Len() == 0), nil
	}
	return value.BoolValue(false), nil
}

// length(arg): UTF-16 length of a string, elements of an array, members of
// an object; null has length 0.
func fnLength(args []value.Value) (value.Value, error) {
	v := args[0]
	switch kindOf(v) {
	case value.String:
		return value.IntValue(int64(utf16Len(v.Str()))), nil
	case value.Array, value.Object:
		return value.IntValue(int64(v.Len())), nil
	case value.Null:
		return value.IntValue(0), nil
	}
	return value.Value{}, argTypeError("length", 0, "an array, an object or a string", v)
}

// first / last: the first/last element of an array (null when empty) or
// the first/last character of a string ("" when empty).
func fnFirst(args []value.Value) (value.Value, error) { return firstLast("first", args[0], false) }
func fnLast(args []value.Value) (value.Value, error)  { return firstLast("last", args[0], true) }

func firstLast(fn string, v value.Value, last bool) (value.Value, error) {
	switch kindOf(v) {
	case value.Array:
		el := v.Elems()
		if len(el) == 0 {
			return value.NullValue(), nil
		}
		if last {
			return el[len(el)-1], nil
		}
		return el[0], nil
	case value.String:
		s := v.Str()
		if s == "" {
			return v, nil
		}
		rs := []rune(s)
		if last {
			return value.StringValue(string(rs[len(rs)-1])), nil
		}
		return value.StringValue(string(rs[0])), nil
	case value.Null:
		return value.NullValue(), nil
	}
	return value.Value{}, argTypeError(fn, 0, "an array or a string", v)
}

// skip / take on arrays and strings; counts are clamped to [0, length].
func fnSkip(args []value.Value) (value.Value, error) { return skipTake("skip", args, true) }
func fnTake(args []value.Value) (value.Value, error) { return skipTake("take", args, false) }

func skipTake(fn string, args []value.Value, skip bool) (value.Value, error) {
	n, err := intArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	clamp := func(length int) int {
		switch {
		case n < 0:
			return 0
		case n > int64(length):
			return length
		}
		return int(n)
	}
	switch v := args[0]; kindOf(v) {
	case value.Array:
		el := v.Elems()
		k := clamp(len(el))
		if skip {
			return value.ArrayValue(el[k:len(el):len(el)]), nil
		}
		return value.ArrayValue(el[:k:k]), nil
	case value.String:
		s := v.Str()
		l := utf16Len(s)
		k := clamp(l)
		if skip {
			return value.StringValue(utf16Slice(s, k, l)), nil
		}
		return value.StringValue(utf16Slice(s, 0, k)), nil
	case value.Null:
		return value.NullValue(), nil
	default:
		return value.Value{}, argTypeError(fn, 0, "an array or a string", v)
	}
}

// range(startIndex, count): count in [0, 10000] and startIndex + count at
// most 2147483647 (documented limits).
func fnRange(args []value.Value) (value.Value, error) {
	const fn = "range"
	start, err := intArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	count, err := intArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	if count < 0 {
		return value.Value{}, failf(fn, "count %d must not be negative", count)
	}
	if count > maxRangeCount {
		return value.Value{}, failf(fn, "count %d exceeds maximum of %d", count, maxRangeCount)
	}
	if start < -2147483648 || start+count > 2147483647 {
		return value.Value{}, failf(fn, "startIndex + count (%d) exceeds maximum of 2147483647", start+count)
	}
	out := make([]value.Value, count)
	for i := range out {
		out[i] = value.IntValue(start + int64(i))
	}
	return value.ArrayValue(out), nil
}

// setArgs checks that all arguments of intersection/union are arrays, or
// all objects, and returns which.
func setArgs(fn string, args []value.Value) (value.Kind, error) {
	k := kindOf(args[0])
	if k != value.Array && k != value.Object {
		return 0, argTypeError(fn, 0, "an array or an object", args[0])
	}
	for i, a := range args[1:] {
		if kindOf(a) != k {
			want := "an array like the first argument"
			if k == value.Object {
				want = "an object like the first argument"
			}
			return 0, argTypeError(fn, i+1, want, a)
		}
	}
	return k, nil
}

// intersection(arg1, arg2, ...): for arrays, the distinct elements of the
// first array found in every other one (in first-array order); for objects,
// the members of the first object present with an equal value in every
// other one.
func fnIntersection(args []value.Value) (value.Value, error) {
	const fn = "intersection"
	k, err := setArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if k == value.Object {
		var ms []value.Member
		first := args[0]
		for i := 0; i < first.Len(); i++ {
			key, v := first.MemberAt(i)
			keep := true
			for _, o := range args[1:] {
				ov, ok := o.Get(key)
				if !ok || !equalValues(ov, v) {
					keep = false
					break
				}
			}
			if keep {
				ms = append(ms, value.Member{Key: key, Value: v})
			}
		}
		return value.ObjectValue(ms...), nil
	}
	others := make([]valueSet, len(args)-1)
	for i, o := range args[1:] {
		for _, e := range o.Elems() {
			others[i].add(e)
		}
	}
	var seen valueSet
	out := []value.Value{}
	for _, e := range args[0].Elems() {
		if !seen.add(e) {
			continue
		}
		keep := true
		for i := range others {
			if !others[i].has(e) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return value.ArrayValue(out), nil
}

// union(arg1, arg2, ...): for arrays, every distinct element in order of
// first appearance; for objects, the members of all objects, later values
// replacing earlier ones, nested objects merged recursively (nested arrays
// are replaced, not merged) — documented in template-functions-object.md.
func fnUnion(args []value.Value) (value.Value, error) {
	const fn = "union"
	k, err := setArgs(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	if k == value.Object {
		acc := args[0]
		for _, o := range args[1:] {
			acc = mergeDeep(acc, o, 0)
		}
		return acc, nil
	}
	total := 0
	for _, a := range args {
		total += a.Len()
	}
	if err := checkArrayLen(fn, total); err != nil {
		return value.Value{}, err
	}
	var seen valueSet
	out := make([]value.Value, 0, total)
	for _, a := range args {
		for _, e := range a.Elems() {
			if seen.add(e) {
				out = append(out, e)
			}
		}
	}
	return value.ArrayValue(out), nil
}

// mergeDeep merges object b into object a: b's members replace a's, except
// that two objects under the same key are merged recursively.
func mergeDeep(a, b value.Value, depth int) value.Value {
	o := objBuilder{ms: a.Members()}
	for i := 0; i < b.Len(); i++ {
		key, bv := b.MemberAt(i)
		if av, ok := o.get(key); ok && depth < 256 && av.Kind() == value.Object && bv.Kind() == value.Object {
			bv = mergeDeep(av, bv, depth+1)
		}
		o.set(key, bv)
	}
	return o.value()
}

// shallowMerge(arrayOfObjects): merges the objects' top-level members,
// later objects replacing earlier values.
func fnShallowMerge(args []value.Value) (value.Value, error) {
	const fn = "shallowMerge"
	a := args[0]
	if kindOf(a) != value.Array {
		return value.Value{}, argTypeError(fn, 0, "an array of objects", a)
	}
	var out objBuilder
	for i, o := range a.Elems() {
		switch kindOf(o) {
		case value.Null:
			continue
		case value.Object:
		default:
			return value.Value{}, failf(fn, "element %d of the array must be an object, got %s", i, describe(o))
		}
		for j := 0; j < o.Len(); j++ {
			key, v := o.MemberAt(j)
			out.set(key, v)
		}
	}
	return out.value(), nil
}

// objectKeys(object): the keys, in member order.
func fnObjectKeys(args []value.Value) (value.Value, error) {
	o := args[0]
	if kindOf(o) != value.Object {
		return value.Value{}, argTypeError("objectKeys", 0, "an object", o)
	}
	out := make([]value.Value, o.Len())
	for i := range out {
		k, _ := o.MemberAt(i)
		out[i] = value.StringValue(k)
	}
	return value.ArrayValue(out), nil
}

// items(object): [{key, value}, ...] sorted by key (the documented example
// returns the members in key order).
func fnItems(args []value.Value) (value.Value, error) {
	o := args[0]
	if kindOf(o) != value.Object {
		return value.Value{}, argTypeError("items", 0, "an object", o)
	}
	ms := o.Members()
	slices.SortStableFunc(ms, func(a, b value.Member) int { return compareStrings(a.Key, b.Key) })
	out := make([]value.Value, len(ms))
	for i, m := range ms {
		out[i] = value.ObjectValue(value.Member{Key: "key", Value: value.StringValue(m.Key)}, value.Member{Key: "value", Value: m.Value})
	}
	return value.ArrayValue(out), nil
}

// flatten(arrayToFlatten): concatenates an array of arrays.
func fnFlatten(args []value.Value) (value.Value, error) {
	const fn = "flatten"
	a := args[0]
	if kindOf(a) != value.Array {
		return value.Value{}, argTypeError(fn, 0, "an array of arrays", a)
	}
	n := 0
	for i, e := range a.Elems() {
		if e.Kind() != value.Array {
			return value.Value{}, failf(fn, "element %d of the array must be an array, got %s", i, describe(e))
		}
		n += e.Len()
	}
	if err := checkArrayLen(fn, n); err != nil {
		return value.Value{}, err
	}
	out := make([]value.Value, 0, n)
	for _, e := range a.Elems() {
		out = append(out, e.Elems()...)
	}
	return value.ArrayValue(out), nil
}

// tryGet(itemToTest, keyOrIndex, ...): follows object keys
// (case-insensitive) and array indexes; null as soon as a step is missing
// or the value is not a container.
func fnTryGet(args []value.Value) (value.Value, error) {
	cur := args[0]
	for _, k := range args[1:] {
		switch cur.Kind() {
		case value.Object:
			if k.Kind() != value.String {
				return value.NullValue(), nil
			}
			v, ok := cur.Get(k.Str())
			if !ok {
				return value.NullValue(), nil
			}
			cur = v
		case value.Array:
			i, ok := indexValue(k)
			if !ok || i < 0 || i >= int64(cur.Len()) {
				return value.NullValue(), nil
			}
			cur = cur.Index(int(i))
		default:
			return value.NullValue(), nil
		}
	}
	return nullish(cur), nil
}

func indexValue(v value.Value) (int64, bool) {
	switch v.Kind() {
	case value.Int:
		return v.Int(), true
	case value.Float:
		f := v.Float()
		if f == float64(int64(f)) {
			return int64(f), true
		}
	}
	return 0, false
}

// indexFromEnd(sourceArray, reverseIndex): the element reverseIndex
// positions from the end (1 = last); an error when out of range.
// tryIndexFromEnd returns null instead. Strings give a character.
func fnIndexFromEnd(args []value.Value) (value.Value, error) {
	return indexFromEnd("indexFromEnd", args, false)
}

func fnTryIndexFromEnd(args []value.Value) (value.Value, error) {
	return indexFromEnd("tryIndexFromEnd", args, true)
}

func indexFromEnd(fn string, args []value.Value, try bool) (value.Value, error) {
	src := args[0]
	i, ok := indexValue(args[1])
	if !ok {
		if try {
			return value.NullValue(), nil
		}
		return value.Value{}, argTypeError(fn, 1, "an integer", args[1])
	}
	var n int
	switch kindOf(src) {
	case value.Array:
		n = src.Len()
	case value.String:
		n = utf16Len(src.Str())
	default:
		if try {
			return value.NullValue(), nil
		}
		return value.Value{}, argTypeError(fn, 0, "an array or a string", src)
	}
	if i < 1 || i > int64(n) {
		if try {
			return value.NullValue(), nil
		}
		return value.Value{}, failf(fn, "reverse index %d is out of range for length %d", i, n)
	}
	pos := n - int(i)
	if src.Kind() == value.Array {
		return src.Index(pos), nil
	}
	return value.StringValue(utf16Slice(src.Str(), pos, pos+1)), nil
}
