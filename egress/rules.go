package egress

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
)

// Isolation modes of a workspace's managed network.
const (
	ModeDisabled                  = "Disabled"
	ModeAllowInternetOutbound     = "AllowInternetOutbound"
	ModeAllowOnlyApprovedOutbound = "AllowOnlyApprovedOutbound"
)

// Decision is what the proxy decided about one connection.
type Decision struct {
	Allowed bool
	// Rule is the rule that decided ("" when the mode decided).
	Rule string
	// Reason says why, in a few words (the mode, the rule's type).
	Reason string
}

// ServiceTags maps a service tag's name (lower-cased) to its address
// prefixes: the operator's file in the format of Azure's Service Tags
// download ({"values": [{"name", "properties": {"addressPrefixes"}}]}).
type ServiceTags map[string][]netip.Prefix

// ParseServiceTags reads Azure's Service Tags JSON.
func ParseServiceTags(data []byte) (ServiceTags, error) {
	var doc struct {
		Values []struct {
			Name       string `json:"name"`
			Properties struct {
				AddressPrefixes []string `json:"addressPrefixes"`
			} `json:"properties"`
		} `json:"values"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	out := ServiceTags{}
	for _, v := range doc.Values {
		for _, p := range v.Properties.AddressPrefixes {
			pf, ok := parsePrefix(p)
			if !ok {
				return nil, &ruleError{"service tag " + v.Name + ": " + p + " is not an address prefix"}
			}
			k := strings.ToLower(v.Name)
			out[k] = append(out[k], pf)
		}
	}
	return out, nil
}

type ruleError struct{ msg string }

func (e *ruleError) Error() string { return e.msg }

// Policy is a workspace's compiled egress rules: immutable, safe for
// concurrent use.
type Policy struct {
	Mode string
	// Active: the managed network is provisioned; only then do rules
	// allow (in AllowOnlyApprovedOutbound nothing is allowed before).
	Active bool
	exact  map[string]string // host → rule (FQDN, PrivateEndpoint)
	wild   []wildRule        // "*.example.com": sub-domains of example.com
	tags   []tagRule
	// Skipped names the rules that allow nothing, and why (a ServiceTag
	// whose addresses are unknown).
	Skipped map[string]string
}

type wildRule struct{ suffix, rule string } // suffix ".example.com"

type tagRule struct {
	rule     string
	deny     bool
	prefixes []netip.Prefix
	ports    []portRange // nil: every port
}

type portRange struct{ lo, hi int }

// fqdnPorts are the ports FQDN and PrivateEndpoint rules allow (Azure:
// FQDN rules allow 80 and 443 only).
func fqdnPort(port int) bool { return port == 443 || port == 80 }

// workspaceDoc is what Compile reads of a workspace.
type workspaceDoc struct {
	Properties struct {
		ManagedNetwork *struct {
			IsolationMode string `json:"isolationMode"`
			Status        struct {
				Status string `json:"status"`
			} `json:"status"`
			OutboundRules map[string]json.RawMessage `json:"outboundRules"`
		} `json:"managedNetwork"`
	} `json:"properties"`
}

type ruleDoc struct {
	Type string `json:"type"`
	// Fqdns are a PrivateEndpoint rule's host names (newer API
	// versions), allowed besides the ones PrivateEndpointHosts knows.
	Fqdns       []string        `json:"fqdns"`
	Status      string          `json:"status"`
	Destination json.RawMessage `json:"destination"`
}

// Compile compiles a workspace's body (ARM JSON). A rule that is not
// Active allows nothing; a ServiceTag rule whose addresses are known
// neither from the rule (addressPrefixes) nor from tags allows nothing
// (Skipped says so). hosts maps a PrivateEndpoint rule's target to the
// host names it allows (PrivateEndpointHosts).
func Compile(workspace []byte, tags ServiceTags) (*Policy, error) {
	var ws workspaceDoc
	if err := json.Unmarshal(workspace, &ws); err != nil {
		return nil, err
	}
	p := &Policy{Mode: ModeDisabled, exact: map[string]string{}}
	mn := ws.Properties.ManagedNetwork
	if mn == nil {
		return p, nil
	}
	switch strings.ToLower(mn.IsolationMode) {
	case "allowinternetoutbound":
		p.Mode = ModeAllowInternetOutbound
	case "allowonlyapprovedoutbound":
		p.Mode = ModeAllowOnlyApprovedOutbound
	}
	p.Active = strings.EqualFold(mn.Status.Status, "Active")
	for name, raw := range mn.OutboundRules {
		var r ruleDoc
		if json.Unmarshal(raw, &r) != nil || !strings.EqualFold(r.Status, "Active") || !p.Active {
			continue
		}
		switch strings.ToLower(r.Type) {
		case "fqdn":
			var d string
			if json.Unmarshal(r.Destination, &d) != nil {
				continue
			}
			d = NormalizeHost(d)
			if s, ok := strings.CutPrefix(d, "*."); ok {
				p.wild = append(p.wild, wildRule{"." + s, name})
			} else if d != "" {
				p.addExact(d, name)
			}
		case "privateendpoint":
			var d struct {
				ServiceResourceID string `json:"serviceResourceId"`
				SubresourceTarget string `json:"subresourceTarget"`
			}
			if json.Unmarshal(r.Destination, &d) != nil {
				continue
			}
			hosts := PrivateEndpointHosts(d.ServiceResourceID, d.SubresourceTarget)
			for _, f := range r.Fqdns {
				if h := NormalizeHost(f); h != "" && !strings.Contains(h, "*") {
					hosts = append(hosts, h)
				}
			}
			if len(hosts) == 0 {
				p.skip(name, "mlgov does not know the host names of the private endpoint's target "+d.ServiceResourceID)
			}
			for _, h := range hosts {
				p.addExact(h, name)
			}
		case "servicetag":
			var d struct {
				ServiceTag      string   `json:"serviceTag"`
				Protocol        string   `json:"protocol"`
				PortRanges      string   `json:"portRanges"`
				Action          string   `json:"action"`
				AddressPrefixes []string `json:"addressPrefixes"`
			}
			if json.Unmarshal(r.Destination, &d) != nil {
				continue
			}
			if pr := strings.ToUpper(d.Protocol); pr != "" && pr != "*" && pr != "TCP" {
				p.skip(name, "the proxy carries TCP only, not "+d.Protocol)
				continue
			}
			t := tagRule{rule: name, deny: strings.EqualFold(d.Action, "Deny")}
			for _, s := range d.AddressPrefixes {
				if pf, ok := parsePrefix(s); ok {
					t.prefixes = append(t.prefixes, pf)
				}
			}
			t.prefixes = append(t.prefixes, tags[strings.ToLower(d.ServiceTag)]...)
			if len(t.prefixes) == 0 {
				p.skip(name, "the addresses of the service tag "+d.ServiceTag+" are unknown (give addressPrefixes, or the operator's service tags file)")
				continue
			}
			var ok bool
			if t.ports, ok = parsePorts(d.PortRanges); !ok {
				p.skip(name, "its portRanges are not valid")
				continue
			}
			p.tags = append(p.tags, t)
		}
	}
	return p, nil
}

func (p *Policy) addExact(host, rule string) {
	// Two rules for one host: the first by name decides, every time.
	if cur, ok := p.exact[host]; !ok || rule < cur {
		p.exact[host] = rule
	}
}

func (p *Policy) skip(rule, why string) {
	if p.Skipped == nil {
		p.Skipped = map[string]string{}
	}
	p.Skipped[rule] = why
}

// NeedsAddresses reports whether deciding may need the host's addresses
// (the policy has ServiceTag rules).
func (p *Policy) NeedsAddresses() bool { return len(p.tags) > 0 }

// Decide decides a connection to host:port, host normalized
// (NormalizeHost), addrs the addresses it resolves to (only read when
// NeedsAddresses; an IP literal host is its own address). Deny rules
// (ServiceTag, action Deny) come first, then FQDN and PrivateEndpoint
// rules by name, then ServiceTag rules by address, then the mode.
func (p *Policy) Decide(host string, port int, addrs []netip.Addr) Decision {
	if p.Mode == ModeDisabled {
		return Decision{Allowed: true, Reason: ModeDisabled}
	}
	for _, t := range p.tags {
		if t.deny && t.match(addrs, port) {
			return Decision{Rule: t.rule, Reason: "ServiceTag rule (Deny)"}
		}
	}
	if fqdnPort(port) {
		if r, ok := p.exact[host]; ok {
			return Decision{Allowed: true, Rule: r, Reason: "FQDN rule"}
		}
		best := ""
		for _, w := range p.wild {
			if strings.HasSuffix(host, w.suffix) && (best == "" || w.rule < best) {
				best = w.rule
			}
		}
		if best != "" {
			return Decision{Allowed: true, Rule: best, Reason: "FQDN rule"}
		}
	}
	for _, t := range p.tags {
		if !t.deny && t.match(addrs, port) {
			return Decision{Allowed: true, Rule: t.rule, Reason: "ServiceTag rule"}
		}
	}
	if p.Mode == ModeAllowInternetOutbound {
		return Decision{Allowed: true, Reason: ModeAllowInternetOutbound}
	}
	if !fqdnPort(port) && p.matchesName(host) {
		return Decision{Reason: ModeAllowOnlyApprovedOutbound + ": FQDN rules allow ports 80 and 443 only"}
	}
	return Decision{Reason: ModeAllowOnlyApprovedOutbound + ": no rule allows it"}
}

func (p *Policy) matchesName(host string) bool {
	if _, ok := p.exact[host]; ok {
		return true
	}
	for _, w := range p.wild {
		if strings.HasSuffix(host, w.suffix) {
			return true
		}
	}
	return false
}

func (t *tagRule) match(addrs []netip.Addr, port int) bool {
	if t.ports != nil {
		in := false
		for _, r := range t.ports {
			if port >= r.lo && port <= r.hi {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	if len(addrs) == 0 {
		return false
	}
	// Every address the host resolves to must be in the tag, so that
	// the connection (to any of them) stays in it.
	for _, a := range addrs {
		in := false
		for _, pf := range t.prefixes {
			if pf.Contains(a.Unmap()) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}

// NormalizeHost lower-cases a host name and removes a trailing dot and
// IPv6 brackets; "" for a name that is not ASCII (give the punycode
// form): no rule matches it.
func NormalizeHost(h string) string {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 || h[i] <= ' ' {
			return ""
		}
	}
	return strings.ToLower(h)
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if pf, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
		return pf.Masked(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// parsePorts parses "*" (nil: every port), "443", "8000-8080" and lists.
func parsePorts(s string) ([]portRange, bool) {
	if strings.TrimSpace(s) == "*" || strings.TrimSpace(s) == "" {
		return nil, true
	}
	var out []portRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return nil, false
		}
		out = append(out, portRange{a, b})
	}
	return out, true
}

// PrivateEndpointHosts are the host names a PrivateEndpoint rule to the
// resource id and sub-resource allows: the names Azure's private DNS
// zones give the target (docs/egress.md). None for a target mlgov does
// not know.
func PrivateEndpointHosts(resourceID, subresource string) []string {
	parts := strings.Split(strings.Trim(resourceID, "/"), "/")
	// .../providers/{ns}/{type}/{name}
	if len(parts) < 8 || !strings.EqualFold(parts[4], "providers") {
		return nil
	}
	ns, typ, name := strings.ToLower(parts[5]), strings.ToLower(parts[6]), strings.ToLower(parts[7])
	sub := strings.ToLower(subresource)
	switch ns + "/" + typ {
	case "microsoft.storage/storageaccounts":
		switch sub {
		case "blob", "file", "queue", "table", "dfs", "web":
			return []string{name + "." + sub + ".core.windows.net"}
		}
	case "microsoft.keyvault/vaults":
		if sub == "vault" {
			return []string{name + ".vault.azure.net"}
		}
	case "microsoft.containerregistry/registries":
		if sub == "registry" {
			return []string{name + ".azurecr.io"}
		}
	case "microsoft.cognitiveservices/accounts":
		if sub == "account" {
			return []string{name + ".cognitiveservices.azure.com", name + ".openai.azure.com"}
		}
	case "microsoft.search/searchservices":
		if sub == "searchservice" {
			return []string{name + ".search.windows.net"}
		}
	}
	return nil
}
