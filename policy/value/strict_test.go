package value

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestNumbersRoundTrip: every number a document holds is written back
// exactly as it was given, whichever decoder read it.
func TestNumbersRoundTrip(t *testing.T) {
	for _, lit := range []string{
		"0", "-1", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "123456789012345678901234567890", "-123456789012345678901234567890",
		"0.1", "0.30000000000000004", "1.0", "1.10", "1e3", "1E+3", "2.5e-7", "1e-400", "4e-324",
		"1.7976931348623157e308", "3.141592653589793238462643383279",
	} {
		in := `{"n":` + lit + `,"a":[` + lit + `]}`
		var d Decoder
		for name, dec := range map[string]func([]byte) (Value, error){"Parse": Parse, "ParseStrict": ParseStrict, "Decode": d.Decode} {
			v, err := dec([]byte(in))
			if err != nil {
				t.Fatalf("%s(%s): %v", name, in, err)
			}
			if got := v.JSON(); got != in {
				t.Errorf("%s(%s).JSON() = %s, want it unchanged", name, in, got)
			}
		}
	}
}

// TestComputedFloats: floats made by code (not decoded) still encode by
// value.
func TestComputedFloats(t *testing.T) {
	for f, want := range map[float64]string{0.5: "0.5", 1e21: "1e+21", 3: "3"} {
		if got := FloatValue(f).JSON(); got != want {
			t.Errorf("FloatValue(%v).JSON() = %s, want %s", f, got, want)
		}
	}
}

// TestStrictErrors: out-of-range numbers, duplicate keys (compared as Get
// compares them) and syntax errors name the member by JSON pointer.
func TestStrictErrors(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	big := "{" + strings.Join(many, ",") + `,"K17":0}`
	tests := []struct {
		in, pointer, msg string
	}{
		{`{"properties":{"x":1e999999}}`, "/properties/x", "out of range"},
		{`{"properties":{"x":[1,-1e400]}}`, "/properties/x/1", "out of range"},
		{`1e309`, "", "out of range"},
		{`{"a":1,"a":2}`, "/a", `duplicate key "a"`},
		{`{"a":1,"A":2}`, "/A", `"a" came before it`},
		{`{"tags":{"Straße":"x","STRASSE":"y"}}`, "/tags/STRASSE", "duplicate key"},
		{`{"p":{"a/b~c":{"x":1,"x":1}}}`, "/p/a~1b~0c/x", "duplicate key"},
		{`[{"ok":1},{"a":{},"b":{},"a":{}}]`, "/1/a", "duplicate key"},
		{big, "/K17", `"k17" came before it`},
		{`{"a":[1,2,}`, "/a/2", "expected a value"},
	}
	for _, tc := range tests {
		_, err := ParseStrict([]byte(tc.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseStrict(%.60s) error = %v, want a *SyntaxError", tc.in, err)
			continue
		}
		if se.Pointer != tc.pointer || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("ParseStrict(%.60s) = pointer %q, message %q; want %q and a message containing %q", tc.in, se.Pointer, se.Msg, tc.pointer, tc.msg)
		}
	}
}

// TestLenientDuplicates: Parse and Decode (the engine's decoders) keep
// accepting duplicate keys, the last one winning, as before.
func TestLenientDuplicates(t *testing.T) {
	v, err := Parse([]byte(`{"a":1,"A":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Field("a").Int(); got != 2 {
		t.Errorf(`Field("a") = %d, want 2 (the last member)`, got)
	}
	if _, err := Parse([]byte(`1e999999`)); err == nil {
		t.Error("Parse(1e999999) succeeded; want an out-of-range error")
	}
}

func FuzzParseStrict(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2.50,1e3]}}`))
	f.Add([]byte(`{"a":1,"A":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseStrict(b)
		if err != nil {
			return
		}
		// What strict parsing accepts, encodes and parses back the same.
		w, err := ParseStrict([]byte(v.JSON()))
		if err != nil {
			t.Fatalf("re-parsing %s: %v", v.JSON(), err)
		}
		if v.JSON() != w.JSON() {
			t.Fatalf("round trip changed %s into %s", v.JSON(), w.JSON())
		}
	})
}

// TestJSONByValue: AppendJSONByValue writes decoded floats from their
// value, as the encoder did before it kept literals.
func TestJSONByValue(t *testing.T) {
	v, err := Parse([]byte(`{"a":[1.50,1e3,0.1,12345678901234567890,7]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(AppendJSONByValue(nil, v)), `{"a":[1.5,1000,0.1,12345678901234567000,7]}`; got != want {
		t.Errorf("AppendJSONByValue = %s, want %s", got, want)
	}
}
