package arm

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// KeyOf returns the comparison key of a name or ID under ARM's rule for
// names: ordinal ignore-case (.NET's StringComparison.OrdinalIgnoreCase),
// where two strings are equal iff their simple upper-case mappings are
// equal, rune by rune. So "Name" and "nAME" share a key, but the Kelvin
// sign "K" (U+212A) is not "k" and the dotted "İ" (U+0130) is not "i":
// their upper-case forms differ from "K" and "I" (strings.ToLower, which
// keys used before, folded them together).
//
// The key is the lower-case form whenever that maps back to the same
// upper case, so it equals strings.ToLower for ASCII and ordinary
// letters: keys stored before stay valid. Only runes whose lower case
// would merge them with another letter keep their upper-case form.
func KeyOf(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return keyOfUnicode(s)
		}
	}
	return strings.ToLower(s)
}

func keyOfUnicode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i]) // invalid UTF-8 stays as it is: only equal to itself
		} else {
			b.WriteRune(keyRune(r))
		}
		i += n
	}
	return b.String()
}

// keyRune is the canonical member of r's class under "same simple upper
// case".
func keyRune(r rune) rune {
	u := unicode.ToUpper(r)
	if l := unicode.ToLower(u); unicode.ToUpper(l) == u {
		return l
	}
	return u
}

// EqualName reports whether two names (or IDs) are equal under ARM's
// ordinal ignore-case rule (see KeyOf).
func EqualName(a, b string) bool {
	for {
		if a == "" || b == "" {
			return a == b
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if (ra == utf8.RuneError && na == 1) || (rb == utf8.RuneError && nb == 1) {
			if a[:na] != b[:nb] {
				return false
			}
		} else if ra != rb && unicode.ToUpper(ra) != unicode.ToUpper(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
}
