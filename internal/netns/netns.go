// Package netns makes separate network hosts for tests: Linux network
// namespaces, each joined to the host by a veth pair, so that a test can
// send real requests from different source addresses to a server on the
// host (iproute2's `ip netns`, `ip link`, `ip addr`, `ip route`).
//
// Names start with "mlgin" and a random suffix; addresses are in
// 10.231.0.0/16 with a random third octet, so that test runs in parallel
// do not collide. Namespace i has the address 10.231.X.(4i+2)/30, the
// host side of its pair 10.231.X.(4i+1)/30, and its default route goes
// to the host: from any namespace, every address of the host (Host(0)
// included) is reachable. Everything made is removed at t.Cleanup.
//
// New skips the test with a message saying why when it cannot make
// namespaces (not root, no iproute2, no netns support); with
// MLGOV_E2E_REQUIRE=1 it fails instead. It imports the standard library
// only; tests use it, never the product.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Net is a set of namespaces joined to the host.
type Net struct {
	t      testing.TB
	prefix string
	third  byte
	nss    []string
}

// skip skips t (fails it with MLGOV_E2E_REQUIRE=1).
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("MLGOV_E2E_REQUIRE") == "1" {
		t.Fatalf("MLGOV_E2E_REQUIRE=1 but: "+format, args...)
	}
	t.Skipf(format, args...)
}

func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// New makes n namespaces (at most 60), each with a veth pair to the
// host, or skips t when it cannot.
func New(t testing.TB, n int) *Net {
	t.Helper()
	if n < 1 || n > 60 {
		t.Fatalf("netns.New: %d namespaces; 1 to 60 can be made", n)
	}
	if os.Geteuid() != 0 {
		skip(t, "netns: network namespaces need root (euid %d); this test needs separate network hosts", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip(t, "netns: iproute2's ip command is not installed: %v", err)
	}
	var b [4]byte
	rand.Read(b[:])
	// A third octet no address of the host is in yet (another run's).
	used, _ := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	for range 16 {
		if !strings.Contains(string(used), fmt.Sprintf(" 10.231.%d.", b[3])) {
			break
		}
		rand.Read(b[3:])
	}
	nt := &Net{t: t, prefix: "mlgin" + hex.EncodeToString(b[:3]), third: b[3]}
	t.Cleanup(nt.remove)
	probe := nt.prefix + "p"
	if err := ip("netns", "add", probe); err != nil {
		skip(t, "netns: cannot make a network namespace here: %v", err)
	}
	ip("netns", "del", probe)
	for i := range n {
		ns, host, peer := nt.Name(i), nt.prefix+fmt.Sprintf("h%d", i), nt.prefix+fmt.Sprintf("n%d", i)
		steps := [][]string{
			{"netns", "add", ns},
			{"link", "add", host, "type", "veth", "peer", "name", peer},
			{"link", "set", peer, "netns", ns},
			{"addr", "add", nt.Host(i).String() + "/30", "dev", host},
			{"link", "set", host, "up"},
			{"-n", ns, "addr", "add", nt.Addr(i).String() + "/30", "dev", peer},
			{"-n", ns, "link", "set", peer, "up"},
			{"-n", ns, "link", "set", "lo", "up"},
			{"-n", ns, "route", "add", "default", "via", nt.Host(i).String()},
		}
		nt.nss = append(nt.nss, ns)
		for _, s := range steps {
			if err := ip(s...); err != nil {
				if i == 0 && s[0] == "netns" {
					skip(t, "netns: cannot make a network namespace here: %v", err)
				}
				t.Fatalf("netns: %v", err)
			}
		}
	}
	return nt
}

// remove deletes the namespaces (their veth pairs go with them).
func (nt *Net) remove() {
	for _, ns := range nt.nss {
		if err := ip("netns", "del", ns); err != nil {
			nt.t.Logf("netns: %v", err)
		}
	}
}

// Name is the name of namespace i.
func (nt *Net) Name(i int) string { return nt.prefix + fmt.Sprintf("x%d", i) }

// Addr is the address of namespace i (inside it).
func (nt *Net) Addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 231, nt.third, byte(4*i + 2)})
}

// Host is the host's address on namespace i's pair.
func (nt *Net) Host(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 231, nt.third, byte(4*i + 1)})
}

// Subnet is namespace i's /30 (its address and the host's).
func (nt *Net) Subnet(i int) netip.Prefix { return netip.PrefixFrom(nt.Addr(i), 30).Masked() }

// Command is a command run inside namespace i (ip netns exec).
func (nt *Net) Command(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nt.Name(i), name}, args...)...)
}
