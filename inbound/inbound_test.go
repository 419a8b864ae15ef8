package inbound_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/inbound"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// fixture is a store with a workspace of several private endpoints and
// an allowlist of 50 entries.
type fixture struct {
	st store.Store
	ws *arm.ID
}

const sub = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1"

func put(tb testing.TB, st store.Store, id, body string) {
	tb.Helper()
	p, err := arm.ParseID(id)
	if err != nil {
		tb.Fatal(err)
	}
	parent := p.Parent()
	now := time.Now()
	err = st.Write(context.Background(), func(tx store.Tx) error {
		return tx.PutResource(context.Background(), &store.Resource{Key: p.Key(), ID: id, ParentKey: parent.Key(), TypeKey: arm.KeyOf(p.Type()),
			SubscriptionKey: arm.KeyOf(p.SubscriptionID), ResourceGroupKey: arm.KeyOf(p.ResourceGroup), Body: []byte(body), ETag: "e", CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func newFixture(tb testing.TB, publicAccess string) *fixture {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "a.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ws := sub + "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	allow := ""
	for i := range 49 {
		allow += fmt.Sprintf(`"198.51.%d.0/24",`, i)
	}
	allow += `"203.0.113.7"`
	put(tb, st, ws, `{"id":"`+ws+`","properties":{"publicNetworkAccess":"`+publicAccess+`","ipAllowlist":[`+allow+`]}}`)
	vnet := sub + "/providers/Microsoft.Network/virtualNetworks/v1"
	put(tb, st, vnet, `{"properties":{"subnets":[{"name":"inline","properties":{"addressPrefix":"10.9.0.0/24"}}]}}`)
	for i := 1; i <= 4; i++ {
		put(tb, st, fmt.Sprintf("%s/subnets/s%d", vnet, i), fmt.Sprintf(`{"properties":{"addressPrefixes":["10.9.%d.0/24","fd00:%d::/64"]}}`, i, i))
	}
	pe := func(name, subnet, status string, manual bool) {
		list := "privateLinkServiceConnections"
		if manual {
			list = "manualPrivateLinkServiceConnections"
		}
		put(tb, st, sub+"/providers/Microsoft.Network/privateEndpoints/"+name, `{"properties":{"subnet":{"id":"`+vnet+`/subnets/`+subnet+`"},"`+list+`":[{"properties":{"privateLinkServiceId":"`+ws+`","groupIds":["amlworkspace"],"privateLinkServiceConnectionState":{"status":"`+status+`"}}}]}}`)
	}
	pe("pe0", "inline", "Approved", false)
	pe("pe1", "s1", "Approved", false)
	pe("pe2", "s2", "Approved", true)
	pe("pe3", "s3", "Pending", true)
	pe("pe4", "s4", "Rejected", false)
	// The workspace approves pe3's manual connection.
	put(tb, st, ws+"/privateEndpointConnections/c3", `{"properties":{"privateEndpoint":{"id":"`+sub+`/providers/Microsoft.Network/privateEndpoints/pe3"},"privateLinkServiceConnectionState":{"status":"Approved"}}}`)
	put(tb, st, ws+"/onlineEndpoints/e1", `{"id":"`+ws+`/onlineEndpoints/e1","properties":{"publicNetworkAccess":"Disabled"}}`)
	id, _ := arm.ParseID(ws)
	return &fixture{st: st, ws: id}
}

var cases = []struct {
	public   string // the workspace's publicNetworkAccess
	client   string
	endpoint string
	want     inbound.Rule
}{
	{"Enabled", "203.0.113.7", "", inbound.Allowed},
	{"Enabled", "198.51.20.1", "", inbound.Allowed},
	{"Enabled", "::ffff:198.51.20.1", "", inbound.Allowed},
	{"Enabled", "192.0.2.1", "", inbound.Allowlist},
	{"Enabled", "127.0.0.1", "", inbound.Allowlist},
	{"Enabled", "10.9.1.5", "", inbound.Allowed},
	{"Enabled", "203.0.113.7", "e1", inbound.EndpointPublicAccess},
	{"Enabled", "203.0.113.7", "E1", inbound.EndpointPublicAccess},
	{"Enabled", "203.0.113.7", "e2", inbound.Allowed},
	{"Enabled", "10.9.2.9", "e1", inbound.Allowed},
	{"Disabled", "10.9.0.5", "", inbound.Allowed},     // an inline subnet
	{"Disabled", "10.9.1.5", "", inbound.Allowed},     // a subnet resource
	{"Disabled", "fd00:1::5", "", inbound.Allowed},    // its second prefix
	{"Disabled", "10.9.2.5", "", inbound.Allowed},     // a manual connection, approved
	{"Disabled", "10.9.3.5", "", inbound.Allowed},     // pending, approved by the workspace
	{"Disabled", "10.9.4.5", "", inbound.PrivateLink}, // rejected
	{"Disabled", "10.9.5.5", "", inbound.PrivateLink},
	{"Disabled", "203.0.113.7", "", inbound.PrivateLink}, // allowlisted, but not private
	{"Disabled", "127.0.0.1", "", inbound.PrivateLink},
	{"Disabled", "0.0.0.0", "", inbound.PrivateLink},
}

func TestCheck(t *testing.T) {
	fx := map[string]*fixture{"Enabled": newFixture(t, "Enabled"), "Disabled": newFixture(t, "Disabled")}
	ctx := context.Background()
	for _, c := range cases {
		f := fx[c.public]
		ch := inbound.New(f.st, inbound.Config{})
		got, err := ch.Check(ctx, f.ws, c.endpoint, netip.MustParseAddr(c.client))
		if err != nil || got != c.want {
			t.Errorf("%s workspace, client %s, endpoint %q: %v %v, want %v", c.public, c.client, c.endpoint, got, err, c.want)
		}
	}
	// The zero address (an unknown client) matches nothing.
	f := fx["Enabled"]
	ch := inbound.New(f.st, inbound.Config{})
	if got, _ := ch.Check(ctx, f.ws, "", netip.Addr{}); got != inbound.Allowlist {
		t.Errorf("an unknown client: %v", got)
	}
	// A workspace that does not exist restricts nothing.
	none, _ := arm.ParseID(sub + "/providers/Microsoft.MachineLearningServices/workspaces/nosuch")
	if got, err := ch.Check(ctx, none, "", netip.MustParseAddr("192.0.2.1")); got != inbound.Allowed || err != nil {
		t.Errorf("no workspace: %v %v", got, err)
	}
	// A warm check reads no store and allocates at most the key.
	client := netip.MustParseAddr("10.9.2.5")
	ch.Check(ctx, f.ws, "", client)
	if n := testing.AllocsPerRun(100, func() { ch.Check(ctx, f.ws, "", client) }); n > 2 {
		t.Errorf("a warm check allocates %v times", n)
	}
	// Invalidate: the next check reads again.
	put(t, f.st, f.ws.String(), `{"properties":{"publicNetworkAccess":"Disabled"}}`)
	if got, _ := ch.Check(ctx, f.ws, "", netip.MustParseAddr("192.0.2.9")); got != inbound.Allowlist {
		t.Errorf("before Invalidate, the cached view: %v", got)
	}
	ch.Invalidate()
	if got, _ := ch.Check(ctx, f.ws, "", netip.MustParseAddr("192.0.2.9")); got != inbound.PrivateLink {
		t.Errorf("after Invalidate: %v", got)
	}
}

func TestRecordBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	ch := inbound.New(nil, inbound.Config{EventsPerMinute: 3, Now: func() time.Time { return now }})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var got []bool
	for range 5 {
		got = append(got, ch.Record(a))
	}
	if fmt.Sprint(got) != "[true true true false false]" || !ch.Record(b) {
		t.Errorf("records of one address in a minute: %v", got)
	}
	now = now.Add(time.Minute)
	if !ch.Record(a) {
		t.Errorf("a new minute records again")
	}
	// The addresses tracked are bounded: a flood from many addresses
	// is not recorded one by one.
	for i := range 10000 {
		ch.Record(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if ch.Record(netip.MustParseAddr("198.51.100.1")) {
		t.Errorf("the 10,001st address in a minute is recorded")
	}
	now = now.Add(time.Minute)
	if !ch.Record(netip.MustParseAddr("198.51.100.1")) {
		t.Errorf("after the minute, a new address is not recorded")
	}
}

// BenchmarkInboundCheck: a warm check of a realistic workspace (five
// private endpoints, ten prefixes, an allowlist of 50 entries), for a
// private endpoint client, an allowlisted client and a refused one.
func BenchmarkInboundCheck(b *testing.B) {
	f := newFixture(b, "Enabled")
	ch := inbound.New(f.st, inbound.Config{})
	ctx := context.Background()
	for _, c := range []struct{ name, client string }{{"private", "10.9.3.5"}, {"allowlisted", "203.0.113.7"}, {"refused", "192.0.2.1"}} {
		client := netip.MustParseAddr(c.client)
		ch.Check(ctx, f.ws, "", client)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ch.Check(ctx, f.ws, "", client)
			}
		})
	}
}
