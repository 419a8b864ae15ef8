package value

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 512

// SyntaxError is a JSON syntax error with its position.
type SyntaxError struct {
	Offset int // byte offset of the error
	Line   int // 1-based; 0 when the error is about the document as a whole (a duplicate key found by ParseStrict)
	Column int // 1-based, in bytes
	Msg    string
	// Pointer is the JSON pointer (RFC 6901) of the member or element
	// where the error is; set by ParseStrict only.
	Pointer string
}

func (e *SyntaxError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("invalid JSON at %s: %s", e.Pointer, e.Msg)
	case e.Pointer != "":
		return fmt.Sprintf("invalid JSON at %s (line %d, column %d, offset %d): %s", e.Pointer, e.Line, e.Column, e.Offset, e.Msg)
	}
	return fmt.Sprintf("invalid JSON at line %d, column %d (offset %d): %s", e.Line, e.Column, e.Offset, e.Msg)
}

// Decoder decodes JSON documents into Values, reusing its memory between
// documents. A Value returned by Decode is valid only until the next call of
// Decode on the same Decoder; the Decoder is not safe for concurrent use.
// Use Parse for values that must outlive the next decode.
type Decoder struct {
	buf   []byte  // copy of the current document; strings point into it
	slab  []Value // arena for arrays and objects
	used  int
	stack []Value // scratch stack of elements being built
	sbuf  []byte  // arena for unescaped strings
	data  []byte
	pos   int
	depth int
	err   *SyntaxError
	keep  bool // Parse mode: never reuse memory
}

// Parse decodes one JSON document into a Value that stays valid forever.
func Parse(data []byte) (Value, error) {
	d := &Decoder{keep: true}
	return d.decode(append([]byte(nil), data...))
}

// ParseString is Parse for a string.
func ParseString(s string) (Value, error) { return Parse([]byte(s)) }

// Decode decodes one JSON document. The input is copied, so the caller may
// reuse data afterwards; the result is valid until the next Decode.
func (d *Decoder) Decode(data []byte) (Value, error) {
	d.buf = append(d.buf[:0], data...)
	return d.DecodeInPlace(d.buf)
}

// DecodeInPlace is Decode without the copy: the result's strings point
// into data, so the caller must not modify data while it uses the result
// (which is valid until the next Decode or DecodeInPlace).
func (d *Decoder) DecodeInPlace(data []byte) (Value, error) {
	d.used = 0
	d.sbuf = d.sbuf[:0]
	return d.decode(data)
}

func (d *Decoder) decode(data []byte) (Value, error) {
	d.data, d.pos, d.depth, d.err = data, 0, 0, nil
	d.stack = d.stack[:0]
	d.skipSpace()
	if d.pos >= len(d.data) {
		d.fail("unexpected end of input")
		return Value{}, d.err
	}
	d.push()
	if d.err != nil {
		return Value{}, d.err
	}
	v := d.stack[0]
	d.stack = d.stack[:0]
	d.skipSpace()
	if d.pos < len(d.data) {
		d.fail(fmt.Sprintf("unexpected %s after the top-level value", describeByte(d.data[d.pos])))
		return Value{}, d.err
	}
	return v, nil
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (d *Decoder) fail(msg string) {
	if d.err != nil {
		return
	}
	line, col := 1, 1
	for i := 0; i < d.pos && i < len(d.data); i++ {
		if d.data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	d.err = &SyntaxError{Offset: d.pos, Line: line, Column: col, Msg: msg}
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		d.pos++
	}
}

// alloc returns n contiguous Values from the arena.
func (d *Decoder) alloc(n int) []Value {
	if n == 0 {
		return []Value{}
	}
	if d.keep {
		return make([]Value, n)
	}
	if d.used+n > len(d.slab) {
		size := 2 * len(d.slab)
		if size < 1024 {
			size = 1024
		}
		if size < n {
			size = n
		}
		// Earlier values of this document still point into the old slab,
		// which stays alive through them.
		d.slab = make([]Value, size)
		d.used = 0
	}
	s := d.slab[d.used : d.used+n : d.used+n]
	d.used += n
	return s
}

// push decodes the value at d.pos and appends it to d.stack (values are
// built on the stack, so that members are not copied through returns).
// On error it sets d.err; what it left on the stack does not matter then.
func (d *Decoder) push() {
	if d.pos >= len(d.data) {
		d.fail("unexpected end of input")
		return
	}
	switch c := d.data[d.pos]; c {
	case '{':
		d.object()
	case '[':
		d.array()
	case '"':
		if s, flags, ok := d.str(); ok {
			d.stack = append(d.stack, Value{kind: String, flags: flags, s: s})
		}
	case 't':
		if d.literal("true") {
			d.stack = append(d.stack, Value{kind: Bool, n: 1})
		}
	case 'f':
		if d.literal("false") {
			d.stack = append(d.stack, Value{kind: Bool})
		}
	case 'n':
		if d.literal("null") {
			d.stack = append(d.stack, Value{kind: Null})
		}
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			if v := d.number(); d.err == nil {
				d.stack = append(d.stack, v)
			}
			return
		}
		d.fail(fmt.Sprintf("unexpected %s, expected a value", describeByte(c)))
	}
}

func (d *Decoder) literal(word string) bool {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	d.fail(fmt.Sprintf("invalid literal, expected %q", word))
	return false
}

func (d *Decoder) enter() bool {
	d.depth++
	if d.depth > maxDepth {
		d.fail(fmt.Sprintf("nesting deeper than %d levels", maxDepth))
		return false
	}
	return true
}

// finish replaces the elements (or key/value pairs) pushed since base by
// the array or object holding them.
func (d *Decoder) finish(base int, k Kind) {
	l := d.alloc(len(d.stack) - base)
	copy(l, d.stack[base:])
	// The stack is not cleared: its entries point into the document and
	// the arenas, which the next documents overwrite.
	d.stack = append(d.stack[:base], Value{kind: k, list: l})
	d.depth--
}

func (d *Decoder) array() {
	if !d.enter() {
		return
	}
	d.pos++ // [
	base := len(d.stack)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.finish(base, Array)
		return
	}
	for {
		d.skipSpace()
		d.push()
		if d.err != nil {
			return
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			d.fail("unexpected end of input in array")
			return
		}
		c := d.data[d.pos]
		d.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			d.pos--
			d.fail(fmt.Sprintf("unexpected %s in array, expected ',' or ']'", describeByte(c)))
			return
		}
	}
	d.finish(base, Array)
}

func (d *Decoder) object() {
	if !d.enter() {
		return
	}
	d.pos++ // {
	base := len(d.stack)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.finish(base, Object)
		return
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) {
			d.fail("unexpected end of input in object")
			return
		}
		if d.data[d.pos] != '"' {
			d.fail(fmt.Sprintf("unexpected %s in object, expected a string key", describeByte(d.data[d.pos])))
			return
		}
		k, kflags, ok := d.str()
		if !ok {
			return
		}
		d.stack = append(d.stack, Value{kind: String, flags: kflags, s: k})
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			d.fail("expected ':' after object key")
			return
		}
		d.pos++
		d.skipSpace()
		d.push()
		if d.err != nil {
			return
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			d.fail("unexpected end of input in object")
			return
		}
		c := d.data[d.pos]
		d.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			d.pos--
			d.fail(fmt.Sprintf("unexpected %s in object, expected ',' or '}'", describeByte(c)))
			return
		}
	}
	d.finish(base, Object)
}

// str decodes a string starting at the opening quote. flags is strASCII
// when the string holds only ASCII bytes.
func (d *Decoder) str() (string, uint8, bool) {
	start := d.pos + 1
	data := d.data
	i := start
	// Skip 8 bytes at a time while none of them is a quote, a backslash,
	// a control character or a non-ASCII byte.
	for i+8 <= len(data) && !hasSpecial(binary.LittleEndian.Uint64(data[i:])) {
		i += 8
	}
	for i < len(data) && plainByte[data[i]] {
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		if i == start {
			return "", strASCII, true
		}
		return unsafe.String(&data[start], i-start), strASCII, true
	}
	// Something else than an ASCII run ending in a quote: finish the scan
	// byte by byte.
	for i < len(data) {
		c := data[i]
		if c == '"' {
			d.pos = i + 1
			return d.view(data[start:i]), 0, true
		}
		if c == '\\' {
			s, ok := d.strSlow(start)
			return s, 0, ok
		}
		if c < 0x20 {
			d.pos = i
			d.fail("control character in string")
			return "", 0, false
		}
		i++
	}
	d.pos = i
	d.fail("unterminated string")
	return "", 0, false
}

// plainByte marks the bytes a string can hold without a closer look:
// printable ASCII except the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasSpecial reports whether any byte of w is a quote, a backslash, a
// control character (< 0x20) or non-ASCII (>= 0x80).
func hasSpecial(w uint64) bool {
	q := w ^ (lsb * '"')
	b := w ^ (lsb * '\\')
	return ((q-lsb)&^q|(b-lsb)&^b|(w-lsb*0x20)|w)&msb != 0
}

// view returns a string sharing b's memory (b lives in the document, which
// is immutable until the next Decode).
func (d *Decoder) view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if !utf8.Valid(b) {
		return string([]rune(string(b))) // replace invalid bytes with U+FFFD
	}
	return unsafe.String(&b[0], len(b))
}

func (d *Decoder) strSlow(start int) (string, bool) {
	var out []byte
	mark := 0
	if d.keep {
		out = make([]byte, 0, 16)
	} else {
		// Append to the string arena; strings decoded earlier keep whatever
		// backing array they point to alive, so growth is safe.
		out, mark = d.sbuf, len(d.sbuf)
	}
	finish := func() string {
		if d.keep {
			return d.view(out)
		}
		d.sbuf = out
		return d.view(out[mark:])
	}
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return finish(), true
		case c == '\\':
			i++
			if i >= len(d.data) {
				d.pos = i
				d.fail("unterminated escape")
				return "", false
			}
			switch e := d.data[i]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n, ok := d.hex4(i + 1)
				if !ok {
					return "", false
				}
				i += n
				if utf16.IsSurrogate(r) {
					if i+2 < len(d.data) && d.data[i+1] == '\\' && d.data[i+2] == 'u' {
						r2, _, ok2 := d.hex4(i + 3)
						if ok2 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								r = dec
								i += 6
							} else {
								r = utf8.RuneError
							}
						} else {
							return "", false
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				d.pos = i
				d.fail(fmt.Sprintf("invalid escape '\\%c'", e))
				return "", false
			}
			i++
		case c < 0x20:
			d.pos = i
			d.fail("control character in string")
			return "", false
		default:
			out = append(out, c)
			i++
		}
	}
	d.pos = i
	d.fail("unterminated string")
	return "", false
}

func (d *Decoder) hex4(at int) (rune, int, bool) {
	if at+4 > len(d.data) {
		d.pos = at
		d.fail("short \\u escape")
		return 0, 0, false
	}
	var r rune
	for j := at; j < at+4; j++ {
		c := d.data[j]
		var h byte
		switch {
		case c >= '0' && c <= '9':
			h = c - '0'
		case c >= 'a' && c <= 'f':
			h = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			h = c - 'A' + 10
		default:
			d.pos = j
			d.fail("invalid \\u escape")
			return 0, 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, 4, true
}

func (d *Decoder) number() Value {
	start := d.pos
	i := d.pos
	if d.data[i] == '-' {
		i++
	}
	isFloat := false
	if i < len(d.data) && d.data[i] == '0' {
		i++
	} else if i < len(d.data) && d.data[i] >= '1' && d.data[i] <= '9' {
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	} else {
		d.pos = i
		d.fail("invalid number")
		return Value{}
	}
	if i < len(d.data) && d.data[i] == '.' {
		isFloat = true
		i++
		if i >= len(d.data) || d.data[i] < '0' || d.data[i] > '9' {
			d.pos = i
			d.fail("invalid number: expected digit after '.'")
			return Value{}
		}
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		isFloat = true
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if i >= len(d.data) || d.data[i] < '0' || d.data[i] > '9' {
			d.pos = i
			d.fail("invalid number: expected digit in exponent")
			return Value{}
		}
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	text := unsafe.String(&d.data[start], i-start)
	if !isFloat {
		if n, ok := parseSmallInt(d.data[start:i]); ok {
			return IntValue(n)
		}
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return IntValue(n)
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if math.IsInf(f, 0) {
		d.pos = start
		d.fail(fmt.Sprintf("the number %s is out of range (a JSON number must fit a 64-bit float)", clip(text, 40)))
		return Value{}
	}
	if err != nil {
		d.fail("invalid number")
		return Value{}
	}
	// The literal is kept, so that encoding gives back exactly the number
	// that was written (float64 rounds 0.1, 1e-400, large integers...).
	return Value{kind: Float, n: math.Float64bits(f), s: text}
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func parseSmallInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
