package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestTrustedProxyFlag(t *testing.T) {
	o := &networkOptions{trustedProxies: []string{"10.0.0.0/8", "192.0.2.7", "fd00::/64", "10.1.2.3/16"}}
	if err := o.parse(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(o.prefixes()); got != "[10.0.0.0/8 192.0.2.7/32 fd00::/64 10.1.0.0/16]" {
		t.Errorf("parsed %s", got)
	}
	for _, bad := range []string{"nonsense", "10.0.0.0/33", "", "fe80::1%eth0", "::ffff:10.0.0.0/104"} {
		o := &networkOptions{trustedProxies: []string{bad}}
		if err := o.parse(); err == nil || !strings.Contains(err.Error(), "--trusted-proxy") {
			t.Errorf("--trusted-proxy %q: %v", bad, err)
		}
	}
	if (*networkOptions)(nil).prefixes() != nil {
		t.Errorf("no options: trusted proxies")
	}
}
