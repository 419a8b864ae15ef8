package egress

import (
	"net/netip"
	"testing"
)

const testWorkspace = `{"properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound","status":{"status":"Active"},"outboundRules":{
	"pypi":{"type":"FQDN","destination":"pypi.org","status":"Active"},
	"example-subs":{"type":"FQDN","destination":"*.Example.COM.","status":"Active"},
	"inactive":{"type":"FQDN","destination":"inactive.org","status":"Inactive"},
	"blob":{"type":"PrivateEndpoint","destination":{"serviceResourceId":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1","subresourceTarget":"blob"},"status":"Active"},
	"unknown-pe":{"type":"PrivateEndpoint","destination":{"serviceResourceId":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Foo/bars/b","subresourceTarget":"x"},"status":"Active"},
	"pe-fqdns":{"type":"PrivateEndpoint","destination":{"serviceResourceId":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Foo/bars/c","subresourceTarget":"x"},"fqdns":["c.foo.example"],"status":"Active"},
	"tag-net":{"type":"ServiceTag","destination":{"serviceTag":"Custom","protocol":"TCP","portRanges":"5432, 8000-8080","addressPrefixes":["10.1.0.0/16"]},"status":"Active"},
	"tag-file":{"type":"ServiceTag","destination":{"serviceTag":"AzureFrontDoor.Frontend","protocol":"*","portRanges":"*"},"status":"Active"},
	"tag-deny":{"type":"ServiceTag","destination":{"serviceTag":"Bad","protocol":"TCP","portRanges":"*","action":"Deny","addressPrefixes":["10.1.9.0/24"]},"status":"Active"},
	"tag-unknown":{"type":"ServiceTag","destination":{"serviceTag":"Nowhere","protocol":"TCP","portRanges":"443"},"status":"Active"}}}}}`

// TestDecide: rule matching — exact and wildcard names (sub-domains,
// not the apex), case and trailing dots, ports (FQDN rules: 80 and 443
// only), inactive rules, private endpoints' host names, service tags by
// address (the rule's prefixes and the operator's file, every address
// of the host inside), Deny first; the modes.
func TestDecide(t *testing.T) {
	tags, err := ParseServiceTags([]byte(`{"values":[{"name":"AzureFrontDoor.Frontend","properties":{"addressPrefixes":["192.0.2.0/24","2001:db8::/32"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile([]byte(testWorkspace), tags)
	if err != nil {
		t.Fatal(err)
	}
	if p.Skipped["unknown-pe"] == "" || p.Skipped["tag-unknown"] == "" || len(p.Skipped) != 2 {
		t.Errorf("skipped rules: %v", p.Skipped)
	}
	a := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	for _, c := range []struct {
		host  string
		port  int
		addrs []netip.Addr
		rule  string // "" and !allowed: denied
		allow bool
	}{
		{"pypi.org", 443, nil, "pypi", true},
		{"pypi.org", 80, nil, "pypi", true},
		{"PyPI.org.", 443, nil, "pypi", true},
		{"pypi.org", 8443, nil, "", false},
		{"files.pypi.org", 443, nil, "", false},
		{"evilpypi.org", 443, nil, "", false},
		{"a.example.com", 443, nil, "example-subs", true},
		{"a.b.example.com", 443, nil, "example-subs", true},
		{"example.com", 443, nil, "", false}, // the apex is not a sub-domain
		{"xexample.com", 443, nil, "", false},
		{"inactive.org", 443, nil, "", false},
		{"acct1.blob.core.windows.net", 443, nil, "blob", true},
		{"acct1.file.core.windows.net", 443, nil, "", false},
		{"c.foo.example", 443, nil, "pe-fqdns", true},
		{"db.internal", 5432, a("10.1.2.3"), "tag-net", true},
		{"db.internal", 8080, a("10.1.2.3"), "tag-net", true},
		{"db.internal", 8081, a("10.1.2.3"), "", false},
		{"db.internal", 5432, a("10.1.2.3", "10.9.0.1"), "", false}, // one address outside
		{"db.internal", 5432, a("10.1.9.5"), "tag-deny", false},
		{"10.1.2.3", 8000, a("10.1.2.3"), "tag-net", true},
		{"fd.example.net", 9999, a("192.0.2.7"), "tag-file", true},
		{"fd.example.net", 9999, a("2001:db8::1"), "tag-file", true},
		{"fd.example.net", 9999, nil, "", false},
		{"", 443, nil, "", false},
	} {
		d := p.Decide(NormalizeHost(c.host), c.port, c.addrs)
		if d.Allowed != c.allow || d.Rule != c.rule {
			t.Errorf("%s:%d %v: %+v, want allowed %v by %q", c.host, c.port, c.addrs, d, c.allow, c.rule)
		}
	}
	if NormalizeHost("bücher.de") != "" {
		t.Error("a non-ASCII host name is normalized to a name rules could match")
	}

	// AllowInternetOutbound: everything, by the rule when one matches.
	p, _ = Compile([]byte(`{"properties":{"managedNetwork":{"isolationMode":"AllowInternetOutbound","status":{"status":"Active"},"outboundRules":{"pypi":{"type":"FQDN","destination":"pypi.org","status":"Active"}}}}}`), nil)
	if d := p.Decide("pypi.org", 443, nil); !d.Allowed || d.Rule != "pypi" {
		t.Errorf("AllowInternetOutbound, a rule's host: %+v", d)
	}
	if d := p.Decide("other.org", 22, nil); !d.Allowed || d.Rule != "" || d.Reason != ModeAllowInternetOutbound {
		t.Errorf("AllowInternetOutbound, another host: %+v", d)
	}
	// Not provisioned: rules allow nothing yet.
	p, _ = Compile([]byte(`{"properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound","outboundRules":{"pypi":{"type":"FQDN","destination":"pypi.org","status":"Active"}}}}}`), nil)
	if d := p.Decide("pypi.org", 443, nil); d.Allowed {
		t.Errorf("a network not provisioned allowed: %+v", d)
	}
	// No managed network, or Disabled: everything.
	for _, ws := range []string{`{"properties":{}}`, `{"properties":{"managedNetwork":{"isolationMode":"Disabled"}}}`} {
		p, _ = Compile([]byte(ws), nil)
		if d := p.Decide("anything.org", 25, nil); !d.Allowed || d.Reason != ModeDisabled {
			t.Errorf("%s: %+v", ws, d)
		}
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"pypi.org", "[::1]", "A.B.", "bücher.de", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := NormalizeHost(s)
		if NormalizeHost(h) != h {
			t.Errorf("NormalizeHost is not idempotent on %q: %q", s, h)
		}
	})
}

// TestDecideAllocs: a decision allocates nothing (it runs per request).
func TestDecideAllocs(t *testing.T) {
	p, err := Compile([]byte(testWorkspace), nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3")}
	for _, host := range []string{"pypi.org", "a.b.example.com", "db.internal", "nowhere.org"} {
		if n := testing.AllocsPerRun(100, func() { p.Decide(host, 443, addrs) }); n != 0 {
			t.Errorf("Decide(%s) allocates %.0f times", host, n)
		}
	}
}

func FuzzParseServiceTags(f *testing.F) {
	f.Add([]byte(`{"values":[{"name":"Storage","properties":{"addressPrefixes":["10.0.0.0/8","2001:db8::/32","1.2.3.4"]}}]}`))
	f.Add([]byte(`{"values":[{"name":"x","properties":{"addressPrefixes":["nope"]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tags, err := ParseServiceTags(data)
		if err == nil {
			for _, ps := range tags {
				for _, p := range ps {
					if !p.IsValid() {
						t.Errorf("an invalid prefix accepted: %v", p)
					}
				}
			}
		}
	})
}

func FuzzCompile(f *testing.F) {
	f.Add([]byte(testWorkspace))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Compile(data, nil)
		if err == nil {
			p.Decide("a.example.com", 443, nil)
		}
	})
}
