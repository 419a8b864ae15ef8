package value

// At follows a path without wildcards from v; Undefined when any step is
// missing. Wildcard steps select the first element's branch only, so callers
// with wildcard paths should use Walk.
func (v Value) At(p Path) Value {
	cur := v
	for _, s := range p {
		if s.Any {
			return Value{}
		}
		next, ok := cur.Step(s)
		if !ok {
			return Value{}
		}
		cur = next
	}
	return cur
}

// Step follows one key step: an object member (case-insensitive), or, on
// an array, an element when the key is a decimal index ("0", "1", ...).
func (v Value) Step(s Step) (Value, bool) {
	if v.kind == Array {
		k := s.Key
		if k == "" || len(k) > 9 {
			return Value{}, false
		}
		n := 0
		for i := 0; i < len(k); i++ {
			if k[i] < '0' || k[i] > '9' {
				return Value{}, false
			}
			n = n*10 + int(k[i]-'0')
		}
		if n >= len(v.list) {
			return Value{}, false
		}
		return v.list[n], true
	}
	return v.Get(s.Key)
}

// Walk calls fn for every value selected by p from v, in document order:
// a [*] step expands every element of an array (a non-array selects
// nothing), a key step looks the member up case-insensitively (missing
// selects nothing). fn returns false to stop early; Walk reports whether it
// ran to completion.
func (v Value) Walk(p Path, fn func(Value) bool) bool {
	return walk(v, p, fn)
}

func walk(cur Value, p Path, fn func(Value) bool) bool {
	for i, s := range p {
		if s.Any {
			if cur.kind != Array {
				return true
			}
			rest := p[i+1:]
			for _, e := range cur.list {
				if !walk(e, rest, fn) {
					return false
				}
			}
			return true
		}
		next, ok := cur.Step(s)
		if !ok {
			return true
		}
		cur = next
	}
	return fn(cur)
}

// Collect appends to dst every value selected by p (see Walk).
func (v Value) Collect(p Path, dst []Value) []Value {
	walk(v, p, func(x Value) bool {
		dst = append(dst, x)
		return true
	})
	return dst
}
