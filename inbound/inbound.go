package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// The error of a refused request. Azure Machine Learning answers a
// request outside a private workspace's private link with this code and
// message (403; MicrosoftDocs/azure-docs issue 90426 quotes it); the
// other two messages are mlgov's, in the same form.
const (
	Code              = "UserError"
	MessagePrivate    = "Access to workspace was denied based on workspace private link configuration."
	MessageAllowlist  = "Access to workspace was denied based on workspace IP allowlist configuration."
	MessageEndpoint   = "Access to online endpoint was denied based on online endpoint public network access configuration."
	ruleAllowed       = ""
	typePrivateEP     = "microsoft.network/privateendpoints"
	typeVNet          = "microsoft.network/virtualnetworks"
	typeSubnet        = "microsoft.network/virtualnetworks/subnets"
	typeWorkspace     = "microsoft.machinelearningservices/workspaces"
	typePEC           = "microsoft.machinelearningservices/workspaces/privateendpointconnections"
	typeOnlineEP      = "microsoft.machinelearningservices/workspaces/onlineendpoints"
	typeResourceGroup = "microsoft.resources/resourcegroups"
	typeSubscription  = "microsoft.resources/subscriptions"
)

// Rule names the rule that refused a request.
type Rule int

// Rules.
const (
	Allowed Rule = iota
	// PrivateLink: the workspace's public network access is Disabled and
	// the client is in none of its approved private endpoints' subnets.
	PrivateLink
	// Allowlist: the client is public and not in the workspace's
	// ipAllowlist.
	Allowlist
	// EndpointPublicAccess: the online endpoint's public network access
	// is Disabled and the client is not a private endpoint client.
	EndpointPublicAccess
)

func (r Rule) String() string {
	switch r {
	case PrivateLink:
		return "publicNetworkAccess"
	case Allowlist:
		return "ipAllowlist"
	case EndpointPublicAccess:
		return "onlineEndpoint.publicNetworkAccess"
	}
	return "allowed"
}

// Error is the ARM error of a refused request (nil for Allowed).
func (r Rule) Error() *arm.Error {
	switch r {
	case PrivateLink:
		return &arm.Error{Code: Code, Message: MessagePrivate}
	case Allowlist:
		return &arm.Error{Code: Code, Message: MessageAllowlist}
	case EndpointPublicAccess:
		return &arm.Error{Code: Code, Message: MessageEndpoint}
	}
	return nil
}

// Config configures a Checker.
type Config struct {
	Log *slog.Logger
	// Now is the clock of the event limiter (nil: time.Now).
	Now func() time.Time
	// EventsPerMinute bounds the refusals recorded per client address
	// (0: 10).
	EventsPerMinute int
	// Authorize decides whether a caller may perform an action at a
	// scope (resources.Manager.Authorize): the approval of private
	// endpoint connections (Validate). nil: not checked.
	Authorize func(ctx context.Context, c *activitylog.Caller, action, scope string) error
}

// Checker decides inbound requests; safe for concurrent use.
type Checker struct {
	st    store.Store
	cfg   Config
	gen   atomic.Uint64
	views sync.Map // workspace key → *view

	limMu sync.Mutex
	lim   map[netip.Addr]*window
}

// maxLimited bounds the client addresses the event limiter tracks.
const maxLimited = 10000

type window struct {
	start time.Time
	n     int
}

// New returns a Checker reading st.
func New(st store.Store, cfg Config) *Checker {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EventsPerMinute <= 0 {
		cfg.EventsPerMinute = 10
	}
	return &Checker{st: st, cfg: cfg, lim: map[netip.Addr]*window{}}
}

// view is a workspace's compiled network settings.
type view struct {
	gen     uint64
	exists  bool
	private bool           // publicNetworkAccess Disabled
	allow   []netip.Prefix // ipAllowlist (empty: every public client)
	pe      []netip.Prefix // the subnets its approved private endpoints are in
	// endpoints: online endpoints (key of the name) whose public
	// network access is Disabled.
	endpoints map[string]bool
}

// Check decides a request of client to the data plane of workspace
// (endpoint: the online endpoint's name for a scoring call, else "").
// A workspace that does not exist restricts nothing (the handler answers
// 404). err is a store failure.
func (c *Checker) Check(ctx context.Context, workspace *arm.ID, endpoint string, client netip.Addr) (Rule, error) {
	v, err := c.view(ctx, workspace)
	if err != nil {
		return Allowed, err
	}
	return v.decide(endpoint, client), nil
}

func (v *view) decide(endpoint string, client netip.Addr) Rule {
	if !v.exists {
		return Allowed
	}
	client = client.Unmap().WithZone("")
	if contains(v.pe, client) {
		return Allowed
	}
	if v.private {
		return PrivateLink
	}
	if endpoint != "" && len(v.endpoints) > 0 && v.endpoints[arm.KeyOf(endpoint)] {
		return EndpointPublicAccess
	}
	if len(v.allow) > 0 && !contains(v.allow, client) {
		return Allowlist
	}
	return Allowed
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Record reports whether a refusal of client is to be recorded as an
// event: at most EventsPerMinute a minute per address, so that refused
// clients cannot fill the activity log.
func (c *Checker) Record(client netip.Addr) bool {
	now := c.cfg.Now()
	c.limMu.Lock()
	defer c.limMu.Unlock()
	w := c.lim[client]
	if w == nil || now.Sub(w.start) >= time.Minute {
		if w == nil && len(c.lim) >= maxLimited {
			for a, x := range c.lim {
				if now.Sub(x.start) >= time.Minute {
					delete(c.lim, a)
				}
			}
			if len(c.lim) >= maxLimited {
				// Refusals from more addresses than this in a minute
				// are not recorded one by one.
				return false
			}
		}
		c.lim[client] = &window{start: now, n: 1}
		return true
	}
	w.n++
	return w.n <= c.cfg.EventsPerMinute
}

func (c *Checker) view(ctx context.Context, workspace *arm.ID) (*view, error) {
	key := workspace.Key()
	g := c.gen.Load()
	if x, ok := c.views.Load(key); ok {
		if v := x.(*view); v.gen == g {
			return v, nil
		}
	}
	v, err := c.build(ctx, workspace, key)
	if err != nil {
		return nil, err
	}
	v.gen = g
	c.views.Store(key, v)
	return v, nil
}

// Invalidate drops every view (the next check of each reads it again).
func (c *Checker) Invalidate() {
	c.gen.Add(1)
	c.views.Clear()
}

// relevant reports whether a change of a resource of type typeKey may
// change a view.
func relevant(typeKey string) bool {
	switch typeKey {
	case typePrivateEP, typeVNet, typeSubnet, typeWorkspace, typePEC, typeOnlineEP, typeResourceGroup, typeSubscription:
		return true
	}
	return false
}

// Committed implements resources.Committer: a committed write on this
// replica takes effect for the next request.
func (c *Checker) Committed(a *resources.Attributes) {
	if a == nil || a.Spec == nil || relevant(arm.KeyOf(a.Spec.Type)) {
		c.Invalidate()
	}
}

// Follow keeps the views current with the changes other replicas commit.
func (c *Checker) Follow(f *feed.Feed) (unsubscribe func()) {
	return f.Subscribe(func(ctx context.Context, batch []*store.Change) {
		for _, ch := range batch {
			if !ch.Filler() && relevant(ch.TypeKey) {
				c.Invalidate()
				return
			}
		}
	})
}

// body shapes read from the store.
type wsBody struct {
	Properties struct {
		PublicNetworkAccess        string            `json:"publicNetworkAccess"`
		IPAllowlist                []string          `json:"ipAllowlist"`
		PrivateEndpointConnections []json.RawMessage `json:"privateEndpointConnections"`
	} `json:"properties"`
}

type connState struct {
	PrivateLinkServiceConnectionState struct {
		Status string `json:"status"`
	} `json:"privateLinkServiceConnectionState"`
}

type pecBody struct {
	Properties struct {
		PrivateEndpoint struct {
			ID string `json:"id"`
		} `json:"privateEndpoint"`
		connState
	} `json:"properties"`
}

type peBody struct {
	ID         string `json:"id"`
	Properties struct {
		Subnet struct {
			ID string `json:"id"`
		} `json:"subnet"`
		PrivateLinkServiceConnections       []peConn `json:"privateLinkServiceConnections"`
		ManualPrivateLinkServiceConnections []peConn `json:"manualPrivateLinkServiceConnections"`
	} `json:"properties"`
}

type peConn struct {
	Properties struct {
		PrivateLinkServiceID string   `json:"privateLinkServiceId"`
		GroupIDs             []string `json:"groupIds"`
		connState
	} `json:"properties"`
}

type subnetProps struct {
	AddressPrefix   string   `json:"addressPrefix"`
	AddressPrefixes []string `json:"addressPrefixes"`
}

type subnetBody struct {
	Name       string      `json:"name"`
	Properties subnetProps `json:"properties"`
}

type vnetBody struct {
	Properties struct {
		Subnets []subnetBody `json:"subnets"`
	} `json:"properties"`
}

func (c *Checker) build(ctx context.Context, ws *arm.ID, key string) (*view, error) {
	v := &view{}
	var res *store.Resource
	var pecs, eps, pes []*store.Resource
	err := c.st.Read(ctx, func(tx store.Tx) error {
		var err error
		res, err = tx.GetResource(ctx, key, false)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				res = nil
				return nil
			}
			return err
		}
		if pecs, err = tx.ListResources(ctx, store.ListQuery{ParentKey: key, TypeKey: typePEC}); err != nil {
			return err
		}
		if eps, err = tx.ListResources(ctx, store.ListQuery{ParentKey: key, TypeKey: typeOnlineEP}); err != nil {
			return err
		}
		if pes, err = tx.ListResources(ctx, store.ListQuery{TypeKey: typePrivateEP}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inbound: reading the network settings of %s: %w", ws, err)
	}
	if res == nil {
		return v, nil
	}
	v.exists = true
	var wb wsBody
	if err := json.Unmarshal(res.Body, &wb); err != nil {
		return nil, fmt.Errorf("inbound: the workspace %s: %w", ws, err)
	}
	v.private = strings.EqualFold(wb.Properties.PublicNetworkAccess, "Disabled")
	for _, s := range wb.Properties.IPAllowlist {
		p, err := resources.ParseAllowlistEntry(s)
		if err != nil {
			// Refused on write (400); one stored before that is left out,
			// which narrows the list, never widens it.
			c.cfg.Log.Warn("inbound: an ipAllowlist entry that is not an address or prefix is ignored", "workspace", ws.String(), "entry", s)
			continue
		}
		v.allow = append(v.allow, p)
	}
	if len(wb.Properties.IPAllowlist) > 0 && len(v.allow) == 0 {
		// Nothing valid left: no public client matches.
		v.allow = []netip.Prefix{{}}
	}
	for _, e := range eps {
		var eb struct {
			Properties struct {
				PublicNetworkAccess string `json:"publicNetworkAccess"`
			} `json:"properties"`
		}
		if json.Unmarshal(e.Body, &eb) == nil && strings.EqualFold(eb.Properties.PublicNetworkAccess, "Disabled") {
			if v.endpoints == nil {
				v.endpoints = map[string]bool{}
			}
			id, err := arm.ParseID(e.ID)
			if err == nil {
				v.endpoints[arm.KeyOf(id.Name())] = true
			}
		}
	}
	// The workspace's side of its connections: a private endpoint
	// connection (a child, or an entry of properties.privateEndpointConnections)
	// naming a private endpoint decides its state.
	wsState := map[string]string{}
	side := func(raw []byte) {
		var p pecBody
		if json.Unmarshal(raw, &p) == nil && p.Properties.PrivateEndpoint.ID != "" {
			wsState[arm.KeyOf(p.Properties.PrivateEndpoint.ID)] = p.Properties.PrivateLinkServiceConnectionState.Status
		}
	}
	for _, raw := range wb.Properties.PrivateEndpointConnections {
		side(raw)
	}
	for _, r := range pecs {
		side(r.Body)
	}
	for _, r := range pes {
		var pb peBody
		if json.Unmarshal(r.Body, &pb) != nil {
			continue
		}
		state, ok := "", false
		for _, cn := range append(pb.Properties.PrivateLinkServiceConnections, pb.Properties.ManualPrivateLinkServiceConnections...) {
			if arm.KeyOf(cn.Properties.PrivateLinkServiceID) != key || !amlGroup(cn.Properties.GroupIDs) {
				continue
			}
			state, ok = cn.Properties.PrivateLinkServiceConnectionState.Status, true
			break
		}
		if !ok {
			continue
		}
		if s, has := wsState[r.Key]; has {
			state = s
		}
		if !strings.EqualFold(state, "Approved") {
			continue
		}
		prefixes, err := c.subnetPrefixes(ctx, pb.Properties.Subnet.ID)
		if err != nil {
			return nil, err
		}
		v.pe = append(v.pe, prefixes...)
	}
	return v, nil
}

// amlGroup reports whether a connection's groupIds name the workspace's
// sub-resource (amlworkspace; none named: the resource itself).
func amlGroup(ids []string) bool {
	if len(ids) == 0 {
		return true
	}
	for _, g := range ids {
		if strings.EqualFold(g, "amlworkspace") {
			return true
		}
	}
	return false
}

// subnetPrefixes are the address prefixes of a subnet: its own resource
// (virtualNetworks/subnets), else the entry of its virtual network's
// properties.subnets.
func (c *Checker) subnetPrefixes(ctx context.Context, subnetID string) ([]netip.Prefix, error) {
	id, err := arm.ParseID(subnetID)
	if err != nil || !strings.EqualFold(id.Type(), "Microsoft.Network/virtualNetworks/subnets") {
		return nil, nil // refused on write; a stored one reaches nothing
	}
	var sub *subnetProps
	err = c.st.Read(ctx, func(tx store.Tx) error {
		r, err := tx.GetResource(ctx, id.Key(), false)
		if err == nil {
			var b subnetBody
			if json.Unmarshal(r.Body, &b) == nil {
				sub = &b.Properties
			}
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		vn, err := tx.GetResource(ctx, id.Parent().Key(), false)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var b vnetBody
		if json.Unmarshal(vn.Body, &b) != nil {
			return nil
		}
		for i := range b.Properties.Subnets {
			if arm.EqualName(b.Properties.Subnets[i].Name, id.Name()) {
				sub = &b.Properties.Subnets[i].Properties
			}
		}
		return nil
	})
	if err != nil || sub == nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, s := range append([]string{sub.AddressPrefix}, sub.AddressPrefixes...) {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// Inbound implements api.Inbound: Check, with the refusal as its ARM
// error and whether to record it (Record).
func (c *Checker) Inbound(ctx context.Context, workspace *arm.ID, endpoint string, client netip.Addr) (*arm.Error, string, bool, error) {
	rule, err := c.Check(ctx, workspace, endpoint, client)
	if err != nil || rule == Allowed {
		return nil, "", false, err
	}
	return rule.Error(), rule.String(), c.Record(client), nil
}
