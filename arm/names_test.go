package arm

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestKeyOf(t *testing.T) {
	tests := []struct {
		a, b  string
		equal bool
	}{
		{"Workspace-1", "wORKSPACE-1", true},
		{"kv", "\u212Av", false},     // Kelvin sign is not k (it was, with strings.ToLower)
		{"KV", "\u212Av", false},     // nor K
		{"id", "\u0130d", false},     // dotted capital I is not i
		{"ID", "\u0131d", true},      // dotless i upper-cases to I
		{"straße", "STRASSE", false}, // no full case folding: ß has no simple upper case
		{"ÉTÉ", "été", true},
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true},
		{"ς", "Σ", true},
		{"Å", "\u212B", false}, // Angstrom sign upper-cases to itself, not to Å
		{"a\xffb", "A\xffB", true},
		{"a\xffb", "a\xfeb", false},
		{"", "", true},
		{"a", "", false},
	}
	for _, tc := range tests {
		if got := KeyOf(tc.a) == KeyOf(tc.b); got != tc.equal {
			t.Errorf("KeyOf(%q) = %q, KeyOf(%q) = %q: equal %v, want %v", tc.a, KeyOf(tc.a), tc.b, KeyOf(tc.b), got, tc.equal)
		}
		if got := EqualName(tc.a, tc.b); got != tc.equal {
			t.Errorf("EqualName(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.equal)
		}
	}
}

// TestKeyOfEveryRune: for every rune, the key depends only on the simple
// upper case and tells it apart (so KeyOf(a) == KeyOf(b) exactly when
// the upper cases are equal), and it is strings.ToLower's answer except
// for the listed runes (keys stored before, by strings.ToLower, stay
// valid for everything else).
func TestKeyOfEveryRune(t *testing.T) {
	changed := map[rune]bool{}
	for _, r := range "\u00B5\u0130\u0131\u017F\u0345\u03C2\u03D0\u03D1\u03D5\u03D6\u03F0\u03F1\u03F4\u03F5" +
		"\u1C80\u1C81\u1C82\u1C83\u1C84\u1C85\u1C86\u1C87\u1C88\u1E9B\u1E9E\u1FBE\u2126\u212A\u212B" {
		changed[r] = true
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		k, u := keyRune(r), unicode.ToUpper(r)
		if keyRune(u) != k || unicode.ToUpper(k) != u {
			t.Errorf("%U: key %U, key of its upper case %U %U, upper case of the key %U", r, k, u, keyRune(u), unicode.ToUpper(k))
		}
		s := string(r)
		if (KeyOf(s) != strings.ToLower(s)) != changed[r] {
			t.Errorf("%U: KeyOf %q, strings.ToLower %q; listed as changed: %v", r, KeyOf(s), strings.ToLower(s), changed[r])
		}
		if !EqualName(s, string(u)) || !EqualName(string(u), s) {
			t.Errorf("%U: EqualName with its upper case %U is false", r, u)
		}
	}
}

func FuzzEqualName(f *testing.F) {
	f.Add("Kelvin", "\u212Aelvin")
	f.Add("ıd", "ID")
	f.Fuzz(func(t *testing.T, a, b string) {
		if EqualName(a, b) != (KeyOf(a) == KeyOf(b)) {
			t.Fatalf("EqualName(%q, %q) = %v, but KeyOf gives %q and %q", a, b, EqualName(a, b), KeyOf(a), KeyOf(b))
		}
		if !EqualName(a, strings.ToUpper(a)) && utf8.ValidString(a) {
			t.Fatalf("EqualName(%q, its upper case %q) = false", a, strings.ToUpper(a))
		}
	})
}
