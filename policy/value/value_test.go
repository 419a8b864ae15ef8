package value

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1,"b":[true,false,null],"c":"x\"y\u00e9\ud83d\ude00"}`, `{"a":1,"b":[true,false,null],"c":"x\"yé😀"}`},
		{` [ 1.5 , -0 , 1e3, 12345678901234567890 ] `, `[1.5,0,1e3,12345678901234567890]`},
		{`"\n\t\\\/"`, `"\n\t\\/"`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`-12`, `-12`},
	}
	var d Decoder
	for _, tc := range tests {
		for _, dec := range []func([]byte) (Value, error){Parse, d.Decode} {
			v, err := dec([]byte(tc.in))
			if err != nil {
				t.Fatalf("decode %s: %v", tc.in, err)
			}
			if got := v.JSON(); got != tc.want {
				t.Errorf("decode %s = %s, want %s", tc.in, got, tc.want)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		in         string
		line, col  int
		msgContain string
	}{
		{`{"a":}`, 1, 6, "expected a value"},
		{"{\n  \"a\": 1,\n  }", 3, 3, "expected a string key"},
		{`[1,2`, 1, 5, "end of input"},
		{`"abc`, 1, 5, "unterminated string"},
		{`{"a" 1}`, 1, 6, "expected ':'"},
		{`tru`, 1, 1, "invalid literal"},
		{`1 2`, 1, 3, "after the top-level value"},
		{`01`, 1, 2, "after the top-level value"},
		{`"\x"`, 1, 3, "invalid escape"},
		{``, 1, 1, "end of input"},
		{strings.Repeat("[", 600), 1, 513, "nesting deeper"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.in))
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("Parse(%q) error = %v, want *SyntaxError", tc.in, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col || !strings.Contains(se.Msg, tc.msgContain) {
			t.Errorf("Parse(%q) = %v, want line %d col %d containing %q", tc.in, se, tc.line, tc.col, tc.msgContain)
		}
	}
}

func TestGetCaseInsensitiveLastWins(t *testing.T) {
	v, err := ParseString(`{"Name":"a","NAME":"b","other":{"Ünï":1}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Field("name").Str(); got != "b" {
		t.Errorf("Get(name) = %q, want b", got)
	}
	if _, ok := v.Field("other").Get("üNÏ"); !ok {
		t.Errorf("Unicode fold lookup failed")
	}
	if _, ok := v.Get("missing"); ok {
		t.Errorf("Get(missing) found")
	}
}

func TestWalk(t *testing.T) {
	v, _ := ParseString(`{"properties":{"objectArray":[{"property":"v1","nestedArray":[1,2]},{"property":"v2","nestedArray":[3,4]}],"s":"x"}}`)
	tests := []struct {
		path string
		want string
	}{
		{"properties.objectArray[*].property", `["v1","v2"]`},
		{"properties.objectArray[*].nestedArray[*]", `[1,2,3,4]`},
		{"properties.objectArray[*].nestedArray", `[[1,2],[3,4]]`},
		{"properties.missing[*].x", `[]`},
		{"properties.s[*]", `[]`},
		{"PROPERTIES.S", `["x"]`},
	}
	for _, tc := range tests {
		p, err := ParsePath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got := ArrayValue(v.Collect(p, nil)).JSON()
		if got != tc.want {
			t.Errorf("Collect(%s) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a.b[*].c", "a.b[*].c"},
		{"tags['my.tag']", "tags['my.tag']"},
		{"tags[env]", "tags.env"},
		{"tags['it''s']", "tags['it''s']"},
	}
	for _, tc := range tests {
		p, err := ParsePath(tc.in)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tc.in, err)
		}
		if got := p.String(); got != tc.want {
			t.Errorf("ParsePath(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "a..b", "a.", ".a", "a[", "tags['x"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) succeeded, want error", bad)
		}
	}
}

func TestDecoderReuseDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"id":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w","name":"w","type":"Microsoft.MachineLearningServices/workspaces","location":"eastus","tags":{"env":"prod"},"properties":{"publicNetworkAccess":"Enabled","a\u0041":[1,2.5,{"x":null}]}}`)
	var d Decoder
	if _, err := d.Decode(doc); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(doc); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per document after warm-up, want 0", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null,true]}`, `"\u0041"`, `1e5`, `[[[]]]`, `{"a":{"b":-0.5}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		valid := json.Valid(data)
		if (err == nil) != valid {
			// encoding/json accepts what we refuse only for depth and for
			// numbers beyond float64 (which it checks only on decoding).
			if err != nil && (strings.Contains(err.Error(), "nesting deeper") || strings.Contains(err.Error(), "out of range")) {
				return
			}
			t.Fatalf("Parse(%q) err=%v, json.Valid=%v", data, err, valid)
		}
		if err != nil {
			return
		}
		// Our encoding must be valid JSON that re-parses to an equal value.
		enc := AppendJSON(nil, v)
		v2, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", enc, err)
		}
		if !Equal(v, v2) && !strings.Contains(string(enc), "null") {
			t.Fatalf("round trip changed value: %s vs %s", v.JSON(), v2.JSON())
		}
		var d Decoder
		v3, err := d.Decode(data)
		if err != nil || !Equal(v, v3) {
			t.Fatalf("Decoder.Decode differs from Parse: %v", err)
		}
		// Get on decoded objects (whose keys carry the ASCII mark) finds
		// what a plain case-folded scan finds.
		checkGet(t, v)
	})
}

func BenchmarkDecode(b *testing.B) {
	doc := []byte(`{"id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/ci1","name":"ci1","type":"Microsoft.MachineLearningServices/workspaces/computes","location":"eastus","tags":{"env":"prod","team":"ml"},"identity":{"type":"SystemAssigned"},"properties":{"computeType":"ComputeInstance","disableLocalAuth":false,"properties":{"vmSize":"STANDARD_NC6","idleTimeBeforeShutdown":"PT30M","enableNodePublicIp":true,"subnet":{"id":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}}}}`)
	var d Decoder
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGetFoldsKeysOfOtherLengths: a decoded key is marked ASCII so that Get
// skips members of another length, but a non-ASCII key of another byte
// length can still fold to it ("K", the Kelvin sign, is "k").
func TestGetFoldsKeysOfOtherLengths(t *testing.T) {
	v, err := ParseString(`{"k":1,"straße":2,"ss":3,"Name":4,"name\u212a":5}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want int64
		ok   bool
	}{
		{"k", 1, true}, {"K", 1, true}, {"\u212a", 1, true},
		{"STRASSE", 2, true}, {"strasse", 2, true}, {"SS", 3, true},
		{"name", 4, true}, {"NAME", 4, true}, {"namek", 5, true}, {"NAME\u212a", 5, true},
		{"nam", 0, false}, {"", 0, false}, {"é", 0, false},
	} {
		got, ok := v.Get(tc.key)
		if ok != tc.ok || got.Int() != tc.want {
			t.Errorf("Get(%q) = %v, %v; want %d, %v", tc.key, got.JSON(), ok, tc.want, tc.ok)
		}
	}
}

// TestDecodeStringScan covers the word-at-a-time string scan: quotes,
// escapes, control characters and non-ASCII bytes at every offset of an
// 8-byte word.
func TestDecodeStringScan(t *testing.T) {
	var d Decoder
	for n := 0; n < 20; n++ {
		pad := strings.Repeat("a", n)
		for _, tc := range []struct{ in, want string }{
			{pad, pad},
			{pad + `\"x`, pad + `"x`},
			{pad + `\\`, pad + `\`},
			{pad + "é" + pad, pad + "é" + pad},
			{pad + "\x7f", pad + "\x7f"},
			{pad + "\xff", pad + "\ufffd"},
		} {
			doc := `["` + tc.in + `"]`
			v, err := d.Decode([]byte(doc))
			if err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
			if got := v.Index(0).Str(); got != tc.want {
				t.Errorf("%q: got %q, want %q", doc, got, tc.want)
			}
		}
		if _, err := d.Decode([]byte(`["` + pad + "\x01" + `"]`)); err == nil {
			t.Errorf("control character after %d bytes accepted", n)
		}
		if _, err := d.Decode([]byte(`["` + pad)); err == nil {
			t.Errorf("unterminated string of %d bytes accepted", n)
		}
	}
}

// checkGet compares Get with a reference scan for every key of every object
// in v, in several spellings.
func checkGet(t *testing.T, v Value) {
	switch v.Kind() {
	case Array:
		for _, e := range v.Elems() {
			checkGet(t, e)
		}
	case Object:
		for i := 0; i < v.Len(); i++ {
			k, e := v.MemberAt(i)
			for _, key := range []string{k, strings.ToUpper(k), strings.ToLower(k), k + "x", "\u212a", "k"} {
				got, ok := v.Get(key)
				var want Value
				found := false
				for j := v.Len() - 1; j >= 0; j-- {
					if k2, e2 := v.MemberAt(j); EqualFold(k2, key) {
						want, found = e2, true
						break
					}
				}
				if ok != found || !Equal(got, want) {
					t.Fatalf("Get(%q) = %s, %v; reference scan %s, %v", key, got.JSON(), ok, want.JSON(), found)
				}
			}
			checkGet(t, e)
		}
	}
}

// FuzzEqualFold: the fast paths of EqualFold agree with comparing the
// full case foldings.
func FuzzEqualFold(f *testing.F) {
	for _, p := range [][2]string{
		{"Microsoft.MachineLearningServices/workspaces", "microsoft.machinelearningservices/WORKSPACES"},
		{"Microsoft.MachineLearningServices/workspaces", "Microsoft.MachineLearningServices/workspaces/computes"},
		{"straße", "STRASSE"}, {"k", "\u212a"}, {"abc\u212a", "ABCk"}, {"éab", "éa"}, {"ﬃ", "FFI"},
		{"\xc3a", "\xc3b"}, {"", ""}, {"a", ""}, {"ſ", "S"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := EqualFold(a, b), Fold(a) == Fold(b); got != want {
			t.Fatalf("EqualFold(%q, %q) = %v, folded comparison says %v", a, b, got, want)
		}
	})
}
