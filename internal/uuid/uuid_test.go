package uuid

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewAndValid(t *testing.T) {
	for range 100 {
		if s := New(); !Valid(s) || s[14] != '4' || !strings.ContainsRune("89ab", rune(s[19])) || s != strings.ToLower(s) {
			t.Fatalf("New() = %q", s)
		}
	}
	s, err := NewFrom(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)))
	if err != nil || s != "ffffffff-ffff-4fff-bfff-ffffffffffff" {
		t.Errorf("NewFrom = %q, %v", s, err)
	}
	if _, err := NewFrom(bytes.NewReader(make([]byte, 15))); err == nil {
		t.Error("NewFrom of 15 bytes: no error")
	}
	for s, want := range map[string]bool{
		"F6C7C914-8DB3-469D-8CA1-694A8F32E121": true, "f6c7c914-8db3-469d-8ca1-694a8f32e121": true,
		"f6c7c914-8db3-469d-8ca1-694a8f32e12": false, "f6c7c914x8db3-469d-8ca1-694a8f32e121": false,
		"g6c7c914-8db3-469d-8ca1-694a8f32e121": false, "": false,
	} {
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v", s, !want)
		}
	}
}
