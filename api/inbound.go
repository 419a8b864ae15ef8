package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// Inbound decides whether a request to a workspace's data plane may come
// from its client's address (package inbound; docs/network.md).
type Inbound interface {
	// Inbound decides a request of client to workspace's data plane
	// (endpoint: the online endpoint's name of a scoring call, else ""):
	// refusal nil when allowed, else the 403's error and the rule that
	// refused it; record tells whether the refusal is to be logged (a
	// bound per client address); err is a failure to decide.
	Inbound(ctx context.Context, workspace *arm.ID, endpoint string, client netip.Addr) (refusal *arm.Error, rule string, record bool, err error)
}

type clientAddrKey struct{}

// withClientAddr resolves the request's client address once (see
// ClientAddr) when trusted proxies are configured, for every handler
// below the server.
func (s *Server) withClientAddr(req *http.Request) *http.Request {
	if len(s.TrustedProxies) == 0 {
		return req
	}
	return req.WithContext(context.WithValue(req.Context(), clientAddrKey{}, ClientAddr(req, s.TrustedProxies)))
}

// ClientAddr is the address of req's client: its TCP peer; when the
// peer is inside one of the trusted proxies' prefixes, the rightmost
// X-Forwarded-For address that is not itself trusted (the leftmost when
// all are). An entry that is not an address makes the client unknown
// (the zero Addr, which no rule allows). Without trusted proxies the
// header is never read; loopback is not trusted unless listed.
func ClientAddr(req *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !inPrefixes(trusted, peer) {
		return peer
	}
	vals := req.Header.Values("X-Forwarded-For")
	addr := peer
	for i := len(vals) - 1; i >= 0; i-- {
		entries := strings.Split(vals[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e := strings.TrimSpace(entries[j])
			if e == "" {
				continue
			}
			a := peerAddr(e)
			if !a.IsValid() {
				return netip.Addr{}
			}
			addr = a
			if !inPrefixes(trusted, a) {
				return a
			}
		}
	}
	return addr
}

// peerAddr parses "host:port", "[v6]:port" or a bare address (unmapped,
// without a zone; the zero Addr when it is none).
func peerAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// requestClient is the client's address of a request that went through
// Server (withClientAddr), else its TCP peer.
func requestClient(req *http.Request) netip.Addr {
	if a, ok := req.Context().Value(clientAddrKey{}).(netip.Addr); ok {
		return a
	}
	return peerAddr(req.RemoteAddr)
}

// dataPlaneAction returns the workspace of an ARM action that is part of
// its data plane: a datastore's or a connection's listSecrets (the
// credentials of the data a private workspace keeps private). Other ARM
// requests are the control plane, which network settings do not restrict
// (as in Azure).
func dataPlaneAction(r *resources.Request) (*arm.ID, bool) {
	id := r.ID
	if r.Method != "POST" || id == nil || len(id.Parts) != 2 || !strings.EqualFold(id.Trailing, "listSecrets") ||
		!strings.EqualFold(id.Parts[0].Namespace, "Microsoft.MachineLearningServices") || !strings.EqualFold(id.Parts[0].Type, "workspaces") ||
		id.Parts[1].Namespace != "" || !(strings.EqualFold(id.Parts[1].Type, "datastores") || strings.EqualFold(id.Parts[1].Type, "connections")) {
		return nil, false
	}
	return &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:1]}, true
}

// inboundRefused checks a data-plane request with in; when it is refused
// (true) the answer is written: 403 with the refusal, or 500 when the
// check failed. event records the refusal.
func inboundRefused(w http.ResponseWriter, req *http.Request, in Inbound, ws *arm.ID, endpoint string, log func(string, ...any), event func(aerr *arm.Error, rule string)) bool {
	if in == nil {
		return false
	}
	client := requestClient(req)
	refusal, rule, record, err := in.Inbound(req.Context(), ws, endpoint, client)
	if err != nil {
		log("inbound network check", "workspace", ws.String(), "error", err)
		bodyUnread(w, req)
		writeError(w, 500, arm.Errorf("InternalServerError", "The request's network access could not be checked."))
		return true
	}
	if refusal == nil {
		return false
	}
	if record && event != nil {
		event(refusal, rule)
	}
	bodyUnread(w, req)
	writeError(w, 403, refusal)
	return true
}

// clientString is an address for the activity log ("" when unknown).
func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
