package api

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddr: X-Forwarded-For is read only from a trusted proxy, and
// then its rightmost address that is not itself trusted is the client.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}
	for _, c := range []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies configured", "10.0.0.1:5000", []string{"203.0.113.7"}, nil, "10.0.0.1"},
		{"an untrusted peer's header is ignored", "192.0.2.1:5000", []string{"203.0.113.7"}, trusted, "192.0.2.1"},
		{"loopback is not trusted by itself", "127.0.0.1:5000", []string{"203.0.113.7"}, trusted, "127.0.0.1"},
		{"a trusted peer", "10.0.0.1:5000", []string{"203.0.113.7"}, trusted, "203.0.113.7"},
		{"rightmost untrusted", "10.0.0.1:5000", []string{"198.51.100.1, 203.0.113.7, 10.0.0.2"}, trusted, "203.0.113.7"},
		{"a spoofed left part is not taken", "10.0.0.1:5000", []string{"10.0.0.9, 203.0.113.7"}, trusted, "203.0.113.7"},
		{"several headers", "10.0.0.1:5000", []string{"198.51.100.1", "203.0.113.7"}, trusted, "203.0.113.7"},
		{"all trusted: the leftmost", "10.0.0.1:5000", []string{"10.0.0.3, 10.0.0.2"}, trusted, "10.0.0.3"},
		{"no header: the proxy", "10.0.0.1:5000", nil, trusted, "10.0.0.1"},
		{"a garbage entry: unknown", "10.0.0.1:5000", []string{"203.0.113.7, nonsense"}, trusted, "invalid IP"},
		{"an entry with a port", "10.0.0.1:5000", []string{"203.0.113.7:443"}, trusted, "203.0.113.7"},
		{"IPv6 peer and entry", "[fd00::1]:5000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"IPv4-mapped", "[::ffff:10.0.0.1]:5000", []string{"::ffff:203.0.113.7"}, trusted, "203.0.113.7"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.peer
		for _, v := range c.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientAddr(req, c.trusted); got.String() != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
