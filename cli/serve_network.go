package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"
)

// networkOptions are serve's flags of the inbound network checks
// (docs/network.md).
type networkOptions struct {
	trustedProxies []string
	// trusted is trustedProxies parsed (parse).
	trusted []netip.Prefix
}

func (o *networkOptions) register(c *cobra.Command) {
	c.Flags().StringArrayVar(&o.trustedProxies, "trusted-proxy", nil, "address or CIDR prefix of a reverse proxy in front of mlgov whose X-Forwarded-For names the client (repeatable; the rightmost address not itself trusted is the client; without it the header is ignored)")
}

// parse checks the flags: each --trusted-proxy is an address or a CIDR
// prefix.
func (o *networkOptions) parse() error {
	o.trusted = nil
	for _, s := range o.trustedProxies {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
			p = p.Masked()
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil && a.Zone() != "" {
				err = fmt.Errorf("an address with a zone")
			} else if err == nil {
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || (p.Addr().Is4In6()) {
			return fmt.Errorf("--trusted-proxy %q: want an IP address or a CIDR prefix (10.0.0.0/8, 2001:db8::/32)", s)
		}
		o.trusted = append(o.trusted, p)
	}
	return nil
}

// prefixes are the trusted proxies (none for nil options).
func (o *networkOptions) prefixes() []netip.Prefix {
	if o == nil {
		return nil
	}
	return o.trusted
}
