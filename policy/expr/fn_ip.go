package expr

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// IP functions: the policy-only ipRangeContains (definition-structure-
// policy-rule.md) and ARM's CIDR functions (template-functions-cidr.md).

// u128 is an IP address as a 128-bit big-endian integer (IPv4 in the low
// 32 bits).
type u128 struct{ hi, lo uint64 }

func addrToU128(a netip.Addr) u128 {
	b := a.As16()
	if a.Is4() {
		v := a.As4()
		return u128{0, uint64(v[0])<<24 | uint64(v[1])<<16 | uint64(v[2])<<8 | uint64(v[3])}
	}
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return u128{hi, lo}
}

func u128ToAddr(u u128, is4 bool) netip.Addr {
	if is4 {
		v := uint32(u.lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(u.hi >> (8 * i))
		b[15-i] = byte(u.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func (u u128) cmp(v u128) int {
	switch {
	case u.hi < v.hi:
		return -1
	case u.hi > v.hi:
		return 1
	case u.lo < v.lo:
		return -1
	case u.lo > v.lo:
		return 1
	}
	return 0
}

func (u u128) add(v u128) (u128, bool) {
	lo, c := bits.Add64(u.lo, v.lo, 0)
	hi, c2 := bits.Add64(u.hi, v.hi, c)
	return u128{hi, lo}, c2 != 0
}

func (u u128) or(v u128) u128  { return u128{u.hi | v.hi, u.lo | v.lo} }
func (u u128) and(v u128) u128 { return u128{u.hi & v.hi, u.lo & v.lo} }
func (u u128) not() u128       { return u128{^u.hi, ^u.lo} }

// shl shifts left by n < 128 bits.
func (u u128) shl(n int) u128 {
	switch {
	case n == 0:
		return u
	case n >= 64:
		return u128{u.lo << (n - 64), 0}
	}
	return u128{u.hi<<n | u.lo>>(64-n), u.lo << n}
}

// hostMask has the low (bits - prefix) bits set.
func hostMask(bitLen, prefix int) u128 {
	n := bitLen - prefix
	if n >= 128 {
		return u128{^uint64(0), ^uint64(0)}
	}
	one := u128{0, 1}.shl(n)
	// one - 1
	if one.lo == 0 {
		return u128{one.hi - 1, ^uint64(0)}
	}
	return u128{one.hi, one.lo - 1}
}

// ipRange is an inclusive address range of one family.
type ipRange struct {
	is4        bool
	start, end u128
}

// parseIPRange parses a single address, a CIDR prefix or "start-end".
func parseIPRange(s string) (ipRange, bool) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		x, err1 := netip.ParseAddr(strings.TrimSpace(a))
		y, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || x.Is4() != y.Is4() || x.Zone() != "" || y.Zone() != "" {
			return ipRange{}, false
		}
		r := ipRange{is4: x.Is4(), start: addrToU128(x), end: addrToU128(y)}
		if r.start.cmp(r.end) > 0 {
			return ipRange{}, false
		}
		return r, true
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return ipRange{}, false
		}
		p = p.Masked()
		start := addrToU128(p.Addr())
		return ipRange{is4: p.Addr().Is4(), start: start, end: start.or(hostMask(p.Addr().BitLen(), p.Bits()))}, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return ipRange{}, false
	}
	u := addrToU128(a)
	return ipRange{is4: a.Is4(), start: u, end: u}, true
}

// ipRangeContains(range, targetRange): whether targetRange lies within
// range. Both take a single IP, a CIDR range or "start-end", IPv4 or IPv6.
// Invalid or empty ranges and mixed address families are evaluation
// failures (documented), not false.
func fnIPRangeContains(args []value.Value) (value.Value, error) {
	const fn = "ipRangeContains"
	rs, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	ts, err := strArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	r, ok := parseIPRange(rs)
	if !ok {
		return value.Value{}, failf(fn, "'%s' is not a valid IP address, CIDR range or address range", rs)
	}
	t, ok := parseIPRange(ts)
	if !ok {
		return value.Value{}, failf(fn, "'%s' is not a valid IP address, CIDR range or address range", ts)
	}
	if r.is4 != t.is4 {
		return value.Value{}, failf(fn, "cannot compare an IPv4 range with an IPv6 range ('%s', '%s')", rs, ts)
	}
	return value.BoolValue(r.start.cmp(t.start) <= 0 && t.end.cmp(r.end) <= 0), nil
}

func parseCIDRArg(fn string, args []value.Value) (netip.Prefix, error) {
	s, err := strArg(fn, args, 0)
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, failf(fn, "'%s' is not a valid CIDR range", s)
	}
	return p.Masked(), nil
}

// parseCidr(network) → {network, netmask, broadcast (IPv4 only),
// firstUsable, lastUsable, cidr}. IPv4 excludes the network and broadcast
// addresses from the usable range (except /31 and /32); IPv6 has no
// broadcast and its usable range is the whole prefix (documented example).
func fnParseCidr(args []value.Value) (value.Value, error) {
	p, err := parseCIDRArg("parseCidr", args)
	if err != nil {
		return value.Value{}, err
	}
	is4 := p.Addr().Is4()
	bitLen := p.Addr().BitLen()
	net := addrToU128(p.Addr())
	host := hostMask(bitLen, p.Bits())
	last := net.or(host)
	full := hostMask(bitLen, 0)
	mask := full.and(host.not())
	first, lastUsable := net, last
	if is4 && p.Bits() < 31 {
		first, _ = net.add(u128{0, 1})
		lastUsable = u128{last.hi, last.lo - 1}
	}
	ms := []value.Member{
		{Key: "network", Value: value.StringValue(p.Addr().String())},
		{Key: "netmask", Value: value.StringValue(u128ToAddr(mask, is4).String())},
	}
	if is4 {
		ms = append(ms, value.Member{Key: "broadcast", Value: value.StringValue(u128ToAddr(last, is4).String())})
	}
	ms = append(ms,
		value.Member{Key: "firstUsable", Value: value.StringValue(u128ToAddr(first, is4).String())},
		value.Member{Key: "lastUsable", Value: value.StringValue(u128ToAddr(lastUsable, is4).String())},
		value.Member{Key: "cidr", Value: value.IntValue(int64(p.Bits()))},
	)
	return value.ObjectValue(ms...), nil
}

// cidrSubnet(network, newCIDR, subnetIndex) → "address/newCIDR" of the
// subnetIndex-th subnet of size newCIDR.
func fnCidrSubnet(args []value.Value) (value.Value, error) {
	const fn = "cidrSubnet"
	p, err := parseCIDRArg(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	newBits, err := intArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	idx, err := intArg(fn, args, 2)
	if err != nil {
		return value.Value{}, err
	}
	bitLen := p.Addr().BitLen()
	if newBits < int64(p.Bits()) || newBits > int64(bitLen) {
		return value.Value{}, failf(fn, "newCIDR %d must be between %d and %d", newBits, p.Bits(), bitLen)
	}
	if idx < 0 {
		return value.Value{}, failf(fn, "subnetIndex %d must not be negative", idx)
	}
	extra := int(newBits) - p.Bits()
	if extra < 63 && idx >= int64(1)<<extra {
		return value.Value{}, failf(fn, "subnetIndex %d is out of range: a /%d has %d subnets of size /%d", idx, p.Bits(), int64(1)<<extra, newBits)
	}
	off := u128{0, uint64(idx)}.shl(bitLen - int(newBits))
	a, _ := addrToU128(p.Addr()).add(off)
	return value.StringValue(u128ToAddr(a, p.Addr().Is4()).String() + "/" + strconv.FormatInt(newBits, 10)), nil
}

// cidrHost(network, hostIndex) → the hostIndex-th usable address: index 0
// is the address after the network address (documented examples, IPv4 and
// IPv6); for IPv4 the broadcast address is not usable.
func fnCidrHost(args []value.Value) (value.Value, error) {
	const fn = "cidrHost"
	p, err := parseCIDRArg(fn, args)
	if err != nil {
		return value.Value{}, err
	}
	idx, err := intArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	if idx < 0 {
		return value.Value{}, failf(fn, "hostIndex %d must not be negative", idx)
	}
	is4 := p.Addr().Is4()
	bitLen := p.Addr().BitLen()
	net := addrToU128(p.Addr())
	last := net.or(hostMask(bitLen, p.Bits()))
	start := u128{0, 1}
	if is4 && p.Bits() >= 31 {
		start = u128{}
	} else if !is4 && p.Bits() == 128 {
		start = u128{}
	}
	off, _ := start.add(u128{0, uint64(idx)})
	a, overflow := net.add(off)
	limit := last
	if is4 && p.Bits() < 31 {
		limit = u128{last.hi, last.lo - 1}
	}
	if overflow || a.cmp(limit) > 0 {
		return value.Value{}, failf(fn, "hostIndex %d is out of range for %s", idx, p.String())
	}
	return value.StringValue(u128ToAddr(a, is4).String()), nil
}
