package expr

import "testing"

var ipCases = []fnCase{
	// ipRangeContains: single IPs, CIDR and start-end ranges; documented
	// failures for invalid input and mixed families.
	{fn: "ipRangeContains", args: `["10.0.0.0/8", "10.1.2.3"]`, want: `true`},
	{fn: "ipRangeContains", args: `["10.0.0.0/8", "11.0.0.0"]`, want: `false`},
	{fn: "ipRangeContains", args: `["10.0.0.0/8", "10.0.0.0/7"]`, want: `false`},
	{fn: "ipRangeContains", args: `["10.0.0.0/8", "10.2.0.0-10.3.255.255"]`, want: `true`},
	{fn: "ipRangeContains", args: `["192.168.0.1-192.168.0.9", "192.168.0.9"]`, want: `true`},
	{fn: "ipRangeContains", args: `["192.168.0.1-192.168.0.9", "192.168.0.10"]`, want: `false`},
	{fn: "ipRangeContains", args: `["10.0.0.5", "10.0.0.5"]`, want: `true`},
	{fn: "ipRangeContains", args: `["10.1.2.3/8", "10.200.0.0"]`, want: `true`},
	{fn: "ipRangeContains", args: `["2001:0DB8::/110", "2001:db8::3:ffff"]`, want: `true`},
	{fn: "ipRangeContains", args: `["2001:0DB8::-2001:0DB8::3:FFFF", "2001:db8::4:0"]`, want: `false`},
	{fn: "ipRangeContains", args: `["::/0", "ffff::1"]`, want: `true`},
	{fn: "ipRangeContains", args: `["0.0.0.0/0", "255.255.255.255"]`, want: `true`},
	{fn: "ipRangeContains", args: `["10.0.0.0/8", "2001:db8::1"]`, err: "cannot compare an IPv4 range with an IPv6 range"},
	{fn: "ipRangeContains", args: `["", "10.0.0.1"]`, err: "not a valid IP address"},
	{fn: "ipRangeContains", args: `["10.0.0.9-10.0.0.1", "10.0.0.5"]`, err: "not a valid IP address"},
	{fn: "ipRangeContains", args: `["10.0.0.0/33", "10.0.0.5"]`, err: "not a valid IP address"},
	{fn: "ipRangeContains", args: `["10.0.0.1-2001:db8::1", "10.0.0.5"]`, err: "not a valid IP address"},
	{fn: "ipRangeContains", args: `[null, "10.0.0.5"]`, err: "argument 1 must be a string"},

	// parseCidr / cidrSubnet / cidrHost: documented examples.
	{fn: "parseCidr", args: `["10.144.0.0/20"]`, want: `{"network":"10.144.0.0","netmask":"255.255.240.0","broadcast":"10.144.15.255","firstUsable":"10.144.0.1","lastUsable":"10.144.15.254","cidr":20}`},
	{fn: "parseCidr", args: `["fdad:3236:5555::/48"]`, want: `{"network":"fdad:3236:5555::","netmask":"ffff:ffff:ffff::","firstUsable":"fdad:3236:5555::","lastUsable":"fdad:3236:5555:ffff:ffff:ffff:ffff:ffff","cidr":48}`},
	{fn: "parseCidr", args: `["10.0.0.7/32"]`, want: `{"network":"10.0.0.7","netmask":"255.255.255.255","broadcast":"10.0.0.7","firstUsable":"10.0.0.7","lastUsable":"10.0.0.7","cidr":32}`},
	{fn: "parseCidr", args: `["10.0.0.0"]`, err: "not a valid CIDR range"},
	{fn: "cidrSubnet", args: `["10.144.0.0/20", 24, 0]`, want: `"10.144.0.0/24"`},
	{fn: "cidrSubnet", args: `["10.144.0.0/20", 24, 4]`, want: `"10.144.4.0/24"`},
	{fn: "cidrSubnet", args: `["fdad:3236:5555::/48", 52, 1]`, want: `"fdad:3236:5555:1000::/52"`},
	{fn: "cidrSubnet", args: `["fdad:3236:5555::/48", 52, 4]`, want: `"fdad:3236:5555:4000::/52"`},
	{fn: "cidrSubnet", args: `["::/0", 128, 5]`, want: `"::5/128"`},
	{fn: "cidrSubnet", args: `["10.144.0.0/20", 24, 16]`, err: "subnetIndex 16 is out of range"},
	{fn: "cidrSubnet", args: `["10.144.0.0/20", 19, 0]`, err: "newCIDR 19 must be between 20 and 32"},
	{fn: "cidrSubnet", args: `["10.144.0.0/20", 24, -1]`, err: "must not be negative"},
	{fn: "cidrHost", args: `["10.144.3.0/24", 0]`, want: `"10.144.3.1"`},
	{fn: "cidrHost", args: `["10.144.3.0/24", 4]`, want: `"10.144.3.5"`},
	{fn: "cidrHost", args: `["10.144.3.0/24", 253]`, want: `"10.144.3.254"`},
	{fn: "cidrHost", args: `["10.144.3.0/24", 254]`, err: "hostIndex 254 is out of range"},
	{fn: "cidrHost", args: `["fdad:3236:5555:3000::/52", 4]`, want: `"fdad:3236:5555:3000::5"`},
	{fn: "cidrHost", args: `["fdad:3236:5555:3000::/52", 9223372036854775807]`, want: `"fdad:3236:5555:3000:8000::"`},
}

func TestIPFunctions(t *testing.T) { runFnCases(t, ipCases) }
