package resources

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// The network settings the inbound checks read (package inbound,
// docs/network.md) are refused on write when they cannot be read: an
// ipAllowlist entry that is not an address or prefix, a private endpoint
// whose subnet or private link service is not a resource id, a subnet
// prefix that is not a CIDR, a connection state Azure does not have.

// ParseAllowlistEntry parses an ipAllowlist entry: an IP address (v4 or
// v6, no zone) or a CIDR prefix; IPv4-mapped IPv6 is taken as IPv4.
func ParseAllowlistEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("an IPv4-mapped prefix shorter than /96")
			}
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("an address with a zone")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func fieldError(target, format string, args ...any) error {
	e := arm.Errorf("InvalidRequestContent", format, args...)
	e.Target = target
	return e
}

// validateIPAllowlist checks a workspace's properties.ipAllowlist.
func validateIPAllowlist(l value.Value) error {
	if l.IsNullish() {
		return nil
	}
	if l.Kind() != value.Array {
		return fieldError("properties.ipAllowlist", "properties.ipAllowlist must be an array of IP addresses or CIDR prefixes.")
	}
	for i, e := range l.Elems() {
		if e.Kind() != value.String {
			return fieldError(fmt.Sprintf("properties.ipAllowlist[%d]", i), "properties.ipAllowlist[%d] must be a string: an IP address or a CIDR prefix.", i)
		}
		if _, err := ParseAllowlistEntry(e.Str()); err != nil {
			return fieldError(fmt.Sprintf("properties.ipAllowlist[%d]", i), "properties.ipAllowlist[%d] '%s' is not an IP address or a CIDR prefix.", i, arm.Clip(e.Str(), 100))
		}
	}
	return nil
}

var connectionStates = []string{"Approved", "Pending", "Rejected", "Disconnected"}

func validateConnectionState(p value.Value, path string) error {
	return oneOf(p.Field("privateLinkServiceConnectionState").Field("status"), path+".privateLinkServiceConnectionState.status", connectionStates...)
}

// validatePrivateEndpoint checks what the inbound checks read of a
// Microsoft.Network/privateEndpoints body.
func validatePrivateEndpoint(body value.Value, create bool) error {
	p := body.Field("properties")
	if p.IsNullish() {
		return nil
	}
	if p.Kind() != value.Object {
		return fieldError("properties", "'properties' must be an object.")
	}
	if sid := p.Field("subnet").Field("id"); !sid.IsNullish() {
		if err := resourceIDOf(sid, "properties.subnet.id", "Microsoft.Network/virtualNetworks/subnets"); err != nil {
			return err
		}
	}
	for _, list := range []string{"privateLinkServiceConnections", "manualPrivateLinkServiceConnections"} {
		l := p.Field(list)
		if l.IsNullish() {
			continue
		}
		if l.Kind() != value.Array {
			return fieldError("properties."+list, "properties.%s must be an array.", list)
		}
		for i, c := range l.Elems() {
			path := fmt.Sprintf("properties.%s[%d].properties", list, i)
			cp := c.Field("properties")
			if pls := cp.Field("privateLinkServiceId"); !pls.IsNullish() {
				if err := resourceIDOf(pls, path+".privateLinkServiceId", ""); err != nil {
					return err
				}
			}
			if err := validateConnectionState(cp, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// resourceIDOf checks that v is a resource id (of type typ when given).
func resourceIDOf(v value.Value, path, typ string) error {
	if v.Kind() != value.String {
		return fieldError(path, "%s must be a resource id.", path)
	}
	id, err := arm.ParseID(v.Str())
	if err != nil || !id.IsResource() || id.Trailing != "" {
		return fieldError(path, "%s '%s' is not a resource id.", path, arm.Clip(v.Str(), 300))
	}
	if typ != "" && !arm.EqualName(id.Type(), typ) {
		return fieldError(path, "%s '%s' is not a resource id of type %s.", path, arm.Clip(v.Str(), 300), typ)
	}
	return nil
}

// validatePrefixes checks a subnet's properties.addressPrefix and
// addressPrefixes at path.
func validatePrefixes(p value.Value, path string) error {
	check := func(v value.Value, at string) error {
		if v.Kind() != value.String {
			return fieldError(at, "%s must be a CIDR prefix.", at)
		}
		if _, err := netip.ParsePrefix(strings.TrimSpace(v.Str())); err != nil {
			return fieldError(at, "%s '%s' is not a CIDR prefix.", at, arm.Clip(v.Str(), 100))
		}
		return nil
	}
	if v := p.Field("addressPrefix"); !v.IsNullish() {
		if err := check(v, path+".addressPrefix"); err != nil {
			return err
		}
	}
	if l := p.Field("addressPrefixes"); !l.IsNullish() {
		if l.Kind() != value.Array {
			return fieldError(path+".addressPrefixes", "%s.addressPrefixes must be an array of CIDR prefixes.", path)
		}
		for i, v := range l.Elems() {
			if err := check(v, fmt.Sprintf("%s.addressPrefixes[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateSubnet(body value.Value, create bool) error {
	return validatePrefixes(body.Field("properties"), "properties")
}

// validateVirtualNetwork checks the subnets a virtual network carries
// inline (properties.subnets[]).
func validateVirtualNetwork(body value.Value, create bool) error {
	l := body.Field("properties").Field("subnets")
	if l.IsNullish() {
		return nil
	}
	if l.Kind() != value.Array {
		return fieldError("properties.subnets", "properties.subnets must be an array.")
	}
	for i, s := range l.Elems() {
		if err := validatePrefixes(s.Field("properties"), fmt.Sprintf("properties.subnets[%d].properties", i)); err != nil {
			return err
		}
	}
	return nil
}

func validatePrivateEndpointConnection(body value.Value, create bool) error {
	if err := requireProperties(body, create); err != nil {
		return err
	}
	p := body.Field("properties")
	if id := p.Field("privateEndpoint").Field("id"); !id.IsNullish() {
		if err := resourceIDOf(id, "properties.privateEndpoint.id", "Microsoft.Network/privateEndpoints"); err != nil {
			return err
		}
	}
	return validateConnectionState(p, "properties")
}

// withValidate chains an extra check before a type's Validate.
func withValidate(first, then func(value.Value, bool) error) func(value.Value, bool) error {
	if then == nil {
		return first
	}
	return func(body value.Value, create bool) error {
		if err := first(body, create); err != nil {
			return err
		}
		return then(body, create)
	}
}

// networkValidation adds the checks above to the registry's types.
func (r *Registry) networkValidation() {
	for typ, fn := range map[string]func(value.Value, bool) error{
		"Microsoft.Network/privateEndpoints":                                      validatePrivateEndpoint,
		"Microsoft.Network/virtualNetworks":                                       validateVirtualNetwork,
		"Microsoft.Network/virtualNetworks/subnets":                               validateSubnet,
		"Microsoft.MachineLearningServices/workspaces/privateEndpointConnections": validatePrivateEndpointConnection,
		"Microsoft.MachineLearningServices/workspaces": func(body value.Value, create bool) error {
			return validateIPAllowlist(body.Field("properties").Field("ipAllowlist"))
		},
		"Microsoft.MachineLearningServices/workspaces/onlineEndpoints": func(body value.Value, create bool) error {
			return oneOf(body.Field("properties").Field("publicNetworkAccess"), "properties.publicNetworkAccess", "Enabled", "Disabled")
		},
	} {
		if s := r.types[arm.KeyOf(typ)]; s != nil {
			s.Validate = withValidate(fn, s.Validate)
		}
	}
}

// RecordRefusal logs the start and failed end events of a data-plane
// request refused before it reached the resource manager (the scoring
// gateway, the job API): operation names the operation, r the request
// (its ID the resource called, its ClientIP and Caller as known).
func (m *Manager) RecordRefusal(ctx context.Context, r *Request, operation string, status int, cause *arm.Error, props map[string]string) {
	if r.ID == nil || r.ID.SubscriptionID == "" {
		return
	}
	op := m.opFor(r, r.ID, operation)
	now := m.cfg.Now()
	all := map[string]string{}
	for k, v := range props {
		all[k] = v
	}
	if cause != nil {
		all["statusMessage"] = fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, cause.Code, cause.Message)
	}
	_ = m.st.Write(ctx, func(tx store.Tx) error {
		return tx.AppendEvents(ctx,
			activitylog.Event(op, activitylog.Started, 0, m.cfg.NewID(), now, nil),
			activitylog.Event(op, activitylog.Failed, status, m.cfg.NewID(), now, all))
	})
}
