package cli

import (
	"net/netip"
	"testing"
)

// TestParseHosts: the static host mapping of the egress proxy, in
// hosts-file format: comments, several names a line, names normalized,
// a line without an address or name refused with its number.
func TestParseHosts(t *testing.T) {
	m, err := parseHosts([]byte("# comment\n10.0.0.1 a.example.com B.example.com. # trailing\n\n::1 v6.example\n10.0.0.2 a.example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m["a.example.com"]; len(got) != 2 || got[0] != netip.MustParseAddr("10.0.0.1") || got[1] != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("a.example.com: %v", got)
	}
	if len(m["b.example.com"]) != 1 || len(m["v6.example"]) != 1 || len(m) != 3 {
		t.Errorf("the mapping: %v", m)
	}
	for _, bad := range []string{"10.0.0.1\n", "not-an-ip name\n", "10.0.0.1 bücher.de\n"} {
		if _, err := parseHosts([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
