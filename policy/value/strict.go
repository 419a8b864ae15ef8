package value

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseStrict is Parse for documents from outside (request bodies): it
// also refuses duplicate member keys, compared as Get compares them (full
// Unicode case folding: {"a":1,"A":2} is a duplicate, since a lookup could
// only ever see one of them), and its errors carry the JSON pointer of
// the offending member. The checks run after decoding, or on the error
// path, so that the decoder itself stays as fast as Parse.
func ParseStrict(data []byte) (Value, error) {
	v, err := Parse(data)
	if err != nil {
		if se, ok := err.(*SyntaxError); ok {
			se.Pointer = pointerAt(data, se.Offset)
		}
		return Value{}, err
	}
	var path []string
	if err := checkDuplicates(v, &path); err != nil {
		return Value{}, err
	}
	return v, nil
}

// checkDuplicates returns a *SyntaxError for the first member of an
// object (depth first) whose key matches an earlier key of that object.
// path holds the pointer segments down to v.
func checkDuplicates(v Value, path *[]string) error {
	switch v.kind {
	case Array:
		for i, e := range v.list {
			if e.kind == Array || e.kind == Object {
				*path = append(*path, strconv.Itoa(i))
				if err := checkDuplicates(e, path); err != nil {
					return err
				}
				*path = (*path)[:len(*path)-1]
			}
		}
	case Object:
		n := len(v.list) / 2
		var seen map[string]string // folded key → key, for large objects
		if n > 16 {
			seen = make(map[string]string, n)
		}
		for i := 0; i < n; i++ {
			k := v.list[2*i].s
			prev, dup := "", false
			if seen != nil {
				f := Fold(k)
				prev, dup = seen[f]
				seen[f] = k
			} else {
				for j := 0; j < i; j++ {
					if EqualFold(v.list[2*j].s, k) {
						prev, dup = v.list[2*j].s, true
						break
					}
				}
			}
			if dup {
				msg := fmt.Sprintf("duplicate key %q", clip(k, 100))
				if prev != k {
					msg = fmt.Sprintf("duplicate key %q: %q came before it, and keys are compared case-insensitively", clip(k, 100), clip(prev, 100))
				}
				return &SyntaxError{Msg: msg, Pointer: pointer(append(*path, k))}
			}
			if e := v.list[2*i+1]; e.kind == Array || e.kind == Object {
				*path = append(*path, k)
				if err := checkDuplicates(e, path); err != nil {
					return err
				}
				*path = (*path)[:len(*path)-1]
			}
		}
	}
	return nil
}

// pointer renders segments as a JSON pointer.
func pointer(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case '~':
				b.WriteString("~0")
			case '/':
				b.WriteString("~1")
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// pointerAt returns the JSON pointer of the position off in data, which
// the decoder read without error up to off: the member or element being
// read there. It walks the tokens before off with its own stack.
func pointerAt(data []byte, off int) string {
	type frame struct {
		object bool
		key    string // object: the last key read, "" before the first
		hasKey bool
		index  int // array: the element being read
	}
	var stack []frame
	for i := 0; i < off && i < len(data); {
		c := data[i]
		switch c {
		case '{':
			stack = append(stack, frame{object: true})
			i++
		case '[':
			stack = append(stack, frame{})
			i++
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].object {
					stack[n-1].hasKey = false
				} else {
					stack[n-1].index++
				}
			}
			i++
		case '"':
			end := i + 1
			for end < len(data) && data[end] != '"' {
				if data[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(data) || end >= off {
				i = off // the error is inside this string
				continue
			}
			if n := len(stack); n > 0 && stack[n-1].object && !stack[n-1].hasKey {
				k, err := Parse(data[i : end+1])
				if err == nil {
					stack[n-1].key, stack[n-1].hasKey = k.Str(), true
				}
			}
			i = end + 1
		default:
			i++
		}
	}
	segs := make([]string, 0, len(stack))
	for _, f := range stack {
		switch {
		case f.object && f.hasKey:
			segs = append(segs, f.key)
		case f.object:
			// between members: the object itself
		default:
			segs = append(segs, strconv.Itoa(f.index))
		}
	}
	return pointer(segs)
}
